import { defineDriverPlugin } from '@sky/plugin-api';
import { kubeConfigSchema, type KubeDriverConfig } from './config.js';
import { KubernetesDriver } from './driver.js';

export {
  CONFIG_KEYS,
  DEFAULT_GPU_LABEL_KEYS,
  DEFAULT_IMAGE,
  DEFAULT_NAMESPACE,
  DEFAULT_PROVISION_TIMEOUT_SECONDS,
  DEFAULT_RUNTIME_IMAGE,
  DEFAULT_SSH_PORT,
  IN_CLUSTER_CONTEXT,
  defaultKubeconfig,
  kubeConfigSchema,
  namespaceFor,
  validateKubeConfig,
  type ConfigEnv,
  type KubeDriverConfig,
  type KubeconfigSource,
} from './config.js';
export { KubernetesDriver, readState, type KubeClusterState, type KubeDriverOptions } from './driver.js';
export { apiError, apiFailure } from './errors.js';
export { ClusterKeys, ed25519, keyWithoutComment } from './keys.js';
export * from './names.js';
export { capacityOf, infeasibility, nodeViews, targetNode, type NodeView } from './nodes.js';
export { nodeStatus, podProgress, terminationReason, type PodProgress } from './pod-state.js';
export { requiredPermissions, type Permission } from './permissions.js';
export { cpuQuantity, memoryQuantity, parseQuantity } from './quantity.js';
export { openPortForward, parseTunnelId, tunnelId, waitForTunnel } from './tunnel.js';
export * from './spec.js';

/**
 * `drivers: {k8s: {kubeconfig, allowed_contexts, namespace, …}}`: clusters as pods on Kubernetes,
 * one pod per node, reached over SSH at the pod IP or through the API server's port-forward
 * (`reach: port-forward`). The kubeconfig is read at init.
 */
export default defineDriverPlugin<KubeDriverConfig>({
  name: 'sky-driver-kubernetes',
  apiVersion: '^1.6.0',
  configSchema: kubeConfigSchema,
  init(ctx) {
    const driver = new KubernetesDriver({ config: ctx.config, dataDir: ctx.dataDir, documents: ctx.documents, logger: ctx.logger });
    try {
      ctx.logger.info({ contexts: driver.allowedContexts() }, 'Kubernetes driver ready');
    } catch (error) {
      // Contexts are read again on every operation's first use: report, do not refuse to start.
      ctx.logger.warn({}, `Kubernetes driver ready, but its kubeconfig cannot be used yet: ${(error as Error).message}`);
    }
    return Promise.resolve(driver);
  },
});
