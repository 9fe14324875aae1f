import { SkyError, isTerminal } from '@sky/protocol';
import type { LogChunk, RequestJob, RequestRecord, RequestStatus } from '@sky/protocol';
import type {
  AuditRepository,
  ClusterRepository,
  CreateResult,
  JobRepository,
  ManagedJobRepository,
  RequestFilter,
  RequestPageResult,
  RequestPatch,
  RequestRepository,
  ServiceRepository,
  SessionRepository,
  StateStore,
  StoreCapabilities,
  EventRepository,
  FeedChange,
  StoreChangeListener,
  TokenRepository,
  UserRepository,
  WorkspaceRepository,
} from '../store.js';
import { applyRequestPatch, byIdAscending, byIdDescending, copyJson, matchesRequestFilter, mayTransitionRequest, requestLinkRefusal } from '../records.js';
import { MemoryClusterData, MemoryClusterRepository, MemoryJobRepository } from './memory-clusters.js';
import { MemoryFeed, warnListenerError, type ListenerErrorHandler } from './memory-events.js';
import { MemoryManagedJobRepository } from './memory-managed-jobs.js';
import { MemoryServiceRepository } from './memory-services.js';
import { MemoryUsageRepository } from './memory-usage.js';
import { MemorySessionRepository } from './memory-sessions.js';
import { pageCursor } from '../node/page-cursor.js';
import { MemoryAuditRepository, MemoryAuthData, MemoryTokenRepository, MemoryUserRepository, MemoryWorkspaceRepository } from './memory-auth.js';
import { importMemoryState, memoryStateItems, type MemoryParts } from './memory-transfer.js';
import { MemoryDocumentRepository } from './memory-documents.js';
import type { ImportSummary, StateItem, StateTransfer } from '../state-transfer.js';

const { encode: encodeCursor, decode: decodeCursor } = pageCursor('m1:');

class MemoryRequestRepository implements RequestRepository {
  readonly #records = new Map<string, RequestRecord>();
  /** `user \0 idempotencyKey` → request id. */
  readonly #idempotency = new Map<string, string>();
  readonly #logs = new Map<string, LogChunk[]>();
  readonly #assertOpen: () => void;
  readonly #emit: (change: FeedChange) => void;

  constructor(assertOpen: () => void, emit: (change: FeedChange) => void) {
    this.#assertOpen = assertOpen;
    this.#emit = emit;
  }

  /** The stored record itself (the feed copies what it hands out). */
  peek(id: string): RequestRecord | undefined {
    return this.#records.get(id);
  }

  /** Every request by id with its log (state export); a copy. */
  raw(): { records: RequestRecord[]; logs: Array<{ id: string; chunk: LogChunk }> } {
    const records = [...this.#records.values()].sort(byIdAscending).map(copyJson);
    const logs = records.flatMap((r) => (this.#logs.get(r.id) ?? []).map((chunk) => ({ id: r.id, chunk: copyJson(chunk) })));
    return { records, logs };
  }

  /** Store a request as it is, with its idempotency key (state import). */
  putRaw(record: RequestRecord): void {
    this.#records.set(record.id, copyJson(record));
    if (record.idempotencyKey !== undefined) this.#idempotency.set(`${record.user}\0${record.idempotencyKey}`, record.id);
  }

  /** Keep a log chunk as it is (state import; in seq order, no gaps). */
  putRawLog(id: string, chunk: LogChunk): boolean {
    if (!this.#records.has(id)) return false;
    const chunks = this.#logs.get(id) ?? [];
    if (chunk.seq !== chunks.length) return false;
    chunks.push(copyJson(chunk));
    this.#logs.set(id, chunks);
    return true;
  }

  async create(record: RequestRecord): Promise<CreateResult> {
    this.#assertOpen();
    if (record.idempotencyKey !== undefined) {
      const earlierId = this.#idempotency.get(`${record.user}\0${record.idempotencyKey}`);
      const earlier = earlierId === undefined ? undefined : this.#records.get(earlierId);
      if (earlier !== undefined) return { record: copyJson(earlier), created: false };
      this.#idempotency.set(`${record.user}\0${record.idempotencyKey}`, record.id);
    }
    const stored = copyJson(record);
    this.#records.set(stored.id, stored);
    this.#emit({ kind: 'request', id: stored.id, record: stored });
    return { record: copyJson(stored), created: true };
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    this.#assertOpen();
    const record = this.#records.get(id);
    return record === undefined ? undefined : copyJson(record);
  }

  async transition(id: string, from: readonly RequestStatus[], patch: RequestPatch): Promise<RequestRecord | undefined> {
    this.#assertOpen();
    const current = this.#records.get(id);
    if (current === undefined || !mayTransitionRequest(current, from, patch)) return undefined;
    const next = applyRequestPatch(current, patch);
    this.#records.set(id, next);
    this.#emit({ kind: 'request', id, record: next });
    return copyJson(next);
  }

  /** Why request `id` cannot queue a job now (JobCreateOptions.request); undefined when it can. */
  linkRefusal(id: string): SkyError | undefined {
    return requestLinkRefusal(id, this.#records.get(id));
  }

  /** Record the job request `id` queued (after linkRefusal said it may, with nothing awaited in between). */
  link(id: string, job: RequestJob): void {
    const current = this.#records.get(id);
    if (current === undefined) return;
    const next = { ...current, job: { cluster: job.cluster, id: job.id } };
    this.#records.set(id, next);
    this.#emit({ kind: 'request', id, record: next });
  }

  async list(filter: RequestFilter): Promise<RequestPageResult> {
    this.#assertOpen();
    if (!Number.isInteger(filter.limit) || filter.limit < 1) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}`, {
        details: { field: 'limit' },
      });
    }
    const below = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const found = [...this.#records.values()]
      .filter((r) => (below === undefined || r.id < below) && matchesRequestFilter(r, filter))
      .sort(byIdDescending);
    const items = found.slice(0, filter.limit).map(copyJson);
    const last = items[items.length - 1];
    if (found.length > filter.limit && last !== undefined) return { items, nextCursor: encodeCursor(last.id) };
    return { items };
  }

  async listByStatus(status: RequestStatus): Promise<RequestRecord[]> {
    this.#assertOpen();
    return [...this.#records.values()]
      .filter((r) => r.status === status)
      .sort(byIdAscending)
      .map(copyJson);
  }

  async appendLog(id: string, text: string, at: number): Promise<number> {
    this.#assertOpen();
    if (!this.#records.has(id)) {
      throw new SkyError('REQUEST_NOT_FOUND', `cannot append to the log of request ${id}: no such request`);
    }
    let chunks = this.#logs.get(id);
    if (chunks === undefined) {
      chunks = [];
      this.#logs.set(id, chunks);
    }
    const seq = chunks.length;
    chunks.push({ seq, at, text });
    return seq;
  }

  async readLog(id: string, afterSeq?: number): Promise<LogChunk[]> {
    this.#assertOpen();
    const chunks = this.#logs.get(id) ?? [];
    return chunks.filter((c) => afterSeq === undefined || c.seq > afterSeq).map(copyJson);
  }

  async prune(before: number): Promise<number> {
    this.#assertOpen();
    let count = 0;
    for (const record of [...this.#records.values()]) {
      if (!isTerminal(record.status) || record.finishedAt === undefined || record.finishedAt >= before) continue;
      this.#records.delete(record.id);
      this.#logs.delete(record.id);
      if (record.idempotencyKey !== undefined) {
        const key = `${record.user}\0${record.idempotencyKey}`;
        if (this.#idempotency.get(key) === record.id) this.#idempotency.delete(key);
      }
      count += 1;
    }
    return count;
  }
}

export interface MemoryStateStoreOptions {
  /** Called when a change-feed listener throws; by default a process warning is printed. */
  onListenerError?: ListenerErrorHandler;
}

/**
 * A StateStore that keeps everything in this process's memory: for tests and for trying
 * the daemon out. Nothing outlives the process; a closed store rejects every call.
 */
export class MemoryStateStore implements StateStore, StateTransfer {
  readonly kind = 'memory';
  readonly capabilities: StoreCapabilities = { multiReplica: false, durable: false };
  readonly requests: RequestRepository;
  readonly clusters: ClusterRepository;
  readonly jobs: JobRepository;
  readonly managedJobs: ManagedJobRepository;
  readonly services: ServiceRepository;
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  readonly sessions: SessionRepository;
  readonly workspaces: WorkspaceRepository;
  readonly audit: AuditRepository;
  readonly events: EventRepository;
  readonly pluginDocuments: MemoryDocumentRepository;
  /** Plugin API 1.10: the usage ledger. */
  readonly usage: MemoryUsageRepository;
  readonly #feed: MemoryFeed;
  readonly #parts: MemoryParts;
  #open = false;

  constructor(options: MemoryStateStoreOptions = {}) {
    const assertOpen = (): void => {
      if (!this.#open) {
        throw new SkyError('STATE_UNAVAILABLE', 'the in-memory state store is not open', {
          hint: 'call open() before using the store, and do not use it after close()',
        });
      }
    };
    const requests = new MemoryRequestRepository(assertOpen, (change) => this.#feed.emit(change));
    this.requests = requests;
    this.#feed = new MemoryFeed(assertOpen, options.onListenerError ?? warnListenerError, (id) => requests.peek(id));
    this.events = this.#feed;
    const clusterData = new MemoryClusterData(assertOpen, this.#feed);
    this.clusters = new MemoryClusterRepository(clusterData);
    this.jobs = new MemoryJobRepository(clusterData, requests);
    const managedJobs = new MemoryManagedJobRepository(assertOpen, (change) => this.#feed.emit(change));
    this.managedJobs = managedJobs;
    const services = new MemoryServiceRepository(assertOpen, (change) => this.#feed.emit(change));
    this.services = services;
    const auth = new MemoryAuthData(assertOpen);
    this.users = new MemoryUserRepository(auth);
    this.tokens = new MemoryTokenRepository(auth);
    const sessions = new MemorySessionRepository(assertOpen);
    this.sessions = sessions;
    const workspaces = new MemoryWorkspaceRepository(assertOpen);
    this.workspaces = workspaces;
    const audit = new MemoryAuditRepository(assertOpen);
    this.audit = audit;
    this.pluginDocuments = new MemoryDocumentRepository(assertOpen);
    this.usage = new MemoryUsageRepository(assertOpen);
    this.#parts = { requests, feed: this.#feed, clusters: clusterData, managedJobs, services, auth, sessions, workspaces, audit, documents: this.pluginDocuments, usage: this.usage };
    this.#assertOpen = assertOpen;
  }

  readonly #assertOpen: () => void;

  /** The whole state, copied at the call (one point in time), then yielded (StateTransfer). */
  async *exportState(): AsyncIterable<StateItem> {
    this.#assertOpen();
    yield* memoryStateItems(this.#parts);
  }

  /** Load an export into this store, which must be empty (StateTransfer). */
  async importState(items: AsyncIterable<StateItem>): Promise<ImportSummary> {
    this.#assertOpen();
    return importMemoryState(this.#parts, items);
  }

  async open(): Promise<void> {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.#open = false;
  }

  async schemaVersion(): Promise<number> {
    return 1;
  }

  subscribe(listener: StoreChangeListener): () => void {
    return this.#feed.subscribeStore(listener);
  }
}
