import type { IncomingMessage } from 'node:http';
import { SkyError, type FeedEvent } from '@sky/protocol';
import { isAbortError } from './errors.js';
import { readEvents, SseParser } from './sse.js';

/** How followEvents reports what the stream says. */
export interface EventFeedHandlers {
  /** A change (its seq is also the stream's position). */
  onChange(event: FeedEvent): void;
  /** The backlog was sent: from here on changes are live. Called on every (re)connection. */
  onReady?(seq: number): void;
  /** The asked position could not be resumed: re-fetch your lists; live changes follow from `seq`. */
  onReset?(seq: number, reason: string): void;
  /** The stream dropped and is opened again after `delayMs`, resuming after `seq`. */
  onReconnect?(seq: number | undefined, delayMs: number, cause: unknown): void;
}

export interface FollowEventsOptions {
  /** Start after this seq (resume); without it the stream starts live. */
  after?: number;
  /** Every user's changes the caller may list with all_users (the -u views). */
  allUsers?: boolean;
  /** Ends the stream (followEvents then resolves). */
  signal: AbortSignal;
  /** Treat the stream as lost after this long without a byte (the daemon sends a keepalive every 15 s). */
  idleTimeoutMs?: number;
  /** Wait before reconnecting (default 3 s, what the daemon advertises with `retry:`). */
  retryMs?: number;
}

/** Opens one event stream: GET /api/v1/events with these query and headers. */
export type OpenEventStream = (query: Record<string, string | number | boolean | undefined>, headers: Record<string, string>, signal: AbortSignal) => Promise<IncomingMessage>;

const DEFAULT_IDLE_MS = 45_000;
const DEFAULT_RETRY_MS = 3_000;

/** Errors no reconnect can fix: the caller is not (or no longer) allowed, or asked for something invalid. */
function isFinal(err: unknown): boolean {
  return err instanceof SkyError && ['UNAUTHENTICATED', 'FORBIDDEN', 'VALIDATION_FAILED', 'ROUTE_NOT_FOUND', 'VERSION_MISMATCH'].includes(err.code);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follow the event stream until `signal` aborts: each change is handed over once, in order,
 * and a dropped connection (a daemon restart, a network blip, a stream ended for falling
 * behind) is opened again with Last-Event-ID, so nothing is missed or repeated. Resolves when
 * aborted; rejects when the server refuses the stream (401, 403, a bad position).
 */
export async function followEvents(open: OpenEventStream, options: FollowEventsOptions, handlers: EventFeedHandlers): Promise<void> {
  let position = options.after;
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  const { signal } = options;
  while (!signal.aborted) {
    const parser = new SseParser();
    let cause: unknown = new Error('the stream ended');
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (position !== undefined) headers['last-event-id'] = String(position);
      const res = await open({ all_users: options.allUsers === true ? true : undefined }, headers, signal);
      const outcome = await readEvents(
        res,
        (event) => {
          if (event.event === 'change') {
            const change = JSON.parse(event.data) as FeedEvent;
            position = change.seq;
            handlers.onChange(change);
          } else if (event.event === 'ready') {
            position = (JSON.parse(event.data) as { seq: number }).seq;
            handlers.onReady?.(position);
          } else if (event.event === 'reset') {
            const reset = JSON.parse(event.data) as { seq: number; reason: string };
            position = reset.seq;
            handlers.onReset?.(reset.seq, reset.reason);
          }
          return false;
        },
        signal,
        options.idleTimeoutMs ?? DEFAULT_IDLE_MS,
        parser,
      );
      cause = new Error(outcome === 'silent' ? 'the stream carried nothing, not even a keepalive' : 'the stream ended');
    } catch (err) {
      if (signal.aborted || isAbortError(err)) return;
      if (isFinal(err)) throw err;
      cause = err;
    }
    // Keepalives carry the position past changes that were not ours to see.
    const last = Number(parser.lastEventId);
    if (parser.lastEventId !== '' && Number.isSafeInteger(last) && (position === undefined || last > position)) position = last;
    if (signal.aborted) return;
    handlers.onReconnect?.(position, retryMs, cause);
    await sleep(retryMs, signal);
  }
}
