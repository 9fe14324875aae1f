import { resolve } from 'node:path';
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
  JobPatch,
  JobRepository,
  RequestFilter,
  RequestPageResult,
  RequestPatch,
  RequestRepository,
  SessionRepository,
  StateStore,
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
import { notOpenError, openError } from './errors.js';
import { ChangeFeed, warnListenerError, type ListenerErrorHandler } from './feed.js';
import { isKeySafe } from './keys.js';
import { openLevel, sublevels, type LevelDb } from './layout.js';
import { MIGRATIONS, migrate, type Migration } from './migrations.js';
import { Reader } from './queries.js';
import { LevelSessionRepository } from './session-repository.js';
import { SessionState } from './session-state.js';
import { Writer } from './writer.js';

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
}

interface OpenState {
  db: LevelDb;
  writer: Writer;
  reader: Reader;
  clusterReader: ClusterReader;
  authReader: AuthReader;
  sessions: SessionState;
  version: number;
}

/** The default StateStore: LevelDB in a local directory, one writer process. */
export class LevelStateStore implements StateStore {
  readonly kind = 'level';
  readonly capabilities: StoreCapabilities = { multiReplica: false, durable: true };
  readonly requests: RequestRepository;
  readonly clusters: ClusterRepository;
  readonly jobs: JobRepository;
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  readonly sessions: SessionRepository;
  readonly workspaces: WorkspaceRepository;
  readonly audit: AuditRepository;
  readonly path: string;
  readonly #sync: boolean;
  readonly #migrations: readonly Migration[];
  /** Outlives close() and open(): subscriptions belong to the store object. */
  readonly #feed: ChangeFeed;
  #open: OpenState | undefined;
  #opening: Promise<void> | undefined;

  constructor(options: LevelStateStoreOptions) {
    this.path = resolve(options.path);
    this.#sync = options.sync ?? false;
    this.#migrations = options.migrations ?? MIGRATIONS;
    this.#feed = new ChangeFeed(options.onListenerError ?? warnListenerError);
    const open = (): OpenState => this.#require();
    this.requests = new LevelRequestRepository(open);
    this.clusters = new LevelClusterRepository(open);
    this.jobs = new LevelJobRepository(open);
    this.users = new LevelUserRepository(open);
    this.tokens = new LevelTokenRepository(open);
    this.sessions = new LevelSessionRepository(open);
    this.workspaces = new LevelWorkspaceRepository(open);
    this.audit = new LevelAuditRepository(open);
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
    await this.#opening?.catch(() => {});
    const open = this.#open;
    if (open === undefined) return;
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
      const [requests, clusters, auth, sessions] = await Promise.all([ActiveState.load(subs), ClusterState.load(subs), AuthState.load(subs), SessionState.load(subs)]);
      const writer = new Writer(db, subs, { requests, clusters, auth, sessions, feed: this.#feed }, { path: this.path, sync: this.#sync });
      this.#open = {
        db,
        writer,
        reader: new Reader(subs, requests),
        clusterReader: new ClusterReader(subs, clusters),
        authReader: new AuthReader(subs, auth),
        sessions,
        version,
      };
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
  }

  #require(): OpenState {
    if (this.#open === undefined) throw notOpenError(this.path);
    return this.#open;
  }
}

/** Writes go to the single writer; reads go straight to the cache and the database. */
class LevelRequestRepository implements RequestRepository {
  constructor(private readonly open: () => OpenState) {}

  async create(record: RequestRecord): Promise<CreateResult> {
    return this.open().writer.create(record);
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    return this.open().reader.get(id);
  }

  async transition(id: string, from: readonly RequestStatus[], patch: RequestPatch): Promise<RequestRecord | undefined> {
    return this.open().writer.transition(id, from, patch);
  }

  async list(filter: RequestFilter): Promise<RequestPageResult> {
    return this.open().reader.list(filter);
  }

  async listByStatus(status: RequestStatus): Promise<RequestRecord[]> {
    return this.open().reader.listByStatus(status);
  }

  async appendLog(id: string, text: string, at: number): Promise<number> {
    return this.open().writer.appendLog(id, text, at);
  }

  async readLog(id: string, afterSeq?: number): Promise<LogChunk[]> {
    return this.open().reader.readLog(id, afterSeq);
  }

  async prune(before: number): Promise<number> {
    return this.open().writer.prune(before);
  }
}

/** Writes go to the single writer; reads come from the cluster cache and the database. */
class LevelClusterRepository implements ClusterRepository {
  constructor(private readonly open: () => OpenState) {}

  async create(record: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }> {
    const open = this.open();
    if (typeof record.name !== 'string' || record.name.length === 0 || !isKeySafe(record.name)) {
      throw new SkyError('VALIDATION_FAILED', `cluster name ${JSON.stringify(record.name)} cannot be stored: it must be a non-empty string without NUL`, {
        details: { field: 'name' },
      });
    }
    return open.writer.createCluster(record);
  }

  async get(name: string): Promise<ClusterRecord | undefined> {
    return this.open().clusterReader.getCluster(name);
  }

  async list(filter: { owner?: string } = {}): Promise<ClusterRecord[]> {
    return this.open().clusterReader.listClusters(filter.owner);
  }

  async update(name: string, expectedVersion: number, patch: ClusterPatch): Promise<ClusterRecord | undefined> {
    return this.open().writer.updateCluster(name, expectedVersion, patch);
  }

  async delete(name: string, expectedVersion?: number): Promise<boolean> {
    return this.open().writer.deleteCluster(name, expectedVersion);
  }
}

class LevelJobRepository implements JobRepository {
  constructor(private readonly open: () => OpenState) {}

  async create(job: Omit<JobRecord, 'id'>, spec: JobSpec): Promise<JobRecord> {
    return this.open().writer.createJob(job, spec);
  }

  async get(cluster: string, id: number): Promise<JobRecord | undefined> {
    const open = this.open();
    return isKeySafe(cluster) ? open.clusterReader.getJob(cluster, id) : undefined;
  }

  async getSpec(cluster: string, id: number): Promise<JobSpec | undefined> {
    const open = this.open();
    return isKeySafe(cluster) ? open.clusterReader.getSpec(cluster, id) : undefined;
  }

  async list(cluster: string, filter: { status?: readonly JobStatus[] } = {}): Promise<JobRecord[]> {
    const open = this.open();
    return isKeySafe(cluster) ? open.clusterReader.listJobs(cluster, filter.status) : [];
  }

  async listActive(): Promise<JobRecord[]> {
    return this.open().clusterReader.listActive();
  }

  async transition(cluster: string, id: number, from: readonly JobStatus[], patch: JobPatch): Promise<JobRecord | undefined> {
    const open = this.open();
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
  constructor(private readonly open: () => OpenState) {}

  async create(record: UserRecord): Promise<{ record: UserRecord; created: boolean }> {
    const open = this.open();
    keySafe(record.id, 'user id', 'id');
    return open.writer.createUser(record);
  }

  async get(id: string): Promise<UserRecord | undefined> {
    return this.open().authReader.getUser(id);
  }

  async getByName(name: string): Promise<UserRecord | undefined> {
    return this.open().authReader.getUserByName(name);
  }

  async list(): Promise<UserRecord[]> {
    return this.open().authReader.listUsers();
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | undefined> {
    return this.open().writer.updateUser(id, patch);
  }

  async delete(id: string): Promise<boolean> {
    return this.open().writer.deleteUser(id);
  }
}

class LevelTokenRepository implements TokenRepository {
  constructor(private readonly open: () => OpenState) {}

  async create(record: TokenRecord): Promise<TokenRecord> {
    const open = this.open();
    keySafe(record.id, 'token id', 'id');
    if (typeof record.hash !== 'string' || record.hash.length === 0) {
      // Never echo the hash: it is a secret's digest.
      throw new SkyError('VALIDATION_FAILED', 'a token hash must be a non-empty string', { details: { field: 'hash' } });
    }
    return open.writer.createToken(record);
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    return this.open().authReader.getToken(id);
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    return this.open().authReader.findTokenByHash(hash);
  }

  async listByUser(userId: string): Promise<TokenRecord[]> {
    return this.open().authReader.listTokens(userId);
  }

  async revoke(id: string, at: number): Promise<TokenRecord | undefined> {
    return this.open().writer.changeToken('token-revoke', id, at);
  }

  async touch(id: string, at: number): Promise<TokenRecord | undefined> {
    return this.open().writer.changeToken('token-touch', id, at);
  }

  async delete(id: string): Promise<boolean> {
    return this.open().writer.deleteToken(id);
  }
}

class LevelWorkspaceRepository implements WorkspaceRepository {
  constructor(private readonly open: () => OpenState) {}

  async create(record: WorkspaceRecord): Promise<{ record: WorkspaceRecord; created: boolean }> {
    const open = this.open();
    keySafe(record.name, 'workspace name', 'name');
    return open.writer.createWorkspace(record);
  }

  async get(name: string): Promise<WorkspaceRecord | undefined> {
    return this.open().authReader.getWorkspace(name);
  }

  async list(): Promise<WorkspaceRecord[]> {
    return this.open().authReader.listWorkspaces();
  }

  async update(name: string, patch: WorkspacePatch): Promise<WorkspaceRecord | undefined> {
    return this.open().writer.updateWorkspace(name, patch);
  }

  async delete(name: string): Promise<boolean> {
    return this.open().writer.deleteWorkspace(name);
  }
}

class LevelAuditRepository implements AuditRepository {
  constructor(private readonly open: () => OpenState) {}

  async append(record: AuditRecord): Promise<void> {
    const open = this.open();
    keySafe(record.id, 'audit entry id', 'id');
    keySafe(record.user, 'audit entry user', 'user');
    return open.writer.appendAudit(record);
  }

  async list(filter: AuditFilter): Promise<AuditPageResult> {
    return this.open().authReader.listAudit(filter);
  }

  async prune(before: number): Promise<number> {
    return this.open().writer.pruneAudit(before);
  }
}
