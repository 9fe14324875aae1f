import { SkyError, type ClusterRecord, type NodeRecord } from '@sky/protocol';
import { AccountTransport } from '../nodes/account-transport.js';
import { LocalTransport } from '../nodes/local-transport.js';
import type { TransportPool } from '../nodes/transports.js';
import { AccountNodeBackend } from './account-backend.js';
import { LocalNodeBackend } from './local-backend.js';
import type { NodeBackend } from './node-backend.js';
import { SshNodeBackend } from './ssh-backend.js';

/** The node of `cluster` with this rank, or a clear error naming the ranks there are. */
export function nodeOfRank(cluster: ClusterRecord, rank: number): NodeRecord {
  const node = cluster.nodes.find((n) => n.rank === rank);
  if (node === undefined) {
    const workers = cluster.nodes.length - 1;
    throw new SkyError('VALIDATION_FAILED', `cluster ${cluster.name} has no node of rank ${rank}: it has ${cluster.nodes.length} (rank 0 is the head${workers > 0 ? `, 1..${workers} the workers` : ''})`, {
      hint: workers > 0 ? `ssh ${cluster.name} reaches the head, ssh ${cluster.name}-worker1 .. ${cluster.name}-worker${workers} the workers.` : `ssh ${cluster.name} reaches its only node.`,
      details: { field: 'rank' },
    });
  }
  return node;
}

/** How the gateway reaches a node: its own SSH connection for SSH nodes, child processes for local ones (through sky-node-helper for a member's account). */
export function backendFor(transports: TransportPool, node: NodeRecord): NodeBackend {
  const { reach } = node;
  if (reach.kind === 'ssh') return new SshNodeBackend(transports.dedicatedSsh(reach, node.address));
  // The transport decides whether this daemon may run anything there (a team server refuses local nodes without an account).
  const transport = transports.for(node);
  if (transport instanceof LocalTransport) return new LocalNodeBackend(transport.root, transport.umask);
  // A team server's local node: the helper runs the session as the member's account, as it runs the jobs.
  if (transport instanceof AccountTransport) return new AccountNodeBackend(transport.helper, transport.account, transport.root);
  throw new SkyError('NOT_SUPPORTED', `node ${node.address} cannot be reached over SSH through the API server`);
}
