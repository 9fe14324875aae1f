import { copyChange } from '@sky/plugin-api';
import type { FeedChange, FeedListener, FeedPosition, StoreChange, StoreChangeListener } from '@sky/plugin-api';
import type { PositionedChange } from './db.js';

/** Called when a change-feed listener throws; the default prints a process warning. */
export type ListenerErrorHandler = (error: unknown, change: FeedChange) => void;

export function warnListenerError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`a state store change listener threw: ${text}`, { code: 'SKY_STORE_LISTENER' });
}

/**
 * This instance's subscribers (cluster, job and managed-job changes to `subscribe`, every
 * change to `events.subscribe`). They outlive close() and open(): they belong to the store.
 */
export class LocalListeners {
  readonly #store = new Set<StoreChangeListener>();
  readonly #all = new Set<FeedListener>();

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  subscribeStore(listener: StoreChangeListener): () => void {
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

  deliver(changes: readonly PositionedChange[]): void {
    for (const { change, position } of changes) {
      if (change.kind !== 'request') this.#each(this.#store, change as StoreChange, position);
      this.#each(this.#all, change, position);
    }
  }

  #each<C extends FeedChange>(listeners: Set<(change: C, position: FeedPosition) => void>, change: C, position: FeedPosition): void {
    for (const listener of [...listeners]) {
      // Unsubscribed by an earlier listener of this change: deliver nothing more.
      if (!listeners.has(listener)) continue;
      try {
        listener(copyChange(change), { ...position });
      } catch (err) {
        try {
          this.onListenerError(err, copyChange(change));
        } catch {
          // The reporter failing must not fail the write either.
        }
      }
    }
  }
}
