import { fchmodSync, openSync, writeSync } from 'node:fs';

/** pino's number for `warn`: the level of the dropped-lines notice. */
const WARN = 40;
/** A non-blocking pipe that is full is retried this often (with a short wait) before the line is dropped. */
const EAGAIN_RETRIES = 3;
const EAGAIN_WAIT_MS = 10;

function errnoOf(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** What a destination reports when it starts dropping lines. */
export type DropListener = (code: string) => void;

/**
 * A pino destination that never throws: each line is written synchronously to a file
 * descriptor, and a failing write (ENOSPC, EDQUOT, EIO, EBADF, EPIPE, …) drops the line
 * instead of surfacing an error in whatever code was logging. Dropped lines are counted;
 * the first line that can be written again is preceded by one notice with the count, so the
 * log says what it is missing. A line cut short by a full disk is ended before the next one.
 */
export class SafeLogDestination {
  private droppedLines = 0;
  private droppedSince = 0;
  private lastError = '';
  /** The last write stopped in the middle of a line: start the next one on a new line. */
  private cut = false;

  constructor(
    private readonly fd: number,
    private readonly onDrop?: DropListener,
  ) {}

  /** Open (or create) a log file for appending, readable by the daemon's account only. */
  static file(path: string, onDrop?: DropListener): SafeLogDestination {
    const fd = openSync(path, 'a', 0o600);
    fchmodSync(fd, 0o600);
    return new SafeLogDestination(fd, onDrop);
  }

  /** Lines dropped since the log last accepted a write (0 while it is healthy). */
  get dropping(): number {
    return this.droppedLines;
  }

  /** pino's stream contract. Always returns true: there is never back-pressure to wait for. */
  write(line: string): boolean {
    if (this.droppedLines > 0 && !this.put(this.notice())) {
      this.droppedLines += 1;
      return true;
    }
    this.droppedLines = 0;
    if (!this.put(line)) this.drop();
    return true;
  }

  private drop(): void {
    if (this.droppedLines === 0) {
      this.droppedSince = Date.now();
      try {
        this.onDrop?.(this.lastError);
      } catch {
        // a listener's failure must not become the logger's
      }
    }
    this.droppedLines += 1;
  }

  private notice(): string {
    const n = this.droppedLines;
    return (
      JSON.stringify({
        level: WARN,
        time: Date.now(),
        pid: process.pid,
        droppedLines: n,
        droppedSince: this.droppedSince,
        reason: this.lastError,
        msg: `the server log could not be written (${this.lastError}): ${n} log line${n === 1 ? ' was' : 's were'} dropped`,
      }) + '\n'
    );
  }

  /** Write all of `text`; false (and nothing thrown) when the descriptor refuses it. */
  private put(text: string): boolean {
    const buf = Buffer.from(this.cut ? `\n${text}` : text);
    let offset = 0;
    let retries = 0;
    for (;;) {
      try {
        while (offset < buf.length) offset += writeSync(this.fd, buf, offset, buf.length - offset);
        this.cut = false;
        return true;
      } catch (err) {
        this.lastError = errnoOf(err);
        if (this.lastError === 'EAGAIN' && retries < EAGAIN_RETRIES) {
          retries += 1;
          pause(EAGAIN_WAIT_MS);
          continue;
        }
        if (offset > 0) this.cut = true;
        return false;
      }
    }
  }
}
