import { SkyError } from '@sky/protocol';
import type { ServiceRecord, ServiceVersionSpec } from '@sky/protocol';
import { SERVICE_EVENT_CAP, applyServicePatch, checkServiceVersionSpec, copyJson, isServiceVersion, newService } from '@sky/plugin-api';
import type { ServiceEvent, ServiceFilter, ServicePatch, ServiceRepository } from '@sky/plugin-api';
import type { Db } from './db.js';

/** A whole number the revision and version columns (int) can hold; anything else matches nothing. */
function isInt4(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= 2_147_483_647;
}

/** Whether a name can be stored at all (PostgreSQL text holds no NUL); anything else names no service. */
function isName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && !name.includes('\x00');
}

export class PgServiceRepository implements ServiceRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: Omit<ServiceRecord, 'revision'>, specInput: ServiceVersionSpec): Promise<{ record: ServiceRecord; created: boolean }> {
    const record = newService(input);
    const spec = copyJson(specInput);
    if (!isName(record.name)) {
      throw new SkyError('VALIDATION_FAILED', `service name ${JSON.stringify(record.name)} cannot be stored: it must be a non-empty string without NUL`, { details: { field: 'name' } });
    }
    checkServiceVersionSpec(spec);
    if (!isInt4(spec.version)) throw new SkyError('VALIDATION_FAILED', `service version ${spec.version} is too large to store`, { details: { field: 'version' } });
    return this.db().feedTx('store a service', async (tx) => {
      const inserted = await tx.one<{ name: string }>(
        'INSERT INTO services (name, user_id, revision, doc) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name',
        [record.name, record.user, record.revision, JSON.stringify(record)],
      );
      if (inserted === undefined) {
        const existing = await tx.one<{ doc: ServiceRecord }>('SELECT doc FROM services WHERE name = $1', [record.name]);
        if (existing === undefined) throw new Error(`service "${record.name}" conflicted on create but cannot be read`);
        return { record: existing.doc, created: false };
      }
      await tx.rows('INSERT INTO service_versions (name, version, spec) VALUES ($1, $2, $3)', [record.name, spec.version, JSON.stringify(spec)]);
      tx.emit({ kind: 'service', name: record.name, record });
      return { record: copyJson(record), created: true };
    });
  }

  async get(name: string): Promise<ServiceRecord | undefined> {
    if (!isName(name)) return undefined;
    const rows = await this.db().rows<{ doc: ServiceRecord }>('read a service', 'SELECT doc FROM services WHERE name = $1', [name]);
    return rows[0]?.doc;
  }

  async list(filter: ServiceFilter = {}): Promise<ServiceRecord[]> {
    const rows =
      filter.user === undefined
        ? await this.db().rows<{ doc: ServiceRecord }>('list services', 'SELECT doc FROM services ORDER BY name')
        : await this.db().rows<{ doc: ServiceRecord }>('list services', 'SELECT doc FROM services WHERE user_id = $1 ORDER BY name', [filter.user]);
    return rows.map((r) => r.doc);
  }

  async update(name: string, expectedRevision: number, patchInput: ServicePatch): Promise<ServiceRecord | undefined> {
    const patch = copyJson(patchInput);
    if (!isName(name) || !isInt4(expectedRevision)) return undefined;
    return this.db().feedTx('update a service', async (tx) => {
      const row = await tx.one<{ doc: ServiceRecord }>('SELECT doc FROM services WHERE name = $1 AND revision = $2 FOR UPDATE', [name, expectedRevision]);
      if (row === undefined) return undefined;
      const next = applyServicePatch(row.doc, patch);
      await tx.rows('UPDATE services SET revision = $2, doc = $3 WHERE name = $1', [name, next.revision, JSON.stringify(next)]);
      tx.emit({ kind: 'service', name, record: next });
      return copyJson(next);
    });
  }

  async delete(name: string, expectedRevision?: number): Promise<boolean> {
    if (!isName(name) || (expectedRevision !== undefined && !isInt4(expectedRevision))) return false;
    return this.db().feedTx('delete a service', async (tx) => {
      // Its versions go with it (ON DELETE CASCADE), its log is in the row.
      const deleted =
        expectedRevision === undefined
          ? await tx.one<{ name: string }>('DELETE FROM services WHERE name = $1 RETURNING name', [name])
          : await tx.one<{ name: string }>('DELETE FROM services WHERE name = $1 AND revision = $2 RETURNING name', [name, expectedRevision]);
      if (deleted === undefined) return false;
      tx.emit({ kind: 'service', name, record: null });
      return true;
    });
  }

  async putVersion(name: string, specInput: ServiceVersionSpec): Promise<void> {
    const spec = copyJson(specInput);
    checkServiceVersionSpec(spec);
    if (!isName(name) || !isInt4(spec.version)) return;
    await this.db().tx('store a service version', async (tx) => {
      // The share lock keeps a concurrent delete from removing the service between the check and the insert.
      const found = await tx.one('SELECT 1 FROM services WHERE name = $1 FOR KEY SHARE', [name]);
      if (found === undefined) return;
      await tx.rows('INSERT INTO service_versions (name, version, spec) VALUES ($1, $2, $3) ON CONFLICT (name, version) DO UPDATE SET spec = EXCLUDED.spec', [
        name,
        spec.version,
        JSON.stringify(spec),
      ]);
    });
  }

  async getVersion(name: string, version: number): Promise<ServiceVersionSpec | undefined> {
    if (!isName(name) || !isServiceVersion(version) || !isInt4(version)) return undefined;
    const rows = await this.db().rows<{ spec: ServiceVersionSpec }>('read a service version', 'SELECT spec FROM service_versions WHERE name = $1 AND version = $2', [name, version]);
    return rows[0]?.spec;
  }

  async appendEvents(name: string, events: readonly ServiceEvent[]): Promise<void> {
    if (events.length === 0 || !isName(name)) return;
    const added = events.map((event) => ({ at: event.at, text: event.text }));
    // Appended and capped in one statement: the row lock of the UPDATE orders concurrent appends.
    await this.db().writeRows(
      'append to a service log',
      `UPDATE services SET log = (
         SELECT COALESCE(jsonb_agg(e.value ORDER BY e.ord), '[]'::jsonb) FROM (
           SELECT value, ord FROM jsonb_array_elements(log || $2::jsonb) WITH ORDINALITY AS x(value, ord)
            ORDER BY ord DESC LIMIT $3) e)
       WHERE name = $1`,
      [name, JSON.stringify(added), SERVICE_EVENT_CAP],
    );
  }

  async events(name: string): Promise<ServiceEvent[]> {
    if (!isName(name)) return [];
    const rows = await this.db().rows<{ log: ServiceEvent[] }>('read a service log', 'SELECT log FROM services WHERE name = $1', [name]);
    return rows[0]?.log ?? [];
  }
}
