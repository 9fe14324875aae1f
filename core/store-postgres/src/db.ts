import pg from 'pg';
import type { FeedChange, FeedPosition } from '@sky/plugin-api';
import { isConnectionFailure, operationError } from './errors.js';
import type { HealthTracker } from './health.js';
import { Mutex } from './mutex.js';

/** How the pool connects; see PostgresStateStoreOptions. */
export interface PoolSettings {
  url: string;
  schema: string;
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

const INT8_OID = 20;

/** int8 (bigint) as a JS number: every bigint the store keeps (seq, times, ids) is far below 2^53. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};

/** Client settings shared by the pool and the feed's LISTEN connection. */
export function clientConfig(settings: PoolSettings, role = 'sky'): pg.ClientConfig {
  return {
    connectionString: settings.url,
    options: `-c search_path=${settings.schema}`,
    statement_timeout: settings.statementTimeoutMs,
    idle_in_transaction_session_timeout: Math.max(settings.statementTimeoutMs * 2, 60_000),
    connectionTimeoutMillis: settings.connectTimeoutMs,
    // Names the schema, so an operator (or a test) can tell replicas' connections apart.
    application_name: `${role} ${settings.schema}`.slice(0, 63),
    types,
  };
}

export function createPool(settings: PoolSettings, onIdleError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(settings), max: settings.poolMax, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', onIdleError);
  // Nor one checked out (the pool listens only while a client is idle): a connection the server
  // ends between two statements of a transaction fails that transaction's next statement, which
  // releases the client as broken; the event itself needs no more than a listener.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** One committed change with where it sits in the feed. */
export interface PositionedChange {
  change: FeedChange;
  position: FeedPosition;
}

/** A transaction in progress: its client and the feed changes it will commit. */
export class Tx {
  readonly changes: FeedChange[] = [];

  constructor(readonly client: pg.PoolClient) {}

  async rows<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    return (await this.client.query<R>(text, values)).rows;
  }

  async one<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R | undefined> {
    return (await this.client.query<R>(text, values)).rows[0];
  }

  emit(change: FeedChange): void {
    this.changes.push(change);
  }
}

/**
 * Takes the seqs of `count` changes and writes them to the events table. The feed_state row
 * lock it takes is held until commit, so seqs are handed out in commit order, without gaps.
 */
const FEED_WRITE = `
WITH s AS (
  UPDATE feed_state SET last_seq = last_seq + $1, last_at = GREATEST(last_at, $2) WHERE id = 1 RETURNING last_seq, last_at
), ins AS (
  INSERT INTO events (seq, at, change)
  SELECT s.last_seq - $1 + c.ord, s.last_at, c.change FROM s, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS c(change, ord)
)
SELECT s.last_seq AS last_seq, s.last_at AS last_at, pg_notify($4, s.last_seq::text) FROM s`;

/** What the events table keeps of a change: a request's id only (its body is in requests). */
function storedChange(change: FeedChange): unknown {
  return change.kind === 'request' ? { kind: 'request', id: change.id } : change;
}

/** The pool, with transactions that write their feed changes and deliver them once committed. */
export class Db {
  readonly #ordered = new Mutex();

  constructor(
    readonly pool: pg.Pool,
    readonly settings: PoolSettings,
    readonly channel: string,
    private readonly health: HealthTracker,
    private readonly deliver: (changes: PositionedChange[]) => void,
  ) {}

  /** One statement outside a transaction. */
  async rows<R extends pg.QueryResultRow>(action: string, text: string, values: unknown[] = [], translate?: (err: unknown) => Error | undefined): Promise<R[]> {
    try {
      const result = await this.pool.query<R>(text, values);
      this.health.succeeded();
      return result.rows;
    } catch (err) {
      throw translate?.(err) ?? this.#failure(action, err);
    }
  }

  /**
   * Run `fn` in one transaction (READ COMMITTED; `fn` locks what it guards) that may put
   * changes on the feed. A process's writes run one at a time, in call order, so that the
   * feed shows a replica's concurrent writes in the order they were made (replicas write
   * concurrently with each other; row locks and the feed_state row order them). The
   * changes get their seqs, are written to the events table and notified in the same
   * transaction, and are delivered to this process's listeners after the commit, in seq
   * order, before the returned promise resolves.
   */
  async feedTx<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#ordered.run(() => this.#run(action, fn, true));
  }

  /** Run `fn` in one transaction that puts nothing on the feed (in call order with every other write of this process). */
  async tx<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#ordered.run(() => this.#run(action, fn, false));
  }

  /**
   * One writing statement, in call order with every other write of this process (so that,
   * as with the other stores, a write issued after another in the same turn sees its effect).
   */
  async writeRows<R extends pg.QueryResultRow>(action: string, text: string, values: unknown[] = [], translate?: (err: unknown) => Error | undefined): Promise<R[]> {
    return this.#ordered.run(() => this.rows<R>(action, text, values, translate));
  }

  async #run<T>(action: string, fn: (tx: Tx) => Promise<T>, feed: boolean): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.#failure(action, err);
    }
    let released = false;
    const release = (broken?: Error): void => {
      if (released) return;
      released = true;
      client.release(broken);
    };
    try {
      await client.query('BEGIN');
      const tx = new Tx(client);
      const result = await fn(tx);
      if (tx.changes.length > 0 && !feed) throw new Error(`${action}: a transaction that is not a feed transaction emitted changes`);
      if (tx.changes.length === 0) {
        await client.query('COMMIT');
        release();
      } else {
        const delivered = await this.#commitWithFeed(tx);
        // The connection goes back before delivery, so a listener's reads find one free.
        release();
        this.deliver(delivered);
      }
      this.health.succeeded();
      return result;
    } catch (err) {
      if (isConnectionFailure(err)) release(err instanceof Error ? err : new Error(String(err)));
      else {
        await client.query('ROLLBACK').then(
          () => release(),
          (rollbackErr: unknown) => release(rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr))),
        );
      }
      throw this.#failure(action, err);
    } finally {
      release();
    }
  }

  async #commitWithFeed(tx: Tx): Promise<PositionedChange[]> {
    const count = tx.changes.length;
    const row = await tx.one<{ last_seq: number; last_at: number }>(FEED_WRITE, [count, Date.now(), JSON.stringify(tx.changes.map(storedChange)), this.channel]);
    if (row === undefined) throw new Error('the feed_state row is missing');
    await tx.client.query('COMMIT');
    const first = row.last_seq - count + 1;
    return tx.changes.map((change, i) => ({ change, position: { seq: first + i, at: row.last_at } }));
  }

  #failure(action: string, err: unknown): Error {
    const error = operationError(action, err);
    if (isConnectionFailure(err)) this.health.failed(error);
    return error;
  }
}
