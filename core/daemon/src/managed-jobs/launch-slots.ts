/**
 * A counting semaphore for launches: at most `size` managed jobs provision at once; the others
 * wait in arrival order. A waiter whose signal aborts (a cancel) leaves the line at once.
 */
export class LaunchSlots {
  private free: number;
  private readonly waiting: Array<{ admit: () => void }> = [];

  constructor(size: number) {
    this.free = size;
  }

  acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.free > 0 && this.waiting.length === 0) {
      this.free -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        admit: (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.admit();
    else this.free += 1;
  }
}
