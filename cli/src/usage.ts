import { NOUNS, OPTIONS, longFlag, optionNames, type ActionSpec, type NounSpec, type OptionKey } from './spec.js';

/** Bad command-line usage: exit 2, one line, and where to read the help. */
export class UsageError extends Error {
  readonly helpCommand: string;

  constructor(message: string, helpCommand = 'sky --help') {
    super(message);
    this.name = 'UsageError';
    this.helpCommand = helpCommand;
  }
}

/** Validated option values, one field per option of the spec. */
export interface CliOptions {
  all?: boolean;
  allUsers?: boolean;
  limit?: number;
  output?: 'text' | 'json';
  follow?: boolean;
  serverLogs?: boolean;
  yes?: boolean;
  sleep?: number;
  lane?: 'short' | 'long';
  fail?: string;
  async?: boolean;
  host?: string;
  port?: number;
  config?: string;
  foreground?: boolean;
}

type Converter<K extends OptionKey> = (value: unknown, flag: string) => CliOptions[K];

function single(value: unknown, flag: string): unknown {
  if (!Array.isArray(value)) return value;
  const distinct = new Set(value.map(String));
  if (distinct.size > 1) throw new UsageError(`${flag} was given more than once`);
  return value[value.length - 1];
}

const bool = (value: unknown, flag: string): boolean => {
  const v = single(value, flag);
  if (typeof v !== 'boolean') throw new UsageError(`${flag} takes no value`);
  return v;
};

function number(min: number, max: number, integer: boolean): (value: unknown, flag: string) => number {
  return (value, flag) => {
    const v = single(value, flag);
    const n = typeof v === 'number' ? v : Number.NaN;
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${String(v)}'`);
    }
    return n;
  };
}

function text(maxLength: number): (value: unknown, flag: string) => string {
  return (value, flag) => {
    const v = String(single(value, flag));
    if (v.length === 0 || v.length > maxLength) throw new UsageError(`${flag} must be 1 to ${maxLength} characters`);
    return v;
  };
}

function oneOf<T extends string>(choices: readonly T[]): (value: unknown, flag: string) => T {
  return (value, flag) => {
    const v = String(single(value, flag));
    const found = choices.find((c) => c === v);
    if (found === undefined) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got '${v}'`);
    return found;
  };
}

const CONVERT: { [K in OptionKey]: Converter<K> } = {
  all: bool,
  allUsers: bool,
  limit: number(1, 100_000, true),
  output: oneOf(['text', 'json'] as const),
  follow: bool,
  serverLogs: bool,
  yes: bool,
  sleep: number(0, 3600, false),
  lane: oneOf(['short', 'long'] as const),
  fail: text(500),
  async: bool,
  host: text(255),
  port: number(1, 65_535, true),
  config: text(4096),
  foreground: bool,
};

const KEY_OF_NAME = new Map<string, OptionKey>(
  (Object.keys(OPTIONS) as OptionKey[]).flatMap((key) => optionNames(key).map((name) => [name, key] as const)),
);

export interface Invocation {
  noun: NounSpec;
  action: ActionSpec;
  args: string[];
  options: CliOptions;
}

function assign<K extends OptionKey>(options: CliOptions, key: K, raw: unknown): void {
  options[key] = CONVERT[key](raw, longFlag(key));
}

/** Check an invocation of `sky <noun> [action] [...args]` against the spec and type its options. */
export function validate(noun: NounSpec, action: string | undefined, args: readonly string[], raw: Record<string, unknown>): Invocation {
  const help = `sky ${noun.name} --help`;
  const names = noun.actions.map((a) => a.name).join(', ');
  if (action === undefined) throw new UsageError(`missing action: sky ${noun.name} <action>, one of ${names}`, help);
  const spec = noun.actions.find((a) => a.name === action);
  if (spec === undefined) throw new UsageError(`unknown action '${action}' for sky ${noun.name}; one of ${names}`, help);
  const command = `sky ${noun.name} ${spec.name}`;
  const actionHelp = `${command} --help`;
  const afterDashes = Array.isArray(raw['--']) ? raw['--'].map(String) : [];
  const positional = [...args.map(String), ...afterDashes];
  if (positional.length > spec.maxArgs) {
    const allowed = spec.maxArgs === 0 ? 'takes no arguments' : `takes at most ${spec.maxArgs} argument${spec.maxArgs === 1 ? '' : 's'}`;
    throw new UsageError(`${command} ${allowed}, got '${positional.join(' ')}'`, actionHelp);
  }
  const options: CliOptions = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name === '--' || value === undefined) continue;
    const key = KEY_OF_NAME.get(name);
    const flag = name.length === 1 ? `-${name}` : `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (key === undefined) throw new UsageError(`unknown option ${flag}`, actionHelp);
    if (!spec.options.includes(key)) throw new UsageError(`option ${longFlag(key)} is not valid for '${command}'`, actionHelp);
    try {
      assign(options, key, value);
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(err.message, actionHelp) : err;
    }
  }
  return { noun, action: spec, args: positional, options };
}

export function nounNamed(name: string): NounSpec | undefined {
  return NOUNS.find((n) => n.name === name);
}
