import { SkyError, isJobTerminal } from '@sky/protocol';
import type { ClusterRecord, JobRecord, JobSpec, JobStatus } from '@sky/protocol';
import type { ClusterPatch, ClusterRepository, JobCreateOptions, JobListFilter, JobPatch, JobRepository, StoreChange } from '../store.js';
import { applyClusterPatch, applyJobPatch, applyOwnerChange, copyJson, jobsOldestFirst, orderJobs } from '../records.js';
import type { MemoryFeed } from './memory-events.js';

/** Clusters, their job queues and the change feed of the in-memory store. */
export class MemoryClusterData {
  readonly clusters = new Map<string, ClusterRecord>();
  /** Per cluster: id → job, in ascending id order (ids only grow). */
  readonly jobs = new Map<string, Map<number, JobRecord>>();
  /** Per cluster: id → spec of a job that has not ended. */
  readonly specs = new Map<string, Map<number, JobSpec>>();
  /** Per cluster: the last job id handed out in this incarnation. */
  readonly counters = new Map<string, number>();
  #sortedNames: string[] | undefined;

  constructor(
    readonly assertOpen: () => void,
    private readonly feed: MemoryFeed,
  ) {}

  emit(change: StoreChange): void {
    this.feed.emit(change);
  }

  sortedNames(): string[] {
    this.#sortedNames ??= [...this.clusters.keys()].sort();
    return this.#sortedNames;
  }

  namesChanged(): void {
    this.#sortedNames = undefined;
  }
}

export class MemoryClusterRepository implements ClusterRepository {
  constructor(private readonly data: MemoryClusterData) {}

  async create(input: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }> {
    const { data } = this;
    data.assertOpen();
    const existing = data.clusters.get(input.name);
    if (existing !== undefined) return { record: copyJson(existing), created: false };
    const record = { ...copyJson(input), version: 1 } as ClusterRecord;
    data.clusters.set(record.name, record);
    data.namesChanged();
    data.emit({ kind: 'cluster', name: record.name, record });
    return { record: copyJson(record), created: true };
  }

  async get(name: string): Promise<ClusterRecord | undefined> {
    this.data.assertOpen();
    const record = this.data.clusters.get(name);
    return record === undefined ? undefined : copyJson(record);
  }

  async list(filter: { owner?: string } = {}): Promise<ClusterRecord[]> {
    const { data } = this;
    data.assertOpen();
    const out: ClusterRecord[] = [];
    for (const name of data.sortedNames()) {
      const record = data.clusters.get(name);
      if (record !== undefined && (filter.owner === undefined || record.owner === filter.owner)) out.push(copyJson(record));
    }
    return out;
  }

  async update(name: string, expectedVersion: number, patch: ClusterPatch): Promise<ClusterRecord | undefined> {
    const { data } = this;
    data.assertOpen();
    const current = data.clusters.get(name);
    if (current === undefined || current.version !== expectedVersion) return undefined;
    const next = applyClusterPatch(current, patch);
    data.clusters.set(name, next);
    data.emit({ kind: 'cluster', name, record: next });
    return copyJson(next);
  }

  async changeOwner(name: string, expectedVersion: number, owner: { id: string; name: string }, updatedAt: number): Promise<ClusterRecord | undefined> {
    const { data } = this;
    data.assertOpen();
    const current = data.clusters.get(name);
    if (current === undefined || current.version !== expectedVersion) return undefined;
    const next = applyOwnerChange(current, { id: owner.id, name: owner.name }, updatedAt);
    data.clusters.set(name, next);
    data.emit({ kind: 'cluster', name, record: next });
    return copyJson(next);
  }

  async delete(name: string, expectedVersion?: number): Promise<boolean> {
    const { data } = this;
    data.assertOpen();
    const current = data.clusters.get(name);
    if (current === undefined || (expectedVersion !== undefined && current.version !== expectedVersion)) return false;
    const jobs = data.jobs.get(name);
    data.clusters.delete(name);
    data.jobs.delete(name);
    data.specs.delete(name);
    data.counters.delete(name);
    data.namesChanged();
    const deleted = { owner: current.owner, workspace: current.workspace };
    for (const id of [...(jobs?.keys() ?? [])].sort((a, b) => a - b)) data.emit({ kind: 'job', cluster: name, id, record: undefined, deleted: { ...deleted } });
    data.emit({ kind: 'cluster', name, record: undefined, deleted });
    return true;
  }
}

/** The requests a job may be queued for (JobCreateOptions.request): checked and linked with nothing awaited in between. */
export interface RequestLinks {
  linkRefusal(id: string): SkyError | undefined;
  link(id: string, job: { cluster: string; id: number }): void;
}

export class MemoryJobRepository implements JobRepository {
  constructor(
    private readonly data: MemoryClusterData,
    private readonly requests: RequestLinks,
  ) {}

  async create(job: Omit<JobRecord, 'id'>, spec: JobSpec, options: JobCreateOptions = {}): Promise<JobRecord> {
    const { data } = this;
    data.assertOpen();
    const cluster = data.clusters.get(job.cluster);
    if (cluster === undefined || cluster.clusterId !== job.clusterId) {
      const why = cluster === undefined ? 'no such cluster' : `cluster id ${job.clusterId} is not its current incarnation (${cluster.clusterId})`;
      throw new SkyError('VALIDATION_FAILED', `cannot add a job to cluster "${job.cluster}": ${why}`, {
        hint: 'launch the cluster again and submit the job to the new cluster',
        details: { field: 'cluster', cluster: job.cluster, clusterId: job.clusterId },
      });
    }
    if (options.request !== undefined) {
      const refusal = this.requests.linkRefusal(options.request);
      if (refusal !== undefined) throw refusal;
    }
    const id = (data.counters.get(job.cluster) ?? 0) + 1;
    const record = { ...copyJson(job), id } as JobRecord;
    data.counters.set(job.cluster, id);
    let jobs = data.jobs.get(job.cluster);
    if (jobs === undefined) {
      jobs = new Map();
      data.jobs.set(job.cluster, jobs);
    }
    jobs.set(id, record);
    if (!isJobTerminal(record.status)) {
      let specs = data.specs.get(job.cluster);
      if (specs === undefined) {
        specs = new Map();
        data.specs.set(job.cluster, specs);
      }
      specs.set(id, copyJson(spec));
    }
    data.emit({ kind: 'job', cluster: record.cluster, id, record });
    if (options.request !== undefined) this.requests.link(options.request, { cluster: record.cluster, id });
    return copyJson(record);
  }

  async get(cluster: string, id: number): Promise<JobRecord | undefined> {
    this.data.assertOpen();
    const record = this.data.jobs.get(cluster)?.get(id);
    return record === undefined ? undefined : copyJson(record);
  }

  async getSpec(cluster: string, id: number): Promise<JobSpec | undefined> {
    this.data.assertOpen();
    const spec = this.data.specs.get(cluster)?.get(id);
    return spec === undefined ? undefined : copyJson(spec);
  }

  async list(cluster: string, filter: JobListFilter = {}): Promise<JobRecord[]> {
    this.data.assertOpen();
    const statuses = filter.status !== undefined && filter.status.length > 0 ? filter.status : undefined;
    const jobs = [...(this.data.jobs.get(cluster)?.values() ?? [])].filter((job) => statuses === undefined || statuses.includes(job.status));
    return orderJobs(jobs, filter).map(copyJson);
  }

  async listActive(): Promise<JobRecord[]> {
    this.data.assertOpen();
    const out: JobRecord[] = [];
    for (const jobs of this.data.jobs.values()) {
      for (const job of jobs.values()) if (!isJobTerminal(job.status)) out.push(job);
    }
    return out.sort(jobsOldestFirst).map(copyJson);
  }

  async transition(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch): Promise<JobRecord | undefined> {
    const { data } = this;
    data.assertOpen();
    const jobs = data.jobs.get(cluster);
    const current = jobs?.get(id);
    if (jobs === undefined || current === undefined || !from.includes(current.status)) return undefined;
    const next = applyJobPatch(current, patch);
    jobs.set(id, next);
    if (isJobTerminal(next.status)) data.specs.get(cluster)?.delete(id);
    data.emit({ kind: 'job', cluster, id, record: next });
    return copyJson(next);
  }
}
