// The file worker of sky-node-helper: one per OS account, started by the helper with that
// account's uid and gid (no supplementary groups) and a clean environment, fed its source on
// stdin, and spoken to over the IPC channel. Every file operation of the account's nodes runs
// here, so the kernel checks it as the account: a symlink or hard link a job plants can never
// make the helper read or write what the account itself could not.
//
// It imports node builtins only (its source is read and sent as is) and trusts nothing but the
// helper, which has already checked that every path lies in one of the account's node dirs.
import { constants } from 'node:fs';
import { chmod, lstat, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The calls the helper makes of a worker (`data`: the bytes of writeFiles and syncChunk). */
export type WorkerCall = { id: number; data?: Uint8Array } & (
  | { op: 'mkdir'; path: string }
  | { op: 'stat'; path: string }
  | { op: 'rm'; path: string }
  | { op: 'read'; path: string; offset: number; max: number }
  | { op: 'writeFiles'; files: Array<{ path: string; mode: number; bytes: number }> }
  | { op: 'syncPlan'; dirs: string[]; files: Array<{ path: string; size: number; mtimeMs: number }> }
  | { op: 'syncChunk'; path: string; offset: number; size: number; mode: number; mtimeMs: number; last: boolean }
  | { op: 'signal'; pgid: number; signal: NodeJS.Signals | 0 }
);

export interface WorkerReply {
  id: number;
  result?: Record<string, unknown>;
  data?: Uint8Array;
  error?: { errno?: string; message: string };
}

const WORKER_OPS: readonly string[] = ['mkdir', 'stat', 'rm', 'read', 'writeFiles', 'syncPlan', 'syncChunk', 'signal'] satisfies WorkerCall['op'][];

const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = constants;

function bytesOf(value: unknown): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Buffer.alloc(0);
}

/** A sibling of `path` to write into before it replaces `path` (rename never follows a symlink). */
function tempOf(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 180)}.sky-${tag}`);
}

/** Create (exclusively, never through a symlink) and fill a file, then move it over `path`. */
async function replaceFile(path: string, data: Buffer, mode: number): Promise<void> {
  const temp = tempOf(path, `tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const handle = await open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode & 0o777);
  } catch (err) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(temp, path);
}

async function read(path: string, offset: number, max: number): Promise<{ size: number; data: Buffer }> {
  let handle;
  try {
    // O_NONBLOCK: a FIFO planted where a log should be must not hang the worker.
    handle = await open(path, O_RDONLY | O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { size: -1, data: Buffer.alloc(0) };
    throw err;
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
    if (st.size <= offset || max === 0) return { size: st.size, data: Buffer.alloc(0) };
    const length = Math.min(max, st.size - offset);
    const data = Buffer.alloc(length);
    const { bytesRead } = await handle.read(data, 0, length, offset);
    return { size: st.size, data: data.subarray(0, bytesRead) };
  } finally {
    await handle.close();
  }
}

async function writeFiles(files: Array<{ path: string; mode: number; bytes: number }>, data: Buffer): Promise<number> {
  let at = 0;
  for (const file of files) {
    const content = data.subarray(at, at + file.bytes);
    at += file.bytes;
    await mkdir(dirname(file.path), { recursive: true, mode: 0o755 });
    await replaceFile(file.path, content, file.mode);
  }
  return files.length;
}

async function syncPlan(dirs: string[], files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<number[]> {
  for (const dir of dirs) await mkdir(dir, { recursive: true, mode: 0o755 });
  const need: number[] = [];
  for (const [i, file] of files.entries()) {
    const st = await lstat(file.path).catch(() => undefined);
    if (st?.isFile() && st.size === file.size && Math.trunc(st.mtimeMs) === Math.trunc(file.mtimeMs)) continue;
    need.push(i);
  }
  return need;
}

async function syncChunk(call: { path: string; offset: number; size: number; mode: number; mtimeMs: number; last: boolean }, data: Buffer): Promise<number> {
  const part = tempOf(call.path, 'part');
  await mkdir(dirname(call.path), { recursive: true, mode: 0o755 });
  if (call.offset === 0) await unlink(part).catch(() => undefined);
  const flags = call.offset === 0 ? O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW : O_WRONLY | O_NOFOLLOW;
  const handle = await open(part, flags, 0o600);
  try {
    const st = await handle.stat();
    if (!st.isFile() || st.size !== call.offset) {
      throw Object.assign(new Error(`the partial copy of ${call.path} has ${st.size} bytes, expected ${call.offset}; send the file again from offset 0`), { code: 'ESPIPE' });
    }
    if (data.length > 0) await handle.write(data, 0, data.length, call.offset);
    if (call.last) {
      const now = await handle.stat();
      if (now.size !== call.size) throw Object.assign(new Error(`${call.path}: got ${now.size} bytes, expected ${call.size}`), { code: 'EIO' });
      await handle.chmod(call.mode & 0o777);
      const seconds = call.mtimeMs / 1000;
      await handle.utimes(seconds, seconds);
    }
  } finally {
    await handle.close();
  }
  if (call.last) await rename(part, call.path);
  return data.length;
}

/** Remove a tree; directories a job made unwritable are opened up first (they are the account's own). */
async function removeTree(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined) return false;
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await openUp(path);
    await rm(path, { recursive: true, force: true });
  }
  return true;
}

async function openUp(dir: string): Promise<void> {
  const st = await lstat(dir).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) return;
  await chmod(dir, 0o700).catch(() => undefined);
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const entry of entries) await openUp(join(dir, entry));
}

/** Whether a live (not zombie) process of this account is in the group. */
async function groupAlive(pgid: number): Promise<boolean> {
  const uid = process.getuid?.() ?? -1;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = await readFile(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z' || state === 'X') continue;
      if ((await stat(`/proc/${entry}`)).uid === uid) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

async function signalGroup(pgid: number, signal: NodeJS.Signals | 0): Promise<boolean> {
  const alive = await groupAlive(pgid);
  if (alive && signal !== 0) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // gone meanwhile, or not this account's: the kernel decides
    }
  }
  return alive;
}

async function handle(call: WorkerCall): Promise<WorkerReply> {
  const data = bytesOf(call.data);
  switch (call.op) {
    case 'mkdir':
      await mkdir(call.path, { recursive: true, mode: 0o700 });
      return { id: call.id, result: {} };
    case 'stat': {
      const st = await lstat(call.path).catch(() => undefined);
      return { id: call.id, result: { exists: st?.isDirectory() === true } };
    }
    case 'rm':
      return { id: call.id, result: { removed: await removeTree(call.path) } };
    case 'read': {
      const out = await read(call.path, call.offset, call.max);
      return { id: call.id, result: { size: out.size }, data: out.data };
    }
    case 'writeFiles':
      return { id: call.id, result: { written: await writeFiles(call.files, data) } };
    case 'syncPlan':
      return { id: call.id, result: { need: await syncPlan(call.dirs, call.files) } };
    case 'syncChunk':
      return { id: call.id, result: { written: await syncChunk(call, data) } };
    case 'signal':
      return { id: call.id, result: { alive: await signalGroup(call.pgid, call.signal) } };
  }
}

function describe(err: unknown): { errno?: string; message: string } {
  const e = err as NodeJS.ErrnoException;
  return { ...(typeof e.code === 'string' ? { errno: e.code } : {}), message: e instanceof Error ? e.message : String(err) };
}

/** Serve the helper's calls on the IPC channel (only when started as a worker). */
export function serveWorker(): void {
  process.title = 'sky-node-worker';
  process.on('message', (message: unknown) => {
    const { id, op } = (typeof message === 'object' && message !== null ? message : {}) as { id?: unknown; op?: unknown };
    if (typeof id !== 'number') return;
    if (typeof op !== 'string' || !WORKER_OPS.includes(op)) {
      process.send?.({ id, error: { message: `unknown worker operation ${JSON.stringify(op)}` } } satisfies WorkerReply);
      return;
    }
    // Only the helper (root, our parent) holds the other end of this channel.
    const call = message as WorkerCall;
    handle(call).then(
      (reply) => process.send?.(reply),
      (err: unknown) => process.send?.({ id: call.id, error: describe(err) } satisfies WorkerReply),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.env['SKY_NODE_WORKER'] === '1' && typeof process.send === 'function') serveWorker();
