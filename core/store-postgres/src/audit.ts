import { SkyError } from '@sky/protocol';
import type { AuditRecord } from '@sky/protocol';
import { pageCursor, type AuditFilter, type AuditPageResult, type AuditRepository } from '@sky/plugin-api';
import type { Db } from './db.js';
import { invalid, isUniqueViolation } from './errors.js';

const { encode: encodeCursor, decode: decodeCursor } = pageCursor('pa1:');

export class PgAuditRepository implements AuditRepository {
  constructor(private readonly db: () => Db) {}

  async append(record: AuditRecord): Promise<void> {
    await this.db().writeRows('append to the audit log', 'INSERT INTO audit (id, user_id, at, doc) VALUES ($1, $2, $3, $4)', [record.id, record.user ?? null, record.at, JSON.stringify(record)], (err) =>
      isUniqueViolation(err) ? invalid(`audit entry ${JSON.stringify(record.id)} already exists`, 'id') : undefined,
    );
  }

  async list(filter: AuditFilter): Promise<AuditPageResult> {
    if (!Number.isInteger(filter.limit) || filter.limit < 1) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}`, { details: { field: 'limit' } });
    }
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.cursor !== undefined) {
      values.push(decodeCursor(filter.cursor));
      where.push(`id < $${values.length}`);
    }
    if (filter.user !== undefined) {
      values.push(filter.user);
      where.push(`user_id = $${values.length}`);
    }
    if (filter.since !== undefined) {
      values.push(filter.since);
      where.push(`at >= $${values.length}`);
    }
    values.push(filter.limit + 1);
    const rows = await this.db().rows<{ doc: AuditRecord }>(
      'list the audit log',
      `SELECT doc FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`,
      values,
    );
    const items = rows.slice(0, filter.limit).map((r) => r.doc);
    const last = items[items.length - 1];
    if (rows.length > filter.limit && last !== undefined) {
      return { items, nextCursor: encodeCursor(last.id) };
    }
    return { items };
  }

  async prune(before: number): Promise<number> {
    const rows = await this.db().writeRows<{ n: number }>('prune the audit log', 'WITH d AS (DELETE FROM audit WHERE at < $1 RETURNING 1) SELECT count(*)::int AS n FROM d', [before]);
    return rows[0]?.n ?? 0;
  }
}
