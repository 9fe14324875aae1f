import { copyChange } from '../records.js';
import type { FeedChange, FeedListener, FeedPosition, StoreChangeListener } from '../store.js';

/** Called when a change-feed listener throws. */
export type ListenerErrorHandler = (error: unknown, change: FeedChange) => void;

/** The default: a process warning, so a broken listener is visible but harmless. */
export function warnListenerError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`a state store change listener threw: ${text}`, { code: 'SKY_STORE_LISTENER' });
}

/**
 * For stores (plugin API 1.6; LevelDB and PostgreSQL use it). The change feed: the writer publishes each committed group's changes here, in order,
 * before it answers the group's callers. Every listener gets its own copy of each record,
 * and one that throws is reported and skipped, never allowed to fail the writer. Store
 * listeners get cluster, job and managed job changes; feed listeners get requests too.
 */
export class ChangeFeed {
  readonly #store = new Set<StoreChangeListener>();
  readonly #all = new Set<FeedListener>();

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  subscribe(listener: StoreChangeListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry: StoreChangeListener = (change, position) => listener(change, position);
    this.#store.add(entry);
    return () => {
      this.#store.delete(entry);
    };
  }

  subscribeAll(listener: FeedListener): () => void {
    const entry: FeedListener = (change, position) => listener(change, position);
    this.#all.add(entry);
    return () => {
      this.#all.delete(entry);
    };
  }

  /** `positions[i]` is where `changes[i]` sits in the persisted feed. */
  publish(changes: readonly FeedChange[], positions: readonly FeedPosition[]): void {
    if (this.#store.size === 0 && this.#all.size === 0) return;
    changes.forEach((change, i) => {
      const position = positions[i]!;
      if (change.kind !== 'request') this.#deliver(this.#store, change, position);
      this.#deliver(this.#all, change, position);
    });
  }

  #deliver<C extends FeedChange>(listeners: Set<(change: C, position: FeedPosition) => void>, change: C, position: FeedPosition): void {
    if (listeners.size === 0) return;
    for (const listener of [...listeners]) {
      // Unsubscribed by an earlier listener of this change: deliver nothing more.
      if (!listeners.has(listener)) continue;
      try {
        listener(copyChange(change), { seq: position.seq, at: position.at });
      } catch (err) {
        try {
          this.onListenerError(err, copyChange(change));
        } catch {
          // The reporter failing must not fail the writer either.
        }
      }
    }
  }
}
