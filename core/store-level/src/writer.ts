import type {
  AuditRecord,
  ClusterRecord,
  JobRecord,
  JobSpec,
  JobStatus,
  ManagedJobEvent,
  ManagedJobRecord,
  ManagedJobSpec,
  RequestRecord,
  RequestStatus,
  ServiceRecord,
  ServiceVersionSpec,
  SessionRecord,
  TokenRecord,
  UserRecord,
  WorkspaceRecord,
} from '@sky/protocol';
import {
  copyJson,
  type ClusterPatch,
  type CreateResult,
  type JobPatch,
  type ManagedJobPatch,
  type RequestPatch,
  type ServiceEvent,
  type ServicePatch,
  type UserPatch,
  type WorkspacePatch,
} from '@sky/plugin-api';
import { degradedError, ioError, isIoFailure, notOpenError } from './errors.js';
import type { SkyError } from '@sky/protocol';
import { Group, type GroupedRequest, type StoreState, type WriteRequest } from './group.js';
import type { LevelDb, Sublevels } from './layout.js';
import { pruneAudit, pruneEvents, pruneFinished } from './prune.js';

/** A private copy of a patch: like copyJson, but keys whose value is undefined stay (they clear fields). */
export function copyPatch<T extends object>(patch: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) out[key] = copyJson(value);
  return out as T;
}

/** Prunes run alone: they read and delete in several batches with nothing else in flight. */
function isExclusive(req: WriteRequest | undefined): req is Extract<WriteRequest, { kind: 'prune' | 'audit-prune' | 'events-prune' }> {
  return req?.kind === 'prune' || req?.kind === 'audit-prune' || req?.kind === 'events-prune';
}

/** Upper bound on requests in one batch, so one commit never grows without limit. */
const MAX_GROUP = 4096;

/**
 * The one write path of the store. Every write is queued; whatever is queued when the
 * writer runs (everything submitted in the same event-loop turn, or while the previous
 * batch was on disk) is decided in order and committed as one atomic `db.batch`. Only one
 * batch is in flight at a time, so compare-and-set transitions are serialized.
 */
export class Writer {
  readonly #queue: WriteRequest[] = [];
  #running = false;
  #closed = false;
  /** Set by the first write the file system refused; from then on every write is refused (see degradedError). */
  #failure: SkyError | undefined;
  #idle: Array<() => void> = [];

  constructor(
    private readonly db: LevelDb,
    private readonly subs: Sublevels,
    private readonly state: StoreState,
    private readonly options: { path: string; sync: boolean; onFailure?: (error: SkyError) => void },
  ) {}

  /** The write failure that stopped this writer, if any. */
  get failure(): SkyError | undefined {
    return this.#failure;
  }

  create(record: RequestRecord): Promise<CreateResult> {
    return this.#submit<CreateResult>((settle) => ({ kind: 'create', record, settle }));
  }

  transition(id: string, from: readonly RequestStatus[], patch: RequestPatch): Promise<RequestRecord | undefined> {
    return this.#submit<RequestRecord | undefined>((settle) => ({ kind: 'transition', id, from, patch, settle }));
  }

  appendLog(id: string, text: string, at: number): Promise<number> {
    return this.#submit<number>((settle) => ({ kind: 'append', id, text, at, settle }));
  }

  prune(before: number): Promise<number> {
    return this.#submit<number>((settle) => ({ kind: 'prune', before, settle }));
  }

  // Cluster and job writes copy their input now: the caller may change it before the group runs.

  createCluster(record: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }> {
    const input = { ...copyJson(record), version: 1 } as ClusterRecord;
    return this.#submit((settle) => ({ kind: 'cluster-create', record: input, settle }));
  }

  updateCluster(name: string, expectedVersion: number, patch: ClusterPatch): Promise<ClusterRecord | undefined> {
    const copy = copyPatch(patch);
    return this.#submit((settle) => ({ kind: 'cluster-update', name, expectedVersion, patch: copy, settle }));
  }

  changeClusterOwner(name: string, expectedVersion: number, owner: { id: string; name: string }, updatedAt: number): Promise<ClusterRecord | undefined> {
    const copy = { id: owner.id, name: owner.name };
    return this.#submit((settle) => ({ kind: 'cluster-owner', name, expectedVersion, owner: copy, updatedAt, settle }));
  }

  deleteCluster(name: string, expectedVersion: number | undefined): Promise<boolean> {
    return this.#submit((settle) => ({ kind: 'cluster-delete', name, expectedVersion, settle }));
  }

  createJob(job: Omit<JobRecord, 'id'>, spec: JobSpec, request: string | undefined): Promise<JobRecord> {
    const input = copyJson(job);
    const specCopy = copyJson(spec);
    return this.#submit((settle) => ({ kind: 'job-create', job: input, spec: specCopy, ...(request === undefined ? {} : { request }), settle }));
  }

  transitionJob(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch): Promise<JobRecord | undefined> {
    const fromCopy = [...from];
    const copy = copyPatch(patch);
    return this.#submit((settle) => ({ kind: 'job-transition', cluster, id, from: fromCopy, patch: copy, settle }));
  }

  // Managed job writes take private copies of their input (LevelManagedJobRepository makes them before it waits for the store).

  createManagedJob(job: Omit<ManagedJobRecord, 'id' | 'version'>, spec: ManagedJobSpec): Promise<ManagedJobRecord> {
    return this.#submit((settle) => ({ kind: 'managed-job-create', job, spec, settle }));
  }

  updateManagedJob(id: number, expectedVersion: number, patch: ManagedJobPatch): Promise<ManagedJobRecord | undefined> {
    return this.#submit((settle) => ({ kind: 'managed-job-update', id, expectedVersion, patch, settle }));
  }

  appendManagedJobEvents(id: number, events: ManagedJobEvent[]): Promise<void> {
    return this.#submit<void>((settle) => ({ kind: 'managed-job-events', id, events, settle }));
  }

  // Service writes take private copies of their input (LevelServiceRepository makes them before it waits for the store).

  createService(record: ServiceRecord, spec: ServiceVersionSpec): Promise<{ record: ServiceRecord; created: boolean }> {
    return this.#submit((settle) => ({ kind: 'service-create', record, spec, settle }));
  }

  updateService(name: string, expectedRevision: number, patch: ServicePatch): Promise<ServiceRecord | undefined> {
    return this.#submit((settle) => ({ kind: 'service-update', name, expectedRevision, patch, settle }));
  }

  deleteService(name: string, expectedRevision: number | undefined): Promise<boolean> {
    return this.#submit((settle) => ({ kind: 'service-delete', name, expectedRevision, settle }));
  }

  putServiceVersion(name: string, spec: ServiceVersionSpec): Promise<void> {
    return this.#submit<void>((settle) => ({ kind: 'service-version', name, spec, settle }));
  }

  appendServiceEvents(name: string, events: ServiceEvent[]): Promise<void> {
    return this.#submit<void>((settle) => ({ kind: 'service-events', name, events, settle }));
  }

  // User, token, workspace and audit writes copy their input now, like cluster writes.

  createUser(record: UserRecord): Promise<{ record: UserRecord; created: boolean }> {
    const input = copyJson(record);
    return this.#submit((settle) => ({ kind: 'user-create', record: input, settle }));
  }

  updateUser(id: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const copy = copyPatch(patch);
    return this.#submit((settle) => ({ kind: 'user-update', id, patch: copy, settle }));
  }

  deleteUser(id: string): Promise<boolean> {
    return this.#submit((settle) => ({ kind: 'user-delete', id, settle }));
  }

  createToken(record: TokenRecord): Promise<TokenRecord> {
    const input = copyJson(record);
    return this.#submit((settle) => ({ kind: 'token-create', record: input, settle }));
  }

  changeToken(kind: 'token-revoke' | 'token-touch', id: string, at: number): Promise<TokenRecord | undefined> {
    return this.#submit((settle) => ({ kind, id, at, settle }));
  }

  deleteToken(id: string): Promise<boolean> {
    return this.#submit((settle) => ({ kind: 'token-delete', id, settle }));
  }

  createWorkspace(record: WorkspaceRecord): Promise<{ record: WorkspaceRecord; created: boolean }> {
    const input = copyJson(record);
    return this.#submit((settle) => ({ kind: 'workspace-create', record: input, settle }));
  }

  updateWorkspace(name: string, patch: WorkspacePatch): Promise<WorkspaceRecord | undefined> {
    const copy = copyPatch(patch);
    return this.#submit((settle) => ({ kind: 'workspace-update', name, patch: copy, settle }));
  }

  deleteWorkspace(name: string): Promise<boolean> {
    return this.#submit((settle) => ({ kind: 'workspace-delete', name, settle }));
  }

  appendAudit(record: AuditRecord): Promise<void> {
    const input = copyJson(record);
    return this.#submit<void>((settle) => ({ kind: 'audit-append', record: input, settle }));
  }

  pruneAudit(before: number): Promise<number> {
    return this.#submit<number>((settle) => ({ kind: 'audit-prune', before, settle }));
  }

  createSession(record: SessionRecord): Promise<SessionRecord> {
    const input = copyJson(record);
    return this.#submit((settle) => ({ kind: 'session-create', record: input, settle }));
  }

  revokeSession(id: string, at: number): Promise<SessionRecord | undefined> {
    return this.#submit((settle) => ({ kind: 'session-revoke', id, at, settle }));
  }

  revokeUserSessions(userId: string, at: number): Promise<number> {
    return this.#submit<number>((settle) => ({ kind: 'session-revoke-user', userId, at, settle }));
  }

  pruneEvents(before: number): Promise<number> {
    return this.#submit<number>((settle) => ({ kind: 'events-prune', before, settle }));
  }

  pruneSessions(before: number): Promise<number> {
    return this.#submit<number>((settle) => ({ kind: 'session-prune', before, settle }));
  }

  /** Refuse new writes and wait for the queued ones to commit. */
  async close(): Promise<void> {
    this.#closed = true;
    if (!this.#running) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #submit<T>(build: (settle: { resolve(value: T): void; reject(reason: unknown): void }) => WriteRequest): Promise<T> {
    if (this.#closed) return Promise.reject(notOpenError(this.options.path));
    if (this.#failure) return Promise.reject(degradedError(this.options.path, this.#failure));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(build({ resolve, reject }));
      if (!this.#running) {
        this.#running = true;
        // Let the rest of this turn queue its writes too: they commit in the same batch.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        if (this.#failure) {
          const failure = this.#failure;
          for (const req of this.#queue.splice(0)) req.settle.reject(degradedError(this.options.path, failure));
          break;
        }
        const first = this.#queue[0];
        if (isExclusive(first)) {
          this.#queue.shift();
          await this.#prune(first);
          continue;
        }
        let n = 1;
        while (n < this.#queue.length && n < MAX_GROUP && !isExclusive(this.#queue[n])) n++;
        await this.#commit(this.#queue.splice(0, n) as GroupedRequest[]);
      }
    } finally {
      this.#running = false;
      const waiters = this.#idle;
      this.#idle = [];
      for (const wake of waiters) wake();
    }
  }

  async #commit(requests: GroupedRequest[]): Promise<void> {
    try {
      const group = await Group.build(this.subs, this.state, requests);
      if (group.ops.length > 0) {
        // abstract-level copies batch options into every operation, which costs more than
        // the write itself: pass them only when there is something to say.
        await (this.options.sync ? this.db.batch(group.ops, { sync: true }) : this.db.batch(group.ops));
      }
      group.committed();
    } catch (err) {
      const error = ioError(this.options.path, 'write', err);
      if (isIoFailure(err)) this.#fail(error);
      for (const req of requests) req.settle.reject(error);
    }
  }

  /** Stop writing: the store reopens LevelDB (replaying its log) before it takes writes again. */
  #fail(error: SkyError): void {
    if (this.#failure) return;
    this.#failure = error;
    this.options.onFailure?.(error);
  }

  async #prune(req: Extract<WriteRequest, { kind: 'prune' | 'audit-prune' | 'events-prune' }>): Promise<void> {
    try {
      const { db, subs } = this;
      const { sync } = this.options;
      if (req.kind === 'prune') req.settle.resolve(await pruneFinished(db, subs, this.state.requests, req.before, sync));
      else if (req.kind === 'audit-prune') req.settle.resolve(await pruneAudit(db, subs, req.before, sync));
      else req.settle.resolve(await pruneEvents(db, subs, req.before, sync));
    } catch (err) {
      const error = ioError(this.options.path, 'prune', err);
      if (isIoFailure(err)) this.#fail(error);
      req.settle.reject(error);
    }
  }
}
