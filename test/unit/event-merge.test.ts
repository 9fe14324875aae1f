import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FeedBounds, StoredEvent } from '@sky/plugin-api';
import { mergeFeed, type FeedSink, type FeedSource } from '../../core/daemon/src/events/feed-merge.js';
import { StreamPosition } from '../../core/daemon/src/events/stream-position.js';

/** An in-memory feed whose reads can be held, so a test decides what commits while a stream catches up. */
class FakeFeed implements FeedSource {
  readonly events: StoredEvent[] = [];
  first: number | undefined;
  last = 0;
  private readonly listeners = new Set<(event: StoredEvent) => void>();
  /** Called before each read answers (after the read started). */
  onRead: ((afterSeq: number) => Promise<void> | void) | undefined;
  reads = 0;

  commit(n = 1): void {
    for (let i = 0; i < n; i++) {
      this.last += 1;
      const event: StoredEvent = { seq: this.last, at: 1000 + this.last, change: { kind: 'request', id: `r${this.last}`, record: undefined } };
      this.events.push(event);
      this.first ??= event.seq;
      for (const listener of [...this.listeners]) listener(event);
    }
  }

  prune(upTo: number): void {
    while (this.events.length > 0 && this.events[0]!.seq <= upTo) this.events.shift();
    this.first = this.events[0]?.seq;
  }

  async read(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    this.reads += 1;
    await this.onRead?.(afterSeq);
    return this.events.filter((e) => e.seq > afterSeq).slice(0, limit);
  }

  async bounds(): Promise<FeedBounds> {
    return { first: this.first, last: this.last };
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}

/** A sink that records what it is told; `slow` makes every send report a client that is behind until released. */
class RecordingSink implements FeedSink {
  readonly got: string[] = [];
  readonly seqs: number[] = [];
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  slow = false;
  private release: (() => void) | undefined;
  private waiters: Array<() => void> = [];

  change(event: StoredEvent): boolean {
    this.seqs.push(event.seq);
    this.got.push(`change ${event.seq}`);
    this.wake();
    return !this.slow;
  }

  ready(seq: number): void {
    this.got.push(`ready ${seq}`);
    this.wake();
  }

  reset(seq: number, reason: string): void {
    const why = /older than the retained feed/.test(reason) ? 'older' : /ahead of the feed/.test(reason) ? 'ahead' : /pruned while/.test(reason) ? 'pruned' : reason;
    this.got.push(`reset ${seq} ${why}`);
    this.wake();
  }

  drained(): Promise<void> {
    return new Promise((resolve) => (this.release = resolve));
  }

  unblock(): void {
    this.slow = false;
    this.release?.();
  }

  async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

const OPTIONS = { pageSize: 3, maxBuffered: 100 };

describe('event stream merge of backlog and live changes', () => {
  it('starts live without a position: ready first, then each new change once', async () => {
    const feed = new FakeFeed();
    feed.commit(5);
    const sink = new RecordingSink();
    const done = mergeFeed(feed, sink, undefined, OPTIONS);
    await sink.until(() => sink.got.includes('ready 5'));
    feed.commit(2);
    await sink.until(() => sink.seqs.length === 2);
    sink.controller.abort();
    assert.equal(await done, 'closed');
    assert.deepEqual(sink.got, ['ready 5', 'change 6', 'change 7']);
    assert.equal(feed.subscribers, 0, 'the live subscription ends with the stream');
  });

  it('replays the backlog in pages, then changes committed while it read, without gap or duplicate', async () => {
    const feed = new FakeFeed();
    feed.commit(7);
    // Every read lets two more changes commit: they reach the stream live and through later pages.
    let extra = 3;
    feed.onRead = () => {
      if (extra-- > 0) feed.commit(2);
    };
    const sink = new RecordingSink();
    const done = mergeFeed(feed, sink, 2, OPTIONS);
    await sink.until(() => sink.got.some((g) => g.startsWith('ready')));
    feed.commit(1);
    await sink.until(() => sink.seqs.includes(feed.last));
    sink.controller.abort();
    await done;
    const expected = Array.from({ length: feed.last - 2 }, (_, i) => i + 3);
    assert.deepEqual(sink.seqs, expected);
    assert.ok(feed.reads > 2, 'the backlog was read in several pages');
  });

  it('resumes from exactly the first retained position, and resets for an older one', async () => {
    const feed = new FakeFeed();
    feed.commit(10);
    feed.prune(4);
    const ok = new RecordingSink();
    const resumed = mergeFeed(feed, ok, 4, OPTIONS);
    await ok.until(() => ok.got.some((g) => g.startsWith('ready')));
    ok.controller.abort();
    await resumed;
    assert.deepEqual(ok.seqs, [5, 6, 7, 8, 9, 10]);

    const old = new RecordingSink();
    const reset = mergeFeed(feed, old, 3, OPTIONS);
    await old.until(() => old.got.some((g) => g.startsWith('ready')));
    feed.commit(1);
    await old.until(() => old.seqs.length === 1);
    old.controller.abort();
    await reset;
    assert.deepEqual(old.got, ['reset 10 older', 'ready 10', 'change 11']);
  });

  it('resets a position ahead of the feed (a replaced state) and goes on live', async () => {
    const feed = new FakeFeed();
    feed.commit(3);
    const sink = new RecordingSink();
    const done = mergeFeed(feed, sink, 50, OPTIONS);
    await sink.until(() => sink.got.some((g) => g.startsWith('ready')));
    sink.controller.abort();
    await done;
    assert.deepEqual(sink.got, ['reset 3 ahead', 'ready 3']);
  });

  it('resets when the feed is pruned past the position while the backlog is read', async () => {
    const feed = new FakeFeed();
    feed.commit(9);
    let reads = 0;
    feed.onRead = () => {
      if (++reads === 2) feed.prune(7);
    };
    const sink = new RecordingSink();
    const done = mergeFeed(feed, sink, 0, OPTIONS);
    await sink.until(() => sink.got.some((g) => g.startsWith('ready')));
    sink.controller.abort();
    await done;
    assert.deepEqual(sink.seqs, [1, 2, 3]);
    assert.deepEqual(sink.got.slice(3), ['reset 9 pruned', 'ready 9']);
  });

  it('ends the stream of a client that falls too far behind instead of buffering without bound', async () => {
    const feed = new FakeFeed();
    const sink = new RecordingSink();
    const done = mergeFeed(feed, sink, undefined, { pageSize: 3, maxBuffered: 5 });
    await sink.until(() => sink.got.includes('ready 0'));
    sink.slow = true;
    feed.commit(1);
    await sink.until(() => sink.seqs.length === 1);
    // The client takes nothing more: five changes wait, the sixth is one too many.
    feed.commit(5);
    feed.commit(1);
    assert.equal(await done, 'overflow');
    assert.equal(feed.subscribers, 0);
    sink.unblock();
  });
});

describe('the position keepalives carry', () => {
  it('tells the client of changes it went past without sending them, once', () => {
    const p = new StreamPosition(undefined);
    p.restart(10);
    assert.equal(p.keepalive(), ': keepalive\n\n', 'nothing new since ready');
    p.passed(11);
    p.passed(12);
    assert.equal(p.keepalive(), ': keepalive\nid: 12\n\n');
    assert.equal(p.keepalive(), ': keepalive\n\n', 'told once');
    p.passed(13);
    p.told(14);
    assert.equal(p.keepalive(), ': keepalive\n\n', 'a sent change carried its id already');
  });

  it('never moves a client back to a position a reset left', () => {
    const p = new StreamPosition(999_999);
    p.restart(40);
    assert.equal(p.keepalive(), ': keepalive\n\n');
    p.passed(41);
    assert.equal(p.keepalive(), ': keepalive\nid: 41\n\n');
  });
});
