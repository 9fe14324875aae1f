import type { SessionRecord } from '@sky/protocol';
import { copyJson, revokedSession } from '@sky/plugin-api';
import type { SessionRepository } from '@sky/plugin-api';
import type { Db } from './db.js';
import { invalid } from './errors.js';

export class PgSessionRepository implements SessionRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: SessionRecord): Promise<SessionRecord> {
    const record = copyJson(input);
    return this.db().tx('store a session', async (tx) => {
      const inserted = await tx.one('INSERT INTO sessions (id, user_id, hash, doc) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id', [
        record.id,
        record.userId,
        record.hash,
        JSON.stringify(record),
      ]);
      if (inserted !== undefined) return copyJson(record);
      if ((await tx.one('SELECT 1 FROM sessions WHERE id = $1', [record.id])) !== undefined) throw invalid(`session id ${JSON.stringify(record.id)} is already used`, 'id');
      // The hash is a secret's digest: never put it in an error.
      throw invalid('a session with this hash already exists', 'hash');
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return (await this.db().rows<{ doc: SessionRecord }>('read a session', 'SELECT doc FROM sessions WHERE id = $1', [id]))[0]?.doc;
  }

  async findByHash(hash: string): Promise<SessionRecord | undefined> {
    return (await this.db().rows<{ doc: SessionRecord }>('find a session', 'SELECT doc FROM sessions WHERE hash = $1', [hash]))[0]?.doc;
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    return (await this.db().rows<{ doc: SessionRecord }>('list sessions', 'SELECT doc FROM sessions WHERE user_id = $1 ORDER BY id', [userId])).map((r) => r.doc);
  }

  async revoke(id: string, at: number): Promise<SessionRecord | undefined> {
    return this.db().tx('revoke a session', async (tx) => {
      const row = await tx.one<{ doc: SessionRecord }>('SELECT doc FROM sessions WHERE id = $1 FOR UPDATE', [id]);
      if (row === undefined) return undefined;
      const next = revokedSession(row.doc, at);
      await tx.rows('UPDATE sessions SET doc = $2 WHERE id = $1', [id, JSON.stringify(next)]);
      return copyJson(next);
    });
  }

  async revokeByUser(userId: string, at: number): Promise<number> {
    const rows = await this.db().writeRows<{ n: number }>('revoke the sessions of a user',
      `WITH u AS (UPDATE sessions SET doc = jsonb_set(doc, '{revokedAt}', to_jsonb($2::bigint))
                   WHERE user_id = $1 AND NOT (doc ? 'revokedAt') RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [userId, at],
    );
    return rows[0]?.n ?? 0;
  }

  async prune(before: number): Promise<number> {
    const rows = await this.db().writeRows<{ n: number }>('prune sessions',
      `WITH d AS (DELETE FROM sessions WHERE (doc->>'expiresAt')::float8 < $1 OR (doc->>'revokedAt')::float8 < $1 RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [before],
    );
    return rows[0]?.n ?? 0;
  }
}
