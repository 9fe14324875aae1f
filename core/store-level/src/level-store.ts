import { readdirSync, statfsSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SkyError } from '@sky/protocol';
import type {
  AuditRecord,
  ClusterRecord,
  JobRecord,
  JobSpec,
  JobStatus,
  LogChunk,
  RequestRecord,
  RequestStatus,
  TokenRecord,
  UserRecord,
  WorkspaceRecord,
} from '@sky/protocol';
import type {
  AuditFilter,
  AuditPageResult,
  AuditRepository,
  ClusterPatch,
  ClusterRepository,
  CreateResult,
  EventRepository,
  JobCreateOptions,
  JobListFilter,
  JobPatch,
  JobRepository,
  ManagedJobRepository,
  ServiceRepository,
  RequestFilter,
  RequestPageResult,
  RequestPatch,
  RequestRepository,
  SessionRepository,
  ImportSummary,
  StateItem,
  StateStore,
  StateTransfer,
  StoreCapabilities,
  StoreChangeListener,
  TokenRepository,
  UserPatch,
  UserRepository,
  WorkspacePatch,
  WorkspaceRepository,
} from '@sky/plugin-api';
import { ActiveState } from './active-state.js';
import { AuthReader } from './auth-queries.js';
import { AuthState } from './auth-state.js';
import { ClusterReader } from './cluster-queries.js';
import { ClusterState } from './cluster-state.js';
import { LevelEventRepository } from './event-repository.js';
import { EventState } from './event-state.js';
import { degradedError, notOpenError, openError } from './errors.js';
import { ChangeFeed, warnListenerError, type ListenerErrorHandler } from '@sky/plugin-api';
import { isKeySafe } from './keys.js';
import { stateNotEmptyError } from '@sky/plugin-api';
import { openLevel, sublevels, type LevelDb, type Sublevels } from './layout.js';
import { ManagedJobReader } from './managed-job-queries.js';
import { LevelManagedJobRepository } from './managed-job-repository.js';
import { ManagedJobState } from './managed-job-state.js';
import { LevelServiceRepository } from './service-repository.js';
import { LevelUsageRepository } from './usage-repository.js';
import { ServiceState } from './service-state.js';
import { MIGRATIONS, migrate, type Migration } from './migrations.js';
import { Reader } from './queries.js';
import { LevelSessionRepository } from './session-repository.js';
import { SessionState } from './session-state.js';
import { Writer } from './writer.js';
import { exportLevelState, importLevelState, levelHolds } from './state-transfer.js';

export interface LevelStateStoreOptions {
  /** The state directory; created if missing. One daemon process at a time may hold it. */
  path: string;
  /**
   * fsync every group commit. Off (the default), a write is durable against a crash of the
   * daemon process as soon as it resolves; on, also against power loss, at the cost of one
   * fsync per batch.
   */
  sync?: boolean;
  /** The schema ladder; defaults to the one this version ships. Tests inject their own. */
  migrations?: readonly Migration[];
  /** Called when a change-feed listener throws; by default a process warning is printed. */
  onListenerError?: ListenerErrorHandler;
  /** Told when a failed write stops the store taking writes, and when it has recovered (or a recovery attempt failed). */
  onHealth?: (event: StoreHealthEvent) => void;
  /** How often a store that refuses writes checks for room and reopens (default 1000 ms). */
  recoveryIntervalMs?: number;
}

/** A change in whether the store takes writes. */
export type StoreHealthEvent =
  | { state: 'degraded'; error: SkyError }
  | { state: 'recovered'; downMs: number }
  | { state: 'recovery-failed'; error: unknown };

/** Free space wanted beyond the size of LevelDB's log before a reopen is tried (the log is replayed into a table). */
const REOPEN_HEADROOM_BYTES = 1024 * 1024;
/** A file of this size is written and removed to prove the disk (or quota) takes writes again. */
const PROBE_BYTES = 64 * 1024;
const PROBE_FILE = 'SKY-SPACE-PROBE';

/** Entries held on the JS heap, by kind (LevelStateStore.inMemory). */
export interface StoreMemoryCounts {
  activeRequests: number;
  logSequences: number;
  activeJobs: number;
  clusters: number;
  jobCounters: number;
  sessions: number;
  activeManagedJobs: number;
  managedJobLogSequences: number;
}

interface OpenState {
  db: LevelDb;
  subs: Sublevels;
  events: EventState;
  requests: ActiveState;
  writerState: { requests: ActiveState; clusters: ClusterState; managedJobs: ManagedJobState };
  writer: Writer;
  reader: Reader;
  clusterReader: ClusterReader;
  authReader: AuthReader;
  managedJobReader: ManagedJobReader;
  services: ServiceState;
  sessions: SessionState;
  version: number;
}

/** The default StateStore: LevelDB in a local directory, one writer process. */
export class LevelStateStore implements StateStore, StateTransfer {
  readonly kind = 'level';
  readonly capabilities: StoreCapabilities = { multiReplica: false, durable: true };
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
  /** Plugin API 1.10: the usage ledger. */
  readonly usage: LevelUsageRepository;
  readonly path: string;
  readonly #sync: boolean;
  readonly #migrations: readonly Migration[];
  /** Outlives close() and open(): subscriptions belong to the store object. */
  readonly #feed: ChangeFeed;
  #open: OpenState | undefined;
  #opening: Promise<void> | undefined;
  readonly #onHealth: ((event: StoreHealthEvent) => void) | undefined;
  readonly #recoveryIntervalMs: number;
  /** The write failure the store is recovering from (writes are refused meanwhile; reads go on). */
  #failure: { error: SkyError; since: number } | undefined;
  #recovery: NodeJS.Timeout | undefined;
  #reopening: Promise<void> | undefined;

  constructor(options: LevelStateStoreOptions) {
    this.path = resolve(options.path);
    this.#sync = options.sync ?? false;
    this.#migrations = options.migrations ?? MIGRATIONS;
    this.#feed = new ChangeFeed(options.onListenerError ?? warnListenerError);
    this.#onHealth = options.onHealth;
    this.#recoveryIntervalMs = options.recoveryIntervalMs ?? 1000;
    const open = (): Promise<OpenState> => this.#ready();
    this.requests = new LevelRequestRepository(open);
    this.clusters = new LevelClusterRepository(open);
    this.jobs = new LevelJobRepository(open);
    this.managedJobs = new LevelManagedJobRepository(open);
    this.services = new LevelServiceRepository(open);
    this.users = new LevelUserRepository(open);
    this.tokens = new LevelTokenRepository(open);
    this.sessions = new LevelSessionRepository(open);
    this.workspaces = new LevelWorkspaceRepository(open);
    this.audit = new LevelAuditRepository(open);
    this.events = new LevelEventRepository(open, this.#feed);
    this.usage = new LevelUsageRepository(open, this.path);
  }

  subscribe(listener: StoreChangeListener): () => void {
    return this.#feed.subscribe(listener);
  }

  open(): Promise<void> {
    if (this.#open !== undefined) return Promise.resolve();
    this.#opening ??= this.#doOpen().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async close(): Promise<void> {
    this.#stopRecovery();
    await this.#opening?.catch(() => {});
    await this.#reopening?.catch(() => {});
    const open = this.#open;
    if (open === undefined) return;
    // Ledger writes queued before the close still find the store open.
    await this.usage.idle();
    this.#open = undefined;
    try {
      await open.writer.close();
    } finally {
      await open.db.close();
    }
  }

  async schemaVersion(): Promise<number> {
    return this.#require().version;
  }

  /** The whole state from one LevelDB snapshot taken at the call; writes go on meanwhile (StateTransfer). */
  async *exportState(): AsyncIterable<StateItem> {
    const open = await this.#ready();
    yield* exportLevelState(open.db, open.subs);
  }

  /**
   * Load an export into this store, which must be empty (StateTransfer): one atomic batch, then
   * the store reopens so that what it keeps in memory is read from what was written.
   */
  async importState(items: AsyncIterable<StateItem>): Promise<ImportSummary> {
    const open = await this.#ready();
    const holds = await levelHolds(open.subs);
    if (holds !== undefined) throw stateNotEmptyError(`the LevelDB state store at ${this.path}`, holds);
    try {
      return await importLevelState(open.db, open.subs, items);
    } finally {
      await this.#reopen();
    }
  }

  /**
   * How many entries this store holds on the JS heap (zero while closed): the requests that have
   * not finished and the next log sequence number of each, the jobs that have not ended, the
   * clusters and their job counters, and the auth records. Finished requests and ended jobs live
   * on disk only, so none of these counts grows with them.
   */
  inMemory(): StoreMemoryCounts {
    const open = this.#open;
    if (open === undefined) {
      return { activeRequests: 0, logSequences: 0, activeJobs: 0, clusters: 0, jobCounters: 0, sessions: 0, activeManagedJobs: 0, managedJobLogSequences: 0 };
    }
    const { requests, clusters, managedJobs } = open.writerState;
    return {
      activeRequests: requests.records.size,
      logSequences: requests.nextSeq.size,
      activeJobs: clusters.activeJobs.size,
      clusters: clusters.clusters.size,
      jobCounters: clusters.counters.size,
      sessions: open.sessions.sessions.size,
      activeManagedJobs: managedJobs.active.size,
      managedJobLogSequences: managedJobs.nextSeq.size,
    };
  }

  async #doOpen(): Promise<void> {
    const db = openLevel(this.path);
    try {
      await db.open();
    } catch (err) {
      throw openError(this.path, err);
    }
    try {
      const subs = sublevels(db);
      // Migrations run before anything else reads or writes.
      const version = await migrate(db, subs.meta, this.#migrations, this.path);
      const [requests, clusters, auth, sessions, managedJobs, services, events] = await Promise.all([
        ActiveState.load(subs),
        ClusterState.load(subs),
        AuthState.load(subs),
        SessionState.load(subs),
        ManagedJobState.load(subs),
        ServiceState.load(subs),
        EventState.load(subs, this.path),
      ]);
      const writer = new Writer(db, subs, { requests, clusters, auth, sessions, managedJobs, services, events, feed: this.#feed }, {
        path: this.path,
        sync: this.#sync,
        onFailure: (error) => this.#writeFailed(error),
      });
      this.#open = {
        db,
        subs,
        events,
        requests,
        writerState: { requests, clusters, managedJobs },
        writer,
        reader: new Reader(subs, requests),
        clusterReader: new ClusterReader(subs, clusters),
        authReader: new AuthReader(subs, auth),
        managedJobReader: new ManagedJobReader(subs, managedJobs),
        services,
        sessions,
        version,
      };
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
  }

  #require(): OpenState {
    if (this.#open === undefined) throw this.#failure ? degradedError(this.path, this.#failure.error) : notOpenError(this.path);
    return this.#open;
  }

  /** The open database, waiting out a reopen in progress. */
  async #ready(): Promise<OpenState> {
    if (this.#reopening !== undefined) await this.#reopening.catch(() => {});
    return this.#require();
  }

  /**
   * A write failed at the file system (disk full, I/O error). LevelDB may have left part of a
   * record at the end of its log, and records appended after it would not survive the next
   * open, so the writer refuses every write from now on; reads go on from the open database.
   * Every second the store checks for room and, once there is, reopens LevelDB (which replays
   * its log up to the last whole record) and takes writes again.
   */
  #writeFailed(error: SkyError): void {
    if (this.#failure !== undefined) return;
    this.#failure = { error, since: Date.now() };
    this.#onHealth?.({ state: 'degraded', error });
    this.#recovery = setInterval(() => void this.#tryRecover(), this.#recoveryIntervalMs);
    this.#recovery.unref();
  }

  #stopRecovery(): void {
    if (this.#recovery !== undefined) clearInterval(this.#recovery);
    this.#recovery = undefined;
  }

  async #tryRecover(): Promise<void> {
    if (this.#reopening !== undefined || this.#failure === undefined || !this.#hasRoom()) return;
    const failure = this.#failure;
    this.#reopening = this.#reopen().finally(() => {
      this.#reopening = undefined;
    });
    try {
      await this.#reopening;
      this.#failure = undefined;
      this.#stopRecovery();
      this.#onHealth?.({ state: 'recovered', downMs: Date.now() - failure.since });
    } catch (err) {
      this.#onHealth?.({ state: 'recovery-failed', error: err });
    }
  }

  async #reopen(): Promise<void> {
    // Not waiting for the ledger's queue here: its next write waits for this reopen.
    const old = this.#open;
    this.#open = undefined;
    if (old !== undefined) {
      await old.writer.close();
      await old.db.close().catch(() => {});
    }
    await this.#doOpen();
  }

  /** Whether the file system holding the store has room for a reopen: free space for the log's replay, and a probe write that succeeds. */
  #hasRoom(): boolean {
    const probe = join(this.path, PROBE_FILE);
    try {
      const logBytes = readdirSync(this.path)
        .filter((name) => name.endsWith('.log'))
        .reduce((sum, name) => sum + statSync(join(this.path, name)).size, 0);
      const { bavail, bsize } = statfsSync(this.path);
      if (bavail * bsize < logBytes + REOPEN_HEADROOM_BYTES) return false;
      writeFileSync(probe, Buffer.alloc(PROBE_BYTES));
      unlinkSync(probe);
      return true;
    } catch {
      try {
        unlinkSync(probe);
      } catch {
        // not there
      }
      return false;
    }
  }
}

/** Writes go to the single writer; reads go straight to the cache and the database. */
class LevelRequestRepository implements RequestRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async create(record: RequestRecord): Promise<CreateResult> {
    return (await this.open()).writer.create(record);
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    return (await this.open()).reader.get(id);
  }

  async transition(id: string, from: readonly RequestStatus[], patch: RequestPatch): Promise<RequestRecord | undefined> {
    return (await this.open()).writer.transition(id, from, patch);
  }

  async list(filter: RequestFilter): Promise<RequestPageResult> {
    return (await this.open()).reader.list(filter);
  }

  async listByStatus(status: RequestStatus): Promise<RequestRecord[]> {
    return (await this.open()).reader.listByStatus(status);
  }

  async appendLog(id: string, text: string, at: number): Promise<number> {
    return (await this.open()).writer.appendLog(id, text, at);
  }

  async readLog(id: string, afterSeq?: number): Promise<LogChunk[]> {
    return (await this.open()).reader.readLog(id, afterSeq);
  }

  async prune(before: number): Promise<number> {
    return (await this.open()).writer.prune(before);
  }
}

/** Writes go to the single writer; reads come from the cluster cache and the database. */
class LevelClusterRepository implements ClusterRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async create(record: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }> {
    const open = await this.open();
    if (typeof record.name !== 'string' || record.name.length === 0 || !isKeySafe(record.name)) {
      throw new SkyError('VALIDATION_FAILED', `cluster name ${JSON.stringify(record.name)} cannot be stored: it must be a non-empty string without NUL`, {
        details: { field: 'name' },
      });
    }
    return open.writer.createCluster(record);
  }

  async get(name: string): Promise<ClusterRecord | undefined> {
    return (await this.open()).clusterReader.getCluster(name);
  }

  async list(filter: { owner?: string } = {}): Promise<ClusterRecord[]> {
    return (await this.open()).clusterReader.listClusters(filter.owner);
  }

  async update(name: string, expectedVersion: number, patch: ClusterPatch): Promise<ClusterRecord | undefined> {
    return (await this.open()).writer.updateCluster(name, expectedVersion, patch);
  }

  async changeOwner(name: string, expectedVersion: number, owner: { id: string; name: string }, updatedAt: number): Promise<ClusterRecord | undefined> {
    return (await this.open()).writer.changeClusterOwner(name, expectedVersion, owner, updatedAt);
  }

  async delete(name: string, expectedVersion?: number): Promise<boolean> {
    return (await this.open()).writer.deleteCluster(name, expectedVersion);
  }
}

class LevelJobRepository implements JobRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async create(job: Omit<JobRecord, 'id'>, spec: JobSpec, options: JobCreateOptions = {}): Promise<JobRecord> {
    return (await this.open()).writer.createJob(job, spec, options.request);
  }

  async get(cluster: string, id: number): Promise<JobRecord | undefined> {
    const open = await this.open();
    return isKeySafe(cluster) ? open.clusterReader.getJob(cluster, id) : undefined;
  }

  async getSpec(cluster: string, id: number): Promise<JobSpec | undefined> {
    const open = await this.open();
    return isKeySafe(cluster) ? open.clusterReader.getSpec(cluster, id) : undefined;
  }

  async list(cluster: string, filter: JobListFilter = {}): Promise<JobRecord[]> {
    const open = await this.open();
    return isKeySafe(cluster) ? open.clusterReader.listJobs(cluster, filter) : [];
  }

  async listActive(): Promise<JobRecord[]> {
    return (await this.open()).clusterReader.listActive();
  }

  async transition(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch): Promise<JobRecord | undefined> {
    const open = await this.open();
    return isKeySafe(cluster) ? open.writer.transitionJob(cluster, id, from, patch) : undefined;
  }
}

function keySafe(value: unknown, what: string, field: string): void {
  if (typeof value !== 'string' || value.length === 0 || !isKeySafe(value)) {
    throw new SkyError('VALIDATION_FAILED', `${what} ${JSON.stringify(value)} cannot be stored: it must be a non-empty string without NUL`, {
      details: { field },
    });
  }
}

class LevelUserRepository implements UserRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async create(record: UserRecord): Promise<{ record: UserRecord; created: boolean }> {
    const open = await this.open();
    keySafe(record.id, 'user id', 'id');
    return open.writer.createUser(record);
  }

  async get(id: string): Promise<UserRecord | undefined> {
    return (await this.open()).authReader.getUser(id);
  }

  async getByName(name: string): Promise<UserRecord | undefined> {
    return (await this.open()).authReader.getUserByName(name);
  }

  async list(): Promise<UserRecord[]> {
    return (await this.open()).authReader.listUsers();
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | undefined> {
    return (await this.open()).writer.updateUser(id, patch);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.open()).writer.deleteUser(id);
  }
}

class LevelTokenRepository implements TokenRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async create(record: TokenRecord): Promise<TokenRecord> {
    const open = await this.open();
    keySafe(record.id, 'token id', 'id');
    if (typeof record.hash !== 'string' || record.hash.length === 0) {
      // Never echo the hash: it is a secret's digest.
      throw new SkyError('VALIDATION_FAILED', 'a token hash must be a non-empty string', { details: { field: 'hash' } });
    }
    return open.writer.createToken(record);
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    return (await this.open()).authReader.getToken(id);
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    return (await this.open()).authReader.findTokenByHash(hash);
  }

  async listByUser(userId: string): Promise<TokenRecord[]> {
    return (await this.open()).authReader.listTokens(userId);
  }

  async revoke(id: string, at: number): Promise<TokenRecord | undefined> {
    return (await this.open()).writer.changeToken('token-revoke', id, at);
  }

  async touch(id: string, at: number): Promise<TokenRecord | undefined> {
    return (await this.open()).writer.changeToken('token-touch', id, at);
  }

  async delete(id: string): Promise<boolean> {
    return (await this.open()).writer.deleteToken(id);
  }
}

class LevelWorkspaceRepository implements WorkspaceRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async create(record: WorkspaceRecord): Promise<{ record: WorkspaceRecord; created: boolean }> {
    const open = await this.open();
    keySafe(record.name, 'workspace name', 'name');
    return open.writer.createWorkspace(record);
  }

  async get(name: string): Promise<WorkspaceRecord | undefined> {
    return (await this.open()).authReader.getWorkspace(name);
  }

  async list(): Promise<WorkspaceRecord[]> {
    return (await this.open()).authReader.listWorkspaces();
  }

  async update(name: string, patch: WorkspacePatch): Promise<WorkspaceRecord | undefined> {
    return (await this.open()).writer.updateWorkspace(name, patch);
  }

  async delete(name: string): Promise<boolean> {
    return (await this.open()).writer.deleteWorkspace(name);
  }
}

class LevelAuditRepository implements AuditRepository {
  constructor(private readonly open: () => Promise<OpenState>) {}

  async append(record: AuditRecord): Promise<void> {
    const open = await this.open();
    keySafe(record.id, 'audit entry id', 'id');
    keySafe(record.user, 'audit entry user', 'user');
    return open.writer.appendAudit(record);
  }

  async list(filter: AuditFilter): Promise<AuditPageResult> {
    return (await this.open()).authReader.listAudit(filter);
  }

  async prune(before: number): Promise<number> {
    return (await this.open()).writer.pruneAudit(before);
  }
}
