import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { TOKENS, type Clock } from '../tokens.js';
import { StatusView } from '../clusters/status-view.js';
import { ClusterUpdates } from '../clusters/cluster-updates.js';
import { ReplicaLease } from './replica-lease.js';

/** How long an answer about another replica's liveness is reused (routing asks for it on every submit). */
const LIVENESS_CACHE_MS = 1000;

/**
 * Which replica owns each cluster on a store shared by several replicas. The owner (recorded on
 * the cluster as `replica`: the replica that launched it, or took it over) runs every request
 * on the cluster, starts its jobs, follows its nodes' event journals and reconciles them, so the
 * SSH connections to a cluster's nodes are held by one replica and the cluster's lanes
 * (launch, exec, stop, down one after another) hold across replicas. A request another replica
 * accepts for the cluster is stored as the owner's and run there. When an owner's lease lapses,
 * the first replica to notice takes its clusters over (compare-and-set on the record). On a
 * store one daemon has to itself, this process owns everything.
 */
@injectable()
export class ClusterOwners {
  private readonly liveness = new Map<string, { live: boolean; at: number }>();
  private readonly adoptedListeners = new Set<(names: readonly string[]) => void>();
  private sweeping: Promise<string[]> | undefined;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.ReplicaId) private readonly replica: string,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(ReplicaLease) private readonly lease: ReplicaLease,
    @inject(StatusView) private readonly view: StatusView,
    @inject(ClusterUpdates) private readonly updates: ClusterUpdates,
  ) {}

  /** Whether several replicas share the store (else every cluster is this process's). */
  get shared(): boolean {
    return this.lease.shared;
  }

  /**
   * Whether this replica runs the cluster's job path: always on a store of its own; on a shared
   * store when the cluster is recorded as this replica's (a cluster not known, e.g. just deleted,
   * counts as this replica's: nothing of it is left to share).
   */
  owns(clusterName: string): boolean {
    if (!this.shared) return true;
    const record = this.view.get(clusterName);
    return record === undefined || record.replica === this.replica;
  }

  /**
   * The replica a request on the cluster runs on: its owner while that replica is alive; this
   * one for a cluster not launched yet, or one whose owner died (taken over here first).
   */
  async route(clusterName: string): Promise<string> {
    if (!this.shared) return this.replica;
    const record = this.view.get(clusterName);
    if (record === undefined || record.replica === this.replica) return this.replica;
    if (record.replica !== undefined && (await this.isLive(record.replica))) return record.replica;
    const taken = await this.adopt(clusterName, record.replica);
    return taken ?? this.replica;
  }

  /**
   * Take over every cluster with jobs queued or running that no live replica owns (its owner's
   * lease lapsed, or it was recorded before clusters had owners): their job path must run
   * somewhere. Other clusters are taken when a request on them arrives (route). Returns the
   * names taken; listeners hear them.
   */
  takeOverOrphans(): Promise<string[]> {
    if (!this.shared) return Promise.resolve([]);
    if (this.sweeping !== undefined) return this.sweeping;
    this.sweeping = this.sweep().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  /** Hear clusters this replica took over (their job path starts here). */
  onAdopted(listener: (names: readonly string[]) => void): () => void {
    this.adoptedListeners.add(listener);
    return () => {
      this.adoptedListeners.delete(listener);
    };
  }

  private async sweep(): Promise<string[]> {
    // The owners the view names (an owner of none is recorded as ''): the store is read only when one of them is dead.
    const orphaned = new Set<string>();
    for (const owner of new Set(this.view.list(undefined).map((record) => record.replica ?? ''))) {
      if (owner !== this.replica && (owner === '' || !(await this.isLive(owner)))) orphaned.add(owner);
    }
    if (orphaned.size === 0) return [];
    const taken: string[] = [];
    const busy = new Set((await this.store.jobs.listActive()).map((job) => job.cluster));
    for (const name of busy) {
      const record = this.view.get(name);
      if (record === undefined || !orphaned.has(record.replica ?? '')) continue;
      if ((await this.adopt(record.name, record.replica, false)) === this.replica) taken.push(record.name);
    }
    if (taken.length > 0) {
      this.logger.warn({ clusters: taken.length }, 'took over the clusters of replicas that stopped renewing their lease');
      this.announce(taken);
    }
    return taken;
  }

  /**
   * Record this replica as the cluster's owner if `from` still is (compare-and-set); returns
   * who owns it afterwards (undefined when the cluster is gone).
   */
  private async adopt(clusterName: string, from: string | undefined, announce = true): Promise<string | undefined> {
    try {
      const after = await this.updates.update(clusterName, (current) => (current.replica === from ? { replica: this.replica } : undefined));
      if (after?.replica === this.replica && from !== this.replica && announce) this.announce([clusterName]);
      return after?.replica;
    } catch (err) {
      // Deleted meanwhile (or the store is away): the next sweep looks again.
      this.logger.debug({ err, cluster: clusterName }, 'could not take the cluster over');
      return this.view.get(clusterName)?.replica;
    }
  }

  private announce(names: readonly string[]): void {
    for (const listener of [...this.adoptedListeners]) {
      try {
        listener(names);
      } catch (err) {
        this.logger.error({ err }, 'a listener of clusters taken over failed');
      }
    }
  }

  /** Whether replica `id` holds its liveness lease (answers reused for a second). */
  private async isLive(id: string): Promise<boolean> {
    const now = this.clock.now();
    const known = this.liveness.get(id);
    if (known !== undefined && now - known.at < LIVENESS_CACHE_MS) return known.live;
    const live = await this.lease.isLive(id);
    this.liveness.set(id, { live, at: now });
    return live;
  }
}
