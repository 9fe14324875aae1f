import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { ConfigResult, ConfigSchema } from '@sky/plugin-api';
import { checkPools, configLocator, type PoolSources } from './pools.js';

/** The validated `drivers.ssh` block. */
export interface SshDriverConfig {
  /** ssh_node_pools.yaml: `pools_file`, default `~/.sky/ssh_node_pools.yaml`. */
  poolsFile: string;
  /** Whether `pools_file` was set (then a missing file is an error; the default may be absent). */
  poolsFileExplicit: boolean;
  /** The `pools` mapping as given (checked); same shape as the pools file. */
  pools: Record<string, unknown> | undefined;
  /** `ssh_config`, default `~/.ssh/config`. */
  sshConfig: string;
  sshConfigExplicit: boolean;
  /** `known_hosts`, default `~/.ssh/known_hosts`: read by the daemon's SSH connections. */
  knownHosts: string;
  /** `trust_on_first_use`, default false: read by the daemon's SSH connections. */
  trustOnFirstUse: boolean;
  /** `probe_timeout_seconds` (default 20): one probe of a host at provision and check. */
  probeTimeoutMs: number;
  /** `status_timeout_seconds` (default 5): one liveness check of a node by status. */
  statusTimeoutMs: number;
}

export const CONFIG_KEYS = [
  'pools_file',
  'pools',
  'ssh_config',
  'known_hosts',
  'trust_on_first_use',
  'probe_timeout_seconds',
  'status_timeout_seconds',
] as const;

export const DEFAULT_POOLS_FILE = '~/.sky/ssh_node_pools.yaml';
export const DEFAULT_SSH_CONFIG = '~/.ssh/config';
export const DEFAULT_KNOWN_HOSTS = '~/.ssh/known_hosts';
export const DEFAULT_PROBE_TIMEOUT_SECONDS = 20;
export const DEFAULT_STATUS_TIMEOUT_SECONDS = 5;

/** `~` and `~/x` are the home directory; anything else is kept as written. */
export function expandHome(path: string, home: string = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

type Issue = { message: string; path: PropertyKey[] };

function pathKey(block: Record<string, unknown>, key: string, fallback: string, issues: Issue[], home: string): { path: string; explicit: boolean } {
  const raw = block[key];
  if (raw === undefined || raw === null) return { path: expandHome(fallback, home), explicit: false };
  if (typeof raw !== 'string' || raw.trim() === '') {
    issues.push({ message: `expected a file path, got ${JSON.stringify(raw)}`, path: [key] });
    return { path: expandHome(fallback, home), explicit: false };
  }
  const expanded = expandHome(raw, home);
  if (!isAbsolute(expanded)) issues.push({ message: `expected an absolute path or one starting with ~/, got ${JSON.stringify(raw)}`, path: [key] });
  return { path: expanded, explicit: true };
}

function seconds(block: Record<string, unknown>, key: string, fallback: number, issues: Issue[]): number {
  const raw = block[key];
  if (raw === undefined || raw === null) return fallback * 1000;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0 || raw > 3600) {
    issues.push({ message: `expected a number of seconds (0-3600], got ${JSON.stringify(raw)}`, path: [key] });
    return fallback * 1000;
  }
  return Math.round(raw * 1000);
}

/** Validate a raw `drivers.ssh` block (loader keys already removed). */
export function validateSshConfig(raw: unknown, home: string = homedir()): ConfigResult<SshDriverConfig> {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    return { issues: [{ message: `expected a mapping with ${CONFIG_KEYS.join(', ')}` }] };
  }
  const block = (raw ?? {}) as Record<string, unknown>;
  const issues: Issue[] = [];
  for (const key of Object.keys(block)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      issues.push({ message: `unknown key; the ssh driver takes ${CONFIG_KEYS.join(', ')}`, path: [key] });
    }
  }
  const poolsFile = pathKey(block, 'pools_file', DEFAULT_POOLS_FILE, issues, home);
  const sshConfig = pathKey(block, 'ssh_config', DEFAULT_SSH_CONFIG, issues, home);
  const knownHosts = pathKey(block, 'known_hosts', DEFAULT_KNOWN_HOSTS, issues, home);
  const tofu = block['trust_on_first_use'];
  if (tofu !== undefined && tofu !== null && typeof tofu !== 'boolean') {
    issues.push({ message: `expected true or false, got ${JSON.stringify(tofu)}`, path: ['trust_on_first_use'] });
  }
  const probeTimeoutMs = seconds(block, 'probe_timeout_seconds', DEFAULT_PROBE_TIMEOUT_SECONDS, issues);
  const statusTimeoutMs = seconds(block, 'status_timeout_seconds', DEFAULT_STATUS_TIMEOUT_SECONDS, issues);

  let pools: Record<string, unknown> | undefined;
  const rawPools = block['pools'];
  if (rawPools !== undefined && rawPools !== null) {
    const checked = checkPools(rawPools, 'pools', configLocator('pools'), home);
    for (const issue of checked.issues) issues.push({ message: issue.problem, path: ['pools', ...issue.path] });
    if (checked.issues.length === 0) pools = rawPools as Record<string, unknown>;
  }
  if (issues.length > 0) return { issues };
  return {
    value: {
      poolsFile: poolsFile.path,
      poolsFileExplicit: poolsFile.explicit,
      pools,
      sshConfig: sshConfig.path,
      sshConfigExplicit: sshConfig.explicit,
      knownHosts: knownHosts.path,
      trustOnFirstUse: tofu === true,
      probeTimeoutMs,
      statusTimeoutMs,
    },
  };
}

/** The Standard Schema the plugin loader runs over `drivers.ssh`. */
export const sshConfigSchema: ConfigSchema<SshDriverConfig> = {
  '~standard': { version: 1, vendor: 'sky-driver-ssh', validate: (value) => validateSshConfig(value) },
};

/** What the daemon's SSH connections need from this driver's config: where host keys are checked, and whether unknown hosts are trusted on first use. */
export interface SshConnectionSettings {
  knownHostsFile: string;
  trustOnFirstUse: boolean;
}

/**
 * The connection settings of a validated `drivers.ssh` block (what the plugin's configSchema
 * returned), for the daemon to build its SSH connections with: `known_hosts` and
 * `trust_on_first_use`.
 */
export function sshSettings(config: Pick<SshDriverConfig, 'knownHosts' | 'trustOnFirstUse'>): SshConnectionSettings {
  return { knownHostsFile: config.knownHosts, trustOnFirstUse: config.trustOnFirstUse };
}

/** Where the pools of a validated config come from; `id` is the driver's config key (`drivers.<id>`), for messages. */
export function poolSources(config: SshDriverConfig, id = 'ssh', home: string = homedir()): PoolSources {
  const inline = config.pools === undefined ? [] : checkPools(config.pools, `drivers.${id}.pools`, configLocator(`drivers.${id}.pools`), home).pools;
  return {
    poolsFile: config.poolsFile,
    poolsFileExplicit: config.poolsFileExplicit,
    inlinePools: inline,
    sshConfig: config.sshConfig,
    sshConfigExplicit: config.sshConfigExplicit,
  };
}
