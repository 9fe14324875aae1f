import type { RequestRecord } from '@sky/protocol';
import { MAX_EVENT_PAGE, type EventRepository, type FeedBounds, type FeedListener, type StoredEvent } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { ActiveState } from './active-state.js';
import type { EventState } from './event-state.js';
import type { ChangeFeed } from '@sky/plugin-api';
import { eventKey } from './keys.js';
import { getMany, type EventValue, type Sublevels } from './layout.js';
import type { Writer } from './writer.js';

/** What the feed's reads need from the open store. */
export interface OpenFeed {
  subs: Sublevels;
  requests: ActiveState;
  events: EventState;
  writer: Writer;
}

/** The persisted feed: reads go to the events sublevel, prunes to the writer, subscriptions to the feed. */
export class LevelEventRepository implements EventRepository {
  constructor(
    private readonly open: () => Promise<OpenFeed>,
    private readonly feed: ChangeFeed,
  ) {}

  async read(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${MAX_EVENT_PAGE}, got ${limit}`, { details: { field: 'limit' } });
    }
    if (!Number.isSafeInteger(afterSeq)) {
      throw new SkyError('VALIDATION_FAILED', `afterSeq must be a whole number, got ${afterSeq}`, { details: { field: 'afterSeq' } });
    }
    const { subs, requests } = await this.open();
    const from = Math.max(0, afterSeq) + 1;
    // The batch holding `from` starts at or below it: the last entry keyed at most `from`.
    const [holding] = await subs.events.keys({ lte: eventKey(from), reverse: true, limit: 1 }).all();
    const entries: Array<{ seq: number; at: number; change: EventValue['changes'][number] }> = [];
    const iterator = subs.events.iterator(holding === undefined ? { gt: eventKey(from - 1) } : { gte: holding });
    try {
      while (entries.length < limit) {
        const batch = await iterator.nextv(Math.min(64, limit));
        for (const [key, value] of batch) {
          const first = Number(key);
          value.changes.forEach((change, i) => {
            if (first + i >= from && entries.length < limit) entries.push({ seq: first + i, at: value.at, change });
          });
        }
        if (batch.length === 0) break;
      }
    } finally {
      await iterator.close();
    }
    // Request changes name the request only: read the records (active ones from the cache).
    const wanted = new Set<string>();
    for (const { change } of entries) if (change.kind === 'request' && !requests.records.has(change.id)) wanted.add(change.id);
    const stored = wanted.size === 0 ? new Map<string, RequestRecord>() : await getMany((keys) => subs.requests.getMany(keys), [...wanted]);
    return entries.map(({ seq, at, change }) => {
      if (change.kind !== 'request') return { seq, at, change };
      const cached = requests.records.get(change.id);
      const record = cached === undefined ? stored.get(change.id) : (JSON.parse(JSON.stringify(cached)) as RequestRecord);
      return { seq, at, change: { kind: 'request', id: change.id, record } };
    });
  }

  async bounds(): Promise<FeedBounds> {
    const { subs, events } = await this.open();
    const [first] = await subs.events.keys({ limit: 1 }).all();
    return { first: first === undefined ? undefined : Number(first), last: events.last };
  }

  async prune(before: number): Promise<number> {
    return (await this.open()).writer.pruneEvents(before);
  }

  subscribe(listener: FeedListener): () => void {
    return this.feed.subscribeAll(listener);
  }
}
