/**
 * Log text as lines for the log viewer: chunks are split into lines (a line may span chunks),
 * and lines are kept up to a cap so a huge log (100 MB and more) does not exhaust memory; the
 * whole log stays available through Download.
 */

/** Splits streamed text into complete lines; the unfinished end waits for the next chunk. */
export class LineSplitter {
  private partial = '';

  /** Lines completed by this chunk. */
  push(text: string): string[] {
    if (text === '') return [];
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    return parts.map(stripCr);
  }

  /** The unfinished last line, if any (at the end of the stream). */
  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest === '' ? [] : [stripCr(rest)];
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/**
 * Lines of one log, with the oldest dropped past `cap`: a ring buffer, so a log far longer than
 * the cap costs no copying of the lines kept when old ones go.
 */
export class LogLines {
  private ring: string[] = [];
  /** Index in the ring of the oldest line kept. */
  private head = 0;
  private count = 0;
  /** How many of the oldest lines were dropped to stay under the cap. */
  dropped = 0;

  constructor(readonly cap: number) {}

  get length(): number {
    return this.count;
  }

  append(batch: readonly string[]): void {
    for (const line of batch) {
      if (this.count < this.cap) {
        this.ring.push(line);
        this.count++;
      } else {
        this.ring[this.head] = line;
        this.head = (this.head + 1) % this.cap;
        this.dropped++;
      }
    }
  }

  /** Lines [start, end) counted from the oldest line kept. */
  slice(start: number, end: number): string[] {
    const from = Math.max(0, start);
    const to = Math.min(this.count, end);
    const out: string[] = [];
    for (let i = from; i < to; i++) out.push(this.ring[(this.head + i) % this.cap] as string);
    return out;
  }

  clear(): void {
    this.ring = [];
    this.head = 0;
    this.count = 0;
    this.dropped = 0;
  }
}

/**
 * Lines that arrived since the last frame. The viewer drains it once per animation frame, so a
 * stream of many small events costs one render per frame, not one per line; `maxPerDrain`
 * bounds the work of one frame (the rest waits for the next).
 */
export class LineQueue {
  private queue: string[] = [];
  private head = 0;

  get pending(): number {
    return this.queue.length - this.head;
  }

  push(lines: readonly string[]): void {
    for (const l of lines) this.queue.push(l);
  }

  drain(maxPerDrain: number): string[] {
    const end = Math.min(this.queue.length, this.head + maxPerDrain);
    const out = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 100_000) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

/** One line of a multi-node job's log, labelled with its rank. */
export function rankLine(rank: number | undefined, text: string, multiNode: boolean): string {
  return multiNode && rank !== undefined ? `(rank ${rank}) ${text}` : text;
}
