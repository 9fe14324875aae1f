/**
 * Steps run one at a time per key (a managed job, a service): a step asked for while one runs
 * waits for it, and asks made while one already waits for its turn merge into it, so a burst
 * of changes costs one more step, not one each.
 */
export class KeyedSteps<K> {
  private readonly chains = new Map<K, Promise<void>>();
  private readonly queued = new Set<K>();

  /** Queue `step` for the key unless a step for it already waits; returns whether it was queued. */
  kick(key: K, step: () => Promise<void>): boolean {
    if (this.queued.has(key)) return false;
    this.queued.add(key);
    const run = (): Promise<void> => {
      this.queued.delete(key);
      return step();
    };
    // A step handles its own errors; one that throws anyway does not hold up the next.
    const next = (this.chains.get(key) ?? Promise.resolve()).then(run, run).catch(() => undefined);
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return true;
  }

  /** Resolves once every step queued so far has run (whatever it ended with). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }
}
