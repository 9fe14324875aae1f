import type { FeedBounds, StoredEvent } from '@sky/plugin-api';

/** Where the events of one stream come from: the persisted feed and its live tail. */
export interface FeedSource {
  read(afterSeq: number, limit: number): Promise<StoredEvent[]>;
  bounds(): Promise<FeedBounds>;
  /** Live events, in seq order, from now on. Returns the unsubscribe function. */
  subscribe(listener: (event: StoredEvent) => void): () => void;
}

/** Where one stream's events go. */
export interface FeedSink {
  /** One event (the sink may leave it out); false when the client is behind. */
  change(event: StoredEvent): boolean;
  ready(seq: number): void;
  reset(seq: number, reason: string): void;
  /** Resolves once the client took what was queued (or went away). */
  drained(): Promise<void>;
  readonly signal: AbortSignal;
}

export interface MergeOptions {
  /** Events read from the feed per page while catching up. */
  pageSize: number;
  /** Live events held for a client that is behind; one more ends the stream (the client resumes with Last-Event-ID). */
  maxBuffered: number;
  /** Told how far the stream got (every event seen, sent or left out), for keepalives that move Last-Event-ID on. */
  progress?: (seq: number) => void;
}

/** How a stream ended. */
export type MergeEnd = 'closed' | 'overflow';

/**
 * One stream of the feed: catch up from `after` (undefined: start live), then follow live
 * events, with no gap and no duplicate. The live subscription comes first and buffers; then
 * the backlog is read page by page; then the buffer drains, skipping what the backlog already
 * sent. A position the feed cannot resume (pruned, or ahead of it) gets a reset and goes on
 * live from the feed's last seq. A client that falls more than `maxBuffered` events behind
 * is dropped ('overflow'), so memory stays bounded.
 */
export async function mergeFeed(source: FeedSource, sink: FeedSink, after: number | undefined, options: MergeOptions): Promise<MergeEnd> {
  const buffer: StoredEvent[] = [];
  let overflow = false;
  let overflowed: () => void = () => {};
  // A client that stopped reading may never drain: falling too far behind ends the wait too.
  const tooFarBehind = new Promise<void>((resolve) => (overflowed = resolve));
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unsubscribe = source.subscribe((event) => {
    if (overflow) return;
    if (buffer.length >= options.maxBuffered) {
      overflow = true;
      overflowed();
    } else buffer.push(event);
    notify();
  });
  const onAbort = (): void => notify();
  sink.signal.addEventListener('abort', onAbort, { once: true });
  let last = 0;
  const deliver = async (event: StoredEvent): Promise<void> => {
    last = event.seq;
    const sent = sink.change(event);
    options.progress?.(event.seq);
    if (!sent) await Promise.race([sink.drained(), tooFarBehind]);
  };
  try {
    const bounds = await source.bounds();
    if (after === undefined) last = bounds.last;
    else if (after > bounds.last) {
      last = bounds.last;
      sink.reset(last, `position ${after} is ahead of the feed (its last change is ${bounds.last}): the API server's state was replaced`);
    } else if (after < bounds.last && (bounds.first === undefined || after < bounds.first - 1)) {
      last = bounds.last;
      sink.reset(last, `position ${after} is older than the retained feed (it starts at ${bounds.first ?? bounds.last + 1})`);
    } else {
      last = after;
      for (;;) {
        if (sink.signal.aborted) return 'closed';
        const page = await source.read(last, options.pageSize);
        const first = page[0];
        if (first !== undefined && first.seq > last + 1) {
          // Pruned while we read: what is missing cannot be sent.
          const now = await source.bounds();
          last = now.last;
          sink.reset(last, `changes after ${after} were pruned while the stream caught up`);
          break;
        }
        for (const event of page) {
          if (event.seq > last) await deliver(event);
          if (overflow) return 'overflow';
        }
        if (page.length < options.pageSize) break;
      }
    }
    if (overflow) return 'overflow';
    sink.ready(last);
    for (;;) {
      if (sink.signal.aborted) return 'closed';
      if (overflow) return 'overflow';
      if (buffer.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      for (const event of buffer.splice(0, buffer.length)) {
        if (event.seq <= last) continue;
        await deliver(event);
        if (sink.signal.aborted) return 'closed';
        if (overflow) return 'overflow';
      }
    }
  } finally {
    unsubscribe();
    sink.signal.removeEventListener('abort', onAbort);
  }
}
