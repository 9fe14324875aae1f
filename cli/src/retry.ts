// `sky launch --retry-until-up`: when no enabled infra can fit the task (NO_CAPACITY), try again,
// waiting longer each time up to a cap, until it fits or the user presses Ctrl-C.
import { isSkyError } from '@sky/client';
import { note } from './output.js';

/** The first wait after a refusal, and the longest one: the gap doubles up to it. */
export const FIRST_GAP_SECONDS = 2;
export const MAX_GAP_SECONDS = 60;

/** The wait before try number `attempt + 1` (attempt counts from 1). */
export function gapSeconds(attempt: number): number {
  return Math.min(MAX_GAP_SECONDS, FIRST_GAP_SECONDS * 2 ** Math.max(0, attempt - 1));
}

export function isNoCapacity(err: unknown): boolean {
  return isSkyError(err) && err.code === 'NO_CAPACITY';
}

/** Resolves after `ms`, or with false at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve(true);
    }, ms);
    const stop = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}

export type Retried<T> = { value: T } | { interrupted: true };

/**
 * Run `attempt` until it does not fail for lack of capacity. Any other error is thrown at once.
 * Ctrl-C while waiting stops the retries ({ interrupted: true }); `signal` lets a caller do the same.
 */
export async function retryUntilUp<T>(attempt: () => Promise<T>, signal?: AbortSignal): Promise<Retried<T>> {
  const controller = new AbortController();
  const interrupt = (): void => controller.abort();
  signal?.addEventListener('abort', interrupt, { once: true });
  for (let n = 1; ; n++) {
    try {
      return { value: await attempt() };
    } catch (err) {
      if (!isNoCapacity(err)) throw err;
      const gap = gapSeconds(n);
      note(`${(err as Error).message.split('\n')[0]}`);
      note(`Retrying until up (try ${n + 1} in ${gap} s; Ctrl-C stops)...`);
      process.once('SIGINT', interrupt);
      try {
        if (!(await pause(gap * 1000, controller.signal))) {
          note('Stopped retrying: nothing was launched.');
          return { interrupted: true };
        }
      } finally {
        process.off('SIGINT', interrupt);
      }
    }
  }
}
