import { SkyError, TERMINAL_STATUSES } from '@sky/protocol';
import type { LogChunk, RequestRecord, RequestStatus } from '@sky/protocol';
import { applyRequestPatch, copyJson, mayTransitionRequest, pageCursor } from '@sky/plugin-api';
import type { CreateResult, RequestFilter, RequestPageResult, RequestPatch, RequestRepository } from '@sky/plugin-api';
import type { Db, Tx } from './db.js';

const { encode: encodeCursor, decode: decodeCursor } = pageCursor('p1:');

/** The indexed columns of a request, in the order of the INSERT/UPDATE statements below. */
function columns(record: RequestRecord): unknown[] {
  return [record.id, record.user, record.status, record.name, record.cluster ?? null, record.idempotencyKey ?? null, record.finishedAt ?? null, JSON.stringify(record)];
}

/** Write a request's new state (the row is locked by the caller) and put it on the feed. */
export async function storeRequest(tx: Tx, record: RequestRecord): Promise<void> {
  await tx.rows('UPDATE requests SET user_id = $2, status = $3, name = $4, cluster = $5, idempotency_key = $6, finished_at = $7, doc = $8 WHERE id = $1',
    columns(record),
  );
  tx.emit({ kind: 'request', id: record.id, record });
}

export class PgRequestRepository implements RequestRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: RequestRecord): Promise<CreateResult> {
    const record = copyJson(input);
    return this.db().feedTx('store a request', async (tx) => {
      const inserted = await tx.one<{ id: string }>(
        `INSERT INTO requests (id, user_id, status, name, cluster, idempotency_key, finished_at, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id`,
        columns(record),
      );
      if (inserted !== undefined) {
        tx.emit({ kind: 'request', id: record.id, record });
        return { record: copyJson(record), created: true };
      }
      if (record.idempotencyKey !== undefined) {
        const earlier = await tx.one<{ doc: RequestRecord }>('SELECT doc FROM requests WHERE user_id = $1 AND idempotency_key = $2', [record.user, record.idempotencyKey]);
        if (earlier !== undefined) return { record: earlier.doc, created: false };
      }
      throw new SkyError('VALIDATION_FAILED', `request id ${JSON.stringify(record.id)} is already used`, { details: { field: 'id' } });
    });
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    const rows = await this.db().rows<{ doc: RequestRecord }>('read a request', 'SELECT doc FROM requests WHERE id = $1', [id]);
    return rows[0]?.doc;
  }

  async transition(id: string, fromInput: readonly RequestStatus[], patchInput: RequestPatch): Promise<RequestRecord | undefined> {
    const from = [...fromInput];
    const patch = copyJson(patchInput);
    if (from.length === 0) return undefined;
    return this.db().feedTx('transition a request', async (tx) => {
      const row = await tx.one<{ doc: RequestRecord }>('SELECT doc FROM requests WHERE id = $1 AND status = ANY($2) FOR UPDATE', [id, from]);
      if (row === undefined || !mayTransitionRequest(row.doc, from, patch)) return undefined;
      const next = applyRequestPatch(row.doc, patch);
      await storeRequest(tx, next);
      return copyJson(next);
    });
  }

  async list(filter: RequestFilter): Promise<RequestPageResult> {
    if (!Number.isInteger(filter.limit) || filter.limit < 1) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}`, { details: { field: 'limit' } });
    }
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      values.push(value);
      where.push(sql.replace('?', `$${values.length}`));
    };
    if (filter.cursor !== undefined) add('id < ?', decodeCursor(filter.cursor));
    if (filter.user !== undefined) add('user_id = ?', filter.user);
    if (filter.status !== undefined && filter.status.length > 0) add('status = ANY(?)', [...filter.status]);
    if (filter.name !== undefined) add('name = ?', filter.name);
    if (filter.cluster !== undefined) add('cluster = ?', filter.cluster);
    values.push(filter.limit + 1);
    const rows = await this.db().rows<{ doc: RequestRecord }>(
      'list requests',
      `SELECT doc FROM requests ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`,
      values,
    );
    const items = rows.slice(0, filter.limit).map((r) => r.doc);
    const last = items[items.length - 1];
    if (rows.length > filter.limit && last !== undefined) return { items, nextCursor: encodeCursor(last.id) };
    return { items };
  }

  async listByStatus(status: RequestStatus): Promise<RequestRecord[]> {
    const rows = await this.db().rows<{ doc: RequestRecord }>('list requests by status', 'SELECT doc FROM requests WHERE status = $1 ORDER BY id', [status]);
    return rows.map((r) => r.doc);
  }

  async appendLog(id: string, text: string, at: number): Promise<number> {
    return this.db().tx('append to a request log', async (tx) => {
      const row = await tx.one<{ seq: number }>('UPDATE requests SET log_next = log_next + 1 WHERE id = $1 RETURNING log_next - 1 AS seq', [id]);
      if (row === undefined) throw new SkyError('REQUEST_NOT_FOUND', `cannot append to the log of request ${id}: no such request`);
      await tx.rows('INSERT INTO request_logs (request_id, seq, at, text) VALUES ($1, $2, $3, $4)', [id, row.seq, at, text]);
      return row.seq;
    });
  }

  async readLog(id: string, afterSeq?: number): Promise<LogChunk[]> {
    return this.db().rows<LogChunk>('read a request log', 'SELECT seq, at, text FROM request_logs WHERE request_id = $1 AND seq > $2 ORDER BY seq', [id, afterSeq ?? -1]);
  }

  async prune(before: number): Promise<number> {
    const rows = await this.db().writeRows<{ n: number }>('prune finished requests',
      `WITH d AS (DELETE FROM requests WHERE finished_at < $1 AND status = ANY($2) RETURNING 1) SELECT count(*)::int AS n FROM d`,
      [before, [...TERMINAL_STATUSES]],
    );
    return rows[0]?.n ?? 0;
  }
}
