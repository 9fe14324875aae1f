/**
 * The buffer between a process's stdout (pushed as it arrives) and the consumer of
 * NodeTransport.stream (pulling with for-await). Above `highWater` queued bytes the source is
 * paused, and resumed once the consumer has taken the queue below it again, so a slow reader
 * never makes the daemon hold an unbounded amount of output.
 */
export class ChunkQueue {
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private finished = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private paused = false;
  /** How to pause and resume the source; set by whoever feeds the queue. */
  flow: { pause(): void; resume(): void } = { pause: () => undefined, resume: () => undefined };

  constructor(private readonly highWater = 1024 * 1024) {}

  push(chunk: Buffer): void {
    if (this.finished || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (!this.paused && this.queued >= this.highWater) {
      this.paused = true;
      this.flow.pause();
    }
    this.notify();
  }

  /** No more chunks; `error` is thrown to the consumer once it has taken what was queued. */
  end(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = error;
    this.notify();
  }

  get ended(): boolean {
    return this.finished;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Every chunk queued so far as one buffer (empty when none), or undefined at the end. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.chunks.length > 0) {
        const out = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.queued);
        this.chunks.length = 0;
        this.queued = 0;
        if (this.paused) {
          this.paused = false;
          this.flow.resume();
        }
        return out;
      }
      if (this.finished) {
        if (this.failure) throw this.failure;
        return undefined;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** The last `max` bytes of a stream's stderr, kept for the error that names a failed command. */
export class Tail {
  private text = '';
  constructor(private readonly max = 2048) {}
  add(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max);
  }
  get value(): string {
    return this.text.trim();
  }
}

/** What a started stream gives back: how to end it early. */
export type StopStream = () => void;

/**
 * The consumer side of a stream: `start` (called on the first pull, never when `signal` is
 * aborted already) begins the command, feeding `queue`, and returns how to end it. Aborting
 * `signal` ends the command and the iteration (quietly, after what was queued); leaving the loop
 * early ends the command too.
 */
export async function* pullChunks(signal: AbortSignal, start: (queue: ChunkQueue) => StopStream, highWater?: number): AsyncGenerator<Buffer> {
  if (signal.aborted) return;
  let stop: StopStream = () => undefined;
  const queue = new ChunkQueue(highWater);
  const onAbort = (): void => {
    stop();
    queue.end();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    stop = start(queue);
    for (;;) {
      const chunk = await queue.next();
      if (chunk === undefined) return;
      yield chunk;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (!queue.ended) {
      queue.end();
      stop();
    }
  }
}
