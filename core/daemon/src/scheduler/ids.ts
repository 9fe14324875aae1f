import { randomBytes } from 'node:crypto';

/**
 * Request ids that sort lexicographically in creation order: milliseconds (base36, 9 chars),
 * a per-millisecond sequence (3 chars) and 4 random chars so replicas do not collide.
 */
export class RequestIdFactory {
  private lastMs = 0;
  private seq = 0;
  private readonly suffix = randomBytes(2).toString('hex');

  next(now: number): string {
    const ms = Math.max(now, this.lastMs);
    if (ms === this.lastMs) this.seq += 1;
    else {
      this.lastMs = ms;
      this.seq = 0;
    }
    if (this.seq >= 36 ** 3) {
      this.lastMs += 1;
      this.seq = 0;
    }
    return this.lastMs.toString(36).padStart(9, '0') + this.seq.toString(36).padStart(3, '0') + this.suffix;
  }
}
