import type { WorkspaceRecord } from '@sky/protocol';
import { applyWorkspacePatch, copyJson } from '@sky/plugin-api';
import type { WorkspacePatch, WorkspaceRepository } from '@sky/plugin-api';
import type { Db } from './db.js';

export class PgWorkspaceRepository implements WorkspaceRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: WorkspaceRecord): Promise<{ record: WorkspaceRecord; created: boolean }> {
    const record = copyJson(input);
    return this.db().tx('store a workspace', async (tx) => {
      const inserted = await tx.one('INSERT INTO workspaces (name, doc) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING name', [record.name, JSON.stringify(record)]);
      if (inserted !== undefined) return { record: copyJson(record), created: true };
      const existing = await tx.one<{ doc: WorkspaceRecord }>('SELECT doc FROM workspaces WHERE name = $1', [record.name]);
      if (existing === undefined) throw new Error(`workspace "${record.name}" conflicted on create but cannot be read`);
      return { record: existing.doc, created: false };
    });
  }

  async get(name: string): Promise<WorkspaceRecord | undefined> {
    return (await this.db().rows<{ doc: WorkspaceRecord }>('read a workspace', 'SELECT doc FROM workspaces WHERE name = $1', [name]))[0]?.doc;
  }

  async list(): Promise<WorkspaceRecord[]> {
    return (await this.db().rows<{ doc: WorkspaceRecord }>('list workspaces', 'SELECT doc FROM workspaces ORDER BY name')).map((r) => r.doc);
  }

  async update(name: string, patchInput: WorkspacePatch): Promise<WorkspaceRecord | undefined> {
    const patch = copyJson(patchInput);
    return this.db().tx('update a workspace', async (tx) => {
      const row = await tx.one<{ doc: WorkspaceRecord }>('SELECT doc FROM workspaces WHERE name = $1 FOR UPDATE', [name]);
      if (row === undefined) return undefined;
      const next = applyWorkspacePatch(row.doc, patch);
      await tx.rows('UPDATE workspaces SET doc = $2 WHERE name = $1', [name, JSON.stringify(next)]);
      return copyJson(next);
    });
  }

  async delete(name: string): Promise<boolean> {
    return (await this.db().writeRows('delete a workspace', 'DELETE FROM workspaces WHERE name = $1 RETURNING name', [name])).length > 0;
  }
}
