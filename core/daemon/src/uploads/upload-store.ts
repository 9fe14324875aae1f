import type { UploadManifest } from '@sky/protocol';

/** An upload as the daemon keeps it: whose it is and what it holds. */
export interface StoredUpload {
  id: string;
  /** The user id of its owner: only they may read it, use it, or learn that it exists. */
  owner: string;
  manifest: UploadManifest;
  bytes: number;
  createdAt: number;
  /** Last time it was announced again or used by a launch or exec (garbage collection goes by it). */
  lastUsedAt: number;
}

/** One stored chunk of a user. */
export interface StoredChunk {
  sha256: string;
  size: number;
  /** When it was stored or last announced (chunks younger than a grace period are never collected: an upload may be under way). */
  storedAt: number;
}

/**
 * Where uploads live: manifests by id, and chunks per owner (deduplicated per user only, so no
 * user can learn whether another stored some content). The filesystem implementation keeps
 * them under the daemon's state directory; a store shared by several replicas may replace it.
 */
export interface UploadStore {
  open(): Promise<void>;
  getManifest(id: string): Promise<StoredUpload | undefined>;
  /** Create or replace. */
  putManifest(upload: StoredUpload): Promise<void>;
  touchManifest(id: string, at: number): Promise<void>;
  deleteManifest(id: string): Promise<void>;
  listManifests(): Promise<StoredUpload[]>;
  hasChunk(owner: string, sha256: string): Promise<boolean>;
  /** Mark a stored chunk as just announced again (collection spares it for a grace period). */
  touchChunk(owner: string, sha256: string, at: number): Promise<void>;
  /** Store a chunk (its hash already verified); false when the owner had it already. */
  putChunk(owner: string, sha256: string, data: Buffer): Promise<boolean>;
  /** The chunk's bytes; the stream errors when it is missing. */
  openChunk(owner: string, sha256: string): NodeJS.ReadableStream;
  /** Remove a chunk; resolves with the bytes freed (0 when it was not there). */
  deleteChunk(owner: string, sha256: string): Promise<number>;
  listChunks(owner: string): Promise<StoredChunk[]>;
  /** Users that have chunks stored. */
  owners(): Promise<string[]>;
  /** Bytes of the owner's chunks. */
  usedBytes(owner: string): Promise<number>;
}
