import type { IncomingMessage } from 'node:http';

/** One server-sent event: its type (`message` when unnamed), its data lines joined by "\n", and the last event id seen so far ('' when none). */
export interface SseEvent {
  event: string;
  data: string;
  id: string;
}

/**
 * Incremental text/event-stream parser (the WHATWG rules that matter here): lines end in
 * LF, CRLF or CR, even when a chunk boundary splits the pair; `:` starts a comment (the
 * daemon's heartbeat); a blank line dispatches the event gathered so far.
 */
export class SseParser {
  private buffer = '';
  private skipLeadingLf = false;
  private event = '';
  private data: string[] = [];
  private idBuffer = '';
  /**
   * The stream's last event id: set by an `id:` field once its block ends, even a block with
   * no data (which dispatches nothing), as a browser's EventSource does.
   */
  lastEventId = '';

  /** Feed decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    let input = text;
    if (this.skipLeadingLf && input.startsWith('\n')) input = input.slice(1);
    this.skipLeadingLf = false;
    this.buffer += input;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const line = this.buffer.slice(start, i);
      if (ch === 13) {
        if (i + 1 === this.buffer.length) this.skipLeadingLf = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      this.lastEventId = this.idBuffer;
      const event = this.data.length > 0 ? { event: this.event === '' ? 'message' : this.event, data: this.data.join('\n'), id: this.lastEventId } : undefined;
      this.event = '';
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.idBuffer = value;
    return undefined;
  }
}

/** How reading an event stream ended. */
export type StreamOutcome = 'stopped' | 'dropped' | 'silent';

/**
 * Read events from a response until `onEvent` returns true ('stopped'), or until the stream
 * ends or breaks without that ('dropped'), or carries no byte at all — not even the daemon's
 * heartbeat comment — for `idleMs` ('silent'; counted from the last byte, so a quiet job whose
 * stream keeps beating never trips it). An abort of `signal` rejects with its reason.
 */
export function readEvents(res: IncomingMessage, onEvent: (event: SseEvent) => boolean, signal?: AbortSignal, idleMs?: number, parser = new SseParser()): Promise<StreamOutcome> {
  return new Promise<StreamOutcome>((resolve, reject) => {
    let settled = false;
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      if (idleMs === undefined) return;
      if (idle === undefined) idle = setTimeout(() => finish('silent'), idleMs);
      else idle.refresh();
    };
    // From here on this timer, not the socket's, decides when the stream is silent.
    if (idleMs !== undefined) res.socket?.setTimeout(0);
    arm();
    const finish = (outcome: StreamOutcome | { error: unknown }): void => {
      if (settled) return;
      settled = true;
      if (idle !== undefined) clearTimeout(idle);
      signal?.removeEventListener('abort', onAbort);
      res.destroy();
      if (signal?.aborted) reject(signal.reason);
      else if (typeof outcome === 'string') resolve(outcome);
      else reject(outcome.error);
    };
    const onAbort = (): void => finish({ error: signal?.reason });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      if (settled) return;
      arm();
      try {
        for (const event of parser.push(text)) {
          if (onEvent(event)) return finish('stopped');
        }
      } catch (error) {
        finish({ error });
      }
    });
    res.on('end', () => finish('dropped'));
    res.on('close', () => finish('dropped'));
    res.on('error', () => finish('dropped'));
  });
}
