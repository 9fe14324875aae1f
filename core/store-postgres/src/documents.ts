import type { PluginDocumentRepository, StoredDocument } from '@sky/plugin-api';
import type { Db } from './db.js';

interface Row {
  plugin: string;
  name: string;
  revision: string;
  value: unknown;
}

/**
 * Plugins' documents in PostgreSQL: one row each, written by compare-and-set on its revision
 * in one statement (an insert that does nothing when the row exists, or an update guarded by
 * the revision read), so replicas writing at once never lose a change.
 */
export class PgDocumentRepository implements PluginDocumentRepository {
  constructor(private readonly db: () => Db) {}

  async get(plugin: string, name: string): Promise<StoredDocument | undefined> {
    const rows = await this.db().rows<Row>('read a plugin document', 'SELECT revision, value FROM plugin_documents WHERE plugin = $1 AND name = $2', [plugin, name]);
    const row = rows[0];
    return row === undefined ? undefined : { value: row.value, revision: Number(row.revision) };
  }

  async put(plugin: string, name: string, value: unknown, expected: number): Promise<number | undefined> {
    const json = JSON.stringify(value ?? null);
    const rows =
      expected === 0
        ? await this.db().rows<Row>(
            'write a plugin document',
            'INSERT INTO plugin_documents (plugin, name, revision, value) VALUES ($1, $2, 1, $3::jsonb) ON CONFLICT (plugin, name) DO NOTHING RETURNING revision',
            [plugin, name, json],
          )
        : await this.db().rows<Row>(
            'write a plugin document',
            'UPDATE plugin_documents SET value = $3::jsonb, revision = revision + 1, updated_at = clock_timestamp() WHERE plugin = $1 AND name = $2 AND revision = $4 RETURNING revision',
            [plugin, name, json, expected],
          );
    const row = rows[0];
    return row === undefined ? undefined : Number(row.revision);
  }

  async list(): Promise<Array<{ plugin: string; name: string } & StoredDocument>> {
    const rows = await this.db().rows<Row>('list plugin documents', 'SELECT plugin, name, revision, value FROM plugin_documents ORDER BY plugin, name');
    return rows.map((r) => ({ plugin: r.plugin, name: r.name, value: r.value, revision: Number(r.revision) }));
  }
}
