import type { ManagedJobEvent, ManagedJobRecord, ManagedJobSpec } from '@sky/protocol';
import { checkManagedJobLimit, copyJson, managedJobsNewestFirst, matchesManagedJobFilter, type ManagedJobFilter } from '@sky/plugin-api';
import { isJobId, isKeySafe, managedJobEventRange, managedJobKey, parseManagedJobKey, prefixRange } from './keys.js';
import { getMany, type Sublevels } from './layout.js';
import type { ManagedJobState } from './managed-job-state.js';

/**
 * Reads of managed jobs: those not ended from the ManagedJobState cache, the rest from disk
 * through an index, so a listing reads only the records it returns (never every job ever
 * made, and never a controller log).
 */
export class ManagedJobReader {
  constructor(
    private readonly subs: Sublevels,
    private readonly state: ManagedJobState,
  ) {}

  async get(id: number): Promise<ManagedJobRecord | undefined> {
    if (!isJobId(id)) return undefined;
    const active = this.state.active.get(id);
    return active === undefined ? this.subs.managedJobs.get(managedJobKey(id)) : copyJson(active);
  }

  async getSpec(id: number): Promise<ManagedJobSpec | undefined> {
    return isJobId(id) ? this.subs.managedJobSpecs.get(managedJobKey(id)) : undefined;
  }

  async events(id: number): Promise<ManagedJobEvent[]> {
    if (!isJobId(id)) return [];
    return this.subs.managedJobEvents.values(managedJobEventRange(id)).all();
  }

  async list(filter: ManagedJobFilter): Promise<ManagedJobRecord[]> {
    checkManagedJobLimit(filter);
    const { limit } = filter;
    if (filter.requestId !== undefined) {
      if (!isKeySafe(filter.requestId)) return [];
      // A request creates one managed job: the index gives the few candidates, the rest of the filter applies to them.
      const keys = await this.subs.managedJobsByRequest.keys({ ...prefixRange(filter.requestId), reverse: true }).all();
      const found = (await this.#records(keys.map(parseManagedJobKey))).filter((job) => matchesManagedJobFilter(job, filter));
      return limit === undefined ? found : found.slice(0, limit);
    }
    if (filter.active === true) {
      const found: ManagedJobRecord[] = [];
      for (const job of this.state.active.values()) if (filter.user === undefined || job.user === filter.user) found.push(job);
      found.sort(managedJobsNewestFirst);
      return (limit === undefined ? found : found.slice(0, limit)).map(copyJson);
    }
    if (filter.user !== undefined) {
      if (!isKeySafe(filter.user)) return [];
      const range = { ...prefixRange(filter.user), reverse: true, ...(limit === undefined ? {} : { limit }) };
      const keys = await this.subs.managedJobsByUser.keys(range).all();
      return this.#records(keys.map(parseManagedJobKey));
    }
    return this.subs.managedJobs.values({ reverse: true, ...(limit === undefined ? {} : { limit }) }).all();
  }

  /** The records of `ids`, in that order: those not ended from the cache, the rest from disk. */
  async #records(ids: readonly number[]): Promise<ManagedJobRecord[]> {
    // Copies of the cached ones now: one may end (and leave the cache) while the disk is read.
    const cached = new Map<number, ManagedJobRecord>();
    for (const id of ids) {
      const active = this.state.active.get(id);
      if (active !== undefined) cached.set(id, copyJson(active));
    }
    const read = await getMany((keys) => this.subs.managedJobs.getMany(keys), ids.filter((id) => !cached.has(id)).map(managedJobKey));
    const out: ManagedJobRecord[] = [];
    for (const id of ids) {
      const record = cached.get(id) ?? read.get(managedJobKey(id));
      if (record !== undefined) out.push(record);
    }
    return out;
  }
}
