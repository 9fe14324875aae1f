import pg from 'pg';
import type { FeedFollower, FollowOptions } from '@sky/plugin-api';
import { MAX_EVENT_PAGE } from '@sky/plugin-api';
import { clientConfig, type Db } from './db.js';
import { operationError } from './errors.js';
import { readEvents } from './events.js';

export type { FeedFollower, FollowOptions };

/**
 * Follows the feed every replica writes: a dedicated connection (not from the pool) LISTENs
 * on the schema's channel; each notification, and each (re)connect, triggers a catch-up
 * read by seq from the last delivered one. Seqs are handed out in commit order, so reading
 * "after the last seq seen" neither misses nor repeats a change across reconnects.
 */
export class PgFeedFollower implements FeedFollower {
  #lastSeq: number;
  #client: pg.Client | undefined;
  #closed = false;
  #catchingUp: Promise<void> | undefined;
  #again = false;
  #delay: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #waiters = new Set<{ seq: number; resolve: () => void }>();

  constructor(
    private readonly db: Db,
    private readonly options: FollowOptions,
  ) {
    this.#lastSeq = options.afterSeq;
    this.#delay = options.reconnectMs ?? 200;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Connect and LISTEN; resolves once listening (the first catch-up is under way). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(clientConfig(this.db.settings, 'sky-feed'));
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('the LISTEN connection ended')));
    client.on('notification', () => this.#catchUp());
    this.#client = client;
    await client.connect();
    await client.query(`LISTEN "${this.db.channel}"`);
    this.#delay = this.options.reconnectMs ?? 200;
    this.#catchUp();
  }

  #lost(client: pg.Client, err: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.#report(err);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, 5000);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().catch((err: unknown) => {
        const client = this.#client;
        this.#client = undefined;
        client?.removeAllListeners('end');
        client?.end().catch(() => undefined);
        this.#report(err);
        this.#scheduleReconnect();
      });
    }, delay);
  }

  #report(err: unknown): void {
    if (this.#closed) return;
    const error = operationError('follow the change feed', err);
    try {
      this.options.onError?.(error);
    } catch {
      // A failing reporter must not stop the follower.
    }
  }

  /** Read and deliver everything after the last seq; one read at a time, again if asked meanwhile. */
  #catchUp(): void {
    if (this.#closed) return;
    if (this.#catchingUp !== undefined) {
      this.#again = true;
      return;
    }
    this.#catchingUp = this.#drain()
      .catch((err: unknown) => {
        this.#report(err);
        // The next notification or reconnect retries; also retry soon in case none comes.
        if (!this.#closed) setTimeout(() => this.#catchUp(), 500).unref();
      })
      .finally(() => {
        this.#catchingUp = undefined;
        if (this.#again) {
          this.#again = false;
          this.#catchUp();
        }
      });
  }

  async #drain(): Promise<void> {
    for (;;) {
      const page = await readEvents(this.db, this.#lastSeq, MAX_EVENT_PAGE);
      for (const event of page) {
        if (this.#closed) return;
        if (event.seq <= this.#lastSeq) continue;
        this.#lastSeq = event.seq;
        try {
          this.options.onEvent(event);
        } catch (err) {
          this.#report(err);
        }
      }
      for (const waiter of [...this.#waiters]) {
        if (waiter.seq <= this.#lastSeq) {
          this.#waiters.delete(waiter);
          waiter.resolve();
        }
      }
      if (page.length < MAX_EVENT_PAGE) return;
    }
  }

  waitFor(seq: number, timeoutMs: number): Promise<void> {
    if (seq <= this.#lastSeq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`the feed follower did not reach seq ${seq} within ${timeoutMs} ms (at ${this.#lastSeq})`));
      }, timeoutMs);
      this.#waiters.add(waiter);
      this.#catchUp();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners('end');
    await client?.end().catch(() => undefined);
    await this.#catchingUp;
  }
}
