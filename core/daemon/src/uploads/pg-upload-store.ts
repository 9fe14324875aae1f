import { Readable } from 'node:stream';
import type { StateStore } from '@sky/plugin-api';
import { SHA256_PATTERN, SkyError, UPLOAD_ID_PATTERN, type UploadManifest } from '@sky/protocol';
import type { BlobManifest, PgBlobStore } from '@sky/store-postgres';
import type { StoredChunk, StoredUpload, UploadStore } from './upload-store.js';

function checkId(id: string): void {
  if (!UPLOAD_ID_PATTERN.test(id)) throw new Error(`not an upload id: ${id}`);
}

function checkSha(sha256: string): void {
  if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
}

function uploadOf(stored: BlobManifest): StoredUpload {
  // Written by putManifest below from a checked manifest; the database keeps it as given.
  return { id: stored.id, owner: stored.owner, manifest: stored.body as UploadManifest, bytes: stored.bytes, createdAt: stored.createdAt, lastUsedAt: stored.lastUsedAt };
}

function chunksOf(manifest: UploadManifest): string[] {
  return manifest.files.flatMap((file) => file.chunks);
}

/** The PostgreSQL store's blobs, when the state store is PostgreSQL (its package is loaded on demand, so no instanceof). */
export function blobsOf(store: StateStore): PgBlobStore | undefined {
  if (store.kind !== 'postgres' || !('blobs' in store)) return undefined;
  return (store as StateStore & { blobs: PgBlobStore }).blobs;
}

/**
 * Uploads in the PostgreSQL state store's schema, so every replica sharing it reaches them:
 * a client may upload to one replica and launch through another. Manifests name their chunks
 * in the database; a chunk is deleted only when no manifest names it and nobody announced or
 * stored it again since collection listed it, and an upload only when nobody used it since
 * collection listed it, so two replicas collecting at once (or one
 * collecting while another takes an upload) never lose a chunk still in use, and each freed
 * byte is counted once. A chunk (at most UPLOAD_CHUNK_BYTES, 4 MiB) is read with one SELECT
 * when its stream is first read, and held once in memory while it is streamed.
 */
export class PgUploadStore implements UploadStore {
  /** storedAt of each chunk as the last listChunks of its owner saw it (per owner). */
  private readonly listed = new Map<string, Map<string, number>>();
  /** lastUsedAt of each upload as the last listManifests saw it. */
  private listedUses = new Map<string, number>();

  constructor(private readonly blobs: PgBlobStore) {}

  async open(): Promise<void> {
    // The tables come with the state store's migrations.
  }

  async getManifest(id: string): Promise<StoredUpload | undefined> {
    checkId(id);
    const stored = await this.blobs.getManifest(id);
    return stored === undefined ? undefined : uploadOf(stored);
  }

  async putManifest(upload: StoredUpload): Promise<void> {
    checkId(upload.id);
    await this.blobs.putManifest(
      { id: upload.id, owner: upload.owner, bytes: upload.bytes, createdAt: upload.createdAt, lastUsedAt: upload.lastUsedAt, body: upload.manifest },
      chunksOf(upload.manifest),
    );
  }

  async touchManifest(id: string, at: number): Promise<void> {
    checkId(id);
    await this.blobs.touchManifest(id, at);
  }

  async deleteManifest(id: string): Promise<void> {
    checkId(id);
    await this.blobs.deleteManifest(id, this.listedUses.get(id));
    this.listedUses.delete(id);
  }

  async listManifests(): Promise<StoredUpload[]> {
    const uploads = (await this.blobs.listManifests()).map(uploadOf);
    this.listedUses = new Map(uploads.map((u) => [u.id, u.lastUsedAt]));
    return uploads;
  }

  async hasChunk(owner: string, sha256: string): Promise<boolean> {
    checkSha(sha256);
    return this.blobs.hasBlob(owner, sha256);
  }

  async touchChunk(owner: string, sha256: string, at: number): Promise<void> {
    checkSha(sha256);
    await this.blobs.touchBlob(owner, sha256, at);
  }

  async putChunk(owner: string, sha256: string, data: Buffer): Promise<boolean> {
    checkSha(sha256);
    return this.blobs.putBlob(owner, sha256, data, Date.now());
  }

  openChunk(owner: string, sha256: string): NodeJS.ReadableStream {
    const blobs = this.blobs;
    return Readable.from(
      (async function* () {
        checkSha(sha256);
        const data = await blobs.readBlob(owner, sha256);
        if (data === undefined) {
          throw new SkyError('UPLOAD_NOT_FOUND', `chunk ${sha256} is not stored`, {
            hint: 'The upload lost a chunk (it was collected, or never sent): upload the files again.',
          });
        }
        yield data;
      })(),
      { objectMode: false },
    );
  }

  async deleteChunk(owner: string, sha256: string): Promise<number> {
    checkSha(sha256);
    return this.blobs.deleteBlob(owner, sha256, this.listed.get(owner)?.get(sha256));
  }

  async listChunks(owner: string): Promise<StoredChunk[]> {
    const chunks = await this.blobs.listBlobs(owner);
    this.listed.set(owner, new Map(chunks.map((c) => [c.sha256, c.storedAt])));
    return chunks;
  }

  owners(): Promise<string[]> {
    return this.blobs.owners();
  }

  usedBytes(owner: string): Promise<number> {
    return this.blobs.usedBytes(owner);
  }
}
