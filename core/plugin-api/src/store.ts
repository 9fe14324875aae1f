import type { PluginDocumentRepository } from './documents.js';
import type {
  AuditRecord,
  ClusterRecord,
  JobRecord,
  JobSpec,
  JobStatus,
  LogChunk,
  ManagedJobEvent,
  ManagedJobRecord,
  ManagedJobSpec,
  RequestRecord,
  RequestStatus,
  ServiceRecord,
  ServiceVersionSpec,
  SessionRecord,
  TokenRecord,
  UsageRecord,
  UserRecord,
  WorkspaceRecord,
} from '@sky/protocol';
import type { ImportSummary, StateItem } from './state-transfer.js';

/** Filter for listing requests; newest first. */
export interface RequestFilter {
  /** Only this user's requests; undefined means every user. */
  user?: string;
  status?: readonly RequestStatus[];
  name?: string;
  cluster?: string;
  /** Page size. */
  limit: number;
  /** Opaque cursor returned by the previous page. */
  cursor?: string;
}

export interface RequestPageResult {
  items: RequestRecord[];
  nextCursor?: string;
}

export interface CreateResult {
  record: RequestRecord;
  /** False when the idempotency key matched an earlier request, which is returned instead. */
  created: boolean;
}

/** Fields a transition may set alongside the new status. */
export type RequestPatch = Partial<Pick<RequestRecord, 'startedAt' | 'finishedAt' | 'result' | 'error' | 'attempts' | 'replica' | 'cancelRequestedAt'>> & {
  status: RequestStatus;
};

/** Requests, their indexes and their logs. */
export interface RequestRepository {
  /**
   * Store a new request. Resolves only once it is durable. With an idempotency key already
   * used by the same user, stores nothing and returns the earlier request.
   */
  create(record: RequestRecord): Promise<CreateResult>;
  get(id: string): Promise<RequestRecord | undefined>;
  /**
   * Compare-and-set: move the request to `patch.status` only if its current status is one of
   * `from`. Returns the updated record, or undefined when the request is missing or in
   * another status (so exactly one of two racing transitions wins). A request that has
   * queued a job (`job` is set, see JobRepository.create) ends SUCCEEDED: a transition of it
   * to any other status is refused the same way (undefined, nothing written), so neither a
   * cancel, a shutdown nor a restart can report it failed.
   */
  transition(id: string, from: readonly RequestStatus[], patch: RequestPatch): Promise<RequestRecord | undefined>;
  list(filter: RequestFilter): Promise<RequestPageResult>;
  /** Every request in one status, oldest first (used at start-up recovery and by the dispatcher). */
  listByStatus(status: RequestStatus): Promise<RequestRecord[]>;
  /** Append to the request's log; returns the chunk's sequence number (0, 1, 2, ...). */
  appendLog(id: string, text: string, at: number): Promise<number>;
  /** Log chunks with seq > afterSeq (all when undefined), in order. */
  readLog(id: string, afterSeq?: number): Promise<LogChunk[]>;
  /** Delete finished requests (and their logs and index entries) that finished before `before`. Returns how many. */
  prune(before: number): Promise<number>;
}

/**
 * Fields of a cluster an update may change (name, clusterId, owner, workspace and launchedAt
 * are fixed; the store ignores them, and `version`, if a caller passes them anyway). A key
 * that is present with the value undefined removes that optional field (statusReason,
 * driverState, lastCommand, autostop: how `sky autostop --cancel` clears autostop); for a
 * required field it is ignored.
 */
export type ClusterPatch = Partial<Omit<ClusterRecord, 'name' | 'clusterId' | 'owner' | 'ownerName' | 'workspace' | 'launchedAt' | 'version'>>;

/** Clusters by name (unique across the team). Every update is compare-and-set on `version`. */
export interface ClusterRepository {
  /**
   * Store a new cluster at version 1 (a `version` in the input is ignored). Resolves once it
   * is durable. When the name is taken, stores nothing and returns the existing record with
   * created:false (so of several racing creates of one name exactly one is created).
   */
  create(record: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }>;
  get(name: string): Promise<ClusterRecord | undefined>;
  /**
   * Every cluster, or one owner's; ordered by name. Cheap enough to build a whole view from
   * at start-up (10,000 clusters in tens of milliseconds); keep it current with the change
   * feed rather than calling this again.
   */
  list(filter?: { owner?: string }): Promise<ClusterRecord[]>;
  /**
   * Apply the patch only if the stored version equals `expectedVersion`; the stored version
   * becomes expectedVersion + 1 and updatedAt is set from the patch or left. Returns the new
   * record, or undefined when the cluster is missing or the version moved on (so exactly one
   * of several updates racing from one version wins).
   */
  update(name: string, expectedVersion: number, patch: ClusterPatch): Promise<ClusterRecord | undefined>;
  /**
   * Give the cluster to another user (when its owner is offboarded): owner and ownerName are
   * replaced, updatedAt is set, and the version moves up by one, compare-and-set on
   * `expectedVersion` like update (a change-feed event follows). Its jobs keep their users.
   * Returns the new record, or undefined when the cluster is missing or at another version.
   */
  changeOwner(name: string, expectedVersion: number, owner: { id: string; name: string }, updatedAt: number): Promise<ClusterRecord | undefined>;
  /**
   * Delete the cluster, its jobs, their specs and its job counter in one atomic write (only
   * at `expectedVersion` when given). A cluster created again under the same name is a new
   * incarnation: none of the old jobs survive and its job ids start again at 1. Returns
   * false, deleting nothing, when the cluster is missing or at another version.
   */
  delete(name: string, expectedVersion?: number): Promise<boolean>;
}

/**
 * Fields a job transition may set alongside the new status (undefined fields are left as
 * they are).
 */
export type JobPatch = Partial<Pick<JobRecord, 'startedAt' | 'endedAt' | 'exitCodes' | 'reason' | 'gpuIndices' | 'runtime'>> & { status: JobStatus };

/** Options of JobRepository.create. */
export interface JobCreateOptions {
  /**
   * The id of the RUNNING request that queues this job. The job is stored only if that
   * request exists, is RUNNING and has no job yet; the request's `job` is set to the new
   * job in the same atomic write (so after a crash either both exist or neither does).
   */
  request?: string;
}

/**
 * Each cluster's job queue. Job ids count up from 1 per cluster incarnation and are never
 * reused within it. A job's spec is kept exactly while the job has not ended: it is dropped
 * in the same write that moves the job to SUCCEEDED, FAILED, FAILED_SETUP or CANCELLED.
 */
/** Which of a cluster's jobs JobRepository.list returns, in which order. */
export interface JobListFilter {
  /** Only these statuses, when set and non-empty. */
  status?: readonly JobStatus[];
  /** Lowest id first (the queue's order) instead of highest. */
  oldestFirst?: boolean;
  /** At most this many, a positive whole number. */
  limit?: number;
}

export interface JobRepository {
  /**
   * Assign the next id of the cluster and store the job and its spec atomically (a job
   * created already ended keeps no spec). Rejects with VALIDATION_FAILED, storing nothing,
   * when `job.cluster` does not exist or `job.clusterId` is not its current incarnation.
   * With `options.request`, also records the job on that request in the same write; rejects
   * with REQUEST_NOT_RUNNING, storing nothing, when the request is missing, not RUNNING or
   * has a job already.
   */
  create(job: Omit<JobRecord, 'id'>, spec: JobSpec, options?: JobCreateOptions): Promise<JobRecord>;
  get(cluster: string, id: number): Promise<JobRecord | undefined>;
  /** The spec of a job that has not ended; undefined once it ended (or for no such job). */
  getSpec(cluster: string, id: number): Promise<JobSpec | undefined>;
  /**
   * A cluster's jobs, newest (highest id) first, or oldest first with `filter.oldestFirst`; only
   * the given statuses when set and non-empty; at most `filter.limit` (the first in that order).
   */
  list(cluster: string, filter?: JobListFilter): Promise<JobRecord[]>;
  /**
   * Jobs not yet ended, across all clusters, oldest first: by submittedAt, then cluster name,
   * then id (the job monitor's work list).
   */
  listActive(): Promise<JobRecord[]>;
  /**
   * Compare-and-set like requests: only from one of `from`. Returns the updated job, or
   * undefined when it is missing or in another status. The spec is dropped when the job ends.
   */
  transition(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch): Promise<JobRecord | undefined>;
}

/**
 * Fields of a managed job an update may change. A key present with the value undefined
 * removes an optional field (reason, endedAt, recoveringSince).
 */
export type ManagedJobPatch = Partial<Pick<ManagedJobRecord, 'name' | 'status' | 'reason' | 'endedAt' | 'recoveringSince' | 'currentTask' | 'attempts' | 'tasks'>>;

/** Which managed jobs ManagedJobRepository.list returns: newest (highest id) first. */
export interface ManagedJobFilter {
  /** Only this owner's (a user id). */
  user?: string;
  /** Only those not ended (PENDING, STARTING, RUNNING, RECOVERING, CANCELLING). */
  active?: boolean;
  /** Only the one a given jobs_launch request created. */
  requestId?: string;
  /** At most this many, a positive whole number. */
  limit?: number;
}

/**
 * Managed jobs. Ids count up from 1 for the whole store and are never reused. A managed job's
 * spec (its tasks as submitted, secrets included) is kept exactly while it has not ended: it
 * is dropped in the same write that moves it to a terminal status. Its controller log is kept
 * apart from the record (listings never read it), the last 1,000 lines.
 */
export interface ManagedJobRepository {
  /** Assign the next id and store the record (version 1) and its spec atomically. */
  create(job: Omit<ManagedJobRecord, 'id' | 'version'>, spec: ManagedJobSpec): Promise<ManagedJobRecord>;
  get(id: number): Promise<ManagedJobRecord | undefined>;
  /** The spec of a managed job that has not ended; undefined once it ended (or for no such job). */
  getSpec(id: number): Promise<ManagedJobSpec | undefined>;
  list(filter?: ManagedJobFilter): Promise<ManagedJobRecord[]>;
  /**
   * Compare-and-set on `version`: applies the patch and increments the version only when the
   * stored version is `expectedVersion`. Returns the updated record, or undefined when it is
   * missing or its version moved. Moving to a terminal status drops the spec in the same write.
   */
  update(id: number, expectedVersion: number, patch: ManagedJobPatch): Promise<ManagedJobRecord | undefined>;
  /** Append lines to the controller log (oldest lines beyond the last 1,000 are dropped). No-op for no such job. */
  appendEvents(id: number, events: readonly ManagedJobEvent[]): Promise<void>;
  /** The controller log, oldest first; empty for no such job. */
  events(id: number): Promise<ManagedJobEvent[]>;
}

/** An entry of a service's controller log. */
export interface ServiceEvent {
  at: number;
  text: string;
}

/**
 * Fields of a service an update may change: all but the identity (name, owner, workspace),
 * createdAt, the creating request and the revision. A key present with the value undefined
 * removes an optional field (endpoint, lbPort, lbReplica, reason); for a required field it is
 * ignored.
 */
export type ServicePatch = Partial<Omit<ServiceRecord, 'name' | 'user' | 'userName' | 'workspace' | 'createdAt' | 'requestId' | 'revision'>>;

/** Which services ServiceRepository.list returns (ordered by name). */
export interface ServiceFilter {
  /** Only this owner's (a user id). */
  user?: string;
}

/**
 * `sky serve` services by name (unique across the team), each with the spec of every version
 * it was given (the task as submitted, secrets and the bearer token included: never listed)
 * and its controller log, the last 1,000 lines, kept apart from the record. Every update is
 * compare-and-set on `revision` (plugin API 1.9).
 */
export interface ServiceRepository {
  /**
   * Store a new service at revision 1 (a `revision` in the input is ignored) with the spec of
   * its first version, atomically. When the name is taken, stores nothing and returns the
   * existing record with created:false (so of several racing creates exactly one is created).
   */
  create(record: Omit<ServiceRecord, 'revision'>, spec: ServiceVersionSpec): Promise<{ record: ServiceRecord; created: boolean }>;
  get(name: string): Promise<ServiceRecord | undefined>;
  /** Every service, or one owner's; ordered by name. */
  list(filter?: ServiceFilter): Promise<ServiceRecord[]>;
  /**
   * Apply the patch only if the stored revision equals `expectedRevision`; the revision
   * becomes expectedRevision + 1. Returns the new record, or undefined when the service is
   * missing or the revision moved on (so exactly one of several racing updates wins).
   */
  update(name: string, expectedRevision: number, patch: ServicePatch): Promise<ServiceRecord | undefined>;
  /**
   * Delete the service with its version specs and controller log in one atomic write (only at
   * `expectedRevision` when given). Returns false, deleting nothing, when it is missing or at
   * another revision. A service created again under the name starts with none of the old
   * versions or log lines.
   */
  delete(name: string, expectedRevision?: number): Promise<boolean>;
  /** Store (or replace) the spec of version `spec.version`. No-op for no such service, so no spec outlives its service. */
  putVersion(name: string, spec: ServiceVersionSpec): Promise<void>;
  /** The spec of one version; undefined for no such version or service. */
  getVersion(name: string, version: number): Promise<ServiceVersionSpec | undefined>;
  /** Append lines to the controller log (oldest lines beyond the last 1,000 are dropped). No-op for no such service. */
  appendEvents(name: string, events: readonly ServiceEvent[]): Promise<void>;
  /** The controller log, oldest first; empty for no such service. */
  events(name: string): Promise<ServiceEvent[]>;
}

/**
 * Fields of a user an update may change. A key present with the value undefined removes an
 * optional field (passwordHash, disabled); for a required one it is ignored. `updatedAt` is
 * set from the patch or left as it was (the store reads no clock).
 */
export type UserPatch = Partial<Pick<UserRecord, 'name' | 'role' | 'passwordHash' | 'disabled' | 'updatedAt'>>;

/**
 * Users by id, with a unique (case-sensitive) name. The password hash is opaque to the store
 * and never appears in its errors or logs.
 */
export interface UserRepository {
  /**
   * Store a new user. When the name is taken, stores nothing and returns the existing user
   * with created:false (so of several racing creates of one name exactly one is created).
   * Rejects with VALIDATION_FAILED when the id is already used by another user.
   */
  create(record: UserRecord): Promise<{ record: UserRecord; created: boolean }>;
  get(id: string): Promise<UserRecord | undefined>;
  getByName(name: string): Promise<UserRecord | undefined>;
  /** Every user, ordered by name. */
  list(): Promise<UserRecord[]>;
  /**
   * Apply the patch; returns the new record, or undefined when there is no such user.
   * Rejects with VALIDATION_FAILED, changing nothing, when renaming to a name another user has.
   */
  update(id: string, patch: UserPatch): Promise<UserRecord | undefined>;
  /** Delete the user and all its tokens (with their hash index entries) atomically. False when missing. */
  delete(id: string): Promise<boolean>;
}

/**
 * Bearer tokens. Only a hash of the secret is stored; findByHash matches it exactly through
 * an index written in the same atomic write as the token. Expiry and revocation are the
 * caller's to check: the store returns revoked and expired tokens as they are.
 */
export interface TokenRepository {
  /**
   * Store a new token. Rejects with VALIDATION_FAILED, storing nothing, when its user does
   * not exist, or its id or hash is already used.
   */
  create(record: TokenRecord): Promise<TokenRecord>;
  get(id: string): Promise<TokenRecord | undefined>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  /** A user's tokens, ordered by id. */
  listByUser(userId: string): Promise<TokenRecord[]>;
  /** Set revokedAt (an earlier revocation is kept). Undefined when there is no such token. */
  revoke(id: string, at: number): Promise<TokenRecord | undefined>;
  /** Set lastUsedAt to `at` unless it is already later. Undefined when there is no such token. */
  touch(id: string, at: number): Promise<TokenRecord | undefined>;
  /** Delete the token and its hash index entry. False when missing. */
  delete(id: string): Promise<boolean>;
}

/**
 * Browser sessions (opened by a one-time login link). Only a hash of the cookie secret is
 * stored; findByHash matches it exactly through an index written in the same atomic write as
 * the session. A session's user need not exist as a user record (a personal daemon has
 * none), and deleting a user does not touch its sessions: the daemon revokes them
 * (revokeByUser) and treats a session of a missing user as invalid. Expiry and revocation
 * are the caller's to check, as for tokens.
 */
export interface SessionRepository {
  /** Store a new session. Rejects with VALIDATION_FAILED, storing nothing, when its id or hash is already used. */
  create(record: SessionRecord): Promise<SessionRecord>;
  get(id: string): Promise<SessionRecord | undefined>;
  findByHash(hash: string): Promise<SessionRecord | undefined>;
  /** A user's sessions, ordered by id. */
  listByUser(userId: string): Promise<SessionRecord[]>;
  /** Set revokedAt (an earlier revocation is kept). Undefined when there is no such session. */
  revoke(id: string, at: number): Promise<SessionRecord | undefined>;
  /** Revoke, in one atomic write, every session of the user not revoked yet; returns how many it revoked. */
  revokeByUser(userId: string, at: number): Promise<number>;
  /** Delete the sessions that expired, or were revoked, before `before` (with their hash index entries); returns how many. */
  prune(before: number): Promise<number>;
}

/**
 * Fields of a workspace an update may change; allowedInfra present with undefined removes
 * the restriction. `updatedAt` is set from the patch or left.
 */
export type WorkspacePatch = Partial<Pick<WorkspaceRecord, 'private' | 'allowedUsers' | 'allowedInfra' | 'updatedAt' | 'webhooks' | 'webhookState'>>;

/** Workspaces by name. The store seeds none (the daemon creates `default`). */
export interface WorkspaceRepository {
  /** Store a new workspace; when the name is taken, stores nothing and returns the existing one with created:false. */
  create(record: WorkspaceRecord): Promise<{ record: WorkspaceRecord; created: boolean }>;
  get(name: string): Promise<WorkspaceRecord | undefined>;
  /** Every workspace, ordered by name. */
  list(): Promise<WorkspaceRecord[]>;
  /** Apply the patch; returns the new record, or undefined when there is no such workspace. */
  update(name: string, patch: WorkspacePatch): Promise<WorkspaceRecord | undefined>;
  delete(name: string): Promise<boolean>;
}

/** Filter for listing the audit log; newest (highest id) first. */
export interface AuditFilter {
  /** Only this user id's entries. */
  user?: string;
  /** Only entries with at >= since. */
  since?: number;
  /** Page size. */
  limit: number;
  /** Opaque cursor returned by the previous page. */
  cursor?: string;
}

export interface AuditPageResult {
  items: AuditRecord[];
  nextCursor?: string;
}

/** The audit log: append-only, paged newest first, pruned by age. */
export interface AuditRepository {
  /**
   * Append an entry (its id is assigned by the caller and sorts by time, like request ids).
   * Rejects with VALIDATION_FAILED, storing nothing, when the id is already used.
   */
  append(record: AuditRecord): Promise<void>;
  list(filter: AuditFilter): Promise<AuditPageResult>;
  /** Delete entries with at < before; returns how many. */
  prune(before: number): Promise<number>;
}

/** Which usage entries UsageRepository.list returns: those overlapping [since, until). */
export interface UsageFilter {
  since: number;
  until: number;
  /** Only this user's entries (a user id). */
  user?: string;
}

/**
 * The usage ledger (plugin API 1.10): append-only history of what clusters held and what jobs
 * ran, kept after the clusters and jobs themselves are deleted. An entry is never changed but
 * to close an open cluster interval, and never deleted (but by an import's empty start). At
 * most one interval of a cluster incarnation (clusterId) is open at a time.
 */
export interface UsageRepository {
  /**
   * Open an interval (kind 'cluster', no `end`). Returns false, storing nothing, when the
   * incarnation has an open interval already, or one that starts at the same time (so a
   * transition recorded twice counts once). Rejects with VALIDATION_FAILED for a job entry or
   * one with an end.
   */
  open(record: UsageRecord): Promise<boolean>;
  /**
   * Close the incarnation's open interval at `end` (not before its start: an earlier end is
   * taken as the start). Returns the closed entry, or undefined when none is open.
   */
  close(clusterId: string, end: number): Promise<UsageRecord | undefined>;
  /** The open intervals, ordered by clusterId (the daemon checks them against its clusters at start-up). */
  listOpen(): Promise<UsageRecord[]>;
  /**
   * Record a finished job (kind 'job', with jobId and end). Returns false, storing nothing, when
   * that job (clusterId, jobId) was recorded already. Rejects with VALIDATION_FAILED otherwise malformed.
   */
  recordJob(record: UsageRecord): Promise<boolean>;
  /**
   * Entries overlapping the filter's window: start < until and (no end, or end > since); for a
   * job that ended at its start, start >= since counts too. Ordered by start, then kind,
   * clusterId and jobId. Entries are returned as stored (open ones without an end).
   */
  list(filter: UsageFilter): Promise<UsageRecord[]>;
}

/** Whose a deleted cluster was (also on the deletes of its jobs): who may hear of the deletion. */
export interface DeletedFrom {
  owner: string;
  workspace: string;
}

/**
 * One committed change of a cluster or job; `record` is the new record, undefined when it
 * was deleted, and then `deleted` says whose the cluster was. Deleting a cluster yields a
 * delete for each of its jobs (ascending id), then the cluster's delete. A service's change
 * (plugin API 1.9) carries the new record, null when the service was deleted (its record is
 * gone with it: who may hear of the deletion is for the reader to remember). Writes that
 * change nothing (a create of a taken name, a lost compare-and-set, a version spec or log
 * line) yield nothing.
 */
export type StoreChange =
  | { kind: 'cluster'; name: string; record: ClusterRecord | undefined; deleted?: DeletedFrom }
  | { kind: 'job'; cluster: string; id: number; record: JobRecord | undefined; deleted?: DeletedFrom }
  | { kind: 'managedJob'; id: number; record: ManagedJobRecord }
  | { kind: 'service'; name: string; record: ServiceRecord | null };

/**
 * A request created or transitioned (its `job` set counts too); `record` is the request as
 * stored. Requests are never deleted through the feed (pruned ones simply stop appearing).
 */
export interface RequestChange {
  kind: 'request';
  id: string;
  record: RequestRecord;
}

/** Every kind of change the persisted feed holds: StoreChange plus requests. */
export type FeedChange = StoreChange | RequestChange;

/**
 * Where a committed change sits in the persisted feed: `seq` counts up by one per change for
 * the life of the store (never reused, also across reopen and prune) and `at` is the commit
 * time (ms since the epoch; never below the `at` of an earlier change).
 */
export interface FeedPosition {
  seq: number;
  at: number;
}

/**
 * A change-feed subscriber. Each call gets its own copy of the record, and the change's
 * position in the persisted feed (listeners written before it existed may ignore it).
 */
export type StoreChangeListener = (change: StoreChange, position: FeedPosition) => void;

/** A subscriber to the whole feed, requests included (see EventRepository.subscribe). */
export type FeedListener = (change: FeedChange, position: FeedPosition) => void;

/**
 * One change as read back from the feed. For a request the record is the request as it is
 * stored when the feed is read (its latest state; undefined once it was pruned): the feed
 * keeps only which request changed, so request bodies are not stored twice.
 */
export interface StoredEvent extends FeedPosition {
  change: FeedChange | { kind: 'request'; id: string; record: undefined };
}

/** The retained part of the feed. */
export interface FeedBounds {
  /** The lowest retained seq; undefined when nothing is retained. */
  first: number | undefined;
  /** The highest seq ever given (0 before the first change), retained or pruned. */
  last: number;
}

/** The largest page EventRepository.read returns. */
export const MAX_EVENT_PAGE = 1000;

/**
 * The persisted change feed. Every change the store delivers to subscribers (and every
 * request create or transition) is written with its seq and commit time in the same atomic
 * write as the change itself, so after a crash the feed and the data agree.
 */
export interface EventRepository {
  /**
   * Changes with seq > afterSeq, ascending, at most `limit` (1..MAX_EVENT_PAGE, else
   * VALIDATION_FAILED). Fewer than `limit` means the end of the feed was reached.
   */
  read(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  bounds(): Promise<FeedBounds>;
  /** Delete changes committed before `before` (at < before); returns how many. `last` is kept. */
  prune(before: number): Promise<number>;
  /**
   * Like StateStore.subscribe, for every change of the feed, requests included, in seq order
   * (delivered in the same way: synchronously, once durable, before the write resolves).
   */
  subscribe(listener: FeedListener): () => void;
}

/** Options of StateStore.follow (plugin API 1.7, for stores shared by several replicas). */
export interface FollowOptions {
  /** Deliver changes with seq > afterSeq (0: from the start of what is retained). */
  afterSeq: number;
  /** Called for every change of the feed, whichever replica wrote it, once, in seq order. */
  onEvent: (event: StoredEvent) => void;
  /** Told of a lost connection or a failed catch-up read (the follower retries by itself). */
  onError?: (error: Error) => void;
  /** Pause before reconnecting after the connection was lost (the store's default when absent). */
  reconnectMs?: number;
}

/** A running follower of a shared feed (StateStore.follow). */
export interface FeedFollower {
  /** The highest seq delivered so far. */
  readonly lastSeq: number;
  /** Resolves when everything up to at least `seq` was delivered (or rejects after timeoutMs). */
  waitFor(seq: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Named leases shared by every replica of one store (plugin API 1.7, for stores shared by
 * several replicas): whatever one replica must own is held under a lease its holder renews;
 * a holder that stops renewing loses it at expiry (judged by the store's clock).
 */
export interface Leases {
  /** Take the lease for ttlMs when it is free or expired, or extend it when `holder` holds it already. True when `holder` holds it now. */
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Extend a lease `holder` still holds (not expired); false when it was lost (expired, or taken by another). */
  renew(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Give the lease up; false when `holder` did not hold it. */
  release(name: string, holder: string): Promise<boolean>;
  /** Who holds the lease now (undefined when free or expired). */
  holder(name: string): Promise<string | undefined>;
}

export interface StoreCapabilities {
  /** Whether several daemon replicas may share this store at once. */
  readonly multiReplica: boolean;
  /** Whether records survive a restart of the daemon process. */
  readonly durable: boolean;
}

/**
 * The daemon's state store. Every write goes through it; the daemon keeps no state that a
 * restart would lose. Implementations: in-memory (tests), LevelDB (default), PostgreSQL.
 */
export interface StateStore {
  readonly kind: string;
  readonly capabilities: StoreCapabilities;
  /** Open and run the migration ladder up to the current schema version. */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Schema version currently on disk (after open: the latest). */
  schemaVersion(): Promise<number>;
  readonly requests: RequestRepository;
  readonly clusters: ClusterRepository;
  readonly jobs: JobRepository;
  readonly managedJobs: ManagedJobRepository;
  /** Plugin API 1.9: `sky serve` services. */
  readonly services: ServiceRepository;
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  readonly sessions: SessionRepository;
  readonly workspaces: WorkspaceRepository;
  readonly audit: AuditRepository;
  readonly events: EventRepository;
  /**
   * Subscribe to committed cluster, job, managed-job and service changes, so views can be kept incrementally
   * instead of re-reading the store. Changes are delivered synchronously, in commit order,
   * once their write is durable and before the write's promise resolves; reads made from a
   * listener already see the change. A listener that throws is reported (see the store's
   * options) and never fails the write nor stops delivery to others. Only changes written
   * through this store instance are delivered. Returns the unsubscribe function.
   */
  subscribe(listener: StoreChangeListener): () => void;
  /**
   * Plugin API 1.7 (optional, see StateTransfer): the whole state from one consistent point in
   * time, for backups and for moving to another kind of store.
   */
  exportState?(): AsyncIterable<StateItem>;
  /** Plugin API 1.7 (optional, see StateTransfer): load an export into this store, which must be empty. */
  importState?(items: AsyncIterable<StateItem>): Promise<ImportSummary>;
  /**
   * Plugin API 1.7, optional, for stores shared by several replicas: follow the feed every
   * replica writes (unlike subscribe, which sees this instance's writes only): every change
   * after `afterSeq`, once, in seq order, across reconnects.
   */
  follow?(options: FollowOptions): Promise<FeedFollower>;
  /** Plugin API 1.7, optional, for stores shared by several replicas: leases every replica sees. */
  readonly leases?: Leases;
  /** Plugin API 1.8, optional, for stores shared by several replicas: plugins' documents (see documents.ts). */
  readonly pluginDocuments?: PluginDocumentRepository;
  /** Plugin API 1.10: the usage ledger. Optional, so a store plugin built against an earlier 1.x still loads (the daemon then keeps no usage). */
  readonly usage?: UsageRepository;
}

/** The store's shared feed when it has one (a store shared by several replicas), else undefined. */
export function sharedFeed(store: StateStore): ((options: FollowOptions) => Promise<FeedFollower>) | undefined {
  const follow = store.follow;
  return follow === undefined ? undefined : (options) => follow.call(store, options);
}

/** The store's shared leases when it has them (a store shared by several replicas), else undefined. */
export function storeLeases(store: StateStore): Leases | undefined {
  return store.leases;
}
