import { SkyError } from '@sky/protocol';
import type { RequestRecord, RequestStatus } from '@sky/protocol';
import { applyRequestPatch, copyRecord, mayTransitionRequest, requestLinkRefusal, type CreateResult, type FeedChange, type FeedPosition, type RequestPatch } from '@sky/plugin-api';
import type { ActiveState } from './active-state.js';
import { AuthGroup, isAuthWrite, type AuthWriteRequest } from './auth-group.js';
import type { AuthState } from './auth-state.js';
import { ClusterGroup, isClusterWrite, type ClusterWriteRequest, type Settle } from './cluster-group.js';
import type { ClusterState } from './cluster-state.js';
import type { EventState } from './event-state.js';
import type { ChangeFeed } from '@sky/plugin-api';
import { idempotencyKey, logKey, logRange, statusKey, userKey } from './keys.js';
import { getMany, INDEX_MARK, type Sublevels, type WriteOp } from './layout.js';
import { isManagedJobWrite, ManagedJobGroup, type ManagedJobWriteRequest } from './managed-job-group.js';
import type { ManagedJobState } from './managed-job-state.js';
import { isServiceWrite, ServiceGroup, type ServiceWriteRequest } from './service-group.js';
import type { ServiceState } from './service-state.js';
import { isSessionWrite, SessionGroup, type SessionWriteRequest } from './session-group.js';
import type { SessionState } from './session-state.js';

/** A write waiting in the writer's queue. */
export type WriteRequest =
  | { kind: 'create'; record: RequestRecord; settle: Settle<CreateResult> }
  | { kind: 'transition'; id: string; from: readonly RequestStatus[]; patch: RequestPatch; settle: Settle<RequestRecord | undefined> }
  | { kind: 'append'; id: string; text: string; at: number; settle: Settle<number> }
  | { kind: 'prune'; before: number; settle: Settle<number> }
  | { kind: 'audit-prune'; before: number; settle: Settle<number> }
  | { kind: 'events-prune'; before: number; settle: Settle<number> }
  | ClusterWriteRequest
  | AuthWriteRequest
  | SessionWriteRequest
  | ManagedJobWriteRequest
  | ServiceWriteRequest;

export type GroupedRequest = Exclude<WriteRequest, { kind: 'prune' | 'audit-prune' | 'events-prune' }>;
type RequestWrite = Exclude<GroupedRequest, ClusterWriteRequest | AuthWriteRequest | SessionWriteRequest | ManagedJobWriteRequest | ServiceWriteRequest>;

/** The committed state the writer decides against and publishes to. */
export interface StoreState {
  requests: ActiveState;
  clusters: ClusterState;
  auth: AuthState;
  sessions: SessionState;
  managedJobs: ManagedJobState;
  services: ServiceState;
  events: EventState;
  feed: ChangeFeed;
}

/** What a group needs from disk before it can decide anything: read once, up front. */
interface Prefetched {
  records: Map<string, RequestRecord>;
  idempotency: Map<string, string>;
  nextSeq: Map<string, number>;
}

async function nextSeqOnDisk(subs: Sublevels, id: string): Promise<number> {
  const [last] = await subs.logs.values({ ...logRange(id), reverse: true, limit: 1 }).all();
  return last === undefined ? 0 : last.seq + 1;
}

/**
 * Read, in a few round trips, everything the group's requests need that the active cache
 * does not have: finished requests being transitioned or logged to, idempotency entries,
 * and the log position of requests whose log this process has not touched yet. The hot
 * path (create, then transitions of active requests) reads nothing.
 */
async function prefetch(subs: Sublevels, state: ActiveState, group: readonly RequestWrite[], linked: readonly string[]): Promise<Prefetched> {
  const creating = new Set<string>();
  const idemKeys = new Set<string>();
  const recordIds = new Set<string>();
  const seqIds = new Set<string>();
  // A request a job is queued for is RUNNING (so cached) when the link can be made; one that
  // is not is read only to say why the link was refused.
  for (const id of linked) if (!state.records.has(id)) recordIds.add(id);
  for (const req of group) {
    if (req.kind === 'create') {
      creating.add(req.record.id);
      if (req.record.idempotencyKey !== undefined) idemKeys.add(idempotencyKey(req.record.user, req.record.idempotencyKey));
    } else {
      if (!state.records.has(req.id) && !creating.has(req.id)) recordIds.add(req.id);
      if (req.kind === 'append' && !state.nextSeq.has(req.id) && !creating.has(req.id)) seqIds.add(req.id);
    }
  }
  if (idemKeys.size === 0 && recordIds.size === 0 && seqIds.size === 0) {
    return { records: new Map(), idempotency: new Map(), nextSeq: new Map() };
  }
  const [idempotency, records, seqs] = await Promise.all([
    getMany((keys) => subs.idempotency.getMany(keys), [...idemKeys]),
    getMany((keys) => subs.requests.getMany(keys), [...recordIds]),
    Promise.all([...seqIds].map(async (id) => [id, await nextSeqOnDisk(subs, id)] as const)),
  ]);
  const earlier = [...new Set(idempotency.values())].filter((id) => !state.records.has(id) && !records.has(id));
  for (const [id, record] of await getMany((keys) => subs.requests.getMany(keys), earlier)) records.set(id, record);
  return { records, idempotency, nextSeq: new Map(seqs) };
}

/**
 * One group commit: applies queued writes in order against the committed state plus the
 * group's own earlier writes, so compare-and-set decisions see every write before them,
 * and collects the index-consistent batch that commits them all at once.
 */
export class Group {
  readonly ops: WriteOp[] = [];
  /** Records written by this group, newest version. */
  readonly #records = new Map<string, RequestRecord>();
  readonly #idempotency = new Map<string, string>();
  readonly #nextSeq = new Map<string, number>();
  readonly #outcomes: Array<() => void> = [];
  /** Cluster, job, managed job and request changes, in the order the group applied them. */
  readonly #changes: FeedChange[] = [];
  /** Where each change sits in the feed (set once every write is applied). */
  #positions: FeedPosition[] = [];
  #clusters: ClusterGroup | undefined;
  #managedJobs: ManagedJobGroup | undefined;
  #auth: AuthGroup | undefined;
  #sessions: SessionGroup | undefined;
  #services: ServiceGroup | undefined;

  private constructor(
    private readonly subs: Sublevels,
    private readonly state: StoreState,
    private readonly fetched: Prefetched,
  ) {}

  static async build(subs: Sublevels, state: StoreState, requests: readonly GroupedRequest[]): Promise<Group> {
    const requestWrites: RequestWrite[] = [];
    const clusterWrites: ClusterWriteRequest[] = [];
    const authWrites: AuthWriteRequest[] = [];
    const managedJobWrites: ManagedJobWriteRequest[] = [];
    const linked: string[] = [];
    let sessionWrites = false;
    let serviceWrites = false;
    for (const req of requests) {
      if (req.kind === 'job-create' && req.request !== undefined) linked.push(req.request);
      if (isClusterWrite(req)) clusterWrites.push(req);
      else if (isAuthWrite(req)) authWrites.push(req);
      else if (isSessionWrite(req)) sessionWrites = true;
      else if (isManagedJobWrite(req)) managedJobWrites.push(req);
      else if (isServiceWrite(req)) serviceWrites = true;
      else requestWrites.push(req);
    }
    const [fetched, clusters, audit, managedJobs] = await Promise.all([
      prefetch(subs, state.requests, requestWrites, linked),
      clusterWrites.length === 0 ? undefined : ClusterGroup.prefetch(subs, state.clusters, clusterWrites),
      authWrites.length === 0 ? undefined : AuthGroup.prefetch(subs, authWrites),
      managedJobWrites.length === 0 ? undefined : ManagedJobGroup.prefetch(subs, state.managedJobs, managedJobWrites),
    ]);
    const group = new Group(subs, state, fetched);
    if (clusters !== undefined) group.#clusters = new ClusterGroup(subs, state.clusters, clusters, group.ops, group.#outcomes, group.#changes);
    if (managedJobs !== undefined) {
      group.#managedJobs = new ManagedJobGroup(subs, state.managedJobs, managedJobs, group.ops, group.#outcomes, group.#changes);
    }
    if (audit !== undefined) group.#auth = new AuthGroup(subs, state.auth, audit, group.ops, group.#outcomes);
    if (sessionWrites) group.#sessions = new SessionGroup(subs, state.sessions, group.ops, group.#outcomes);
    if (serviceWrites) group.#services = new ServiceGroup(subs, state.services, group.ops, group.#outcomes, group.#changes);
    for (const req of requests) group.#apply(req);
    // One more key per change, in this same batch: after a crash the feed and the data agree.
    group.#positions = state.events.stamp(group.#changes, subs, group.ops, Date.now());
    return group;
  }

  #lookup(id: string): RequestRecord | undefined {
    return this.#records.get(id) ?? this.state.requests.records.get(id) ?? this.fetched.records.get(id);
  }

  #apply(req: GroupedRequest): void {
    if (req.kind === 'job-create' && req.request !== undefined) {
      this.#createLinkedJob(req, req.request);
      return;
    }
    if (isClusterWrite(req)) {
      this.#clusters?.apply(req);
      return;
    }
    if (isAuthWrite(req)) {
      this.#auth?.apply(req);
      return;
    }
    if (isSessionWrite(req)) {
      this.#sessions?.apply(req);
      return;
    }
    if (isManagedJobWrite(req)) {
      this.#managedJobs?.apply(req);
      return;
    }
    if (isServiceWrite(req)) {
      this.#services?.apply(req);
      return;
    }
    switch (req.kind) {
      case 'create':
        return this.#create(req.record, req.settle);
      case 'transition':
        return this.#transition(req.id, req.from, req.patch, req.settle);
      case 'append':
        return this.#append(req.id, req.text, req.at, req.settle);
    }
  }

  #create(input: RequestRecord, settle: Settle<CreateResult>): void {
    const { subs } = this;
    const idemKey = input.idempotencyKey === undefined ? undefined : idempotencyKey(input.user, input.idempotencyKey);
    if (idemKey !== undefined) {
      const earlierId = this.#idempotency.get(idemKey) ?? this.fetched.idempotency.get(idemKey);
      const earlier = earlierId === undefined ? undefined : this.#lookup(earlierId);
      if (earlier !== undefined) {
        const record = copyRecord(earlier);
        this.#outcomes.push(() => settle.resolve({ record, created: false }));
        return;
      }
      this.#idempotency.set(idemKey, input.id);
      this.ops.push({ type: 'put', sublevel: subs.idempotency, key: idemKey, value: input.id });
    }
    // Serialized once: the batch stores this text, and the cache and the caller get
    // separate parses of it, so nobody shares objects with the caller.
    const json = JSON.stringify(input);
    const record = JSON.parse(json) as RequestRecord;
    this.#records.set(record.id, record);
    this.#nextSeq.set(record.id, 0);
    this.ops.push(
      { type: 'put', sublevel: subs.requests, key: record.id, value: json, valueEncoding: 'utf8' },
      { type: 'put', sublevel: subs.byStatus, key: statusKey(record.status, record.id), value: INDEX_MARK },
      { type: 'put', sublevel: subs.byUser, key: userKey(record.user, record.id), value: INDEX_MARK },
    );
    this.#changes.push({ kind: 'request', id: record.id, record });
    this.#outcomes.push(() => settle.resolve({ record: JSON.parse(json) as RequestRecord, created: true }));
  }

  /** A job queued by a request: the job and the request's `job` in this one batch, or neither. */
  #createLinkedJob(req: Extract<ClusterWriteRequest, { kind: 'job-create' }>, requestId: string): void {
    const current = this.#lookup(requestId);
    const refusal = requestLinkRefusal(requestId, current);
    if (refusal !== undefined || current === undefined) {
      this.#outcomes.push(() => req.settle.reject(refusal));
      return;
    }
    const job = this.#clusters?.createJob(req.job, req.spec, req.settle);
    if (job === undefined) return;
    const next: RequestRecord = { ...current, job: { cluster: job.cluster, id: job.id } };
    this.#records.set(requestId, next);
    this.#changes.push({ kind: 'request', id: requestId, record: next });
    this.ops.push({ type: 'put', sublevel: this.subs.requests, key: requestId, value: JSON.stringify(next), valueEncoding: 'utf8' });
  }

  #transition(id: string, from: readonly RequestStatus[], patch: RequestPatch, settle: Settle<RequestRecord | undefined>): void {
    const current = this.#lookup(id);
    if (current === undefined || !mayTransitionRequest(current, from, patch)) {
      this.#outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const next = applyRequestPatch(current, patch);
    const json = JSON.stringify(next);
    this.#records.set(id, next);
    this.#changes.push({ kind: 'request', id, record: next });
    this.ops.push({ type: 'put', sublevel: this.subs.requests, key: id, value: json, valueEncoding: 'utf8' });
    if (next.status !== current.status) {
      this.ops.push(
        { type: 'del', sublevel: this.subs.byStatus, key: statusKey(current.status, id) },
        { type: 'put', sublevel: this.subs.byStatus, key: statusKey(next.status, id), value: INDEX_MARK },
      );
    }
    this.#outcomes.push(() => settle.resolve(JSON.parse(json) as RequestRecord));
  }

  #append(id: string, text: string, at: number, settle: Settle<number>): void {
    if (this.#lookup(id) === undefined) {
      settle.reject(new SkyError('REQUEST_NOT_FOUND', `cannot append to the log of request ${id}: no such request`));
      return;
    }
    const seq = this.#nextSeq.get(id) ?? this.state.requests.nextSeq.get(id) ?? this.fetched.nextSeq.get(id);
    if (seq === undefined) {
      settle.reject(new SkyError('INTERNAL', `the log position of request ${id} was not loaded`));
      return;
    }
    this.#nextSeq.set(id, seq + 1);
    this.ops.push({ type: 'put', sublevel: this.subs.logs, key: logKey(id, seq), value: { seq, at, text } });
    this.#outcomes.push(() => settle.resolve(seq));
  }

  /**
   * The batch is on disk: publish the new state (so reads, including reads from change
   * listeners, see it), deliver the changes in commit order, then answer the callers.
   */
  committed(): void {
    this.state.requests.apply(this.#records, this.#nextSeq);
    if (this.#auth !== undefined) this.state.auth.apply(this.#auth.delta);
    if (this.#sessions !== undefined) this.state.sessions.apply(this.#sessions.delta);
    if (this.#clusters !== undefined) this.state.clusters.apply(this.#clusters.delta);
    if (this.#managedJobs !== undefined) this.state.managedJobs.apply(this.#managedJobs.delta);
    if (this.#services !== undefined) this.state.services.apply(this.#services.delta);
    this.state.events.advance(this.#positions);
    this.state.feed.publish(this.#changes, this.#positions);
    for (const outcome of this.#outcomes) outcome();
  }
}
