import { SkyError } from '@sky/protocol';

/** At most `max` events per key in a sliding window; the next one answers 429 with Retry-After. */
export class RateWindow {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly what: string,
    private readonly capacity = 10_000,
  ) {}

  /** Count an event of `key`, or throw TOO_MANY_ATTEMPTS when the key has used up its window. */
  take(key: string, now: number): void {
    const recent = (this.events.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length >= this.max) {
      const retryAfter = Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
      throw new SkyError('TOO_MANY_ATTEMPTS', `too many ${this.what}; retry in ${retryAfter} s`, {
        hint: `At most ${this.max} ${this.what} per ${Math.round(this.windowMs / 60_000)} minutes.`,
        details: { retryAfterSeconds: retryAfter },
      });
    }
    recent.push(now);
    this.events.delete(key);
    if (this.events.size >= this.capacity) this.events.delete(this.events.keys().next().value!);
    this.events.set(key, recent);
  }
}
