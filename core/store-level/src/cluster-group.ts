import { SkyError, isJobTerminal } from '@sky/protocol';
import type { ClusterRecord, JobRecord, JobSpec, JobStatus } from '@sky/protocol';
import { applyClusterPatch, applyJobPatch, applyOwnerChange, copyJson, type ClusterPatch, type JobPatch, type FeedChange } from '@sky/plugin-api';
import type { ClusterDelta, ClusterState } from './cluster-state.js';
import { isJobId, jobKey, parseJobKey, prefixRange } from './keys.js';
import { getMany, INDEX_MARK, type Sublevels, type WriteOp } from './layout.js';

export interface Settle<T> {
  resolve(value: T): void;
  reject(reason: unknown): void;
}

/** Cluster and job writes waiting in the writer's queue. Inputs are private copies. */
export type ClusterWriteRequest =
  | { kind: 'cluster-create'; record: ClusterRecord; settle: Settle<{ record: ClusterRecord; created: boolean }> }
  | { kind: 'cluster-update'; name: string; expectedVersion: number; patch: ClusterPatch; settle: Settle<ClusterRecord | undefined> }
  | { kind: 'cluster-owner'; name: string; expectedVersion: number; owner: { id: string; name: string }; updatedAt: number; settle: Settle<ClusterRecord | undefined> }
  | { kind: 'cluster-delete'; name: string; expectedVersion: number | undefined; settle: Settle<boolean> }
  | { kind: 'job-create'; job: Omit<JobRecord, 'id'>; spec: JobSpec; request?: string; settle: Settle<JobRecord> }
  | {
      kind: 'job-transition';
      cluster: string;
      id: number;
      from: readonly JobStatus[];
      patch: JobPatch;
      settle: Settle<JobRecord | undefined>;
    };

export function isClusterWrite(req: { kind: string }): req is ClusterWriteRequest {
  return req.kind.startsWith('cluster-') || req.kind.startsWith('job-');
}

/** What the group's cluster and job writes need from disk, read once up front. */
export interface ClusterPrefetch {
  /** Ended jobs being transitioned (jobs that have not ended are in the cache). */
  jobs: Map<string, JobRecord>;
  /** For each cluster being deleted: what it has on disk. */
  onDisk: Map<string, DiskJobs>;
}

interface DiskJobs {
  /** Ids of its job records, ascending. */
  jobs: number[];
  /** Ids of every job, spec or active entry it has (a superset, so nothing stray survives). */
  all: number[];
}

async function jobsOnDisk(subs: Sublevels, cluster: string): Promise<DiskJobs> {
  const range = prefixRange(cluster);
  const [jobs, specs, active] = await Promise.all([
    subs.jobs.keys(range).all(),
    subs.jobSpecs.keys(range).all(),
    subs.activeJobs.keys(range).all(),
  ]);
  const ids = (keys: string[]): number[] => keys.map((key) => parseJobKey(key).id);
  const all = [...new Set([...ids(jobs), ...ids(specs), ...ids(active)])].sort((a, b) => a - b);
  return { jobs: ids(jobs), all };
}

async function prefetch(subs: Sublevels, state: ClusterState, group: readonly ClusterWriteRequest[]): Promise<ClusterPrefetch> {
  const jobKeys = new Set<string>();
  const deleting = new Set<string>();
  for (const req of group) {
    if (req.kind === 'job-transition' && isJobId(req.id)) {
      const key = jobKey(req.cluster, req.id);
      if (!state.activeJobs.has(key)) jobKeys.add(key);
    } else if (req.kind === 'cluster-delete' && state.clusters.has(req.name)) {
      deleting.add(req.name);
    }
  }
  if (jobKeys.size === 0 && deleting.size === 0) return { jobs: new Map(), onDisk: new Map() };
  const [jobs, onDisk] = await Promise.all([
    getMany((keys) => subs.jobs.getMany(keys), [...jobKeys]),
    Promise.all([...deleting].map(async (name) => [name, await jobsOnDisk(subs, name)] as const)),
  ]);
  return { jobs, onDisk: new Map(onDisk) };
}

function staleClusterError(job: Omit<JobRecord, 'id'>, current: ClusterRecord | undefined): SkyError {
  const why = current === undefined ? 'no such cluster' : `cluster id ${job.clusterId} is not its current incarnation (${current.clusterId})`;
  return new SkyError('VALIDATION_FAILED', `cannot add a job to cluster "${job.cluster}": ${why}`, {
    hint: 'launch the cluster again and submit the job to the new cluster',
    details: { field: 'cluster', cluster: job.cluster, clusterId: job.clusterId },
  });
}

/**
 * The cluster and job part of one group commit. Applies the writes in queue order against
 * the committed state (the ClusterState cache, plus what was prefetched) overlaid with the
 * group's own earlier writes, so every compare-and-set sees the writes before it; appends
 * each record's puts and index entries to the group's one batch; and records the changes
 * to publish once that batch is on disk.
 */
export class ClusterGroup {
  readonly #clusters = new Map<string, ClusterRecord | null>();
  readonly #counters = new Map<string, number | null>();
  readonly #jobs = new Map<string, JobRecord | null>();
  /** Clusters this group deleted: their jobs on disk are gone from the group's view. */
  readonly #deleted = new Set<string>();
  /** Ids of jobs this group created per cluster since the group last deleted that cluster. */
  readonly #created = new Map<string, number[]>();

  constructor(
    private readonly subs: Sublevels,
    private readonly state: ClusterState,
    private readonly fetched: ClusterPrefetch,
    private readonly ops: WriteOp[],
    private readonly outcomes: Array<() => void>,
    /** The group's change-feed events, shared with its other parts so they stay in commit order. */
    private readonly changes: FeedChange[],
  ) {}

  /** Read what `requests` need from disk; run before the group applies anything. */
  static prefetch(subs: Sublevels, state: ClusterState, requests: readonly ClusterWriteRequest[]): Promise<ClusterPrefetch> {
    return prefetch(subs, state, requests);
  }

  get delta(): ClusterDelta {
    return { clusters: this.#clusters, counters: this.#counters, jobs: this.#jobs };
  }

  apply(req: ClusterWriteRequest): void {
    switch (req.kind) {
      case 'cluster-create':
        return this.#createCluster(req.record, req.settle);
      case 'cluster-update':
        return this.#updateCluster(req.name, req.expectedVersion, req.patch, req.settle);
      case 'cluster-owner':
        return this.#changeOwner(req.name, req.expectedVersion, req.owner, req.updatedAt, req.settle);
      case 'cluster-delete':
        return this.#deleteCluster(req.name, req.expectedVersion, req.settle);
      case 'job-create':
        this.createJob(req.job, req.spec, req.settle);
        return;
      case 'job-transition':
        return this.#transitionJob(req.cluster, req.id, req.from, req.patch, req.settle);
    }
  }

  #cluster(name: string): ClusterRecord | undefined {
    const overlaid = this.#clusters.get(name);
    if (overlaid !== undefined) return overlaid ?? undefined;
    return this.state.clusters.get(name);
  }

  #lastJobId(cluster: string): number {
    const overlaid = this.#counters.get(cluster);
    if (overlaid !== undefined) return overlaid ?? 0;
    return this.state.counters.get(cluster) ?? 0;
  }

  #job(key: string): JobRecord | undefined {
    const overlaid = this.#jobs.get(key);
    if (overlaid !== undefined) return overlaid ?? undefined;
    return this.state.activeJobs.get(key) ?? this.fetched.jobs.get(key);
  }

  #putCluster(record: ClusterRecord): ClusterRecord {
    // Serialized once: the batch stores this text and the cache gets a parse of it.
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as ClusterRecord;
    this.#clusters.set(stored.name, stored);
    this.ops.push({ type: 'put', sublevel: this.subs.clusters, key: stored.name, value: json, valueEncoding: 'utf8' });
    this.changes.push({ kind: 'cluster', name: stored.name, record: stored });
    return stored;
  }

  #createCluster(input: ClusterRecord, settle: Settle<{ record: ClusterRecord; created: boolean }>): void {
    const existing = this.#cluster(input.name);
    if (existing !== undefined) {
      const record = copyJson(existing);
      this.outcomes.push(() => settle.resolve({ record, created: false }));
      return;
    }
    const stored = this.#putCluster({ ...input, version: 1 });
    this.outcomes.push(() => settle.resolve({ record: copyJson(stored), created: true }));
  }

  #updateCluster(name: string, expectedVersion: number, patch: ClusterPatch, settle: Settle<ClusterRecord | undefined>): void {
    const current = this.#cluster(name);
    if (current === undefined || current.version !== expectedVersion) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const stored = this.#putCluster(applyClusterPatch(current, patch));
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #changeOwner(name: string, expectedVersion: number, owner: { id: string; name: string }, updatedAt: number, settle: Settle<ClusterRecord | undefined>): void {
    const current = this.#cluster(name);
    if (current === undefined || current.version !== expectedVersion) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const stored = this.#putCluster(applyOwnerChange(current, owner, updatedAt));
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #deleteCluster(name: string, expectedVersion: number | undefined, settle: Settle<boolean>): void {
    const current = this.#cluster(name);
    if (current === undefined || (expectedVersion !== undefined && current.version !== expectedVersion)) {
      this.outcomes.push(() => settle.resolve(false));
      return;
    }
    // The jobs of this incarnation: those on disk (unless this group already deleted an
    // earlier incarnation) and those this group created since.
    const disk = this.#deleted.has(name) ? undefined : this.fetched.onDisk.get(name);
    const created = this.#created.get(name) ?? [];
    const existing = [...new Set([...(disk?.jobs ?? []), ...created])].sort((a, b) => a - b);
    const doomed = [...new Set([...(disk?.all ?? []), ...created])];
    const { subs } = this;
    for (const id of doomed) {
      const key = jobKey(name, id);
      this.ops.push(
        { type: 'del', sublevel: subs.jobs, key },
        { type: 'del', sublevel: subs.jobSpecs, key },
        { type: 'del', sublevel: subs.activeJobs, key },
      );
      this.#jobs.set(key, null);
    }
    const deleted = { owner: current.owner, workspace: current.workspace };
    for (const id of existing) this.changes.push({ kind: 'job', cluster: name, id, record: undefined, deleted: { ...deleted } });
    this.ops.push(
      { type: 'del', sublevel: subs.clusters, key: name },
      { type: 'del', sublevel: subs.jobCounters, key: name },
    );
    this.#clusters.set(name, null);
    this.#counters.set(name, null);
    this.#deleted.add(name);
    this.#created.delete(name);
    this.changes.push({ kind: 'cluster', name, record: undefined, deleted });
    this.outcomes.push(() => settle.resolve(true));
  }

  /** Create a job (its outcome settles with the group); returns it, or undefined when it was refused. */
  createJob(input: Omit<JobRecord, 'id'>, spec: JobSpec, settle: Settle<JobRecord>): JobRecord | undefined {
    const cluster = this.#cluster(input.cluster);
    if (cluster === undefined || cluster.clusterId !== input.clusterId) {
      const error = staleClusterError(input, cluster);
      this.outcomes.push(() => settle.reject(error));
      return undefined;
    }
    const name = cluster.name;
    const id = this.#lastJobId(name) + 1;
    const key = jobKey(name, id);
    const json = JSON.stringify({ ...input, id });
    const stored = JSON.parse(json) as JobRecord;
    const { subs } = this;
    this.ops.push(
      { type: 'put', sublevel: subs.jobs, key, value: json, valueEncoding: 'utf8' },
      { type: 'put', sublevel: subs.jobCounters, key: name, value: id },
    );
    if (!isJobTerminal(stored.status)) {
      this.ops.push(
        { type: 'put', sublevel: subs.jobSpecs, key, value: JSON.stringify(spec), valueEncoding: 'utf8' },
        { type: 'put', sublevel: subs.activeJobs, key, value: INDEX_MARK },
      );
    }
    this.#jobs.set(key, stored);
    this.#counters.set(name, id);
    const created = this.#created.get(name);
    if (created === undefined) this.#created.set(name, [id]);
    else created.push(id);
    this.changes.push({ kind: 'job', cluster: name, id, record: stored });
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
    return stored;
  }

  #transitionJob(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch, settle: Settle<JobRecord | undefined>): void {
    const key = isJobId(id) ? jobKey(cluster, id) : undefined;
    const current = key === undefined ? undefined : this.#job(key);
    if (key === undefined || current === undefined || !from.includes(current.status)) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const json = JSON.stringify(applyJobPatch(current, patch));
    const stored = JSON.parse(json) as JobRecord;
    const { subs } = this;
    this.ops.push({ type: 'put', sublevel: subs.jobs, key, value: json, valueEncoding: 'utf8' });
    if (isJobTerminal(stored.status)) {
      // The spec (it may hold secrets) goes in the same batch that ends the job.
      this.ops.push({ type: 'del', sublevel: subs.jobSpecs, key }, { type: 'del', sublevel: subs.activeJobs, key });
    } else if (isJobTerminal(current.status)) {
      this.ops.push({ type: 'put', sublevel: subs.activeJobs, key, value: INDEX_MARK });
    }
    this.#jobs.set(key, stored);
    this.changes.push({ kind: 'job', cluster, id, record: stored });
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }
}
