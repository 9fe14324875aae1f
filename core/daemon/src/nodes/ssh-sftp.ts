import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';

/** SFTP status codes (draft-ietf-secsh-filexfer-02) that callers branch on. */
export const SFTP_NO_SUCH_FILE = 2;

interface SftpError extends Error {
  code?: number | string;
}

export function isNoSuchFile(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as SftpError).code === SFTP_NO_SUCH_FILE;
}

function call<T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    try {
      fn((err, value) => (err ? reject(err) : resolve(value)));
    } catch (err) {
      reject(err);
    }
  });
}

/** Promise forms of the SFTP calls the transport needs, all relative to the login directory unless absolute. */
export class Sftp {
  constructor(readonly raw: SFTPWrapper) {}

  stat(path: string): Promise<Stats> {
    return call((cb) => this.raw.stat(path, cb));
  }

  async statOrUndefined(path: string): Promise<Stats | undefined> {
    try {
      return await this.stat(path);
    } catch (err) {
      if (isNoSuchFile(err)) return undefined;
      throw err;
    }
  }

  readdir(path: string): Promise<FileEntryWithStats[]> {
    return call((cb) => this.raw.readdir(path, cb));
  }

  async readdirOrEmpty(path: string): Promise<FileEntryWithStats[]> {
    try {
      return await this.readdir(path);
    } catch (err) {
      if (isNoSuchFile(err)) return [];
      throw err;
    }
  }

  mkdir(path: string): Promise<void> {
    return call<void>((cb) => this.raw.mkdir(path, (err) => cb(err, undefined)));
  }

  /** mkdir -p. */
  async mkdirp(path: string): Promise<void> {
    if (path === '' || path === '.' || path === '/') return;
    const existing = await this.statOrUndefined(path);
    if (existing) {
      if (!existing.isDirectory()) throw Object.assign(new Error(`${path} exists and is not a directory`), { code: 'ENOTDIR' });
      return;
    }
    await this.mkdirp(posix.dirname(path));
    try {
      await this.mkdir(path);
    } catch (err) {
      // Another writer may have made it meanwhile.
      const now = await this.statOrUndefined(path);
      if (!now?.isDirectory()) throw err;
    }
  }

  chmod(path: string, mode: number): Promise<void> {
    return call<void>((cb) => this.raw.chmod(path, mode, (err) => cb(err, undefined)));
  }

  /** Set access and modification times, in whole seconds (what SFTP carries). */
  utimes(path: string, atimeSec: number, mtimeSec: number): Promise<void> {
    return call<void>((cb) => this.raw.utimes(path, atimeSec, mtimeSec, (err) => cb(err, undefined)));
  }

  unlink(path: string): Promise<void> {
    return call<void>((cb) => this.raw.unlink(path, (err) => cb(err, undefined)));
  }

  /** Replace `to` with `from` atomically where the server has posix-rename (OpenSSH does). */
  async replace(from: string, to: string): Promise<void> {
    try {
      await call<void>((cb) => this.raw.ext_openssh_rename(from, to, (err) => cb(err, undefined)));
      return;
    } catch (err) {
      if (!/does not support/i.test((err as Error).message ?? '')) throw err;
    }
    await this.unlink(to).catch(() => undefined);
    await call<void>((cb) => this.raw.rename(from, to, (err) => cb(err, undefined)));
  }

  writeFile(path: string, data: string | Buffer, mode: number): Promise<void> {
    return call<void>((cb) => this.raw.writeFile(path, data, { mode }, (err) => cb(err, undefined)));
  }

  /** Write a whole file through a temporary name and a rename, so readers never see half of it. */
  async writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
    const tmp = `${path}.sky-tmp-${randomBytes(4).toString('hex')}`;
    try {
      await this.writeFile(tmp, data, mode);
      await this.chmod(tmp, mode);
      await this.replace(tmp, path);
    } catch (err) {
      await this.unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Write a stream to `path` through a temporary name, then set its mode and mtime (whole
   * seconds) and rename it into place.
   */
  async putStreamAtomic(source: NodeJS.ReadableStream, path: string, mode: number, mtimeSec: number): Promise<void> {
    const tmp = `${posix.join(posix.dirname(path), '.sky-sync-')}${randomBytes(6).toString('hex')}`;
    try {
      await pipeline(source, this.raw.createWriteStream(tmp, { mode, flags: 'w' }));
      await this.chmod(tmp, mode);
      await this.utimes(tmp, mtimeSec, mtimeSec);
      await this.replace(tmp, path);
    } catch (err) {
      await this.unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** Bytes of `path` from `offset` (at most `max`) and its size; size -1 when it does not exist. */
  async readFrom(path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }> {
    let handle: Buffer;
    try {
      handle = await call<Buffer>((cb) => this.raw.open(path, 'r', cb));
    } catch (err) {
      if (isNoSuchFile(err)) return { data: Buffer.alloc(0), size: -1 };
      throw err;
    }
    try {
      const attrs = await call<Stats>((cb) => this.raw.fstat(handle, cb));
      const size = attrs.size;
      if (size <= offset || max <= 0) return { data: Buffer.alloc(0), size };
      const length = Math.min(max, size - offset);
      const data = Buffer.alloc(length);
      let filled = 0;
      // The server may answer a read with fewer bytes than asked; read until full or EOF.
      while (filled < length) {
        const n = await new Promise<number>((resolve, reject) => {
          this.raw.read(handle, data, filled, length - filled, offset + filled, (err, bytesRead) => {
            if (err) {
              // EOF (the file shrank) ends the read.
              if ((err as SftpError).code === 1) resolve(0);
              else reject(err);
            } else resolve(bytesRead);
          });
        });
        if (n <= 0) break;
        filled += n;
      }
      return { data: data.subarray(0, filled), size };
    } finally {
      await call<void>((cb) => this.raw.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
    }
  }
}

