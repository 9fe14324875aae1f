import type { ClusterPatch, StateStore } from '@sky/plugin-api';
import { SkyError, type ClusterRecord } from '@sky/protocol';

/** Read-modify-write of a cluster with compare-and-set on its version, retried on conflict. */
export async function updateCluster(
  store: StateStore,
  name: string,
  change: (current: ClusterRecord) => ClusterPatch | undefined,
): Promise<ClusterRecord | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await store.clusters.get(name);
    if (!current) return undefined;
    const patch = change(current);
    if (patch === undefined) return current;
    const next = await store.clusters.update(name, current.version, { ...patch, updatedAt: Date.now() });
    if (next) return next;
  }
  throw new SkyError('INTERNAL', `cluster ${name} kept changing while it was being updated`);
}

export function clusterNotFound(name: string): SkyError {
  return new SkyError('CLUSTER_NOT_FOUND', `cluster ${name} does not exist`, { hint: 'List clusters with: sky status -u' });
}
