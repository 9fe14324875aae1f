import { isManagedJobTerminal } from '@sky/protocol';
import type { ManagedJobEvent, ManagedJobRecord, ManagedJobSpec } from '@sky/protocol';
import { MANAGED_JOB_EVENT_CAP, applyManagedJobPatch, checkManagedJobLimit, copyJson, newManagedJob } from '@sky/plugin-api';
import type { ManagedJobFilter, ManagedJobPatch, ManagedJobRepository } from '@sky/plugin-api';
import type { Db } from './db.js';

/** A whole number the id and version columns can hold (anything else matches nothing). */
function isId(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

export class PgManagedJobRepository implements ManagedJobRepository {
  constructor(private readonly db: () => Db) {}

  async create(jobInput: Omit<ManagedJobRecord, 'id' | 'version'>, specInput: ManagedJobSpec): Promise<ManagedJobRecord> {
    const job = copyJson(jobInput);
    const spec = copyJson(specInput);
    return this.db().feedTx('store a managed job', async (tx) => {
      const counter = await tx.one<{ id: number }>(
        `INSERT INTO counters (name, value) VALUES ('managed_job', 1)
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value AS id`,
      );
      if (counter === undefined) throw new Error('the managed job counter did not count');
      const record = newManagedJob(job, counter.id);
      const ended = isManagedJobTerminal(record.status);
      await tx.rows('INSERT INTO managed_jobs (id, user_id, status, active, request_id, version, doc, spec) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        record.id,
        record.user,
        record.status,
        !ended,
        record.requestId ?? null,
        record.version,
        JSON.stringify(record),
        ended ? null : JSON.stringify(spec),
      ]);
      tx.emit({ kind: 'managedJob', id: record.id, record });
      return copyJson(record);
    });
  }

  async get(id: number): Promise<ManagedJobRecord | undefined> {
    if (!isId(id)) return undefined;
    const rows = await this.db().rows<{ doc: ManagedJobRecord }>('read a managed job', 'SELECT doc FROM managed_jobs WHERE id = $1', [id]);
    return rows[0]?.doc;
  }

  async getSpec(id: number): Promise<ManagedJobSpec | undefined> {
    if (!isId(id)) return undefined;
    const rows = await this.db().rows<{ spec: ManagedJobSpec | null }>('read a managed job spec', 'SELECT spec FROM managed_jobs WHERE id = $1', [id]);
    return rows[0]?.spec ?? undefined;
  }

  async list(filter: ManagedJobFilter = {}): Promise<ManagedJobRecord[]> {
    checkManagedJobLimit(filter);
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.user !== undefined) {
      values.push(filter.user);
      where.push(`user_id = $${values.length}`);
    }
    if (filter.active === true) where.push('active');
    if (filter.requestId !== undefined) {
      values.push(filter.requestId);
      where.push(`request_id = $${values.length}`);
    }
    let limit = '';
    if (filter.limit !== undefined) {
      values.push(filter.limit);
      limit = ` LIMIT $${values.length}`;
    }
    const rows = await this.db().rows<{ doc: ManagedJobRecord }>(
      'list managed jobs',
      `SELECT doc FROM managed_jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC${limit}`,
      values,
    );
    return rows.map((r) => r.doc);
  }

  async update(id: number, expectedVersion: number, patchInput: ManagedJobPatch): Promise<ManagedJobRecord | undefined> {
    const patch = copyJson(patchInput);
    if (!isId(id) || !isId(expectedVersion)) return undefined;
    return this.db().feedTx('update a managed job', async (tx) => {
      const row = await tx.one<{ doc: ManagedJobRecord }>('SELECT doc FROM managed_jobs WHERE id = $1 AND version = $2 FOR UPDATE', [id, expectedVersion]);
      if (row === undefined) return undefined;
      const next = applyManagedJobPatch(row.doc, patch);
      const ended = isManagedJobTerminal(next.status);
      await tx.rows(`UPDATE managed_jobs SET user_id = $2, status = $3, active = $4, request_id = $5, version = $6, doc = $7${ended ? ', spec = NULL' : ''} WHERE id = $1`, [
        id,
        next.user,
        next.status,
        !ended,
        next.requestId ?? null,
        next.version,
        JSON.stringify(next),
      ]);
      tx.emit({ kind: 'managedJob', id, record: next });
      return copyJson(next);
    });
  }

  async appendEvents(id: number, events: readonly ManagedJobEvent[]): Promise<void> {
    if (events.length === 0 || !isId(id)) return;
    const added = events.map((event) => ({ at: event.at, text: event.text }));
    // Appended and capped in one statement: the row lock of the UPDATE orders concurrent appends.
    await this.db().writeRows('append to a managed job log',
      `UPDATE managed_jobs SET log = (
         SELECT COALESCE(jsonb_agg(e.value ORDER BY e.ord), '[]'::jsonb) FROM (
           SELECT value, ord FROM jsonb_array_elements(log || $2::jsonb) WITH ORDINALITY AS x(value, ord)
            ORDER BY ord DESC LIMIT $3) e)
       WHERE id = $1`,
      [id, JSON.stringify(added), MANAGED_JOB_EVENT_CAP],
    );
  }

  async events(id: number): Promise<ManagedJobEvent[]> {
    if (!isId(id)) return [];
    const rows = await this.db().rows<{ log: ManagedJobEvent[] }>('read a managed job log', 'SELECT log FROM managed_jobs WHERE id = $1', [id]);
    return rows[0]?.log ?? [];
  }
}
