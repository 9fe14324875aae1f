import { SkyError } from '@sky/protocol';

/** Counts failed logins per client and name in a sliding window; over the limit answers 429 with Retry-After. */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  check(key: string, now: number): void {
    const recent = this.recent(key, now);
    if (recent.length < this.max) return;
    const retryAfter = Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
    throw new SkyError('TOO_MANY_ATTEMPTS', `too many failed logins; retry in ${retryAfter} s`, {
      hint: 'Wait, then log in with the right credentials.',
      details: { retryAfterSeconds: retryAfter },
    });
  }

  fail(key: string, now: number): void {
    const recent = this.recent(key, now);
    recent.push(now);
    this.failures.set(key, recent);
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
  }
}
