import { createWriteStream, type WriteStream } from 'node:fs';

/** One line of the helper's log: a call, or an event such as start and stop. Never file contents or environments. */
export type LogEntry = Record<string, string | number | boolean | undefined>;

/**
 * The helper's log: one JSON object per line, to a file (appended, 0600) or standard error.
 * Every call is logged with who it acted as, where, and how it ended. Writing never throws:
 * a failing log stream counts what it dropped.
 */
export class CallLog {
  private readonly stream: WriteStream | NodeJS.WritableStream;
  private broken = false;
  dropped = 0;

  constructor(file: string | undefined) {
    if (file === undefined) this.stream = process.stderr;
    else {
      const stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
      stream.on('error', () => {
        this.broken = true;
      });
      this.stream = stream;
    }
  }

  write(entry: LogEntry): void {
    if (this.broken) {
      this.dropped += 1;
      return;
    }
    try {
      this.stream.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
    } catch {
      this.dropped += 1;
    }
  }

  close(): Promise<void> {
    if (this.stream === process.stderr) return Promise.resolve();
    return new Promise((resolve) => (this.stream as WriteStream).end(() => resolve()));
  }
}
