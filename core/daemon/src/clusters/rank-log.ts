import { StringDecoder } from 'node:string_decoder';
import { shellQuote } from '@sky/runtime';
import type { NodeRecord } from '@sky/protocol';
import type { NodeTransport } from '../nodes/transport.js';

/** Bytes read at once when catching up with a log file. */
const CHUNK = 256 * 1024;
/** Wait before following again after a follow broke (a dropped connection, a restarted helper). */
const RETRY_MS = 1_000;

/**
 * One rank's log file as it is read: how far, and the line not yet ended. Bytes arrive either by
 * reading the file from `offset` (catching up) or from a `tail -f` that follows it from there;
 * either way each byte is counted once, so switching between the two loses and repeats nothing.
 */
export class RankLog {
  private offset = 0;
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    readonly node: NodeRecord,
    private readonly transport: NodeTransport,
    private readonly path: string,
  ) {}

  /** Complete lines in `data` (appended to what came before). */
  private take(data: Buffer): string[] {
    this.offset += data.length;
    const text = this.partial + this.decoder.write(data);
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    return parts;
  }

  /** The line still open, once no more bytes will come. */
  private flush(): string[] {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest === '' ? [] : [rest];
  }

  /** Open the file once without reading (a refusal — a link the job planted, a node gone — is thrown here). */
  async probe(): Promise<void> {
    await this.transport.readFrom(this.path, 0, 0);
  }

  /**
   * Read the file from where we are to its end, in batches of lines (one per chunk read, so a
   * large log is never held whole); `final`: the job is over, so a last unterminated line counts too.
   */
  async *catchUp(final: boolean): AsyncGenerator<string[]> {
    for (;;) {
      const { data } = await this.transport.readFrom(this.path, this.offset, CHUNK);
      if (data.length === 0) break;
      const lines = this.take(data);
      if (lines.length > 0) yield lines;
    }
    if (final) {
      const rest = this.flush();
      if (rest.length > 0) yield rest;
    }
  }

  /** catchUp, handing each batch to `emit` (and waiting for it: a reader that is behind holds the reading back). */
  private async catchUpInto(emit: (lines: string[]) => Promise<void>, final: boolean): Promise<void> {
    for await (const lines of this.catchUp(final)) await emit(lines);
  }

  /**
   * Follow the file from where we are with `tail -f` on the node (once the file exists),
   * passing each batch of complete lines to `emit` (awaited: while it waits, the follow is not
   * read, and its output pauses down to the node), until `over` is aborted (the
   * job ended) or `stop` (the reader left). Then, unless stopped, read what the follow had not
   * delivered yet, so the end of the log is never lost.
   */
  async follow(emit: (lines: string[]) => Promise<void>, over: AbortSignal, stop: AbortSignal): Promise<void> {
    while (!over.aborted && !stop.aborted) {
      const both = AbortSignal.any([over, stop]);
      try {
        // tail -F on a file that does not exist yet falls back to polling once a second (GNU
        // tail), so a job not started yet is waited for here, and its log followed by inode.
        const command = `p=${shellQuote(this.path)}; while [ ! -e "$p" ]; do sleep 0.2; done; exec tail -c +${this.offset + 1} -f "$p"`;
        for await (const chunk of this.transport.stream(command, { signal: both })) {
          const lines = this.take(chunk);
          if (lines.length > 0) await emit(lines);
        }
      } catch {
        // The follow broke (connection lost, helper restarted, no tail on the node): read what
        // there is, then try again from there.
        if (!over.aborted && !stop.aborted) await this.catchUpInto(emit, false).catch(() => undefined);
      }
      if (!over.aborted && !stop.aborted) await pause(RETRY_MS, both);
    }
    if (stop.aborted) return;
    // The node may be gone: then what was followed is all there is.
    await this.catchUpInto(emit, true).catch(() => undefined);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    // A retry wait never keeps the process alive by itself (a stopping daemon must be able to exit).
    const timer = setTimeout(done, ms);
    timer.unref();
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
