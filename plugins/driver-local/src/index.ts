import { mkdir } from 'node:fs/promises';
import { defineDriverPlugin } from '@sky/plugin-api';
import { localConfigSchema, type LocalDriverConfig } from './config.js';
import { LocalDriver } from './driver.js';
import { detectGpus } from './gpus.js';
import { connectAccounts, requireAccountsWhenShared } from './team.js';

export {
  ACCOUNT_PREFIX,
  ACCOUNTS_KEYS,
  CONFIG_KEYS,
  DEFAULT_ROOT,
  expandHome,
  foldUserName,
  hostDefaults,
  localConfigSchema,
  validateLocalConfig,
  type AccountsConfig,
  type LocalDriverConfig,
} from './config.js';
export { ACCOUNT_HASH_CHARS, accountFor, deriveAccountName } from './accounts.js';
export { connectAccounts, requireAccountsWhenShared } from './team.js';
export {
  DEFAULT_NODE_CPUS,
  DEFAULT_NODE_MEMORY_GB,
  LOCAL_ADDRESS,
  LocalDriver,
  readState,
  type AccountNodes,
  type LocalClusterState,
  type LocalDriverOptions,
} from './driver.js';
export { canonicalGpuName, detectGpus, NVIDIA_SMI_ARGS, parseNvidiaSmi, type GpuDetection, type HostGpu } from './gpus.js';
export { Ledger, LEDGER_FILE, LOCK_FILE, type LedgerCluster, type LedgerData, type LedgerNode, type LedgerOptions } from './ledger.js';
export { endAccountNodeProcesses, endNodeProcesses, groupAlive, JOBS_DIR, UNFINISHED_GROUPS_COMMAND, unfinishedJobGroups } from './processes.js';

/**
 * `drivers: {local: {root, cpus, memory_gb, max_nodes, accounts}}`: nodes are directories on this
 * machine. Init creates the root and asks nvidia-smi for GPUs. On a team server (multi-user
 * daemon) it refuses to start without `accounts:`, and with them it checks sky-node-helper.
 */
export default defineDriverPlugin<LocalDriverConfig>({
  name: 'sky-driver-local',
  apiVersion: '^1.1.0',
  configSchema: localConfigSchema,
  async init(ctx) {
    const { root, cpus, memoryGb, maxNodes } = ctx.config;
    requireAccountsWhenShared(ctx);
    await mkdir(root, { recursive: true, mode: 0o700 });
    const accounts = ctx.config.accounts === undefined ? undefined : await connectAccounts(ctx, ctx.config.accounts);
    const { gpus, note } = await detectGpus(ctx.signal);
    if (note !== undefined) ctx.logger.warn({ root }, note);
    ctx.logger.info(
      { root, cpus, memoryGb, maxNodes, gpus: gpus.map((g) => `${g.index}:${g.name}`), ...(accounts ? { nodeRoot: accounts.nodeRoot, helper: accounts.helper.socketPath } : {}) },
      accounts ? 'local driver ready: jobs run as each user\'s OS account through sky-node-helper' : 'local driver ready',
    );
    return new LocalDriver({ root, cpus, memoryGb, maxNodes, gpus, ...(accounts ? { accounts } : {}) });
  },
});
