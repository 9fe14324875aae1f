import { isJobTerminal } from '@sky/protocol';
import type { ClusterRecord, JobRecord } from '@sky/protocol';
import { getMany, type Sublevels } from './layout.js';

/** What one committed group changed; null marks a deletion. */
export interface ClusterDelta {
  clusters: ReadonlyMap<string, ClusterRecord | null>;
  counters: ReadonlyMap<string, number | null>;
  jobs: ReadonlyMap<string, JobRecord | null>;
}

/**
 * The committed state of every cluster, every cluster's job counter and every job that has
 * not ended. Like ActiveState, it cannot go stale: this process is the only writer and the
 * writer folds in each group once its batch is on disk. With it, listing every cluster
 * costs a copy per record rather than a scan and a parse, and no write has to read a
 * cluster, a counter or an active job from disk before deciding.
 */
export class ClusterState {
  readonly clusters = new Map<string, ClusterRecord>();
  readonly counters = new Map<string, number>();
  /** Job key (keys.ts) → job that has not ended. */
  readonly activeJobs = new Map<string, JobRecord>();
  #sortedNames: string[] | undefined;

  static async load(subs: Sublevels): Promise<ClusterState> {
    const state = new ClusterState();
    const [clusters, counters, activeKeys] = await Promise.all([
      subs.clusters.iterator().all(),
      subs.jobCounters.iterator().all(),
      subs.activeJobs.keys().all(),
    ]);
    for (const [name, record] of clusters) state.clusters.set(name, record);
    for (const [name, last] of counters) state.counters.set(name, last);
    const jobs = await getMany((keys) => subs.jobs.getMany(keys), activeKeys);
    for (const [key, job] of jobs) if (!isJobTerminal(job.status)) state.activeJobs.set(key, job);
    return state;
  }

  /** Cluster names in ascending order; recomputed only after a create or delete. */
  sortedNames(): readonly string[] {
    this.#sortedNames ??= [...this.clusters.keys()].sort();
    return this.#sortedNames;
  }

  apply(delta: ClusterDelta): void {
    for (const [name, record] of delta.clusters) {
      if (record === null) {
        if (this.clusters.delete(name)) this.#sortedNames = undefined;
      } else {
        if (!this.clusters.has(name)) this.#sortedNames = undefined;
        this.clusters.set(name, record);
      }
    }
    for (const [name, last] of delta.counters) {
      if (last === null) this.counters.delete(name);
      else this.counters.set(name, last);
    }
    for (const [key, job] of delta.jobs) {
      if (job === null || isJobTerminal(job.status)) this.activeJobs.delete(key);
      else this.activeJobs.set(key, job);
    }
  }
}
