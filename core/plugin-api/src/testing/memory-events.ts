import { SkyError } from '@sky/protocol';
import type { RequestRecord } from '@sky/protocol';
import {
  MAX_EVENT_PAGE,
  type EventRepository,
  type FeedBounds,
  type FeedChange,
  type FeedListener,
  type FeedPosition,
  type StoreChange,
  type StoreChangeListener,
  type StoredEvent,
} from '../store.js';
import { copyChange, copyJson } from '../records.js';
import { ChangeFeed, type ListenerErrorHandler } from '../node/change-feed.js';

export { warnListenerError, type ListenerErrorHandler } from '../node/change-feed.js';

/** Check a page size of EventRepository.read. */
export function checkEventLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
    throw new SkyError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${MAX_EVENT_PAGE}, got ${limit}`, { details: { field: 'limit' } });
  }
}

interface Entry {
  seq: number;
  at: number;
  /** Requests keep only their id (like a durable store, which does not store the body twice). */
  change: StoreChange | { kind: 'request'; id: string };
}

/**
 * The in-memory store's change feed: numbers every change, keeps it for read(), and delivers
 * it to subscribers (cluster, job and managed job changes to `subscribe`, everything to
 * `events.subscribe`).
 */
export class MemoryFeed implements EventRepository {
  readonly #feed: ChangeFeed;
  readonly #entries: Entry[] = [];
  #last = 0;
  #lastAt = 0;

  constructor(
    private readonly assertOpen: () => void,
    onListenerError: ListenerErrorHandler,
    private readonly request: (id: string) => RequestRecord | undefined,
  ) {
    this.#feed = new ChangeFeed(onListenerError);
  }

  /** The feed's position and retained entries (state export); a copy. */
  raw(): { last: number; lastAt: number; entries: Array<{ seq: number; at: number; change: StoreChange | { kind: 'request'; id: string } }> } {
    return { last: this.#last, lastAt: this.#lastAt, entries: this.#entries.map((e) => ({ seq: e.seq, at: e.at, change: copyJson(e.change) })) };
  }

  /** Whether anything was ever put on the feed. */
  get used(): boolean {
    return this.#last > 0;
  }

  /** Set the feed's position (state import, before any entry). */
  setPosition(last: number, lastAt: number): void {
    this.#last = last;
    this.#lastAt = lastAt;
  }

  /** Keep an entry as it is (state import; ascending seq, none above the position). */
  putRaw(seq: number, at: number, change: StoreChange | { kind: 'request'; id: string }): void {
    this.#entries.push({ seq, at, change: copyJson(change) });
  }

  subscribeStore(listener: StoreChangeListener): () => void {
    return this.#feed.subscribe(listener);
  }

  subscribe(listener: FeedListener): () => void {
    return this.#feed.subscribeAll(listener);
  }

  emit(change: FeedChange): void {
    this.#last += 1;
    this.#lastAt = Math.max(this.#lastAt, Date.now());
    const position: FeedPosition = { seq: this.#last, at: this.#lastAt };
    this.#entries.push({ ...position, change: change.kind === 'request' ? { kind: 'request', id: change.id } : copyChange(change) });
    this.#feed.publish([change], [position]);
  }

  async read(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    this.assertOpen();
    checkEventLimit(limit);
    const out: StoredEvent[] = [];
    for (const entry of this.#entries) {
      if (entry.seq <= afterSeq) continue;
      if (out.length >= limit) break;
      if (entry.change.kind === 'request') {
        const record = this.request(entry.change.id);
        out.push({ seq: entry.seq, at: entry.at, change: { kind: 'request', id: entry.change.id, record: record === undefined ? undefined : copyJson(record) } });
      } else out.push({ seq: entry.seq, at: entry.at, change: copyChange(entry.change) });
    }
    return out;
  }

  async bounds(): Promise<FeedBounds> {
    this.assertOpen();
    return { first: this.#entries[0]?.seq, last: this.#last };
  }

  async prune(before: number): Promise<number> {
    this.assertOpen();
    let n = 0;
    while (n < this.#entries.length && this.#entries[n]!.at < before) n += 1;
    this.#entries.splice(0, n);
    return n;
  }
}
