import type pg from 'pg';
import { SkyError } from '@sky/protocol';
import type {
  AuditRepository,
  ClusterRepository,
  EventRepository,
  JobRepository,
  ManagedJobRepository,
  ImportSummary,
  RequestRepository,
  ServiceRepository,
  SessionRepository,
  StateItem,
  StateStore,
  StateTransfer,
  StoreCapabilities,
  StoreChangeListener,
  TokenRepository,
  UserRepository,
  WorkspaceRepository,
} from '@sky/plugin-api';
import { PgAuditRepository } from './audit.js';
import { PgBlobStore } from './blobs.js';
import { PgDocumentRepository } from './documents.js';
import { PgClusterRepository } from './clusters.js';
import { Db, createPool, type PoolSettings } from './db.js';
import { notOpenError, openError, tooNewError } from './errors.js';
import { PgEventRepository } from './events.js';
import { PgFeedFollower, type FeedFollower, type FollowOptions } from './follower.js';
import { HealthTracker, type StoreHealthEvent } from './health.js';
import { PgJobRepository } from './jobs.js';
import { PgLeases, type Leases } from './leases.js';
import { ChangeFeed, warnListenerError, type ListenerErrorHandler } from '@sky/plugin-api';
import { PgManagedJobRepository } from './managed-jobs.js';
import { MIGRATIONS, runMigrations, type Migration } from './migrations.js';
import { PgRequestRepository } from './requests.js';
import { PgServiceRepository } from './services.js';
import { PgUsageRepository } from './usage.js';
import { PgSessionRepository } from './sessions.js';
import { checkSchemaName, parseDatabaseUrl, redactUrl } from './url.js';
import { PgTokenRepository, PgUserRepository } from './users.js';
import { PgWorkspaceRepository } from './workspaces.js';
import { exportPgState, importPgState } from './state-transfer.js';

export interface PostgresStateStoreOptions {
  /** postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE; never logged with its password. */
  url: string;
  /** The schema holding every table (created if missing); default `sky`. */
  schema?: string;
  /** Most connections the pool holds (default 10); the feed follower uses one more of its own. */
  poolMax?: number;
  /** Longest a statement may run (default 30 s). */
  statementTimeoutMs?: number;
  /** Longest a new connection may take (default 5 s). */
  connectTimeoutMs?: number;
  /** The schema ladder; defaults to the one this version ships. Tests inject their own. */
  migrations?: readonly Migration[];
  /** Called when a change-feed listener throws; by default a process warning is printed. */
  onListenerError?: ListenerErrorHandler;
  /** Told when the database stops answering, and when it answers again. */
  onHealth?: (event: StoreHealthEvent) => void;
  /** Told after each write transaction commits, with how many writes it carried (writes called meanwhile share one commit). */
  onWriteCommit?: (writes: number) => void;
}

export const DEFAULT_SCHEMA = 'sky';
export const DEFAULT_POOL_MAX = 10;

/**
 * The StateStore in PostgreSQL: every replica of the daemon may share one database (and
 * schema). Writes are transactions (those called while one is in flight share the next
 * commit); the change feed is a table written in the same transaction as each change, followed
 * across replicas with LISTEN/NOTIFY (see follow()).
 */
export class PostgresStateStore implements StateStore, StateTransfer {
  readonly kind = 'postgres';
  readonly capabilities: StoreCapabilities = { multiReplica: true, durable: true };
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
  readonly leases: Leases;
  readonly pluginDocuments: PgDocumentRepository;
  /** Plugin API 1.10: the usage ledger. */
  readonly usage: PgUsageRepository;
  /** Blobs and manifests every replica reaches (the daemon's uploads). */
  readonly blobs: PgBlobStore;
  readonly schema: string;
  readonly #settings: PoolSettings;
  readonly #migrations: readonly Migration[];
  readonly #listeners: ChangeFeed;
  readonly #health: HealthTracker;
  readonly #onWriteCommit: ((writes: number) => void) | undefined;
  readonly #followers = new Set<PgFeedFollower>();
  #db: Db | undefined;

  constructor(options: PostgresStateStoreOptions) {
    this.schema = options.schema ?? DEFAULT_SCHEMA;
    this.#settings = {
      url: options.url,
      schema: this.schema,
      poolMax: options.poolMax ?? DEFAULT_POOL_MAX,
      statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    };
    this.#migrations = options.migrations ?? MIGRATIONS;
    this.#listeners = new ChangeFeed(options.onListenerError ?? warnListenerError);
    this.#health = new HealthTracker(options.onHealth);
    this.#onWriteCommit = options.onWriteCommit;
    const db = (): Db => {
      if (this.#db === undefined) throw notOpenError(this.#settings.url);
      return this.#db;
    };
    this.requests = new PgRequestRepository(db);
    this.clusters = new PgClusterRepository(db);
    this.jobs = new PgJobRepository(db);
    this.managedJobs = new PgManagedJobRepository(db);
    this.services = new PgServiceRepository(db);
    this.users = new PgUserRepository(db);
    this.tokens = new PgTokenRepository(db);
    this.sessions = new PgSessionRepository(db);
    this.workspaces = new PgWorkspaceRepository(db);
    this.audit = new PgAuditRepository(db);
    this.events = new PgEventRepository(db, this.#listeners);
    this.leases = new PgLeases(db);
    this.pluginDocuments = new PgDocumentRepository(db);
    this.usage = new PgUsageRepository(db);
    this.blobs = new PgBlobStore(db);
  }

  /** The URL with its password hidden (for logs and `sky api info`). */
  get where(): string {
    return `${redactUrl(this.#settings.url)} (schema ${this.schema})`;
  }

  /**
   * Connect, create the schema if missing and run the migration ladder once (under an
   * advisory lock). Rejects with STATE_UNAVAILABLE (the reason named, the password hidden)
   * when the server is down, refuses the credentials or has no such database, and with
   * STATE_TOO_NEW when the schema is newer than this version knows.
   */
  async open(): Promise<void> {
    if (this.#db !== undefined) return;
    parseDatabaseUrl(this.#settings.url);
    checkSchemaName(this.schema);
    const pool = createPool(this.#settings, () => {
      // An idle connection was lost; the next query opens a new one (and reports any failure).
    });
    let client: pg.PoolClient | undefined;
    try {
      client = await pool.connect();
      const result = await runMigrations(client, this.schema, this.#migrations);
      if (result.kind === 'too-new') throw tooNewError(this.#settings.url, this.schema, result.found, result.known);
    } catch (err) {
      client?.release(true);
      client = undefined;
      await pool.end().catch(() => undefined);
      throw err instanceof SkyError ? err : openError(this.#settings.url, err);
    } finally {
      client?.release();
    }
    this.#db = new Db(
      pool,
      this.#settings,
      `sky_feed_${this.schema}`,
      this.#health,
      (changes) =>
        this.#listeners.publish(
          changes.map((c) => c.change),
          changes.map((c) => c.position),
        ),
      this.#onWriteCommit,
    );
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    const followers = [...this.#followers];
    this.#followers.clear();
    await Promise.all(followers.map((f) => f.close()));
    await db?.pool.end();
  }

  async schemaVersion(): Promise<number> {
    const db = this.#db;
    if (db === undefined) throw notOpenError(this.#settings.url);
    const rows = await db.rows<{ version: number | null }>('read the schema version', 'SELECT max(version) AS version FROM schema_migrations');
    return rows[0]?.version ?? 0;
  }

  subscribe(listener: StoreChangeListener): () => void {
    return this.#listeners.subscribe(listener);
  }

  /** The whole state from one REPEATABLE READ, READ ONLY transaction; writes go on meanwhile (StateTransfer). */
  async *exportState(): AsyncIterable<StateItem> {
    const db = this.#db;
    if (db === undefined) throw notOpenError(this.#settings.url);
    yield* exportPgState(db);
  }

  /** Load an export into this schema, which must be empty, in one transaction (StateTransfer). */
  async importState(items: AsyncIterable<StateItem>): Promise<ImportSummary> {
    const db = this.#db;
    if (db === undefined) throw notOpenError(this.#settings.url);
    return importPgState(db, `the PostgreSQL state store ${this.where}`, items);
  }

  /**
   * Follow the feed every replica writes (LISTEN/NOTIFY on a connection of its own, plus a
   * catch-up read by seq after each notification and each reconnect): every change after
   * `afterSeq`, once, in seq order. Closed with the store.
   */
  async follow(options: FollowOptions): Promise<FeedFollower> {
    const db = this.#db;
    if (db === undefined) throw notOpenError(this.#settings.url);
    const follower = new PgFeedFollower(db, options);
    this.#followers.add(follower);
    try {
      await follower.start();
    } catch (err) {
      this.#followers.delete(follower);
      await follower.close();
      throw err;
    }
    return {
      get lastSeq() {
        return follower.lastSeq;
      },
      waitFor: (seq, timeoutMs) => follower.waitFor(seq, timeoutMs),
      close: async () => {
        this.#followers.delete(follower);
        await follower.close();
      },
    };
  }
}
