import type { LogChunk, RequestRecord, RequestStatus } from '@sky/protocol';

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

