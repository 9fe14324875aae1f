import { mkdir } from 'node:fs/promises';
import { defineDriverPlugin } from '@sky/plugin-api';
import { localConfigSchema, type LocalDriverConfig } from './config.js';
import { LocalDriver } from './driver.js';
import { detectGpus } from './gpus.js';

export { CONFIG_KEYS, DEFAULT_ROOT, expandHome, hostDefaults, localConfigSchema, validateLocalConfig, type LocalDriverConfig } from './config.js';
export {
  DEFAULT_NODE_CPUS,
  DEFAULT_NODE_MEMORY_GB,
  LOCAL_ADDRESS,
  LocalDriver,
  readState,
  type LocalClusterState,
  type LocalDriverOptions,
} from './driver.js';
export { canonicalGpuName, detectGpus, NVIDIA_SMI_ARGS, parseNvidiaSmi, type GpuDetection, type HostGpu } from './gpus.js';
export { Ledger, LEDGER_FILE, LOCK_FILE, type LedgerCluster, type LedgerData, type LedgerNode, type LedgerOptions } from './ledger.js';
export { endNodeProcesses, groupAlive, JOBS_DIR, unfinishedJobGroups } from './processes.js';

/**
 * `drivers: {local: {root, cpus, memory_gb, max_nodes}}`: nodes are directories on this machine.
 * Init creates the root and asks nvidia-smi for GPUs.
 */
export default defineDriverPlugin<LocalDriverConfig>({
  name: 'sky-driver-local',
  apiVersion: '^1.0.0',
  configSchema: localConfigSchema,
  async init(ctx) {
    const { root, cpus, memoryGb, maxNodes } = ctx.config;
    await mkdir(root, { recursive: true, mode: 0o700 });
    const { gpus, note } = await detectGpus(ctx.signal);
    if (note !== undefined) ctx.logger.warn({ root }, note);
    ctx.logger.info({ root, cpus, memoryGb, maxNodes, gpus: gpus.map((g) => `${g.index}:${g.name}`) }, 'local driver ready');
    return new LocalDriver({ root, cpus, memoryGb, maxNodes, gpus });
  },
});
