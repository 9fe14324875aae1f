import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHA256_PATTERN, UPLOAD_ID_PATTERN } from '@sky/protocol';
import type { StoredChunk, StoredUpload, UploadStore } from './upload-store.js';

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** A directory name for a user id (ids may hold characters a path must not: "..", "/"). */
function ownerKey(owner: string): string {
  return createHash('sha256').update(owner).digest('hex').slice(0, 32);
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode: FILE_MODE, flag: 'wx' });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

interface ManifestFile {
  id: string;
  owner: string;
  bytes: number;
  createdAt: number;
  manifest: StoredUpload['manifest'];
}

/**
 * Uploads on the local filesystem (directories 0700, files 0600):
 * `<dir>/manifests/<id>.json` (its mtime is the last use) and
 * `<dir>/chunks/<owner key>/<first two hex digits>/<sha256>`, with the owner's id in
 * `<dir>/chunks/<owner key>/owner`. Bytes per owner are counted once, then kept up to date.
 */
export class FsUploadStore implements UploadStore {
  private readonly manifests: string;
  private readonly chunks: string;
  private readonly used = new Map<string, Promise<number>>();
  /** Owners whose directory (and its `owner` file) exists. */
  private readonly known = new Set<string>();

  constructor(readonly dir: string) {
    this.manifests = join(dir, 'manifests');
    this.chunks = join(dir, 'chunks');
  }

  async open(): Promise<void> {
    await mkdir(this.manifests, { recursive: true, mode: DIR_MODE });
    await mkdir(this.chunks, { recursive: true, mode: DIR_MODE });
  }

  private manifestFile(id: string): string {
    if (!UPLOAD_ID_PATTERN.test(id)) throw new Error(`not an upload id: ${id}`);
    return join(this.manifests, `${id}.json`);
  }

  private ownerDir(owner: string): string {
    return join(this.chunks, ownerKey(owner));
  }

  private chunkFile(owner: string, sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.ownerDir(owner), sha256.slice(0, 2), sha256);
  }

  async getManifest(id: string): Promise<StoredUpload | undefined> {
    const file = this.manifestFile(id);
    try {
      const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      const stored = JSON.parse(text) as ManifestFile;
      return { ...stored, lastUsedAt: Math.trunc(info.mtimeMs) };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async putManifest(upload: StoredUpload): Promise<void> {
    const file = this.manifestFile(upload.id);
    const stored: ManifestFile = { id: upload.id, owner: upload.owner, bytes: upload.bytes, createdAt: upload.createdAt, manifest: upload.manifest };
    await writeAtomic(file, JSON.stringify(stored));
    await this.touchManifest(upload.id, upload.lastUsedAt);
  }

  async touchManifest(id: string, at: number): Promise<void> {
    const when = new Date(at);
    await utimes(this.manifestFile(id), when, when).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }

  async deleteManifest(id: string): Promise<void> {
    await rm(this.manifestFile(id), { force: true });
  }

  async listManifests(): Promise<StoredUpload[]> {
    const out: StoredUpload[] = [];
    for (const name of await readdir(this.manifests)) {
      const id = name.endsWith('.json') ? name.slice(0, -5) : '';
      if (!UPLOAD_ID_PATTERN.test(id)) continue;
      const upload = await this.getManifest(id).catch(() => undefined);
      if (upload !== undefined) out.push(upload);
    }
    return out;
  }

  async hasChunk(owner: string, sha256: string): Promise<boolean> {
    try {
      return (await stat(this.chunkFile(owner, sha256))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  async touchChunk(owner: string, sha256: string, at: number): Promise<void> {
    const when = new Date(at);
    await utimes(this.chunkFile(owner, sha256), when, when).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }

  async putChunk(owner: string, sha256: string, data: Buffer): Promise<boolean> {
    const file = this.chunkFile(owner, sha256);
    if (await this.hasChunk(owner, sha256)) return false;
    const dir = this.ownerDir(owner);
    await mkdir(join(dir, sha256.slice(0, 2)), { recursive: true, mode: DIR_MODE });
    if (!this.known.has(owner)) {
      await writeFile(join(dir, 'owner'), owner, { mode: FILE_MODE });
      this.known.add(owner);
    }
    const before = await this.usedBytes(owner);
    await writeAtomic(file, data);
    this.used.set(owner, Promise.resolve(before + data.length));
    return true;
  }

  openChunk(owner: string, sha256: string): NodeJS.ReadableStream {
    return createReadStream(this.chunkFile(owner, sha256));
  }

  async deleteChunk(owner: string, sha256: string): Promise<number> {
    const file = this.chunkFile(owner, sha256);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if (isMissing(err)) return 0;
      throw err;
    }
    const before = await this.usedBytes(owner);
    await rm(file, { force: true });
    this.used.set(owner, Promise.resolve(Math.max(0, before - size)));
    return size;
  }

  async listChunks(owner: string): Promise<StoredChunk[]> {
    const dir = this.ownerDir(owner);
    const out: StoredChunk[] = [];
    let prefixes: string[];
    try {
      prefixes = await readdir(dir);
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    for (const prefix of prefixes) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(join(dir, prefix)).catch(() => [] as string[])) {
        if (!SHA256_PATTERN.test(name)) continue;
        const info = await stat(join(dir, prefix, name)).catch(() => undefined);
        if (info?.isFile()) out.push({ sha256: name, size: info.size, storedAt: Math.trunc(info.mtimeMs) });
      }
    }
    return out;
  }

  async owners(): Promise<string[]> {
    const out: string[] = [];
    for (const key of await readdir(this.chunks)) {
      const owner = await readFile(join(this.chunks, key, 'owner'), 'utf8').catch(() => undefined);
      if (owner !== undefined && ownerKey(owner) === key) out.push(owner);
    }
    return out;
  }

  usedBytes(owner: string): Promise<number> {
    let used = this.used.get(owner);
    if (used === undefined) {
      used = this.listChunks(owner).then((chunks) => chunks.reduce((n, c) => n + c.size, 0));
      this.used.set(owner, used);
      used.catch(() => this.used.delete(owner));
    }
    return used;
  }
}
