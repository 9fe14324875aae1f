import { NodeHelperClient, type NodeHelper } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { expandHome } from '../config/load.js';

/**
 * The daemon's one connection to sky-node-helper (node_helper.socket), shared by the transports
 * of account nodes and lent to drivers through their PluginContext. Opened on first use; when the
 * helper restarts, calls in flight fail with NODE_UNREACHABLE and the next call connects again.
 */
export class NodeHelperConnection {
  readonly client: NodeHelperClient | undefined;

  constructor(config: DaemonConfig['node_helper']) {
    this.client =
      config.socket === undefined ? undefined : new NodeHelperClient(expandHome(config.socket), { callTimeoutMs: config.call_timeout_seconds * 1000 });
  }

  /** The helper, or NODE_UNREACHABLE saying how to configure one (`what` names who needs it). */
  require(what: string): NodeHelper {
    if (this.client !== undefined) return this.client;
    throw new SkyError('NODE_UNREACHABLE', `${what} runs as another OS account through sky-node-helper, but node_helper.socket is not set in the daemon config`, {
      hint: 'Start sky-node-helper as root and set node_helper.socket to its socket (see plugins/driver-local/README.md).',
    });
  }

  async close(): Promise<void> {
    await this.client?.close(true);
  }
}
