import type { UsageRecord } from '@sky/protocol';
import { checkUsageFilter, checkUsageRecord, copyJson, type UsageFilter, type UsageRepository } from '@sky/plugin-api';
import type { Db } from './db.js';

interface Row {
  doc: UsageRecord;
}

/** The row's seq: an interval's start, a job's id (the entry's identity after kind and cluster). */
function seqOf(record: UsageRecord): number {
  return record.kind === 'job' ? (record.jobId ?? 0) : record.start;
}

/**
 * The usage ledger in PostgreSQL: one row per entry. Opening is an insert that the primary key
 * and the partial unique index on open intervals turn into nothing when the incarnation has
 * one open already (or this very one), so replicas recording the same transition count it once.
 */
export class PgUsageRepository implements UsageRepository {
  constructor(private readonly db: () => Db) {}

  async open(input: UsageRecord): Promise<boolean> {
    checkUsageRecord(input, 'cluster');
    const record = copyJson(input);
    const rows = await this.db().writeRows<{ seq: string }>(
      'open a usage interval',
      'INSERT INTO usage (kind, cluster_id, seq, user_id, start_at, end_at, doc) VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT DO NOTHING RETURNING seq',
      [record.kind, record.clusterId, seqOf(record), record.user, record.start, JSON.stringify(record)],
    );
    return rows.length > 0;
  }

  async close(clusterId: string, end: number): Promise<UsageRecord | undefined> {
    if (!Number.isSafeInteger(end)) return undefined;
    const rows = await this.db().writeRows<Row>(
      'close a usage interval',
      `UPDATE usage SET end_at = GREATEST($2::bigint, start_at), doc = jsonb_set(doc, '{end}', to_jsonb(GREATEST($2::bigint, start_at)))
        WHERE kind = 'cluster' AND cluster_id = $1 AND end_at IS NULL RETURNING doc`,
      [clusterId, end],
    );
    return rows[0]?.doc;
  }

  async listOpen(): Promise<UsageRecord[]> {
    const rows = await this.db().rows<Row>('list open usage intervals', "SELECT doc FROM usage WHERE kind = 'cluster' AND end_at IS NULL ORDER BY cluster_id");
    return rows.map((r) => r.doc);
  }

  async recordJob(input: UsageRecord): Promise<boolean> {
    checkUsageRecord(input, 'job');
    const record = copyJson(input);
    const rows = await this.db().writeRows<{ seq: string }>(
      'record a job in the usage ledger',
      'INSERT INTO usage (kind, cluster_id, seq, user_id, start_at, end_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING seq',
      [record.kind, record.clusterId, seqOf(record), record.user, record.start, record.end, JSON.stringify(record)],
    );
    return rows.length > 0;
  }

  async list(filter: UsageFilter): Promise<UsageRecord[]> {
    checkUsageFilter(filter);
    const values: unknown[] = [filter.since, filter.until];
    let where = 'start_at < $2 AND (end_at IS NULL OR end_at > $1 OR (end_at = start_at AND start_at >= $1))';
    if (filter.user !== undefined) {
      values.push(filter.user);
      where += ' AND user_id = $3';
    }
    const rows = await this.db().rows<Row>('list usage', `SELECT doc FROM usage WHERE ${where} ORDER BY start_at, kind, cluster_id, seq`, values);
    return rows.map((r) => r.doc);
  }
}
