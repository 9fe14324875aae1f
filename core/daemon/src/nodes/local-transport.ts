import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, open, readdir, stat, utimes, writeFile, copyFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { SkyError } from '@sky/protocol';
import type { CommandResult, NodeTransport } from './transport.js';

const MAX_OUTPUT = 4 * 1024 * 1024;

/** A node that is a directory on this machine: commands are child processes with the node root as cwd. */
export class LocalTransport implements NodeTransport {
  constructor(private readonly root: string) {}

  private path(p: string): string {
    return isAbsolute(p) ? p : join(this.root, p);
  }

  run(command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], {
        cwd: this.root,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += c;
      });
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        if (stderr.length < MAX_OUTPUT) stderr += c;
      });
      child.on('error', (err) =>
        reject(new SkyError('NODE_UNREACHABLE', `cannot run a command on local node ${this.root}: ${err.message}`, { cause: err })),
      );
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  }

  async writeFiles(dir: string, files: Record<string, string>, privateFiles: readonly string[] = []): Promise<void> {
    const base = this.path(dir);
    await mkdir(base, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      const file = join(base, name);
      await mkdir(dirname(file), { recursive: true });
      const mode = privateFiles.includes(name) ? 0o600 : 0o644;
      await writeFile(file, content, { mode });
      await chmod(file, mode);
    }
  }

  async readFrom(path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }> {
    let handle;
    try {
      handle = await open(this.path(path), 'r');
    } catch {
      return { data: Buffer.alloc(0), size: -1 };
    }
    try {
      const { size } = await handle.stat();
      if (size <= offset) return { data: Buffer.alloc(0), size };
      const length = Math.min(max, size - offset);
      const data = Buffer.alloc(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      return { data: data.subarray(0, bytesRead), size };
    } finally {
      await handle.close();
    }
  }

  async syncDir(source: string, dest: string): Promise<number> {
    return syncTree(source, this.path(dest));
  }

  async copy(source: string, dest: string): Promise<void> {
    const target = this.path(dest);
    await mkdir(dirname(target), { recursive: true });
    await cp(source, target, { recursive: true, force: true });
  }
}

/** Copy a tree, skipping files whose size and mtime already match (so a re-launch copies only changes). */
async function syncTree(source: string, dest: string): Promise<number> {
  await mkdir(dest, { recursive: true });
  let copied = 0;
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(dest, entry.name);
    if (entry.isDirectory()) copied += await syncTree(from, to);
    else if (entry.isFile()) {
      const src = await stat(from);
      const existing = await stat(to).catch(() => undefined);
      if (existing && existing.size === src.size && Math.trunc(existing.mtimeMs) === Math.trunc(src.mtimeMs)) continue;
      await copyFile(from, to);
      await utimes(to, src.atime, src.mtime);
      await chmod(to, src.mode & 0o777);
      copied += 1;
    }
  }
  return copied;
}
