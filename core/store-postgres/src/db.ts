import pg from 'pg';
import { isConnectionFailure, operationError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import type { HealthTracker } from './health.js';
import type { PositionedChange, Tx } from './tx.js';

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

export { Tx, type PositionedChange } from './tx.js';

/** The pool, with transactions that write their feed changes and deliver them once committed. */
export class Db {
  readonly #writes: GroupCommit;

  constructor(
    readonly pool: pg.Pool,
    readonly settings: PoolSettings,
    readonly channel: string,
    private readonly health: HealthTracker,
    deliver: (changes: PositionedChange[]) => void,
    onCommit?: (writes: number) => void,
  ) {
    this.#writes = new GroupCommit({
      connect: () => pool.connect(),
      channel,
      deliver,
      failure: (action, err) => this.#failure(action, err),
      succeeded: () => health.succeeded(),
      onCommit,
    });
  }

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
   * Run `fn` as one write (READ COMMITTED; `fn` locks what it guards) that may put changes on
   * the feed. A process's writes run one at a time, in call order, so that each sees the
   * effect of those called before it and the feed shows them in that order (replicas write
   * concurrently with each other; row locks and the feed_state row order them). Writes called
   * while a transaction is in flight share the next one (see GroupCommit); `fn` failing rolls
   * back its own write only. The changes get their seqs, are written to the events table and
   * notified in the same transaction, and are delivered to this process's listeners after the
   * commit, in seq order, before the returned promise resolves.
   */
  async feedTx<T>(action: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#writes.enqueue(action, fn, { feed: true });
  }

  /**
   * Run `fn` as one write that puts nothing on the feed (in call order with every other write
   * of this process). `alone`: in a transaction of its own, for a long write others should not
   * wait behind within one commit.
   */
  async tx<T>(action: string, fn: (tx: Tx) => Promise<T>, options: { alone?: boolean } = {}): Promise<T> {
    return this.#writes.enqueue(action, fn, { feed: false, alone: options.alone });
  }

  /**
   * One writing statement, in call order with every other write of this process (so that,
   * as with the other stores, a write issued after another in the same turn sees its effect).
   */
  async writeRows<R extends pg.QueryResultRow>(action: string, text: string, values: unknown[] = [], translate?: (err: unknown) => Error | undefined): Promise<R[]> {
    return this.#writes.enqueue(action, (tx) => tx.rows<R>(text, values), { feed: false, translate });
  }

  #failure(action: string, err: unknown): Error {
    const error = operationError(action, err);
    if (isConnectionFailure(err)) this.health.failed(error);
    return error;
  }
}
