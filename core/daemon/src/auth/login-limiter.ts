import { SkyError } from '@sky/protocol';

/** An admitted login attempt: say how it went, exactly once (later calls are ignored). */
export interface LoginAttempt {
  /** Count a failure; when the key is (now) locked, returns the 429 to answer instead of a plain refusal. */
  fail(now: number): SkyError | undefined;
  succeed(): void;
  /** Neither: the check could not be made (e.g. the server is busy); nothing is counted. */
  abandon(): void;
}

interface Entry {
  /** Times of the failures still inside the window, oldest first. */
  failures: number[];
  /** An attempt of this key is being checked (a locked key checks one at a time). */
  busy: boolean;
}

export interface LimiterOptions {
  /** Failures inside the window after which the key is locked. */
  max: number;
  windowMs: number;
  /** Most keys tracked at once. Locked keys are never evicted to make room. */
  capacity?: number;
  /** First delay of a locked key; it doubles with every further failure, up to maxDelayMs. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

const DEFAULT_CAPACITY = 50_000;

function tooMany(retryAfterMs: number, why: string): SkyError {
  const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new SkyError('TOO_MANY_ATTEMPTS', `${why}; retry in ${retryAfter} s`, {
    hint: 'Wait, then log in with the right credentials.',
    details: { retryAfterSeconds: retryAfter },
  });
}

/**
 * Failed logins per key (a client address with a user name, or a token prefix) in a sliding
 * window. Under the limit an attempt is checked at once. Over it the key is locked, and a
 * locked key is slowed down rather than shut: one attempt at a time, each held back by a
 * delay that doubles with every further failure (capped). So guessing becomes slow, while the
 * right credentials still get in (after the delay); only a second attempt arriving while one
 * is held answers 429 with Retry-After.
 *
 * Memory is bounded by evicting keys that are not locked (oldest first), never locked ones:
 * spraying names cannot push a locked key out. When every tracked key is locked, attempts of
 * new keys answer 429 until the window lets some go.
 */
export class LoginLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly capacity: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: LimiterOptions) {
    this.capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.baseDelayMs = options.baseDelayMs ?? 1_000;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** How many keys are tracked (for tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether the key is locked now (for tests and diagnostics). */
  isLocked(key: string, now: number): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && this.recent(entry, now).length >= this.options.max;
  }

  /**
   * Let an attempt of `key` be checked: at once when the key is not locked, after its delay
   * when it is (429 if another attempt of the key is already held or checked).
   */
  async admit(key: string, now: () => number): Promise<LoginAttempt> {
    const at = now();
    const entry = this.entries.get(key);
    if (entry === undefined) {
      if (this.entries.size >= this.capacity && !this.makeRoom(at)) {
        throw tooMany(this.options.windowMs, 'too many failed logins on this API server');
      }
      return this.attempt(key, undefined);
    }
    const recent = this.recent(entry, at);
    if (recent.length < this.options.max) return this.attempt(key, undefined);
    const delay = this.delayOf(recent.length - this.options.max);
    const wait = Math.max(0, recent[recent.length - 1]! + delay - at);
    if (entry.busy) throw tooMany(Math.max(wait, delay), 'too many failed logins');
    entry.busy = true;
    try {
      if (wait > 0) await this.sleep(wait);
    } catch (err) {
      entry.busy = false;
      throw err;
    }
    return this.attempt(key, entry);
  }

  private attempt(key: string, held: Entry | undefined): LoginAttempt {
    let done = false;
    const release = (): void => {
      if (held !== undefined) held.busy = false;
    };
    return {
      fail: (at: number) => {
        if (done) return undefined;
        done = true;
        release();
        const entry = this.entries.get(key) ?? { failures: [], busy: false };
        entry.failures = this.recent(entry, at);
        entry.failures.push(at);
        if (!this.entries.has(key)) {
          if (this.entries.size >= this.capacity) this.makeRoom(at);
          this.entries.set(key, entry);
        }
        const excess = entry.failures.length - this.options.max;
        return excess < 0 ? undefined : tooMany(this.delayOf(excess), 'too many failed logins');
      },
      succeed: () => {
        if (done) return;
        done = true;
        release();
        this.entries.delete(key);
      },
      abandon: () => {
        if (done) return;
        done = true;
        release();
      },
    };
  }

  /**
   * Free one slot: drop keys whose failures all left the window, else the oldest key that is
   * not locked nor held. Locked keys met on the way move to the back, so the next scan starts
   * with keys that may go. False when every key is locked or held.
   */
  private makeRoom(now: number): boolean {
    let scanned = 0;
    const total = this.entries.size;
    for (const [key, entry] of this.entries) {
      if (scanned++ >= total) break;
      const recent = this.recent(entry, now);
      if (!entry.busy && recent.length < this.options.max) {
        this.entries.delete(key);
        return true;
      }
      this.entries.delete(key);
      entry.failures = recent;
      this.entries.set(key, entry);
    }
    return false;
  }

  /** How long a locked key waits after its last failure, `excess` failures past the limit. */
  private delayOf(excess: number): number {
    return Math.min(this.baseDelayMs * 2 ** Math.min(excess, 30), this.maxDelayMs);
  }

  private recent(entry: Entry, now: number): number[] {
    const from = now - this.options.windowMs;
    let i = 0;
    while (i < entry.failures.length && entry.failures[i]! <= from) i++;
    return i === 0 ? entry.failures : entry.failures.slice(i);
  }
}
