import type { TokenRecord, UserRecord } from '@sky/protocol';
import { applyUserPatch, copyJson, revokedToken, touchedToken } from '@sky/plugin-api';
import type { TokenRepository, UserPatch, UserRepository } from '@sky/plugin-api';
import type { Db } from './db.js';
import { invalid, isUniqueViolation } from './errors.js';

export class PgUserRepository implements UserRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: UserRecord): Promise<{ record: UserRecord; created: boolean }> {
    const record = copyJson(input);
    return this.db().tx('store a user', async (tx) => {
      const inserted = await tx.one<{ id: string }>('INSERT INTO users (id, name, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id', [record.id, record.name, JSON.stringify(record)]);
      if (inserted !== undefined) return { record: copyJson(record), created: true };
      const existing = await tx.one<{ doc: UserRecord }>('SELECT doc FROM users WHERE name = $1', [record.name]);
      if (existing !== undefined) return { record: existing.doc, created: false };
      throw invalid(`user id ${JSON.stringify(record.id)} is already used`, 'id');
    });
  }

  async get(id: string): Promise<UserRecord | undefined> {
    return (await this.db().rows<{ doc: UserRecord }>('read a user', 'SELECT doc FROM users WHERE id = $1', [id]))[0]?.doc;
  }

  async getByName(name: string): Promise<UserRecord | undefined> {
    return (await this.db().rows<{ doc: UserRecord }>('read a user', 'SELECT doc FROM users WHERE name = $1', [name]))[0]?.doc;
  }

  async list(): Promise<UserRecord[]> {
    return (await this.db().rows<{ doc: UserRecord }>('list users', 'SELECT doc FROM users ORDER BY name')).map((r) => r.doc);
  }

  async update(id: string, patchInput: UserPatch): Promise<UserRecord | undefined> {
    const patch = copyJson(patchInput);
    return this.db().tx('update a user', async (tx) => {
      const row = await tx.one<{ doc: UserRecord }>('SELECT doc FROM users WHERE id = $1 FOR UPDATE', [id]);
      if (row === undefined) return undefined;
      const next = applyUserPatch(row.doc, patch);
      try {
        await tx.rows('UPDATE users SET name = $2, doc = $3 WHERE id = $1', [id, next.name, JSON.stringify(next)]);
      } catch (err) {
        if (isUniqueViolation(err)) throw invalid(`user name ${JSON.stringify(next.name)} is taken`, 'name');
        throw err;
      }
      return copyJson(next);
    });
  }

  async delete(id: string): Promise<boolean> {
    // Its tokens go with it (ON DELETE CASCADE), hash index included.
    const rows = await this.db().writeRows('delete a user', 'DELETE FROM users WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }
}

export class PgTokenRepository implements TokenRepository {
  constructor(private readonly db: () => Db) {}

  async create(input: TokenRecord): Promise<TokenRecord> {
    const record = copyJson(input);
    return this.db().tx('store a token', async (tx) => {
      const user = await tx.one('SELECT 1 FROM users WHERE id = $1 FOR SHARE', [record.userId]);
      if (user === undefined) throw invalid(`cannot add a token to user ${JSON.stringify(record.userId)}: no such user`, 'userId');
      const inserted = await tx.one('INSERT INTO tokens (id, user_id, hash, doc) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id', [
        record.id,
        record.userId,
        record.hash,
        JSON.stringify(record),
      ]);
      if (inserted !== undefined) return copyJson(record);
      const sameId = await tx.one('SELECT 1 FROM tokens WHERE id = $1', [record.id]);
      if (sameId !== undefined) throw invalid(`token id ${JSON.stringify(record.id)} is already used`, 'id');
      // The hash is a secret's digest: never put it in an error.
      throw invalid('a token with this hash already exists', 'hash');
    });
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    return (await this.db().rows<{ doc: TokenRecord }>('read a token', 'SELECT doc FROM tokens WHERE id = $1', [id]))[0]?.doc;
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    return (await this.db().rows<{ doc: TokenRecord }>('find a token', 'SELECT doc FROM tokens WHERE hash = $1', [hash]))[0]?.doc;
  }

  async listByUser(userId: string): Promise<TokenRecord[]> {
    return (await this.db().rows<{ doc: TokenRecord }>('list tokens', 'SELECT doc FROM tokens WHERE user_id = $1 ORDER BY id', [userId])).map((r) => r.doc);
  }

  async revoke(id: string, at: number): Promise<TokenRecord | undefined> {
    return this.#change('revoke a token', id, (t) => revokedToken(t, at));
  }

  async touch(id: string, at: number): Promise<TokenRecord | undefined> {
    return this.#change('touch a token', id, (t) => touchedToken(t, at));
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db().writeRows('delete a token', 'DELETE FROM tokens WHERE id = $1 RETURNING id', [id])).length > 0;
  }

  async #change(action: string, id: string, change: (t: TokenRecord) => TokenRecord): Promise<TokenRecord | undefined> {
    return this.db().tx(action, async (tx) => {
      const row = await tx.one<{ doc: TokenRecord }>('SELECT doc FROM tokens WHERE id = $1 FOR UPDATE', [id]);
      if (row === undefined) return undefined;
      const next = change(row.doc);
      await tx.rows('UPDATE tokens SET doc = $2 WHERE id = $1', [id, JSON.stringify(next)]);
      return copyJson(next);
    });
  }
}
