import { copyChange, type StoreChange, type StoreChangeListener } from '@sky/plugin-api';

/** Called when a change-feed listener throws. */
export type ListenerErrorHandler = (error: unknown, change: StoreChange) => void;

/** The default: a process warning, so a broken listener is visible but harmless. */
export function warnListenerError(error: unknown): void {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.emitWarning(`a state store change listener threw: ${text}`, { code: 'SKY_STORE_LISTENER' });
}

/**
 * The change feed: the writer publishes each committed group's changes here, in order,
 * before it answers the group's callers. Every listener gets its own copy of each record,
 * and one that throws is reported and skipped, never allowed to fail the writer.
 */
export class ChangeFeed {
  readonly #listeners = new Set<StoreChangeListener>();

  constructor(private readonly onListenerError: ListenerErrorHandler) {}

  subscribe(listener: StoreChangeListener): () => void {
    // A wrapper per subscription, so the same function subscribed twice is two subscriptions.
    const entry: StoreChangeListener = (change) => listener(change);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  publish(changes: readonly StoreChange[]): void {
    if (this.#listeners.size === 0) return;
    for (const change of changes) {
      for (const listener of [...this.#listeners]) {
        // Unsubscribed by an earlier listener of this change: deliver nothing more.
        if (!this.#listeners.has(listener)) continue;
        try {
          listener(copyChange(change));
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
}
