// Client side of uploads: a directory (or file) becomes a manifest of chunk digests; only the
// chunks the API server lacks for this user are sent, so a re-launch sends nothing new and an
// interrupted upload resumes where it stopped.
import { open } from 'node:fs/promises';
import type { ChunkStored, UploadCreated } from '@sky/protocol';
import { chunkCount, chunkLength, fillPath, ROUTE_PATHS, SkyError, UPLOAD_CHUNK_BYTES, type UploadManifest } from '@sky/protocol/wire';
import { walkTree } from '@sky/protocol/files';
import type { Transport } from './transport.js';

/** Where the bytes of one chunk are on this machine. */
interface ChunkPlace {
  file: string;
  offset: number;
  length: number;
}

export interface PreparedUpload {
  manifest: UploadManifest;
  bytes: number;
  places: Map<string, ChunkPlace>;
}

/** What an upload did. */
export interface UploadResult {
  id: string;
  files: number;
  bytes: number;
  /** Distinct chunks of the upload, and those actually sent (the rest the server had). */
  chunks: number;
  sentChunks: number;
  sentBytes: number;
}

export interface UploadProgress {
  path: string;
  files: number;
  bytes: number;
  chunks: number;
  /** Chunks to send (announced) or sent so far. */
  missingChunks: number;
  missingBytes: number;
  sentChunks: number;
}

export interface UploadOptions {
  /** Called once the server has said what it lacks, and after each chunk sent. */
  onProgress?: (progress: UploadProgress) => void;
  signal?: AbortSignal;
  /** Chunks in flight at once (default 4). */
  concurrency?: number;
}

const HASHERS = 4;

async function readPiece(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const data = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(data, filled, length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled !== length) {
      throw new SkyError('TASK_INVALID', `${file} changed while it was being uploaded (shorter than ${offset + length} bytes)`, { hint: 'Launch again once it no longer changes.' });
    }
    return data;
  } finally {
    await handle.close();
  }
}

async function digests(file: string, size: number): Promise<string[]> {
  // Loaded here, not with the module: the CLI loads this module for every launch and exec, and
  // only one that has files to upload hashes anything.
  const { createHash } = await import('node:crypto');
  const out: string[] = [];
  for (let i = 0; i < chunkCount(size); i += 1) {
    const piece = await readPiece(file, i * UPLOAD_CHUNK_BYTES, chunkLength(size, i));
    out.push(createHash('sha256').update(piece).digest('hex'));
  }
  return out;
}

/** Read and hash a directory (honouring .skyignore) or a file into a manifest. */
export async function prepareUpload(path: string, options: { maxEntries?: number } = {}): Promise<PreparedUpload> {
  const tree = await walkTree(path, options);
  const places = new Map<string, ChunkPlace>();
  const files: UploadManifest['files'] = new Array(tree.files.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tree.files.length) {
      const index = next++;
      const f = tree.files[index]!;
      const chunks = await digests(f.absolute, f.size);
      chunks.forEach((sha, i) => places.set(sha, { file: f.absolute, offset: i * UPLOAD_CHUNK_BYTES, length: chunkLength(f.size, i) }));
      files[index] = { path: f.path, mode: f.mode, mtimeMs: Math.trunc(f.mtimeMs), size: f.size, chunks };
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASHERS, tree.files.length) }, worker));
  const bytes = tree.files.reduce((n, f) => n + f.size, 0);
  return { manifest: { kind: tree.kind, files, dirs: tree.dirs }, bytes, places };
}

/** Announce a prepared upload and send the chunks the server lacks. */
export async function sendUpload(transport: Transport, path: string, prepared: PreparedUpload, options: UploadOptions = {}): Promise<UploadResult> {
  const { signal } = options;
  const created = await transport.json<UploadCreated>({ method: 'POST', path: ROUTE_PATHS.createUpload, body: prepared.manifest, signal });
  const progress: UploadProgress = {
    path,
    files: prepared.manifest.files.length,
    bytes: prepared.bytes,
    chunks: prepared.places.size,
    missingChunks: created.missing.length,
    missingBytes: created.missingBytes,
    sentChunks: 0,
  };
  options.onProgress?.({ ...progress });
  let sentBytes = 0;
  const queue = [...created.missing];
  const send = async (): Promise<void> => {
    for (let sha = queue.shift(); sha !== undefined; sha = queue.shift()) {
      const place = prepared.places.get(sha);
      if (place === undefined) throw new SkyError('INTERNAL', `the API server asked for chunk ${sha}, which is not part of this upload`);
      const data = await readPiece(place.file, place.offset, place.length);
      await transport.json<ChunkStored>({ method: 'PUT', path: fillPath(ROUTE_PATHS.putChunk, { hash: sha }), raw: { data, contentType: 'application/octet-stream' }, signal });
      sentBytes += data.length;
      progress.sentChunks += 1;
      options.onProgress?.({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 4, queue.length) }, send));
  return { id: created.id, files: progress.files, bytes: prepared.bytes, chunks: progress.chunks, sentChunks: progress.sentChunks, sentBytes };
}
