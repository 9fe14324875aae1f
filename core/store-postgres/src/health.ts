import type { SkyError } from '@sky/protocol';

/** A change in whether the store reaches its database (the same shape as the LevelDB store's). */
export type StoreHealthEvent =
  | { state: 'degraded'; error: SkyError }
  | { state: 'recovered'; downMs: number }
  | { state: 'recovery-failed'; error: unknown };

/** Remembers whether the database was last reachable, and says so once per change. */
export class HealthTracker {
  #downSince: number | undefined;

  constructor(private readonly onHealth: ((event: StoreHealthEvent) => void) | undefined) {}

  get degraded(): boolean {
    return this.#downSince !== undefined;
  }

  failed(error: SkyError): void {
    if (this.#downSince !== undefined) return;
    this.#downSince = Date.now();
    this.#tell({ state: 'degraded', error });
  }

  succeeded(): void {
    if (this.#downSince === undefined) return;
    const downMs = Date.now() - this.#downSince;
    this.#downSince = undefined;
    this.#tell({ state: 'recovered', downMs });
  }

  #tell(event: StoreHealthEvent): void {
    try {
      this.onHealth?.(event);
    } catch {
      // A failing reporter must not fail the store.
    }
  }
}
