import type { ClusterRecord, JobRecord, JobSpec, JobStatus, LogChunk, RequestRecord, RequestStatus } from '@sky/protocol';

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
export type RequestPatch = Partial<Pick<RequestRecord, 'startedAt' | 'finishedAt' | 'result' | 'error' | 'attempts'>> & {
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
   * another status (so exactly one of two racing transitions wins).
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

/** Fields of a cluster an update may change (name, clusterId, owner and launchedAt are fixed). */
export type ClusterPatch = Partial<Omit<ClusterRecord, 'name' | 'clusterId' | 'owner' | 'ownerName' | 'workspace' | 'launchedAt' | 'version'>>;

/** Clusters by name (unique across the team). Every update is compare-and-set on `version`. */
export interface ClusterRepository {
  /** Store a new cluster (version 1). Returns the existing record and created:false when the name is taken. */
  create(record: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }>;
  get(name: string): Promise<ClusterRecord | undefined>;
  /** Every cluster, or one owner's; ordered by name. */
  list(filter?: { owner?: string }): Promise<ClusterRecord[]>;
  /**
   * Apply the patch only if the stored version equals `expectedVersion`; the stored version
   * becomes expectedVersion + 1 and updatedAt is set from the patch or left. Returns the new
   * record, or undefined when the cluster is missing or the version moved on.
   */
  update(name: string, expectedVersion: number, patch: ClusterPatch): Promise<ClusterRecord | undefined>;
  /** Delete the cluster, its jobs and their specs (only at `expectedVersion` when given). */
  delete(name: string, expectedVersion?: number): Promise<boolean>;
}

/** Fields a job transition may set alongside the new status. */
export type JobPatch = Partial<Pick<JobRecord, 'startedAt' | 'endedAt' | 'exitCodes' | 'reason'>> & { status: JobStatus };

/** Each cluster's job queue. Job ids count up from 1 per cluster incarnation and are never reused. */
export interface JobRepository {
  /** Assign the next id of the cluster, store the job (and its spec) atomically. */
  create(job: Omit<JobRecord, 'id'>, spec: JobSpec): Promise<JobRecord>;
  get(cluster: string, id: number): Promise<JobRecord | undefined>;
  getSpec(cluster: string, id: number): Promise<JobSpec | undefined>;
  /** A cluster's jobs, newest first; only the given statuses when set. */
  list(cluster: string, filter?: { status?: readonly JobStatus[] }): Promise<JobRecord[]>;
  /** Jobs not yet finished, across all clusters, oldest first (the job monitor's work list). */
  listActive(): Promise<JobRecord[]>;
  /** Compare-and-set like requests: only from one of `from`. The spec is dropped when the job ends. */
  transition(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch): Promise<JobRecord | undefined>;
}

/** One committed change, delivered in commit order to change-feed subscribers of this process. */
export type StoreChange =
  | { kind: 'cluster'; name: string; record: ClusterRecord | undefined }
  | { kind: 'job'; cluster: string; id: number; record: JobRecord | undefined };

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
}

/**
 * The store with clusters and jobs: what StateStore becomes once every implementation has
 * them (then these members move into StateStore and this interface goes away).
 */
export interface ClusterStateStore extends StateStore {
  readonly clusters: ClusterRepository;
  readonly jobs: JobRepository;
  /**
   * Subscribe to committed cluster and job changes (after the write is durable), so views can
   * be kept incrementally instead of re-reading the store. Returns the unsubscribe function.
   */
  subscribe(listener: (change: StoreChange) => void): () => void;
}

