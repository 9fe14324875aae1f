import type { SkyError, StoreState } from '@sky/protocol';

/** Seconds a client is told to wait (Retry-After) while this replica is not ready. */
export const NOT_READY_RETRY_SECONDS = 5;

/**
 * Whether this replica can serve: its state store is open (start-up finished) and its last
 * contact with the database succeeded. Fed by the daemon's start-up and by the store's health
 * events; read by the readiness gate and the health routes.
 */
export class Readiness {
  #started = false;
  #lost = false;
  #error: SkyError | undefined;

  /** The store and everything built on it started: requests are served from now on. */
  markStarted(): void {
    this.#started = true;
    this.#error = undefined;
  }

  /** Why the store is not open yet (the last failed attempt), while start-up retries. */
  markOpenFailed(error: SkyError): void {
    this.#error = error;
  }

  /** The open store lost its database (or its disk): not ready until it reports recovery. */
  markLost(error: SkyError): void {
    this.#lost = true;
    this.#error = error;
  }

  markRecovered(): void {
    this.#lost = false;
    if (this.#started) this.#error = undefined;
  }

  get started(): boolean {
    return this.#started;
  }

  get ready(): boolean {
    return this.#started && !this.#lost;
  }

  get state(): StoreState {
    if (!this.#started) return 'opening';
    return this.#lost ? 'unavailable' : 'open';
  }

  /** The last reason the store was not usable, while it is not. */
  get error(): SkyError | undefined {
    return this.ready ? undefined : this.#error;
  }
}

/** The store health listener (loadStore's onHealth) that keeps `readiness` in step with the store. */
export function followStoreHealth(readiness: Readiness): (event: { state: 'degraded'; error: SkyError } | { state: 'recovered' } | { state: 'recovery-failed' }) => void {
  return (event) => {
    if (event.state === 'degraded') readiness.markLost(event.error);
    else if (event.state === 'recovered') readiness.markRecovered();
  };
}
