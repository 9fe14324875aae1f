import { SkyError, type NodeRecord } from '@sky/protocol';
import { LocalTransport } from './local-transport.js';
import type { NodeTransport } from './transport.js';

/** One transport per node, kept for the daemon's lifetime (local ones are stateless; SSH ones will be pooled connections). */
export class TransportPool {
  private readonly byNode = new Map<string, NodeTransport>();

  for(node: NodeRecord): NodeTransport {
    const key = node.reach.kind === 'local' ? `local:${node.reach.root}` : `ssh:${node.reach.user}@${node.reach.host}:${node.reach.port}`;
    let transport = this.byNode.get(key);
    if (transport === undefined) {
      if (node.reach.kind !== 'local') {
        throw new SkyError('NODE_UNREACHABLE', `node ${node.address} is reached over SSH, which this daemon does not support yet`, {
          hint: 'Use the local driver for now.',
        });
      }
      transport = new LocalTransport(node.reach.root);
      this.byNode.set(key, transport);
    }
    return transport;
  }
}
