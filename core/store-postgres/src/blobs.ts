import type { Db } from './db.js';
import { operationError } from './errors.js';

/** A manifest: a JSON body that names blobs of its owner (which are kept while it exists). */
export interface BlobManifest {
  id: string;
  owner: string;
  /** Bytes of the content the manifest describes (as its user counts it). */
  bytes: number;
  createdAt: number;
  lastUsedAt: number;
  /** Any JSON; the caller gives it its shape. */
  body: unknown;
}

/** One stored blob of an owner, without its bytes. */
export interface BlobInfo {
  sha256: string;
  size: number;
  /** When it was stored or last touched. */
  storedAt: number;
}

interface ManifestRow {
  id: string;
  owner: string;
  bytes: number;
  created_at: number;
  last_used_at: number;
  body: unknown;
}

function manifestOf(row: ManifestRow): BlobManifest {
  return { id: row.id, owner: row.owner, bytes: row.bytes, createdAt: row.created_at, lastUsedAt: row.last_used_at, body: row.body };
}

const MANIFEST_COLUMNS = 'id, owner, bytes, created_at, last_used_at, body';

/**
 * Content-addressed blobs per owner, and manifests that refer to them, in tables of the
 * store's schema (so every replica sharing the schema reaches them). Writes are single
 * statements or short transactions outside the feed, and every delete is idempotent: two
 * replicas collecting at once each free a blob at most once between them. A blob that a
 * stored manifest names is never deleted (the check and the delete are one statement).
 * Blobs are read whole, with one SELECT each: callers keep them small (a daemon's upload
 * chunks are at most 4 MiB).
 */
export class PgBlobStore {
  constructor(private readonly db: () => Db) {}

  async getManifest(id: string): Promise<BlobManifest | undefined> {
    const rows = await this.db().rows<ManifestRow>('read a manifest', `SELECT ${MANIFEST_COLUMNS} FROM blob_manifests WHERE id = $1`, [id]);
    return rows[0] === undefined ? undefined : manifestOf(rows[0]);
  }

  /** Create or replace a manifest and the blobs it names, in one transaction. */
  async putManifest(manifest: BlobManifest, refs: readonly string[]): Promise<void> {
    const db = this.db();
    let client;
    try {
      client = await db.pool.connect();
    } catch (err) {
      throw operationError('store a manifest', err);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO blob_manifests (${MANIFEST_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
         ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, bytes = excluded.bytes, created_at = excluded.created_at,
           last_used_at = excluded.last_used_at, body = excluded.body`,
        [manifest.id, manifest.owner, manifest.bytes, manifest.createdAt, manifest.lastUsedAt, JSON.stringify(manifest.body)],
      );
      await client.query('DELETE FROM blob_refs WHERE manifest_id = $1', [manifest.id]);
      await client.query('INSERT INTO blob_refs (owner, sha256, manifest_id) SELECT $1, s, $2 FROM unnest($3::text[]) AS s ON CONFLICT DO NOTHING', [
        manifest.owner,
        manifest.id,
        [...new Set(refs)],
      ]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw operationError('store a manifest', err);
    } finally {
      client.release(broken);
    }
  }

  async touchManifest(id: string, at: number): Promise<void> {
    await this.db().rows('touch a manifest', 'UPDATE blob_manifests SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1', [id, at]);
  }

  /**
   * Remove a manifest (and its references), unless (when `notUsedAfter` is given) it was used
   * after then; nothing when it is not there. Resolves with whether it removed it.
   */
  async deleteManifest(id: string, notUsedAfter?: number): Promise<boolean> {
    const rows = await this.db().rows('delete a manifest', 'DELETE FROM blob_manifests WHERE id = $1 AND ($2::bigint IS NULL OR last_used_at <= $2) RETURNING id', [id, notUsedAfter ?? null]);
    return rows.length > 0;
  }

  async listManifests(): Promise<BlobManifest[]> {
    return (await this.db().rows<ManifestRow>('list manifests', `SELECT ${MANIFEST_COLUMNS} FROM blob_manifests ORDER BY id`)).map(manifestOf);
  }

  async hasBlob(owner: string, sha256: string): Promise<boolean> {
    return (await this.db().rows('look up a blob', 'SELECT 1 FROM blobs WHERE owner = $1 AND sha256 = $2', [owner, sha256])).length > 0;
  }

  async touchBlob(owner: string, sha256: string, at: number): Promise<void> {
    await this.db().rows('touch a blob', 'UPDATE blobs SET stored_at = GREATEST(stored_at, $3) WHERE owner = $1 AND sha256 = $2', [owner, sha256, at]);
  }

  /** Store a blob (its hash checked by the caller); false when the owner had it already (then it is touched). */
  async putBlob(owner: string, sha256: string, data: Buffer, at: number): Promise<boolean> {
    const rows = await this.db().rows<{ inserted: boolean }>(
      'store a blob',
      `INSERT INTO blobs (owner, sha256, size, stored_at, data) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (owner, sha256) DO UPDATE SET stored_at = GREATEST(blobs.stored_at, excluded.stored_at)
       RETURNING (xmax = 0) AS inserted`,
      [owner, sha256, data.length, at, data],
    );
    return rows[0]?.inserted === true;
  }

  /** The blob's bytes, from one SELECT; undefined when it is not there. */
  async readBlob(owner: string, sha256: string): Promise<Buffer | undefined> {
    const rows = await this.db().rows<{ data: Buffer }>('read a blob', 'SELECT data FROM blobs WHERE owner = $1 AND sha256 = $2', [owner, sha256]);
    return rows[0]?.data;
  }

  /**
   * Delete a blob no manifest names, and (when `notTouchedAfter` is given) that nobody stored
   * or touched since then. Resolves with the bytes freed: 0 when it was not there, is still
   * named or was touched since; of several replicas deleting it at once, one gets its size.
   */
  async deleteBlob(owner: string, sha256: string, notTouchedAfter?: number): Promise<number> {
    const rows = await this.db().rows<{ size: number }>(
      'delete a blob',
      `DELETE FROM blobs b WHERE b.owner = $1 AND b.sha256 = $2 AND ($3::bigint IS NULL OR b.stored_at <= $3)
         AND NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.owner = $1 AND r.sha256 = $2)
       RETURNING b.size`,
      [owner, sha256, notTouchedAfter ?? null],
    );
    return rows[0]?.size ?? 0;
  }

  async listBlobs(owner: string): Promise<BlobInfo[]> {
    const rows = await this.db().rows<{ sha256: string; size: number; stored_at: number }>(
      'list blobs',
      'SELECT sha256, size, stored_at FROM blobs WHERE owner = $1 ORDER BY sha256',
      [owner],
    );
    return rows.map((r) => ({ sha256: r.sha256, size: r.size, storedAt: r.stored_at }));
  }

  /** Owners that have blobs stored. */
  async owners(): Promise<string[]> {
    return (await this.db().rows<{ owner: string }>('list blob owners', 'SELECT DISTINCT owner FROM blobs ORDER BY owner')).map((r) => r.owner);
  }

  /** Bytes of the owner's blobs, summed by the database (so every replica counts the same). */
  async usedBytes(owner: string): Promise<number> {
    const rows = await this.db().rows<{ used: number }>('count blob bytes', 'SELECT COALESCE(sum(size), 0)::bigint AS used FROM blobs WHERE owner = $1', [owner]);
    return rows[0]?.used ?? 0;
  }
}
