import { isManagedJobTerminal } from '@sky/protocol';
import type { ManagedJobEvent, ManagedJobRecord, ManagedJobSpec } from '@sky/protocol';
import { applyManagedJobPatch, MANAGED_JOB_EVENT_CAP, newManagedJob, type ManagedJobPatch, type FeedChange } from '@sky/plugin-api';
import type { Settle } from './cluster-group.js';
import { isJobId, managedJobEventKey, managedJobIndexKey, managedJobKey, parseManagedJobKey } from './keys.js';
import { getMany, INDEX_MARK, type Sublevels, type WriteOp } from './layout.js';
import { COUNTER_KEY, type ManagedJobDelta, type ManagedJobState } from './managed-job-state.js';

/** Managed job writes waiting in the writer's queue. Inputs are private copies. */
export type ManagedJobWriteRequest =
  | { kind: 'managed-job-create'; job: Omit<ManagedJobRecord, 'id' | 'version'>; spec: ManagedJobSpec; settle: Settle<ManagedJobRecord> }
  | { kind: 'managed-job-update'; id: number; expectedVersion: number; patch: ManagedJobPatch; settle: Settle<ManagedJobRecord | undefined> }
  | { kind: 'managed-job-events'; id: number; events: ManagedJobEvent[]; settle: Settle<void> };

export function isManagedJobWrite(req: { kind: string }): req is ManagedJobWriteRequest {
  return req.kind.startsWith('managed-job-');
}

/** What the group's managed job writes need from disk, read once up front. */
export interface ManagedJobPrefetch {
  /** Ended jobs being updated or logged to (jobs not ended are in the cache). */
  records: Map<number, ManagedJobRecord>;
  /** The next controller log sequence number of jobs logged to whose number is not cached (absent: none logged yet). */
  nextSeq: Map<number, number>;
}

async function prefetch(subs: Sublevels, state: ManagedJobState, group: readonly ManagedJobWriteRequest[]): Promise<ManagedJobPrefetch> {
  const recordIds = new Set<number>();
  const seqIds = new Set<number>();
  for (const req of group) {
    // Ids above the counter are not on disk: at most created by this group.
    if (req.kind === 'managed-job-create' || !isJobId(req.id) || req.id > state.lastId) continue;
    if (!state.active.has(req.id)) recordIds.add(req.id);
    if (req.kind === 'managed-job-events' && !state.nextSeq.has(req.id)) seqIds.add(req.id);
  }
  if (recordIds.size === 0 && seqIds.size === 0) return { records: new Map(), nextSeq: new Map() };
  const [found, seqs] = await Promise.all([
    getMany((keys) => subs.managedJobs.getMany(keys), [...recordIds].map(managedJobKey)),
    getMany((keys) => subs.managedJobEventSeqs.getMany(keys), [...seqIds].map(managedJobKey)),
  ]);
  const records = new Map<number, ManagedJobRecord>();
  for (const record of found.values()) records.set(record.id, record);
  const nextSeq = new Map<number, number>();
  for (const [key, next] of seqs) nextSeq.set(parseManagedJobKey(key), next);
  return { records, nextSeq };
}

/**
 * The managed job part of one group commit: decided in queue order against the committed
 * ManagedJobState (plus what was prefetched) overlaid with the group's own earlier writes,
 * each record with its spec and index entries in the group's one batch.
 */
export class ManagedJobGroup {
  readonly #records = new Map<number, ManagedJobRecord>();
  readonly #nextSeq = new Map<number, number>();
  #lastId: number;

  constructor(
    private readonly subs: Sublevels,
    private readonly state: ManagedJobState,
    private readonly fetched: ManagedJobPrefetch,
    private readonly ops: WriteOp[],
    private readonly outcomes: Array<() => void>,
    private readonly changes: FeedChange[],
  ) {
    this.#lastId = state.lastId;
  }

  /** Read what `requests` need from disk; run before the group applies anything. */
  static prefetch(subs: Sublevels, state: ManagedJobState, requests: readonly ManagedJobWriteRequest[]): Promise<ManagedJobPrefetch> {
    return prefetch(subs, state, requests);
  }

  get delta(): ManagedJobDelta {
    return { records: this.#records, nextSeq: this.#nextSeq, lastId: this.#lastId };
  }

  apply(req: ManagedJobWriteRequest): void {
    switch (req.kind) {
      case 'managed-job-create':
        return this.#create(req.job, req.spec, req.settle);
      case 'managed-job-update':
        return this.#update(req.id, req.expectedVersion, req.patch, req.settle);
      case 'managed-job-events':
        return this.#append(req.id, req.events, req.settle);
    }
  }

  #record(id: number): ManagedJobRecord | undefined {
    if (!isJobId(id)) return undefined;
    return this.#records.get(id) ?? this.state.active.get(id) ?? this.fetched.records.get(id);
  }

  /** Serialize once: the batch stores this text; the cache and the change feed get a parse of it. */
  #put(record: ManagedJobRecord): { stored: ManagedJobRecord; json: string } {
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as ManagedJobRecord;
    this.ops.push({ type: 'put', sublevel: this.subs.managedJobs, key: managedJobKey(stored.id), value: json, valueEncoding: 'utf8' });
    this.#records.set(stored.id, stored);
    this.changes.push({ kind: 'managedJob', id: stored.id, record: stored });
    return { stored, json };
  }

  #create(input: Omit<ManagedJobRecord, 'id' | 'version'>, spec: ManagedJobSpec, settle: Settle<ManagedJobRecord>): void {
    const id = this.#lastId + 1;
    const { subs } = this;
    const { stored, json } = this.#put(newManagedJob(input, id));
    const key = managedJobKey(id);
    this.ops.push(
      { type: 'put', sublevel: subs.managedJobCounter, key: COUNTER_KEY, value: id },
      { type: 'put', sublevel: subs.managedJobsByUser, key: managedJobIndexKey(stored.user, id), value: INDEX_MARK },
      { type: 'put', sublevel: subs.managedJobsByRequest, key: managedJobIndexKey(stored.requestId, id), value: INDEX_MARK },
    );
    if (!isManagedJobTerminal(stored.status)) {
      this.ops.push(
        { type: 'put', sublevel: subs.managedJobSpecs, key, value: JSON.stringify(spec), valueEncoding: 'utf8' },
        { type: 'put', sublevel: subs.managedJobsActive, key, value: INDEX_MARK },
      );
    }
    this.#lastId = id;
    this.#nextSeq.set(id, 0);
    this.outcomes.push(() => settle.resolve(JSON.parse(json) as ManagedJobRecord));
  }

  #update(id: number, expectedVersion: number, patch: ManagedJobPatch, settle: Settle<ManagedJobRecord | undefined>): void {
    const current = this.#record(id);
    if (current === undefined || current.version !== expectedVersion) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const { stored, json } = this.#put(applyManagedJobPatch(current, patch));
    const key = managedJobKey(id);
    const wasActive = !isManagedJobTerminal(current.status);
    const isActive = !isManagedJobTerminal(stored.status);
    if (wasActive && !isActive) {
      // The spec (it holds the task's secrets) goes in the same batch that ends the job.
      this.ops.push({ type: 'del', sublevel: this.subs.managedJobSpecs, key }, { type: 'del', sublevel: this.subs.managedJobsActive, key });
    } else if (!wasActive && isActive) {
      this.ops.push({ type: 'put', sublevel: this.subs.managedJobsActive, key, value: INDEX_MARK });
    }
    this.outcomes.push(() => settle.resolve(JSON.parse(json) as ManagedJobRecord));
  }

  #append(id: number, events: readonly ManagedJobEvent[], settle: Settle<void>): void {
    if (this.#record(id) === undefined || events.length === 0) {
      this.outcomes.push(() => settle.resolve());
      return;
    }
    const { subs } = this;
    // The log keeps lines [max(0, next - CAP), next): the next sequence number says where it is.
    const from = this.#nextSeq.get(id) ?? this.state.nextSeq.get(id) ?? this.fetched.nextSeq.get(id) ?? 0;
    const next = from + events.length;
    // Lines that would be dropped at once are never written; the dropped lines on disk are deleted.
    for (let i = Math.max(0, events.length - MANAGED_JOB_EVENT_CAP); i < events.length; i++) {
      const event = events[i] as ManagedJobEvent;
      this.ops.push({ type: 'put', sublevel: subs.managedJobEvents, key: managedJobEventKey(id, from + i), value: { at: event.at, text: event.text } });
    }
    for (let seq = Math.max(0, from - MANAGED_JOB_EVENT_CAP); seq < Math.min(from, next - MANAGED_JOB_EVENT_CAP); seq++) {
      this.ops.push({ type: 'del', sublevel: subs.managedJobEvents, key: managedJobEventKey(id, seq) });
    }
    this.ops.push({ type: 'put', sublevel: subs.managedJobEventSeqs, key: managedJobKey(id), value: next });
    this.#nextSeq.set(id, next);
    this.outcomes.push(() => settle.resolve());
  }
}
