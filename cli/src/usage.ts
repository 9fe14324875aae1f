import { NOUNS, OPTIONS, longFlag, optionNames, type ActionSpec, type CommandSpec, type NounSpec, type OptionKey } from './spec.js';

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
  auth?: 'none' | 'basic' | 'token' | 'proxy';
  foreground?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  caFile?: string;
  cluster?: string;
  dryrun?: boolean;
  detach?: boolean;
  idleMinutesToAutostop?: number;
  idleMinutes?: number;
  down?: boolean;
  cancel?: boolean;
  name?: string;
  workdir?: string;
  infra?: string;
  cpus?: string;
  memory?: string;
  gpus?: string;
  numNodes?: string;
  env?: string[];
  envFile?: string;
  secret?: string[];
  refresh?: boolean;
  skipFinished?: boolean;
  status?: boolean;
  tail?: number;
  controller?: boolean;
  mode?: 'rolling' | 'blue_green';
  purge?: boolean;
  loadBalancer?: boolean;
  serviceEndpoint?: boolean;
  off?: boolean;
  endpoint?: string;
  token?: string;
  password?: string;
  currentPassword?: string;
  open?: boolean;
  role?: 'admin' | 'user';
  expiresInDays?: number;
  user?: string;
  transferTo?: string;
  workspace?: string;
  private?: boolean;
  public?: boolean;
  allow?: string[];
  eventKind?: string[];
  onStatus?: string[];
  signingSecret?: string;
  workspaceInfra?: string[];
  since?: string;
  gzip?: boolean;
  importFile?: string;
  useSpot?: boolean;
  instanceType?: string;
  imageId?: string;
  cloud?: string;
  region?: string;
  zone?: string;
  ports?: string[];
  fast?: boolean;
  noSetup?: boolean;
  retryUntilUp?: boolean;
  ip?: boolean;
  endpoints?: boolean;
  verbose?: boolean;
  syncDown?: boolean;
  until?: string;
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
    if (typeof v === 'boolean') throw new UsageError(`${flag} needs a value`);
    const n = typeof v === 'number' ? v : Number.NaN;
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
      throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${String(v)}'`);
    }
    return n;
  };
}

function textValue(value: unknown, flag: string, maxLength: number): string {
  if (typeof value === 'boolean') throw new UsageError(`${flag} needs a value`);
  const v = String(value);
  if (v.length === 0 || v.length > maxLength) throw new UsageError(`${flag} must be 1 to ${maxLength} characters`);
  return v;
}

function text(maxLength: number): (value: unknown, flag: string) => string {
  return (value, flag) => textValue(single(value, flag), flag, maxLength);
}

/** A flag that may be repeated (`--env A=1 --env B=2`): every value, in order. */
function list(maxLength: number): (value: unknown, flag: string) => string[] {
  return (value, flag) => (Array.isArray(value) ? value : [value]).map((v) => textValue(v, flag, maxLength));
}

function oneOf<T extends string>(choices: readonly T[]): (value: unknown, flag: string) => T {
  return (value, flag) => {
    const given = single(value, flag);
    if (typeof given === 'boolean') throw new UsageError(`${flag} needs a value`);
    const v = String(given);
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
  auth: oneOf(['none', 'basic', 'token', 'proxy'] as const),
  foreground: bool,
  tlsCert: text(4096),
  tlsKey: text(4096),
  caFile: text(4096),
  cluster: text(256),
  dryrun: bool,
  detach: bool,
  idleMinutesToAutostop: number(0, 525_600, true),
  idleMinutes: number(0, 525_600, true),
  down: bool,
  cancel: bool,
  name: text(256),
  workdir: text(4096),
  infra: text(256),
  cpus: text(64),
  memory: text(64),
  gpus: text(512),
  numNodes: text(16),
  env: list(128 * 1024),
  envFile: text(4096),
  secret: list(128 * 1024),
  refresh: bool,
  skipFinished: bool,
  status: bool,
  tail: number(0, 100_000, true),
  controller: bool,
  mode: oneOf(['rolling', 'blue_green'] as const),
  purge: bool,
  loadBalancer: bool,
  serviceEndpoint: bool,
  off: bool,
  endpoint: text(4096),
  token: text(4096),
  password: text(1024),
  currentPassword: text(1024),
  open: bool,
  role: oneOf(['admin', 'user'] as const),
  expiresInDays: number(1, 3650, true),
  user: text(64),
  transferTo: text(64),
  workspace: text(63),
  private: bool,
  public: bool,
  allow: list(64),
  eventKind: list(10),
  onStatus: list(50),
  signingSecret: text(200),
  workspaceInfra: list(200),
  since: text(64),
  gzip: bool,
  importFile: text(4096),
  useSpot: bool,
  instanceType: text(256),
  imageId: text(1024),
  cloud: text(64),
  region: text(200),
  zone: text(200),
  ports: list(64),
  fast: bool,
  noSetup: bool,
  retryUntilUp: bool,
  ip: bool,
  endpoints: bool,
  verbose: bool,
  syncDown: bool,
  until: text(64),
};

const ALL_KEYS = Object.keys(OPTIONS) as OptionKey[];

/** Options whose `--no-` form turns them off (`--no-follow`); any other `--no-x` is an option of its own or unknown. */
const NEGATABLE: readonly OptionKey[] = ['follow'];

/** Which option a cac key names for this command: its own options first (`-i` differs between launch and autostop). */
function keyFor(spec: ActionSpec, name: string): OptionKey | undefined {
  return spec.options.find((key) => optionNames(key).includes(name)) ?? ALL_KEYS.find((key) => optionNames(key).includes(name));
}

/** The option whose flags include exactly this spelling (`--no-setup`). */
function keyByFlag(spec: ActionSpec, typed: string): OptionKey | undefined {
  const has = (key: OptionKey): boolean => flagsOf(key).includes(typed);
  return spec.options.find(has) ?? ALL_KEYS.find(has);
}

function flagsOf(key: OptionKey): string[] {
  return OPTIONS[key].flags
    .replace(/\s*[<[].*$/, '')
    .split(',')
    .map((f) => f.trim());
}

/** The flag as cac's key suggests it was typed, when argv is not at hand: useSpot → --use-spot. */
function spelled(name: string): string {
  return name.length === 1 ? `-${name}` : `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * The option a cac key stands for, and its value: `--no-setup` (cac: setup=false) is the option
 * --no-setup set to true; `--no-follow` is --follow set to false; any other `--no-x` is unknown.
 */
function resolveOption(spec: ActionSpec, name: string, value: unknown, typed: string | undefined): { key: OptionKey | undefined; value: unknown } {
  if (typed?.startsWith('--no-') === true) {
    const own = keyByFlag(spec, typed);
    if (own !== undefined) return { key: own, value: Array.isArray(value) ? value.map((v) => v === false) : value === false };
    const key = keyFor(spec, name);
    return { key: key !== undefined && NEGATABLE.includes(key) ? key : undefined, value };
  }
  const key = keyFor(spec, name);
  // cac would also take `--useSpot` or `--idleMinutes`: only the spellings the option declares count.
  if (key !== undefined && typed?.startsWith('--') === true && !flagsOf(key).includes(typed)) return { key: undefined, value };
  return { key, value };
}

export interface Invocation {
  /** The noun, for `sky <noun> <action>`; undefined for a plain command such as `sky launch`. */
  noun?: NounSpec;
  /** The action of the noun, or the plain command itself. */
  action: ActionSpec;
  args: string[];
  options: CliOptions;
}

function assign<K extends OptionKey>(options: CliOptions, key: K, raw: unknown): void {
  options[key] = CONVERT[key](raw, longFlag(key));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Check the positional arguments and the options of one command; `command` is how the user typed it (`sky api status`). */
function check(
  spec: ActionSpec,
  command: string,
  args: readonly unknown[],
  raw: Record<string, unknown>,
  flags: ReadonlyMap<string, string> | undefined,
): { args: string[]; options: CliOptions } {
  const help = `${command} --help`;
  const afterDashes = Array.isArray(raw['--']) ? raw['--'].map(String) : [];
  const positional = [...args.map(String), ...afterDashes];
  if (positional.length > spec.maxArgs) {
    const allowed = spec.maxArgs === 0 ? 'takes no arguments' : `takes at most ${plural(spec.maxArgs, 'argument')}`;
    throw new UsageError(`${command} ${allowed}, got '${positional.join(' ')}'`, help);
  }
  const min = spec.minArgs ?? 0;
  if (positional.length < min) throw new UsageError(`${command} needs ${spec.args.split(' ').slice(0, min).join(' ')}: ${command} ${spec.args}`, help);
  const options: CliOptions = {};
  for (const [name, given] of Object.entries(raw)) {
    if (name === '--' || given === undefined) continue;
    const typed = flags?.get(name);
    const flag = typed ?? spelled(name);
    const { key, value } = resolveOption(spec, name, given, typed);
    if (key === undefined) throw new UsageError(`unknown option ${flag}`, help);
    // A short flag means different options to different commands (-i): name the long one.
    if (!spec.options.includes(key)) throw new UsageError(`option ${typed?.startsWith('--') === true ? typed : longFlag(key)} is not valid for '${command}'`, help);
    try {
      assign(options, key, value);
    } catch (err) {
      throw err instanceof UsageError ? new UsageError(err.message, help) : err;
    }
  }
  return { args: positional, options };
}

/**
 * Check an invocation of `sky <noun> [action] [...args]` against the spec and type its options;
 * `flags` (see typedFlags) says how each option was typed, for the messages.
 */
export function validate(
  noun: NounSpec,
  action: string | undefined,
  args: readonly unknown[],
  raw: Record<string, unknown>,
  flags?: ReadonlyMap<string, string>,
): Invocation {
  const help = `sky ${noun.name} --help`;
  const names = noun.actions.map((a) => a.name).join(', ');
  if (action === undefined) throw new UsageError(`missing action: sky ${noun.name} <action>, one of ${names}`, help);
  const spec = noun.actions.find((a) => a.name === String(action));
  if (spec === undefined) throw new UsageError(`unknown action '${action}' for sky ${noun.name}; one of ${names}`, help);
  return { noun, action: spec, ...check(spec, `sky ${noun.name} ${spec.name}`, args, raw, flags) };
}

/** Check an invocation of a plain command, `sky <command> [...args]`. */
export function validateCommand(spec: CommandSpec, args: readonly unknown[], raw: Record<string, unknown>, flags?: ReadonlyMap<string, string>): Invocation {
  return { action: spec, ...check(spec, `sky ${spec.name}`, args, raw, flags) };
}

export function nounNamed(name: string): NounSpec | undefined {
  return NOUNS.find((n) => n.name === name);
}
