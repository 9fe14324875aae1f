import { availableParallelism, homedir, totalmem } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ConfigResult, ConfigSchema } from '@sky/plugin-api';
import { ACCOUNT_NAME } from '@sky/protocol';

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
  /** Team servers: each sky user's jobs run as their own OS account (through sky-node-helper). */
  accounts: AccountsConfig | undefined;
}

/** The validated `drivers.local.accounts` block. */
export interface AccountsConfig {
  /** Sky user name → OS account, as the admin chose them. */
  map: Record<string, string>;
  /** Users not in the map get an account `<prefix><name>-<hash of user id>`, created on first use. */
  create: boolean;
  prefix: string | undefined;
}

export const CONFIG_KEYS = ['root', 'cpus', 'memory_gb', 'max_nodes', 'accounts'] as const;
export const ACCOUNTS_KEYS = ['map', 'create', 'prefix'] as const;
/** What `accounts.prefix` must look like: a namespace of account names, ending in "-" or "_". */
export const ACCOUNT_PREFIX = /^[a-z_][a-z0-9_-]{0,15}[-_]$/;
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
  const accounts = block['accounts'] === undefined ? undefined : validateAccounts(block['accounts'], issues);
  if (issues.length > 0) return { issues };
  return { value: { root, cpus: cpus ?? defaults.cpus, memoryGb: memoryGb ?? defaults.memoryGb, maxNodes, accounts } };
}

function validateAccounts(raw: unknown, issues: Issue[]): AccountsConfig | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({ message: `expected a mapping with ${ACCOUNTS_KEYS.join(', ')}`, path: ['accounts'] });
    return undefined;
  }
  const block = raw as Record<string, unknown>;
  const before = issues.length;
  for (const key of Object.keys(block)) {
    if (!(ACCOUNTS_KEYS as readonly string[]).includes(key)) issues.push({ message: `unknown key; accounts takes ${ACCOUNTS_KEYS.join(', ')}`, path: ['accounts', key] });
  }
  const map: Record<string, string> = {};
  const rawMap = block['map'];
  if (rawMap !== undefined && rawMap !== null) {
    if (typeof rawMap !== 'object' || Array.isArray(rawMap)) issues.push({ message: 'expected a mapping of sky user name to OS account', path: ['accounts', 'map'] });
    else {
      for (const [user, account] of Object.entries(rawMap as Record<string, unknown>)) {
        if (typeof account !== 'string' || !ACCOUNT_NAME.test(account)) {
          issues.push({ message: `expected an OS account name (lower-case letters, digits, "_", "-"; at most 32), got ${JSON.stringify(account)}`, path: ['accounts', 'map', user] });
        } else if (account === 'root') {
          issues.push({ message: 'jobs never run as root', path: ['accounts', 'map', user] });
        } else map[foldUserName(user)] = account;
      }
    }
  }
  const create = block['create'] ?? false;
  if (typeof create !== 'boolean') issues.push({ message: `expected true or false, got ${JSON.stringify(create)}`, path: ['accounts', 'create'] });
  const prefix = block['prefix'];
  if (prefix !== undefined && (typeof prefix !== 'string' || !ACCOUNT_PREFIX.test(prefix))) {
    issues.push({ message: `expected 2-17 characters of a-z, 0-9, "_" and "-", ending in "-" or "_" (e.g. "sky-"), got ${JSON.stringify(prefix)}`, path: ['accounts', 'prefix'] });
  }
  if (create === true && prefix === undefined) issues.push({ message: 'create: true needs a prefix for the accounts it makes (e.g. prefix: sky-)', path: ['accounts', 'prefix'] });
  if (create !== true && Object.keys(map).length === 0 && issues.length === before) {
    issues.push({ message: 'map no sky user to an OS account and create nothing: nobody could run jobs; give a map, or create: true with a prefix', path: ['accounts'] });
  }
  if (issues.length > before) return undefined;
  return { map, create: create === true, prefix: typeof prefix === 'string' ? prefix : undefined };
}

/** How user names are compared with the map's keys: NFKC, case-folded. */
export function foldUserName(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

/** The Standard Schema the plugin loader runs over `drivers.local`. */
export const localConfigSchema: ConfigSchema<LocalDriverConfig> = {
  '~standard': { version: 1, vendor: 'sky-driver-local', validate: (value) => validateLocalConfig(value) },
};
