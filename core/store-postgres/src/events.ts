import { SkyError } from '@sky/protocol';
import type { RequestRecord } from '@sky/protocol';
import { MAX_EVENT_PAGE } from '@sky/plugin-api';
import type { EventRepository, FeedBounds, FeedChange, FeedListener, StoredEvent } from '@sky/plugin-api';
import type { Db } from './db.js';
import type { ChangeFeed } from '@sky/plugin-api';

/** Check a page size of EventRepository.read. */
export function checkEventLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENT_PAGE) {
    throw new SkyError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${MAX_EVENT_PAGE}, got ${limit}`, { details: { field: 'limit' } });
  }
}

interface EventRow {
  seq: number;
  at: number;
  change: FeedChange | { kind: 'request'; id: string };
  request: RequestRecord | null;
}

/** Feed rows after `afterSeq`, a request's as it is stored now (joined, not stored twice). */
export async function readEvents(db: Db, afterSeq: number, limit: number): Promise<StoredEvent[]> {
  const rows = await db.rows<EventRow>(
    'read the change feed',
    `SELECT e.seq, e.at, e.change, r.doc AS request
       FROM events e LEFT JOIN requests r ON e.change->>'kind' = 'request' AND r.id = e.change->>'id'
      WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`,
    [afterSeq, limit],
  );
  return rows.map((row): StoredEvent => {
    if (row.change.kind === 'request') {
      const id = row.change.id;
      return { seq: row.seq, at: row.at, change: row.request === null ? { kind: 'request', id, record: undefined } : { kind: 'request', id, record: row.request } };
    }
    return { seq: row.seq, at: row.at, change: row.change as FeedChange };
  });
}

export class PgEventRepository implements EventRepository {
  constructor(
    private readonly db: () => Db,
    private readonly listeners: ChangeFeed,
  ) {}

  async read(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    const db = this.db();
    checkEventLimit(limit);
    return readEvents(db, afterSeq, limit);
  }

  async bounds(): Promise<FeedBounds> {
    const rows = await this.db().rows<{ first: number | null; last: number }>(
      'read the bounds of the change feed',
      'SELECT (SELECT min(seq) FROM events) AS first, last_seq AS last FROM feed_state WHERE id = 1',
    );
    const row = rows[0];
    return { first: row?.first ?? undefined, last: row?.last ?? 0 };
  }

  async prune(before: number): Promise<number> {
    const rows = await this.db().writeRows<{ n: number }>('prune the change feed', 'WITH d AS (DELETE FROM events WHERE at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [before]);
    return rows[0]?.n ?? 0;
  }

  subscribe(listener: FeedListener): () => void {
    return this.listeners.subscribeAll(listener);
  }
}
