import { inject, injectable } from 'tsyringe';
import { applyClusterPatch, type ClusterPatch, type StateStore } from '@sky/plugin-api';
import { SkyError, type ClusterRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';

/**
 * A change of a cluster record: the patch to apply to the record as it is now, or undefined
 * for none. It may be called more than once (again after a lost compare-and-set), so it must
 * only look at its argument.
 */
export type ClusterChange = (current: ClusterRecord) => ClusterPatch | undefined;

interface Pending {
  change: ClusterChange;
  resolve: (record: ClusterRecord | undefined) => void;
  reject: (reason: unknown) => void;
}

/** Pause before trying again after a lost compare-and-set: doubling from 1 ms, capped. */
function backoffMs(attempt: number): number {
  return Math.min(100, 2 ** Math.min(attempt, 7)) * (0.5 + Math.random() / 2);
}

/** How long a batch keeps trying against another writer before it gives up (that writer is then not this daemon). */
const GIVE_UP_MS = 30_000;

/**
 * The one writer of cluster records in this daemon. Every change of a cluster record (the
 * job queue marking it active, exec recording its last command, stop/start/down, autostop,
 * the provisioner) goes through update(), which queues changes per cluster and applies
 * everything queued as one merged compare-and-set write: concurrent changes of one cluster
 * never race each other, and a burst of them costs a few writes, not one each. A lost
 * compare-and-set means something outside this writer changed the record (an ownership
 * transfer, another process); the batch is then evaluated again on the new record after a
 * short backoff, so ordinary contention is never an error.
 */
@injectable()
export class ClusterUpdates {
  private readonly queues = new Map<string, Pending[]>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  /**
   * Apply `change` to the cluster; resolves with the record as written (with this change and
   * any merged with it), or as it is when no change was needed, or undefined when the cluster
   * does not exist.
   */
  update(name: string, change: ClusterChange): Promise<ClusterRecord | undefined> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(name);
      if (queue !== undefined) {
        queue.push({ change, resolve, reject });
        return;
      }
      this.queues.set(name, [{ change, resolve, reject }]);
      void this.drain(name);
    });
  }

  private async drain(name: string): Promise<void> {
    const queue = this.queues.get(name)!;
    try {
      while (queue.length > 0) await this.apply(name, queue.splice(0));
    } finally {
      this.queues.delete(name);
    }
  }

  private async apply(name: string, batch: Pending[]): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let current: ClusterRecord | undefined;
      try {
        current = await this.store.clusters.get(name);
      } catch (err) {
        for (const p of batch) p.reject(err);
        return;
      }
      if (current === undefined) {
        for (const p of batch) p.resolve(undefined);
        return;
      }
      const { patch, refused } = merge(current, batch);
      const live = batch.filter((p) => !refused.has(p));
      for (const [p, err] of refused) p.reject(err);
      if (patch === undefined) {
        for (const p of live) p.resolve(current);
        return;
      }
      let next: ClusterRecord | undefined;
      try {
        next = await this.store.clusters.update(name, current.version, { ...patch, updatedAt: this.clock.now() });
      } catch (err) {
        for (const p of live) p.reject(err);
        return;
      }
      if (next !== undefined) {
        for (const p of live) p.resolve(next);
        return;
      }
      if (Date.now() - started > GIVE_UP_MS) {
        const error = new SkyError('STATE_UNAVAILABLE', `cluster ${name} kept being changed by another writer of the state store for ${GIVE_UP_MS / 1000} s`, {
          hint: 'Only one daemon may use this state store at a time; check for another one, then retry.',
        });
        for (const p of live) p.reject(error);
        return;
      }
      batch = live;
      await new Promise((r) => setTimeout(r, backoffMs(attempt)));
    }
  }
}

/**
 * Run each change on the record as the changes before it left it, and merge their patches
 * (a later key wins, as if they were written one after another). A change that throws is
 * left out and rejected with its error.
 */
function merge(current: ClusterRecord, batch: readonly Pending[]): { patch: ClusterPatch | undefined; refused: Map<Pending, unknown> } {
  const refused = new Map<Pending, unknown>();
  let working = current;
  let merged: ClusterPatch | undefined;
  for (const p of batch) {
    let patch: ClusterPatch | undefined;
    try {
      patch = p.change(working);
    } catch (err) {
      refused.set(p, err);
      continue;
    }
    if (patch === undefined) continue;
    working = applyClusterPatch(working, patch);
    merged = Object.assign(merged ?? {}, patch);
  }
  return { patch: merged, refused };
}

export function clusterNotFound(name: string): SkyError {
  return new SkyError('CLUSTER_NOT_FOUND', `cluster ${name} does not exist`, { hint: 'List clusters with: sky status -u' });
}
