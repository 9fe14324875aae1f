import { resolve } from 'node:path';
import { SkyError } from '@sky/protocol';
import type { ClusterRecord, JobRecord, JobSpec, JobStatus, LogChunk, RequestRecord, RequestStatus } from '@sky/protocol';
import type {
  ClusterPatch,
  ClusterRepository,
  CreateResult,
  JobPatch,
  JobRepository,
  RequestFilter,
  RequestPageResult,
  RequestPatch,
  RequestRepository,
  StateStore,
  StoreCapabilities,
  StoreChangeListener,
} from '@sky/plugin-api';
import { ActiveState } from './active-state.js';
import { ClusterReader } from './cluster-queries.js';
import { ClusterState } from './cluster-state.js';
import { notOpenError, openError } from './errors.js';
import { ChangeFeed, warnListenerError, type ListenerErrorHandler } from './feed.js';
import { isKeySafe } from './keys.js';
import { openLevel, sublevels, type LevelDb } from './layout.js';
import { MIGRATIONS, migrate, type Migration } from './migrations.js';
import { Reader } from './queries.js';
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
  version: number;
}

/** The default StateStore: LevelDB in a local directory, one writer process. */
export class LevelStateStore implements StateStore {
  readonly kind = 'level';
  readonly capabilities: StoreCapabilities = { multiReplica: false, durable: true };
  readonly requests: RequestRepository;
  readonly clusters: ClusterRepository;
  readonly jobs: JobRepository;
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
      const [requests, clusters] = await Promise.all([ActiveState.load(subs), ClusterState.load(subs)]);
      const writer = new Writer(db, subs, { requests, clusters, feed: this.#feed }, { path: this.path, sync: this.#sync });
      this.#open = { db, writer, reader: new Reader(subs, requests), clusterReader: new ClusterReader(subs, clusters), version };
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
