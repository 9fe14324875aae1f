import { PassThrough } from 'node:stream';
import type { Context } from 'koa';

export interface SseWriter {
  /** Queue one event (with an `id:` line when given); false when the client is behind (wait for `drained()` before sending more). */
  send(event: string, data: unknown, id?: string): boolean;
  /** Resolves once the client has taken what was queued (or has gone away). */
  drained(): Promise<void>;
  close(): void;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
}

const HEARTBEAT_MS = 10_000;

export interface SseOptions {
  /** Sent first as `retry:`: how long a browser waits before it reconnects. */
  retryMs?: number;
  /** How often a heartbeat is written (default 10 s). */
  heartbeatMs?: number;
  /** The heartbeat block, written as it is (default a `: ping` comment). */
  heartbeat?: () => string;
}

/** Switch the response to server-sent events; heartbeats keep proxies from closing idle streams. */
export function openSse(ctx: Context, options: SseOptions = {}): SseWriter {
  const stream = new PassThrough();
  const controller = new AbortController();
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.set('content-type', 'text/event-stream; charset=utf-8');
  ctx.set('cache-control', 'no-cache');
  ctx.set('x-accel-buffering', 'no');
  ctx.status = 200;
  ctx.body = stream;
  // Node sends the status line and headers with the first byte of the body: without this, a
  // follow stream with nothing to say yet (tail=0, a PENDING request) answers nothing at all
  // until the first heartbeat, and clients take it for a dead daemon.
  stream.write(options.retryMs === undefined ? ': open\n\n' : `retry: ${options.retryMs}\n\n`);
  const beat = options.heartbeat ?? ((): string => ': ping\n\n');
  const heartbeat = setInterval(() => {
    if (!stream.writableEnded) stream.write(beat());
  }, options.heartbeatMs ?? HEARTBEAT_MS);
  heartbeat.unref();
  const end = (): void => {
    clearInterval(heartbeat);
    controller.abort();
  };
  ctx.req.on('close', end);
  ctx.res.on('close', end);
  return {
    send(event, data, id) {
      if (stream.writableEnded) return true;
      return stream.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    drained() {
      if (!stream.writableNeedDrain || controller.signal.aborted) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = (): void => {
          stream.off('drain', done);
          controller.signal.removeEventListener('abort', done);
          resolve();
        };
        stream.once('drain', done);
        controller.signal.addEventListener('abort', done, { once: true });
      });
    },
    close() {
      end();
      stream.end();
    },
    signal: controller.signal,
  };
}

/** A log stream's events: lines, then its end with the final status. */
export type LogStreamEvent<L, S> = { type: 'log'; line: L } | { type: 'end'; status: S };

/**
 * Open an event stream and pump a log into it in the background: `log` events, then `end`
 * {status}; an error becomes an `error` event. A reader that falls behind holds the producer
 * back (and through it whatever it follows) instead of being buffered without bound.
 */
export function streamLog<L, S>(ctx: Context, events: (signal: AbortSignal) => AsyncIterable<LogStreamEvent<L, S>>): void {
  const sse = openSse(ctx);
  void (async () => {
    try {
      for await (const event of events(sse.signal)) {
        const sent = event.type === 'log' ? sse.send('log', event.line) : sse.send('end', { status: event.status });
        if (!sent) await sse.drained();
      }
    } catch (err) {
      sse.send('error', { message: err instanceof Error ? err.message : String(err) });
    } finally {
      sse.close();
    }
  })();
}
