import { resolve } from 'node:path';
import type { LogChunk, RequestRecord, RequestStatus } from '@sky/protocol';
import type {
  CreateResult,
  RequestFilter,
  RequestPageResult,
  RequestPatch,
  RequestRepository,
  StateStore,
  StoreCapabilities,
} from '@sky/plugin-api';
import { ActiveState } from './active-state.js';
import { notOpenError, openError } from './errors.js';
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
}

interface OpenState {
  db: LevelDb;
  writer: Writer;
  reader: Reader;
  version: number;
}

/** The default StateStore: LevelDB in a local directory, one writer process. */
export class LevelStateStore implements StateStore {
  readonly kind = 'level';
  readonly capabilities: StoreCapabilities = { multiReplica: false, durable: true };
  readonly requests: RequestRepository;
  readonly path: string;
  readonly #sync: boolean;
  readonly #migrations: readonly Migration[];
  #open: OpenState | undefined;
  #opening: Promise<void> | undefined;

  constructor(options: LevelStateStoreOptions) {
    this.path = resolve(options.path);
    this.#sync = options.sync ?? false;
    this.#migrations = options.migrations ?? MIGRATIONS;
    this.requests = new LevelRequestRepository(() => this.#require());
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
      const state = await ActiveState.load(subs);
      const writer = new Writer(db, subs, state, { path: this.path, sync: this.#sync });
      this.#open = { db, writer, reader: new Reader(subs, state), version };
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
