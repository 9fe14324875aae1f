import { TERMINAL_STATUSES } from '@sky/protocol';
import type { ActiveState } from './active-state.js';
import { EVENT_FLOOR_KEY, lastSeqOf } from './event-state.js';
import { idOfIndexKey, idempotencyKey, logRange, prefixRange, statusKey, userKey } from './keys.js';
import { getMany, type LevelDb, type Sublevels, type WriteOp } from './layout.js';

/** Requests examined per batch: each pruned request's deletes commit together. */
const CHUNK = 256;

/**
 * Delete finished requests with finishedAt < before, with their logs, index entries and
 * idempotency entries. Runs inside the writer with nothing else in flight, so what it
 * reads cannot change under it. Returns how many requests it deleted.
 */
export async function pruneFinished(
  db: LevelDb,
  subs: Sublevels,
  state: ActiveState,
  before: number,
  sync: boolean,
): Promise<number> {
  let pruned = 0;
  for (const status of TERMINAL_STATUSES) {
    const iterator = subs.byStatus.keys(prefixRange(status));
    try {
      for (;;) {
        const keys = await iterator.nextv(CHUNK);
        if (keys.length === 0) break;
        const records = await getMany((k) => subs.requests.getMany(k), keys.map(idOfIndexKey));
        const doomed = [...records.values()].filter(
          (r) => r.status === status && r.finishedAt !== undefined && r.finishedAt < before,
        );
        if (doomed.length === 0) continue;
        const idemKeys = doomed.flatMap((r) => (r.idempotencyKey === undefined ? [] : [idempotencyKey(r.user, r.idempotencyKey)]));
        const owners = await getMany((k) => subs.idempotency.getMany(k), idemKeys);
        const ops: WriteOp[] = [];
        for (const r of doomed) {
          ops.push(
            { type: 'del', sublevel: subs.requests, key: r.id },
            { type: 'del', sublevel: subs.byStatus, key: statusKey(r.status, r.id) },
            { type: 'del', sublevel: subs.byUser, key: userKey(r.user, r.id) },
          );
          if (r.idempotencyKey !== undefined) {
            const key = idempotencyKey(r.user, r.idempotencyKey);
            if (owners.get(key) === r.id) ops.push({ type: 'del', sublevel: subs.idempotency, key });
          }
          for (const key of await subs.logs.keys(logRange(r.id)).all()) {
            ops.push({ type: 'del', sublevel: subs.logs, key });
          }
        }
        await (sync ? db.batch(ops, { sync: true }) : db.batch(ops));
        for (const r of doomed) state.forget(r.id);
        pruned += doomed.length;
      }
    } finally {
      await iterator.close();
    }
  }
  return pruned;
}

/**
 * Delete audit entries with at < before, with their by-user index entries, a chunk per
 * batch. Runs inside the writer with nothing else in flight. Returns how many it deleted.
 */
export async function pruneAudit(db: LevelDb, subs: Sublevels, before: number, sync: boolean): Promise<number> {
  let pruned = 0;
  const iterator = subs.audit.values();
  try {
    for (;;) {
      const records = await iterator.nextv(CHUNK);
      if (records.length === 0) break;
      const ops: WriteOp[] = [];
      for (const r of records) {
        if (r.at >= before) continue;
        ops.push({ type: 'del', sublevel: subs.audit, key: r.id }, { type: 'del', sublevel: subs.auditByUser, key: userKey(r.user, r.id) });
        pruned += 1;
      }
      if (ops.length > 0) await (sync ? db.batch(ops, { sync: true }) : db.batch(ops));
    }
  } finally {
    await iterator.close();
  }
  return pruned;
}

/**
 * Delete feed entries committed before `before`, oldest first, a chunk per batch; each batch
 * also records the highest seq it deleted (meta/eventFloor), so seqs are never reused. Commit
 * times never go down along the feed, so the first entry at or after `before` ends the walk.
 * Returns how many changes it deleted.
 */
export async function pruneEvents(db: LevelDb, subs: Sublevels, before: number, sync: boolean): Promise<number> {
  let pruned = 0;
  const iterator = subs.events.iterator();
  try {
    for (;;) {
      const entries = await iterator.nextv(CHUNK);
      const doomed = entries.filter(([, value]) => value.at < before);
      const lastDoomed = doomed[doomed.length - 1];
      if (lastDoomed !== undefined) {
        const ops: WriteOp[] = doomed.map(([key]) => ({ type: 'del', sublevel: subs.events, key }));
        ops.push({ type: 'put', sublevel: subs.meta, key: EVENT_FLOOR_KEY, value: lastSeqOf(lastDoomed[0], lastDoomed[1]) });
        await (sync ? db.batch(ops, { sync: true }) : db.batch(ops));
        for (const [, value] of doomed) pruned += value.changes.length;
      }
      if (entries.length < CHUNK || doomed.length < entries.length) break;
    }
  } finally {
    await iterator.close();
  }
  return pruned;
}
