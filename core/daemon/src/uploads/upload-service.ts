import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import type { Logger } from 'pino';
import {
  chunkLength,
  manifestBytes,
  manifestProblems,
  SkyError,
  UPLOAD_CHUNK_BYTES,
  type ChunkStored,
  type ManifestLimits,
  type UploadCreated,
  type UploadManifest,
  type UploadView,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { AuditLog } from '../audit/audit-log.js';
import { KeyedLock } from '../clusters/cluster-lock.js';
import type { SyncFile } from '../nodes/transport.js';
import type { StoredUpload, UploadStore } from './upload-store.js';

/** Who acts on an upload. */
export interface UploadUser {
  id: string;
  name: string;
}

/** Chunks younger than this (or than unused_days, if shorter) are never collected: an upload may still be sending them. */
const CHUNK_GRACE_MS = 3600_000;

function gib(bytes: number): string {
  if (bytes < 1024 ** 2) return `${bytes} bytes`;
  const units: Array<[string, number]> = [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
  ];
  const [unit, size] = units.find(([, s]) => bytes >= s) ?? units[1]!;
  return `${(bytes / size).toFixed(1)} ${unit} (${bytes} bytes)`;
}

/** The manifest with its keys in a fixed order, so the same content always gives the same id. */
function canonical(manifest: UploadManifest): string {
  return JSON.stringify({
    kind: manifest.kind,
    files: manifest.files.map((f) => ({ path: f.path, mode: f.mode, mtimeMs: f.mtimeMs, size: f.size, chunks: f.chunks })),
    dirs: manifest.dirs,
  });
}

/** Each distinct chunk of a manifest with its size. */
function chunkSizes(manifest: UploadManifest): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const file of manifest.files) file.chunks.forEach((sha, i) => sizes.set(sha, chunkLength(file.size, i)));
  return sizes;
}

/**
 * Uploads: manifests and content-addressed chunks, owned per user. A user only ever sees their
 * own: another user's upload id answers UPLOAD_NOT_FOUND exactly like one that does not exist
 * (and the attempt is audited). Quotas count each user's distinct chunks.
 */
@injectable()
export class UploadService {
  private readonly lock = new KeyedLock();

  constructor(
    @inject(TOKENS.UploadStore) private readonly store: UploadStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(AuditLog) private readonly audit: AuditLog,
    @inject(TOKENS.Store) private readonly state: StateStore,
  ) {}

  get limits(): ManifestLimits {
    return { maxFiles: this.config.uploads.max_files, maxBytes: this.config.uploads.max_upload_bytes };
  }

  private get quota(): number {
    return this.config.uploads.quota_bytes;
  }

  /** Check and record a manifest; answers its id and the chunks the caller still has to send. */
  async create(user: UploadUser, body: UploadManifest): Promise<UploadCreated> {
    const problems = manifestProblems(body, this.limits);
    if (problems.length > 0) {
      const tooLarge = problems.some((p) => p.includes('exceed the limit'));
      throw new SkyError(tooLarge ? 'UPLOAD_TOO_LARGE' : 'UPLOAD_INVALID', `upload manifest: ${problems.join('; ')}`, {
        hint: tooLarge
          ? 'Leave large or generated files out with .skyignore, or ask an admin to raise uploads.max_upload_bytes / uploads.max_files.'
          : 'Paths are relative and "/"-separated, each listed once; each file lists the sha256 of every 4 MiB piece.',
        details: { problems },
      });
    }
    const manifest: UploadManifest = { kind: body.kind, files: body.files, dirs: body.dirs };
    const id = `up-${createHash('sha256').update(user.id).update('\n').update(canonical(manifest)).digest('hex')}`;
    return this.lock.run(user.id, async () => {
      const sizes = chunkSizes(manifest);
      const missing: string[] = [];
      let missingBytes = 0;
      const now = this.clock.now();
      for (const [sha, size] of sizes) {
        if (await this.store.hasChunk(user.id, sha)) {
          // Announced again: collection spares it even if no upload referred to it a moment ago.
          await this.store.touchChunk(user.id, sha, now);
          continue;
        }
        missing.push(sha);
        missingBytes += size;
      }
      const usedBytes = await this.store.usedBytes(user.id);
      this.checkQuota(usedBytes, missingBytes, 'this upload');
      const bytes = manifestBytes(manifest);
      const existing = await this.store.getManifest(id);
      if (existing) await this.store.touchManifest(id, now);
      else await this.store.putManifest({ id, owner: user.id, manifest, bytes, createdAt: now, lastUsedAt: now });
      return { id, missing, bytes, missingBytes, usedBytes, quotaBytes: this.quota };
    });
  }

  private checkQuota(used: number, more: number, what: string): void {
    if (more === 0 || used + more <= this.quota) return;
    throw new SkyError('UPLOAD_QUOTA_EXCEEDED', `storing ${what} needs ${gib(more)} more, but you already store ${gib(used)} of your ${gib(this.quota)} upload quota`, {
      hint: `Uploads unused for ${this.config.uploads.unused_days} day(s) are deleted; leave large files out with .skyignore, or ask an admin to raise uploads.quota_bytes.`,
      details: { usedBytes: used, neededBytes: more, quotaBytes: this.quota },
    });
  }

  /** Keep one chunk whose bytes hash to `sha256` (verified here, before anything is written). */
  async putChunk(user: UploadUser, sha256: string, data: Buffer): Promise<ChunkStored> {
    if (data.length > UPLOAD_CHUNK_BYTES) throw new SkyError('PAYLOAD_TOO_LARGE', `a chunk has at most ${UPLOAD_CHUNK_BYTES} bytes, not ${data.length}`);
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== sha256) {
      throw new SkyError('CHUNK_HASH_MISMATCH', `the ${data.length} bytes sent have sha256 ${actual}, not ${sha256}`, {
        hint: 'The file changed while it was being uploaded, or the bytes were cut: upload it again.',
      });
    }
    return this.lock.run(user.id, async () => {
      if (await this.store.hasChunk(user.id, sha256)) return { sha256, size: data.length, created: false, usedBytes: await this.store.usedBytes(user.id) };
      this.checkQuota(await this.store.usedBytes(user.id), data.length, 'this chunk');
      await this.store.putChunk(user.id, sha256, data);
      return { sha256, size: data.length, created: true, usedBytes: await this.store.usedBytes(user.id) };
    });
  }

  /** One of the caller's uploads; any other id (another user's, or none) is UPLOAD_NOT_FOUND. */
  async owned(user: UploadUser, id: string, action: string): Promise<StoredUpload> {
    const upload = await this.store.getManifest(id);
    if (upload !== undefined && upload.owner === user.id) return upload;
    if (upload !== undefined) {
      await this.audit.record({ user: user.id, userName: user.name, action, target: id, result: 'DENIED', detail: 'UPLOAD_NOT_FOUND' });
      this.logger.warn({ user: user.name, upload: id, action }, "refused another user's upload");
    }
    throw new SkyError('UPLOAD_NOT_FOUND', `you have no upload ${id}`, {
      hint: 'Upload the files first (POST /api/v1/uploads, then PUT the missing chunks); the sky CLI and SDK do it for you.',
    });
  }

  /** Chunks of an upload its owner has not sent yet. */
  async missing(upload: StoredUpload): Promise<string[]> {
    const out: string[] = [];
    for (const sha of chunkSizes(upload.manifest).keys()) if (!(await this.store.hasChunk(upload.owner, sha))) out.push(sha);
    return out;
  }

  async view(user: UploadUser, id: string): Promise<UploadView> {
    const upload = await this.owned(user, id, 'read_upload');
    const { manifest } = upload;
    return { id, kind: manifest.kind, files: manifest.files.length, dirs: manifest.dirs.length, bytes: upload.bytes, createdAt: upload.createdAt, lastUsedAt: upload.lastUsedAt, missing: await this.missing(upload) };
  }

  /** A complete upload of the caller, for a launch or exec (marked as used). */
  async forTask(user: UploadUser, id: string, where: string): Promise<StoredUpload> {
    const upload = await this.owned(user, id, 'use_upload');
    const missing = await this.missing(upload);
    if (missing.length > 0) {
      throw new SkyError('UPLOAD_INCOMPLETE', `${where}: upload ${id} still lacks ${missing.length} chunk(s)`, {
        hint: 'Send the missing chunks (POST /api/v1/uploads answers which), then submit again.',
        details: { missing: missing.slice(0, 100) },
      });
    }
    await this.store.touchManifest(id, this.clock.now());
    return upload;
  }

  /** The files of an upload as a transport places them: each read from its chunks, in order. */
  syncFiles(upload: StoredUpload): { files: SyncFile[]; dirs: string[] } {
    const files = upload.manifest.files.map((file): SyncFile => ({
      path: file.path,
      mode: file.mode,
      mtimeMs: file.mtimeMs,
      size: file.size,
      open: () => {
        const store = this.store;
        const chunks = file.chunks;
        return Readable.from(
          (async function* () {
            for (const sha of chunks) yield* store.openChunk(upload.owner, sha) as AsyncIterable<Buffer>;
          })(),
          { objectMode: false },
        );
      },
    }));
    return { files, dirs: [...upload.manifest.dirs] };
  }

  /**
   * Uploads an unfinished managed job names: it may launch its tasks again (a lost node, a
   * restart) long after it was submitted, so these are kept however long they go unused.
   */
  private async pinnedByManagedJobs(): Promise<Set<string>> {
    const pinned = new Set<string>();
    for (const job of await this.state.managedJobs.list({ active: true })) {
      for (const task of (await this.state.managedJobs.getSpec(job.id))?.tasks ?? []) {
        if (task.uploads?.workdir !== undefined) pinned.add(task.uploads.workdir);
        for (const id of Object.values(task.uploads?.file_mounts ?? {})) pinned.add(id);
      }
    }
    return pinned;
  }

  /**
   * Garbage collection: delete uploads unused for `unused_days` (but not those an unfinished
   * managed job names), then every chunk no remaining
   * upload of its owner refers to (except chunks stored or announced within the last hour).
   */
  async collect(): Promise<{ uploads: number; chunks: number; bytes: number }> {
    const now = this.clock.now();
    const unusedMs = this.config.uploads.unused_days * 86_400_000;
    const unusedBefore = now - unusedMs;
    const grace = Math.min(CHUNK_GRACE_MS, unusedMs);
    const referenced = new Map<string, Set<string>>();
    const pinned = await this.pinnedByManagedJobs();
    let uploads = 0;
    for (const upload of await this.store.listManifests()) {
      if (upload.lastUsedAt < unusedBefore && !pinned.has(upload.id)) {
        await this.lock.run(upload.owner, () => this.store.deleteManifest(upload.id));
        uploads += 1;
        continue;
      }
      const set = referenced.get(upload.owner) ?? new Set<string>();
      for (const file of upload.manifest.files) for (const sha of file.chunks) set.add(sha);
      referenced.set(upload.owner, set);
    }
    let chunks = 0;
    let bytes = 0;
    for (const owner of await this.store.owners()) {
      const keep = referenced.get(owner) ?? new Set<string>();
      await this.lock.run(owner, async () => {
        for (const chunk of await this.store.listChunks(owner)) {
          if (keep.has(chunk.sha256) || chunk.storedAt > now - grace) continue;
          bytes += await this.store.deleteChunk(owner, chunk.sha256);
          chunks += 1;
        }
      });
    }
    if (uploads + chunks > 0) this.logger.info({ uploads, chunks, bytes }, 'collected unused uploads');
    return { uploads, chunks, bytes };
  }
}
