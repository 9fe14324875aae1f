import { isJobTerminal, type ClusterRecord, type JobRecord, type JobSpec } from '@sky/protocol';
import { copyJson, jobsOldestFirst, orderJobs, type JobListFilter } from '@sky/plugin-api';
import type { ClusterState } from './cluster-state.js';
import { isJobId, jobKey, prefixRange } from './keys.js';
import type { Sublevels } from './layout.js';

/** Reads of clusters and jobs: from the ClusterState cache, or committed data on disk. */
export class ClusterReader {
  constructor(
    private readonly subs: Sublevels,
    private readonly state: ClusterState,
  ) {}

  getCluster(name: string): ClusterRecord | undefined {
    const record = this.state.clusters.get(name);
    return record === undefined ? undefined : copyJson(record);
  }

  listClusters(owner: string | undefined): ClusterRecord[] {
    const out: ClusterRecord[] = [];
    for (const name of this.state.sortedNames()) {
      const record = this.state.clusters.get(name);
      if (record !== undefined && (owner === undefined || record.owner === owner)) out.push(copyJson(record));
    }
    return out;
  }

  async getJob(cluster: string, id: number): Promise<JobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    const key = jobKey(cluster, id);
    const active = this.state.activeJobs.get(key);
    return active === undefined ? this.subs.jobs.get(key) : copyJson(active);
  }

  async getSpec(cluster: string, id: number): Promise<JobSpec | undefined> {
    return isJobId(id) ? this.subs.jobSpecs.get(jobKey(cluster, id)) : undefined;
  }

  async listJobs(cluster: string, filter: JobListFilter): Promise<JobRecord[]> {
    const statuses = filter.status;
    // Jobs that have not ended are all in the cache: a scheduling pass asks for exactly those, and
    // must not read every job the cluster ever ran from disk (nor copy more than it asked for).
    if (statuses !== undefined && statuses.length > 0 && statuses.every((s) => !isJobTerminal(s))) {
      const found: JobRecord[] = [];
      for (const job of this.state.activeJobs.values()) if (job.cluster === cluster && statuses.includes(job.status)) found.push(job);
      return orderJobs(found, filter).map(copyJson);
    }
    const jobs = await this.subs.jobs.values({ ...prefixRange(cluster), reverse: true }).all();
    return orderJobs(statuses === undefined || statuses.length === 0 ? jobs : jobs.filter((job) => statuses.includes(job.status)), filter);
  }

  listActive(): JobRecord[] {
    return [...this.state.activeJobs.values()].sort(jobsOldestFirst).map(copyJson);
  }
}
