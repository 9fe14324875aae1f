import { defineDriverPlugin } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';
import { poolSources, sshConfigSchema, type SshDriverConfig } from './config.js';
import { SshDriver } from './driver.js';
import { loadPools, type Pool } from './pools.js';

export {
  CONFIG_KEYS,
  DEFAULT_KNOWN_HOSTS,
  DEFAULT_POOLS_FILE,
  DEFAULT_PROBE_TIMEOUT_SECONDS,
  DEFAULT_SSH_CONFIG,
  DEFAULT_STATUS_TIMEOUT_SECONDS,
  expandHome,
  poolSources,
  sshConfigSchema,
  sshSettings,
  validateSshConfig,
  type SshConnectionSettings,
  type SshDriverConfig,
} from './config.js';
export {
  DEFAULT_STATUS_TIMEOUT_MS,
  hostShortfalls,
  nodeResources,
  PROBE_CONCURRENCY,
  PROBE_RETRY_MS,
  readState,
  SshDriver,
  targetOf,
  type CheckOptions,
  type HostCheck,
  type HostFindings,
  type HostHolder,
  type PoolHostReport,
  type PoolReport,
  type SshClusterState,
  type SshDriverExtensions,
  type SshDriverOptions,
} from './driver.js';
export { canonicalGpuName, countGpus, gpusNamed, parseGpuLine, type HostGpu } from './gpus.js';
export { holders, Ledger, LEDGER_DOCUMENT, LEDGER_FILE, LOCK_FILE, MOVED_SUFFIX, type LedgerCluster, type LedgerData, type LedgerNode, type LedgerOptions, type LedgerProbe } from './ledger.js';
export {
  checkPools,
  configLocator,
  describePoolPath,
  HOST_KEYS,
  hostLabel,
  loadPools,
  parsePoolsYaml,
  POOL_KEYS,
  renderIssue,
  resolveHost,
  resolvePools,
  yamlLocator,
  type HostSpec,
  type Locate,
  type Pool,
  type PoolHost,
  type PoolIssue,
  type PoolSources,
  type PoolSpec,
  type ResolveContext,
} from './pools.js';
export {
  DEFAULT_PROBE_TIMEOUT_MS,
  isAuthFailure,
  parseProbeOutput,
  PING_COMMAND,
  pingHost,
  PROBE_COMMAND,
  PROBE_MARK,
  PROBE_SCRIPT,
  probeHost,
  shortReason,
  type HostProbe,
  type ParsedProbe,
} from './probe.js';
export { EMPTY_SSH_CONFIG, expandTokens, loadSshConfig, localUser, parseSshConfig, type SshConfigEntry, type SshConfigFile, type TokenValues } from './ssh-config.js';

/**
 * Every pool of a validated `drivers.<id>` block with its hosts resolved through ~/.ssh/config
 * (for `sky ssh up/down`, `sky check ssh`, `sky show-gpus --infra ssh/<pool>`). Throws SkyError
 * CONFIG_INVALID naming each problem.
 */
export function listPools(config: SshDriverConfig, id = 'ssh'): Promise<Pool[]> {
  return loadPools(poolSources(config, id));
}

/**
 * `drivers: {ssh: {pools_file, pools, ssh_config, known_hosts, trust_on_first_use, …}}`: SSH node
 * pools. Pools are read again on every operation; init only reports what it finds.
 */
export default defineDriverPlugin<SshDriverConfig>({
  name: 'sky-driver-ssh',
  apiVersion: '^1.0.0',
  configSchema: sshConfigSchema,
  async init(ctx) {
    if (ctx.ssh === undefined) {
      throw new SkyError('DRIVER_FAILED', 'sky-driver-ssh needs the daemon’s SSH connections (PluginContext.ssh), and this daemon lends none', {
        hint: 'Run a sky daemon that provides PluginContext.ssh (plugin API 1.x with SSH support).',
      });
    }
    const sources = poolSources(ctx.config, ctx.id);
    try {
      const pools = await loadPools(sources);
      if (pools.length === 0) ctx.logger.info({ poolsFile: sources.poolsFile }, 'ssh driver ready, with no SSH node pools defined yet');
      else ctx.logger.info({ pools: pools.map((p) => `${p.name} (${p.hosts.length} hosts)`) }, 'ssh driver ready');
    } catch (error) {
      // Pools are read on every operation: a bad file is reported there (and fixed without a restart).
      ctx.logger.warn({ poolsFile: sources.poolsFile }, `ssh driver ready, but its pools cannot be used yet: ${(error as Error).message}`);
    }
    return new SshDriver({
      ssh: ctx.ssh,
      dataDir: ctx.dataDir,
      documents: ctx.documents,
      sources,
      probeTimeoutMs: ctx.config.probeTimeoutMs,
      statusTimeoutMs: ctx.config.statusTimeoutMs,
    });
  },
});
