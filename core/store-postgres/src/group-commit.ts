import type pg from 'pg';
import type { FeedChange } from '@sky/plugin-api';
import { isConnectionFailure } from './errors.js';
import { writeFeed } from './feed-write.js';
import { Tx, type PositionedChange } from './tx.js';

/** Most writes one transaction takes (each after the first in a savepoint of its own). */
export const MAX_WRITES_PER_COMMIT = 32;

/** Times a write that lost a deadlock to another replica's transaction is run again before it fails. */
const MAX_ATTEMPTS = 5;

/** SQLSTATEs after which running the same write again can succeed: deadlock_detected, serialization_failure. */
const TRANSIENT_STATES = new Set(['40P01', '40001']);

function isTransient(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && TRANSIENT_STATES.has(code);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export interface WriteOptions {
  /** The write may put changes on the feed. */
  feed: boolean;
  /** The write runs in a transaction of its own (a long one, such as an import, that others should not wait on). */
  alone?: boolean;
  /** Turns the write's own error into the one its caller gets (undefined: the store's usual error). */
  translate?: (err: unknown) => Error | undefined;
}

interface Write extends WriteOptions {
  readonly action: string;
  readonly run: (tx: Tx) => Promise<unknown>;
  attempts: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export interface GroupCommitHooks {
  /** A connection for one transaction (it is released after the commit). */
  connect(): Promise<pg.PoolClient>;
  /** The NOTIFY channel of the feed. */
  readonly channel: string;
  /** The committed changes, in seq order (called before any write of the commit settles). */
  deliver(changes: PositionedChange[]): void;
  /** The error a caller gets for `err` while doing `action` (also tells the health tracker). */
  failure(action: string, err: unknown): Error;
  /** A transaction committed: the database answers. */
  succeeded(): void;
  /** How many writes one transaction carried (for metrics and tests). */
  onCommit?(writes: number): void;
}

/**
 * A process's writes, in call order, grouped into transactions (group commit). While one
 * transaction is in flight, the writes called meanwhile queue; the next transaction takes
 * them all (up to MAX_WRITES_PER_COMMIT) and runs them one after another, so a write sees the
 * effect of every write called before it, as if each ran alone. Each write after the first
 * runs inside a savepoint of its own: one that fails is rolled back alone and its caller gets
 * its error, while the others commit. The feed changes of all of them take their seqs in one
 * statement just before the one COMMIT (one counter update, one NOTIFY, one WAL flush).
 */
export class GroupCommit {
  readonly #queue: Write[] = [];
  #draining = false;

  constructor(private readonly hooks: GroupCommitHooks) {}

  enqueue<T>(action: string, run: (tx: Tx) => Promise<T>, options: WriteOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ ...options, action, run, attempts: 0, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) await this.#commitNext();
    } finally {
      this.#draining = false;
    }
  }

  /** One transaction of the writes at the head of the queue; settles each of them (never throws). */
  async #commitNext(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.hooks.connect();
    } catch (err) {
      // No connection: every write waiting now fails, as each would have alone.
      for (const write of this.#queue.splice(0)) write.reject(this.hooks.failure(write.action, err));
      return;
    }
    // Taken once the connection is there, so the writes called while it was coming go along.
    const writes = this.#take();
    const batch = new Batch(client);
    let broken: Error | undefined;
    let failed = false;
    let failure: unknown;
    let delivered: PositionedChange[] = [];
    try {
      const again = await batch.run(writes);
      // A deadlock victim and the writes after it go first in the next transaction, in order.
      this.#queue.unshift(...again);
      delivered = await batch.commit(this.hooks.channel);
    } catch (err) {
      failed = true;
      failure = err;
      broken = await batch.abandon(err);
    }
    // The connection goes back before delivery, so a listener's reads find one free.
    client.release(broken);
    if (!failed) {
      this.hooks.succeeded();
      if (batch.kept.length > 0) this.hooks.onCommit?.(batch.kept.length);
      if (delivered.length > 0) this.hooks.deliver(delivered);
    }
    for (const outcome of batch.outcomes()) {
      const { write } = outcome;
      if (outcome.ok && !failed) write.resolve(outcome.value);
      else {
        const err = outcome.ok ? failure : outcome.error;
        write.reject(write.translate?.(err) ?? this.hooks.failure(write.action, err));
      }
    }
    // Writes the failed transaction never reached fail with it.
    for (const write of batch.unreached) write.reject(this.hooks.failure(write.action, failure));
  }

  /** The writes of the next transaction: a lone write by itself, else up to the next lone one. */
  #take(): Write[] {
    const first = this.#queue[0];
    if (first === undefined || first.alone === true) return this.#queue.splice(0, 1);
    let n = 1;
    while (n < this.#queue.length && n < MAX_WRITES_PER_COMMIT && this.#queue[n]?.alone !== true) n++;
    return this.#queue.splice(0, n);
  }
}

interface Kept {
  write: Write;
  value: unknown;
  changes: FeedChange[];
}

type Outcome = { write: Write; ok: true; value: unknown } | { write: Write; ok: false; error: unknown };

/** One transaction on one connection, carrying several writes. */
class Batch {
  /** The writes that ran to the end, whose effects the COMMIT makes durable. */
  readonly kept: Kept[] = [];
  /** Writes not run because the transaction failed before reaching them. */
  unreached: Write[] = [];
  readonly #ran: Outcome[] = [];
  #open = false;

  constructor(private readonly client: pg.PoolClient) {}

  /** Run the writes in order; returns those to run again in the next transaction (a deadlock victim and the rest). */
  async run(writes: Write[]): Promise<Write[]> {
    for (let i = 0; i < writes.length; i++) {
      const write = writes[i]!;
      this.unreached = writes.slice(i);
      const outcome = await this.#runOne(write, i);
      if (outcome === 'again') {
        this.unreached = [];
        return writes.slice(i);
      }
    }
    this.unreached = [];
    return [];
  }

  async #runOne(write: Write, index: number): Promise<'done' | 'again'> {
    if (!this.#open) {
      await this.client.query('BEGIN');
      this.#open = true;
    }
    // The first write needs no savepoint: if it fails, the whole (so far empty) transaction goes.
    const savepoint = this.kept.length > 0 ? `w${index}` : undefined;
    if (savepoint !== undefined) await this.client.query(`SAVEPOINT ${savepoint}`);
    const tx = new Tx(this.client);
    try {
      const value = await write.run(tx);
      if (tx.changes.length > 0 && !write.feed) throw new Error(`${write.action}: a transaction that is not a feed transaction emitted changes`);
      this.kept.push({ write, value, changes: tx.changes });
      this.#ran.push({ write, ok: true, value });
      return 'done';
    } catch (err) {
      if (isConnectionFailure(err)) throw err;
      if (savepoint !== undefined) await this.client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
      else {
        await this.client.query('ROLLBACK');
        this.#open = false;
      }
      if (isTransient(err) && write.attempts + 1 < MAX_ATTEMPTS) {
        write.attempts += 1;
        return 'again';
      }
      this.#ran.push({ write, ok: false, error: err });
      return 'done';
    }
  }

  /** Put the kept writes' changes on the feed and commit; their positions, in seq order. */
  async commit(channel: string): Promise<PositionedChange[]> {
    if (!this.#open) return [];
    const changes = this.kept.flatMap((k) => k.changes);
    const delivered = changes.length > 0 ? await writeFeed(this.client, changes, channel) : [];
    this.#open = false;
    await this.client.query('COMMIT');
    return delivered;
  }

  /** After a failure: roll back what is open; the error to release the connection with when it is unusable. */
  async abandon(err: unknown): Promise<Error | undefined> {
    if (isConnectionFailure(err)) return asError(err);
    try {
      // Also right after a failed COMMIT (the server has ended the transaction: only a warning).
      await this.client.query('ROLLBACK');
      return undefined;
    } catch (rollbackErr) {
      return asError(rollbackErr);
    }
  }

  /** Every write that ran, in call order, with its value or its own error. */
  outcomes(): Outcome[] {
    return this.#ran;
  }
}
