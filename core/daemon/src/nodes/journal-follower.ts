import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeTransport } from './transport.js';

/**
 * How a journal is read:
 * - `watch`: a file of the daemon's own account, read in-process whenever the kernel says its
 *   directory changed (no process, no timer);
 * - `stream`: one long-lived command on the node that prints the journal from an offset on and
 *   keeps following it (one channel per SSH host, one helper stream per account node).
 */
export type JournalSource =
  | { kind: 'watch'; file: string }
  | { kind: 'stream'; transport: NodeTransport; path: string; command: (offset: number) => string };

export interface JournalSink {
  /** Whole lines, in journal order; the next read waits for this to settle. */
  lines(lines: string[]): Promise<void>;
  /** The journal could not be read (the node is unreachable); retried every `retryMs`. */
  trouble(err: unknown): void;
  /** Read again after trouble (what was written meanwhile, before the first read, is not delivered: reconcile). */
  back(): void;
}

const CHUNK = 256 * 1024;
/** Longer lines are not events (a runner's line is `<rank dir> <rank> <STATUS> <code>`). */
const MAX_LINE = 1024;

/**
 * Follows one node's event journal from where it ended when the follower started: what was
 * written before that is the reconciliation's to read (it reads the ranks' status files after
 * the starting offset is fixed, so an event is never lost between the two, and one seen by both
 * only repeats a compare-and-set transition). Reconnects resume from the last byte delivered.
 */
export class JournalFollower {
  private offset = 0;
  private partial = '';
  /** Inside an over-long line: drop bytes up to its newline. */
  private skipping = false;
  private readonly decoder = new StringDecoder('utf8');
  private readonly abort = new AbortController();
  private watcher: FSWatcher | undefined;
  private buffer: Buffer | undefined;
  private reading = false;
  private again = false;
  private troubled = false;
  /**
   * Resolves once the starting offset is fixed (events from there on are delivered), or once the
   * first attempt failed (the follower keeps trying; the sink hears trouble, then back).
   */
  readonly ready: Promise<void>;
  private settle: () => void = () => undefined;

  constructor(
    private readonly source: JournalSource,
    private readonly sink: JournalSink,
    private readonly retryMs = 1000,
  ) {
    this.ready = new Promise((resolve) => (this.settle = resolve));
    void this.begin().finally(() => this.settle());
  }

  /** Bytes of the journal delivered (or skipped at the start) so far. */
  get position(): number {
    return this.offset;
  }

  stop(): void {
    this.abort.abort();
    this.watcher?.close();
  }

  private async begin(): Promise<void> {
    for (;;) {
      try {
        this.offset = await this.size();
        break;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.setTrouble(err);
        this.settle();
        await sleep(this.retryMs, undefined, { signal: this.abort.signal, ref: false }).catch(() => undefined);
        if (this.abort.signal.aborted) return;
      }
    }
    if (this.source.kind === 'watch') {
      try {
        await mkdir(dirname(this.source.file), { recursive: true });
        this.watcher = watch(dirname(this.source.file), { persistent: false }, () => this.kick());
      } catch (err) {
        this.sink.trouble(err);
        return;
      }
      this.watcher.on('error', (err) => this.sink.trouble(err));
      this.setBack();
      this.kick();
    } else {
      this.setBack();
      void this.loop();
    }
  }

  private async size(): Promise<number> {
    if (this.source.kind === 'watch') {
      const handle = await open(this.source.file, 'r').catch(() => undefined);
      if (handle === undefined) return 0;
      try {
        return (await handle.stat()).size;
      } finally {
        await handle.close();
      }
    }
    const { size } = await this.source.transport.readFrom(this.source.path, 0, 1);
    return Math.max(0, size);
  }

  private setTrouble(err: unknown): void {
    this.troubled = true;
    this.sink.trouble(err);
  }

  private setBack(): void {
    if (!this.troubled) return;
    this.troubled = false;
    this.sink.back();
  }

  private async deliver(data: Buffer): Promise<void> {
    this.offset += data.length;
    const parts = (this.partial + this.decoder.write(data)).split('\n');
    this.partial = parts.pop() ?? '';
    // The journal is writable by the jobs on the node: a line no runner writes (events are a few
    // dozen bytes) is dropped up to its newline, so a job cannot make the daemon hold an endless line.
    if (this.skipping && parts.length > 0) {
      parts.shift();
      this.skipping = false;
    }
    if (this.skipping || this.partial.length > MAX_LINE) {
      this.partial = '';
      this.skipping = true;
    }
    if (parts.length > 0) await this.sink.lines(parts.filter((line) => line.length <= MAX_LINE));
  }

  /** watch: read what was appended since the last read; calls arriving meanwhile make one more read. */
  private kick(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void (async () => {
      try {
        do {
          this.again = false;
          await this.readLocal();
        } while (this.again && !this.abort.signal.aborted);
      } catch (err) {
        this.sink.trouble(err);
      } finally {
        this.reading = false;
      }
    })();
  }

  private async readLocal(): Promise<void> {
    if (this.source.kind !== 'watch') return;
    const handle = await open(this.source.file, 'r').catch(() => undefined);
    if (handle === undefined) return;
    try {
      // One buffer per follower, not one per read: most reads are a line or two.
      const buffer = (this.buffer ??= Buffer.allocUnsafe(CHUNK));
      for (;;) {
        if (this.abort.signal.aborted) return;
        const { bytesRead } = await handle.read(buffer, 0, CHUNK, this.offset);
        if (bytesRead === 0) return;
        await this.deliver(Buffer.from(buffer.subarray(0, bytesRead)));
        // A short read reached the end: what is appended later comes with a change event of its
        // own (one arriving during this read makes kick read again), so no empty read is needed.
        if (bytesRead < CHUNK) return;
      }
    } finally {
      await handle.close();
    }
  }

  /** stream: keep following until stopped; a failure is reported and retried from the last byte. */
  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (this.source.kind === 'stream') {
          const chunks = this.source.transport.stream(this.source.command(this.offset), { signal });
          for await (const chunk of chunks) {
            this.setBack();
            await this.deliver(chunk);
          }
          this.setBack();
        }
      } catch (err) {
        if (signal.aborted) return;
        this.setTrouble(err);
      }
      await sleep(this.retryMs, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }
}
