import type pg from 'pg';
import type { FeedChange } from '@sky/plugin-api';
import type { PositionedChange } from './tx.js';

/**
 * Takes the seqs of `count` changes and writes them to the events table, in one statement.
 * The feed_state row lock it takes is held until commit, so seqs are handed out in commit
 * order, without gaps; it is the last statement before COMMIT, so the lock is held for as
 * short a time as the commit allows. One NOTIFY tells the followers of every replica.
 */
const FEED_WRITE = `
WITH s AS (
  UPDATE feed_state SET last_seq = last_seq + $1, last_at = GREATEST(last_at, $2) WHERE id = 1 RETURNING last_seq, last_at
), ins AS (
  INSERT INTO events (seq, at, change)
  SELECT s.last_seq - $1 + c.ord, s.last_at, c.change FROM s, jsonb_array_elements($3::jsonb) WITH ORDINALITY AS c(change, ord)
)
SELECT s.last_seq AS last_seq, s.last_at AS last_at, pg_notify($4, s.last_seq::text) FROM s`;

/** What the events table keeps of a change: a request's id only (its body is in requests). */
function storedChange(change: FeedChange): unknown {
  return change.kind === 'request' ? { kind: 'request', id: change.id } : change;
}

/** Put `changes` on the feed inside the open transaction on `client`; their positions once it commits. */
export async function writeFeed(client: pg.PoolClient, changes: readonly FeedChange[], channel: string): Promise<PositionedChange[]> {
  const count = changes.length;
  const result = await client.query<{ last_seq: number; last_at: number }>(FEED_WRITE, [count, Date.now(), JSON.stringify(changes.map(storedChange)), channel]);
  const row = result.rows[0];
  if (row === undefined) throw new Error('the feed_state row is missing');
  const first = row.last_seq - count + 1;
  return changes.map((change, i) => ({ change, position: { seq: first + i, at: row.last_at } }));
}
