/** How a time-boxed piece of plugin code ended. */
export type Outcome<T> =
  | { readonly kind: 'value'; readonly value: T }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' };

export interface DeadlineOptions<T> {
  readonly ms: number;
  /** Stop waiting (outcome 'aborted') when this aborts. */
  readonly signal?: AbortSignal | undefined;
  /** Called once if the work settles after we stopped waiting, e.g. to close a late driver. */
  readonly onLate?: (outcome: Outcome<T>) => void;
}

/**
 * Run plugin code and wait for it at most `ms`. Never rejects: synchronous throws, rejections and
 * non-Error values all come back as an outcome, and a late settlement is observed (so it can't
 * become an unhandled rejection) and handed to `onLate` instead of being waited for.
 */
export function settleWithin<T>(work: () => T | PromiseLike<T>, options: DeadlineOptions<T>): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome<T>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const late = (outcome: Outcome<T>): void => {
      if (!settled) {
        finish(outcome);
        return;
      }
      try {
        options.onLate?.(outcome);
      } catch {
        // a late-settlement handler must not escape into the event loop
      }
    };
    const onAbort = (): void => finish({ kind: 'aborted' });
    const timer = setTimeout(() => finish({ kind: 'timeout' }), options.ms);
    if (options.signal?.aborted === true) {
      finish({ kind: 'aborted' });
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    let pending: Promise<T>;
    try {
      pending = Promise.resolve(work());
    } catch (error) {
      finish({ kind: 'error', error });
      return;
    }
    pending.then(
      (value) => late({ kind: 'value', value }),
      (error: unknown) => late({ kind: 'error', error }),
    );
  });
}
