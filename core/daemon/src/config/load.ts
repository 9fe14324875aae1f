import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import { formatPath, SkyError } from '@sky/protocol';
import { DaemonConfigSchema, type DaemonConfig, type DaemonPaths } from './schema.js';

type Plain = Record<string, unknown>;

/** The YAML parser, loaded only when there is a config file to read (a default personal daemon has none). */
function yamlLib(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}

interface Source {
  file: string;
  /** Path of the daemon block inside the file (e.g. ['daemon'] in ~/.sky/config.yaml). */
  prefix: string[];
  doc: Document;
  lines: LineCounter;
}

export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return join(homedir(), p.slice(2));
  return p;
}

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) && k !== 'drivers' ? merge(prev, v) : v;
  }
  return out;
}

function readYaml(file: string, required: boolean): Source | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && code === 'ENOENT') return undefined;
    throw new SkyError('CONFIG_INVALID', `cannot read config file ${file}: ${code ?? String(err)}`, {
      hint: 'Check the path given with --config (or SKY_DAEMON_CONFIG) and its permissions.',
    });
  }
  const { LineCounter, parseDocument } = yamlLib();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    throw new SkyError('CONFIG_INVALID', `${file}:${pos.line}:${pos.col}: YAML syntax error: ${first.message.split('\n')[0]}`, {
      hint: 'Fix the YAML syntax at that line; sky.config.example.yaml shows every key.',
    });
  }
  return { file, prefix: [], doc, lines };
}

function blockOf(source: Source): Plain {
  const value: unknown = source.doc.toJS();
  let node: unknown = value ?? {};
  for (const key of source.prefix) node = isPlain(node) ? (node[key] ?? {}) : undefined;
  if (!isPlain(node)) {
    const where = source.prefix.length > 0 ? `key ${source.prefix.join('.')}` : 'the top level';
    throw new SkyError('CONFIG_INVALID', `${source.file}: ${where} must be a mapping of config keys`, {
      hint: 'See sky.config.example.yaml for the expected shape.',
    });
  }
  return node;
}

/** Find the line:column of a config key in whichever source set it last. */
function locate(sources: readonly Source[], path: readonly PropertyKey[]): string | undefined {
  for (let i = sources.length - 1; i >= 0; i--) {
    const source = sources[i]!;
    const full = [...source.prefix, ...path.map(String)];
    for (let depth = full.length; depth > source.prefix.length; depth--) {
      const node = source.doc.getIn(full.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      const parent = depth === full.length ? source.doc.getIn(full.slice(0, depth - 1), true) : undefined;
      const range = node?.range;
      if (range || (yamlLib().isMap(parent) && parent.has(full[depth - 1]))) {
        const offset = range ? range[0] : 0;
        const pos = source.lines.linePos(offset);
        return `${source.file}:${pos.line}:${pos.col}`;
      }
    }
  }
  return undefined;
}

export interface LoadOptions {
  /** Daemon config file from --config / SKY_DAEMON_CONFIG (must exist when given). */
  configFile?: string;
  /** User config whose `daemon:` block applies (default ~/.sky/config.yaml; optional). */
  userConfigFile?: string;
  /** Command-line overrides, applied last. */
  overrides?: Plain;
}

/** Load and validate the daemon config: defaults < ~/.sky/config.yaml `daemon:` < config file < flags. */
export function loadDaemonConfig(options: LoadOptions = {}): DaemonConfig {
  const sources: Source[] = [];
  const user = readYaml(expandHome(options.userConfigFile ?? '~/.sky/config.yaml'), false);
  if (user) sources.push({ ...user, prefix: ['daemon'] });
  if (options.configFile !== undefined) sources.push(readYaml(resolve(expandHome(options.configFile)), true)!);
  let merged: Plain = {};
  for (const source of sources) merged = merge(merged, blockOf(source));
  if (options.overrides) merged = merge(merged, options.overrides);
  const result = DaemonConfigSchema.safeParse(merged);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
    const where = locate(sources, path);
    const key = formatPath(path) || '(top level)';
    const what = issue.code === 'unrecognized_keys' ? `unknown key (valid keys are documented in sky.config.example.yaml)` : issue.message;
    return `${where ? `${where}: ` : ''}${key}: ${what}`;
  });
  throw new SkyError('CONFIG_INVALID', `invalid daemon config:\n  ${lines.join('\n  ')}`, {
    hint: 'Fix the keys named above; sky.config.example.yaml documents every key and its default.',
    details: { issues: lines },
  });
}

/** A config path made absolute: `~` expanded, relative paths from the working directory. */
export function absolutePath(p: string): string {
  const expanded = expandHome(p);
  return isAbsolute(expanded) ? expanded : resolve(expanded);
}

/** The key file that seals task secrets at rest: secrets.key_file, else <state_dir>/secrets.key. */
export function secretsKeyFile(config: DaemonConfig, paths: DaemonPaths): string {
  return config.secrets.key_file !== undefined ? absolutePath(config.secrets.key_file) : join(paths.stateDir, 'secrets.key');
}

export function daemonPaths(config: DaemonConfig): DaemonPaths {
  const abs = absolutePath;
  const stateDir = abs(config.state_dir);
  return {
    stateDir,
    storePath: config.store.path !== undefined ? abs(config.store.path) : join(stateDir, 'state'),
    logFile: config.log.file !== undefined ? abs(config.log.file) : join(stateDir, 'server.log'),
    pidFile: join(stateDir, 'daemon.json'),
  };
}
