/** The longest window `RequestRate.perSecond` answers for (10 minutes). */
export const MAX_RATE_WINDOW_SECONDS = 600;

/**
 * Requests per second over a sliding window, for the autoscaler: one counter per wall-clock
 * second in a ring, so recording is O(1) and memory fixed however heavy the traffic.
 */
export class RequestRate {
  private readonly size = MAX_RATE_WINDOW_SECONDS + 1;
  private readonly counts = new Uint32Array(this.size);
  private readonly seconds = new Float64Array(this.size).fill(-1);

  constructor(private readonly now: () => number = Date.now) {}

  record(): void {
    const second = Math.floor(this.now() / 1000);
    const slot = second % this.size;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot]!++;
  }

  /** Requests recorded in the last `windowSeconds` (the current second included), divided by the window. */
  perSecond(windowSeconds = 60): number {
    const window = Math.min(MAX_RATE_WINDOW_SECONDS, Math.max(1, Math.round(windowSeconds)));
    const current = Math.floor(this.now() / 1000);
    let total = 0;
    for (let second = current - window + 1; second <= current; second++) {
      const slot = second % this.size;
      if (this.seconds[slot] === second) total += this.counts[slot]!;
    }
    return total / window;
  }
}
