import { availableParallelism, homedir, totalmem } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ConfigResult, ConfigSchema } from '@sky/plugin-api';

/** The validated `drivers.local` block. */
export interface LocalDriverConfig {
  /** Where nodes live (`<root>/<clusterId>/node-<rank>`) and the ledger of what they hold. */
  root: string;
  /** CPUs the driver may hand out in total. */
  cpus: number;
  /** Memory in GB the driver may hand out in total. */
  memoryGb: number;
  /** At most this many nodes up at once; undefined: no limit but CPUs and memory. */
  maxNodes: number | undefined;
}

export const CONFIG_KEYS = ['root', 'cpus', 'memory_gb', 'max_nodes'] as const;
export const DEFAULT_ROOT = '~/.sky/local-nodes';

/** Host defaults: every CPU the process may use and all physical memory, in GB to one decimal. */
export function hostDefaults(): { cpus: number; memoryGb: number } {
  return { cpus: availableParallelism(), memoryGb: Math.floor((totalmem() / 2 ** 30) * 10) / 10 };
}

/** `~` and `~/x` are the home directory; anything else must be absolute. */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

type Issue = { message: string; path: PropertyKey[] };

function positiveNumber(value: unknown, key: string, issues: Issue[], integer = false): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    issues.push({ message: `expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value) ?? String(value)}`, path: [key] });
    return undefined;
  }
  return value;
}

/** Validate a raw `drivers.local` block (loader keys already removed). */
export function validateLocalConfig(raw: unknown, defaults = hostDefaults()): ConfigResult<LocalDriverConfig> {
  const block: Record<string, unknown> = raw === undefined || raw === null ? {} : (raw as Record<string, unknown>);
  if (typeof block !== 'object' || Array.isArray(block)) {
    return { issues: [{ message: `expected a mapping with ${CONFIG_KEYS.join(', ')}` }] };
  }
  const issues: Issue[] = [];
  for (const key of Object.keys(block)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      issues.push({ message: `unknown key; the local driver takes ${CONFIG_KEYS.join(', ')}`, path: [key] });
    }
  }

  let root = expandHome(DEFAULT_ROOT);
  const rawRoot = block['root'];
  if (rawRoot !== undefined) {
    if (typeof rawRoot !== 'string' || rawRoot.trim() === '') {
      issues.push({ message: `expected a directory path, got ${JSON.stringify(rawRoot)}`, path: ['root'] });
    } else {
      const expanded = expandHome(rawRoot);
      if (!isAbsolute(expanded)) issues.push({ message: `expected an absolute path or one starting with ~/, got ${JSON.stringify(rawRoot)}`, path: ['root'] });
      else root = expanded;
    }
  }
  const cpus = positiveNumber(block['cpus'], 'cpus', issues);
  const memoryGb = positiveNumber(block['memory_gb'], 'memory_gb', issues);
  const maxNodes = positiveNumber(block['max_nodes'], 'max_nodes', issues, true);
  if (issues.length > 0) return { issues };
  return { value: { root, cpus: cpus ?? defaults.cpus, memoryGb: memoryGb ?? defaults.memoryGb, maxNodes } };
}

/** The Standard Schema the plugin loader runs over `drivers.local`. */
export const localConfigSchema: ConfigSchema<LocalDriverConfig> = {
  '~standard': { version: 1, vendor: 'sky-driver-local', validate: (value) => validateLocalConfig(value) },
};
