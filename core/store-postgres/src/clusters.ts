import type { ClusterRecord } from '@sky/protocol';
import { applyClusterPatch, applyOwnerChange, copyJson } from '@sky/plugin-api';
import type { ClusterPatch, ClusterRepository } from '@sky/plugin-api';
import type { Db, Tx } from './db.js';

function columns(record: ClusterRecord): unknown[] {
  return [record.name, record.clusterId, record.owner, record.status, record.launchedAt ?? null, record.version, JSON.stringify(record)];
}

/** The cluster row locked for this transaction, at `expectedVersion` when given. */
export async function lockCluster(tx: Tx, name: string, expectedVersion?: number): Promise<ClusterRecord | undefined> {
  const row =
    expectedVersion === undefined
      ? await tx.one<{ doc: ClusterRecord }>('SELECT doc FROM clusters WHERE name = $1 FOR UPDATE', [name])
      : await tx.one<{ doc: ClusterRecord }>('SELECT doc FROM clusters WHERE name = $1 AND version = $2 FOR UPDATE', [name, expectedVersion]);
  return row?.doc;
}

function isId(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= 2_147_483_647;
}

export class PgClusterRepository implements ClusterRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: Omit<ClusterRecord, 'version'>): Promise<{ record: ClusterRecord; created: boolean }> {
    const record = { ...copyJson(input), version: 1 } as ClusterRecord;
    return this.db().feedTx('store a cluster', async (tx) => {
      const inserted = await tx.one<{ name: string }>(
        `INSERT INTO clusters (name, cluster_id, owner, status, created_at, version, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (name) DO NOTHING RETURNING name`,
        columns(record),
      );
      if (inserted !== undefined) {
        tx.emit({ kind: 'cluster', name: record.name, record });
        return { record: copyJson(record), created: true };
      }
      const existing = await tx.one<{ doc: ClusterRecord }>('SELECT doc FROM clusters WHERE name = $1', [record.name]);
      if (existing === undefined) throw new Error(`cluster "${record.name}" conflicted on create but cannot be read`);
      return { record: existing.doc, created: false };
    });
  }

  async get(name: string): Promise<ClusterRecord | undefined> {
    const rows = await this.db().rows<{ doc: ClusterRecord }>('read a cluster', 'SELECT doc FROM clusters WHERE name = $1', [name]);
    return rows[0]?.doc;
  }

  async list(filter: { owner?: string } = {}): Promise<ClusterRecord[]> {
    // The stored JSON texts, joined into one array and parsed once: a whole view (10,000
    // clusters) costs one JSON.parse instead of a parse and a row object each.
    const rows =
      filter.owner === undefined
        ? await this.db().rows<{ doc: string }>('list clusters', 'SELECT doc::text AS doc FROM clusters ORDER BY name')
        : await this.db().rows<{ doc: string }>('list clusters', 'SELECT doc::text AS doc FROM clusters WHERE owner = $1 ORDER BY name', [filter.owner]);
    if (rows.length === 0) return [];
    return JSON.parse(`[${rows.map((r) => r.doc).join(',')}]`) as ClusterRecord[];
  }

  async update(name: string, expectedVersion: number, patchInput: ClusterPatch): Promise<ClusterRecord | undefined> {
    const patch = copyJson(patchInput);
    return this.#change('update a cluster', name, expectedVersion, (current) => applyClusterPatch(current, patch));
  }

  async changeOwner(name: string, expectedVersion: number, owner: { id: string; name: string }, updatedAt: number): Promise<ClusterRecord | undefined> {
    const next = { id: owner.id, name: owner.name };
    return this.#change('change the owner of a cluster', name, expectedVersion, (current) => applyOwnerChange(current, next, updatedAt));
  }

  async delete(name: string, expectedVersion?: number): Promise<boolean> {
    if (expectedVersion !== undefined && !isId(expectedVersion)) return false;
    return this.db().feedTx('delete a cluster', async (tx) => {
      const current = await lockCluster(tx, name, expectedVersion);
      if (current === undefined) return false;
      const jobs = await tx.rows<{ id: number }>('DELETE FROM jobs WHERE cluster = $1 RETURNING id', [name]);
      await tx.rows('DELETE FROM clusters WHERE name = $1', [name]);
      const deleted = { owner: current.owner, workspace: current.workspace };
      for (const { id } of jobs.sort((a, b) => a.id - b.id)) tx.emit({ kind: 'job', cluster: name, id, record: undefined, deleted: { ...deleted } });
      tx.emit({ kind: 'cluster', name, record: undefined, deleted });
      return true;
    });
  }

  /** Compare-and-set on version: lock the row at that version, apply in JS, write back. */
  async #change(action: string, name: string, expectedVersion: number, apply: (current: ClusterRecord) => ClusterRecord): Promise<ClusterRecord | undefined> {
    if (!isId(expectedVersion)) return undefined;
    return this.db().feedTx(action, async (tx) => {
      const current = await lockCluster(tx, name, expectedVersion);
      if (current === undefined) return undefined;
      const next = apply(current);
      const values = columns(next);
      await tx.rows('UPDATE clusters SET cluster_id = $2, owner = $3, status = $4, created_at = $5, version = $6, doc = $7 WHERE name = $1', values);
      tx.emit({ kind: 'cluster', name, record: next });
      return copyJson(next);
    });
  }
}
