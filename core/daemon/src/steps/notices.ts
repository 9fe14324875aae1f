import type { EventEmitter } from 'node:events';

/** Resolves at the next notice for `key` on the emitter, or when the signal aborts (log followers wait on it). */
export function nextNotice(notices: EventEmitter, key: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      notices.off(key, done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    notices.on(key, done);
    signal.addEventListener('abort', done, { once: true });
  });
}
