import { request, type IncomingMessage } from 'node:http';
import { SseParser } from '@sky/client';
import { withLocalToken } from './daemon-process.js';

/** One event of the event stream, its data parsed. */
export interface StreamedEvent {
  event: string;
  id: string;
  data: { seq: number; at?: number; kind?: string; key?: string; record?: unknown; reason?: string };
}

/** A change event's short form, to compare sequences: `kind key status` (status `deleted` for null). */
export function labelOf(e: StreamedEvent): string {
  const record = e.data.record as { status?: string } | null | undefined;
  return `${e.data.kind} ${e.data.key} ${record === null ? 'deleted' : (record?.status ?? '?')}`;
}

/**
 * GET /api/v1/events read as it arrives, for black-box tests: every event is kept in order,
 * and waitFor() waits for the one a test expects.
 */
export class EventReader {
  readonly events: StreamedEvent[] = [];
  /** Everything the stream carried, comments included. */
  raw = '';
  ended = false;
  private readonly parser = new SseParser();
  private waiters: Array<() => void> = [];

  private constructor(private readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      this.raw += text;
      for (const e of this.parser.push(text)) this.events.push({ event: e.event, id: e.id, data: JSON.parse(e.data) as StreamedEvent['data'] });
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    res.on('end', end);
    res.on('close', end);
    res.on('error', end);
  }

  /** Open the stream; rejects with the status and body when it does not answer 200. */
  static open(url: string, options: { headers?: Record<string, string>; query?: string; lastEventId?: string } = {}): Promise<EventReader> {
    const headers = withLocalToken(url, { accept: 'text/event-stream', ...options.headers, ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }) });
    return new Promise((resolve, reject) => {
      const req = request(`${url}/api/v1/events${options.query === undefined ? '' : `?${options.query}`}`, { headers }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => reject(Object.assign(new Error(`event stream answered ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
          return;
        }
        resolve(new EventReader(res));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** The change events so far. */
  get changes(): StreamedEvent[] {
    return this.events.filter((e) => e.event === 'change');
  }

  /** The last event id the stream gave (keepalives included), as a browser would resume from. */
  get lastEventId(): string {
    return this.parser.lastEventId;
  }

  /** Wait for the first event (from `from` on) that matches; fails after `timeoutMs` or when the stream ends first. */
  async waitFor(match: (e: StreamedEvent) => boolean, what: string, timeoutMs = 30_000, from = 0): Promise<StreamedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.ended) throw new Error(`the event stream ended before ${what}; it carried: ${this.summary()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; the stream carried: ${this.summary()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Wait until the server ends the stream. */
  async waitEnd(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error(`the event stream did not end within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.res.destroy();
  }

  summary(): string {
    return this.events.map((e) => (e.event === 'change' ? `${e.id}:${labelOf(e)}` : `${e.event}(${e.data.seq})`)).join(', ') || '(nothing)';
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
