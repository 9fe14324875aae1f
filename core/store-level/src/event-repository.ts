import type { RequestRecord } from '@sky/protocol';
import { MAX_EVENT_PAGE, type EventRepository, type FeedBounds, type FeedListener, type StoredEvent } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { ActiveState } from './active-state.js';
import type { EventState } from './event-state.js';
import type { ChangeFeed } from './feed.js';
import { eventKey } from './keys.js';
import { getMany, type Sublevels } from './layout.js';
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
    const entries = await subs.events.iterator({ gt: eventKey(Math.max(0, afterSeq)), limit }).all();
    // Request events name the request only: read the records (active ones from the cache).
    const wanted = new Set<string>();
    for (const [, value] of entries) if (value.change.kind === 'request' && !requests.records.has(value.change.id)) wanted.add(value.change.id);
    const stored = wanted.size === 0 ? new Map<string, RequestRecord>() : await getMany((keys) => subs.requests.getMany(keys), [...wanted]);
    return entries.map(([key, value]) => {
      const seq = Number(key);
      const { change } = value;
      if (change.kind !== 'request') return { seq, at: value.at, change };
      const cached = requests.records.get(change.id);
      const record = cached === undefined ? stored.get(change.id) : (JSON.parse(JSON.stringify(cached)) as RequestRecord);
      return { seq, at: value.at, change: { kind: 'request', id: change.id, record } };
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
