import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { isPidAlive } from './process.js';

export interface HeldLock {
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  at: number;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (typeof value.pid === 'number' && typeof value.at === 'number') return { pid: value.pid, at: value.at };
  } catch {
    // written but not yet filled in, or garbage: judged by the file's age instead
  }
  return undefined;
}

/** A lock whose holder died, or that is older than `staleMs`, may be taken over. */
async function isStale(path: string, text: string, staleMs: number): Promise<boolean> {
  const holder = parseHolder(text);
  if (holder !== undefined) return !isPidAlive(holder.pid) || Date.now() - holder.at > staleMs;
  const { mtimeMs } = await stat(path);
  return Date.now() - mtimeMs > staleMs;
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Move a stale lock aside. If, between judging it stale and moving it, another process took
 * it over, the moved file is a fresh lock: put it back and report that the lock is held.
 */
async function takeOver(path: string, staleText: string): Promise<boolean> {
  const aside = `${path}.stale.${process.pid}.${Date.now().toString(36)}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = await readOrUndefined(aside);
  if (moved !== staleText) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
  return moved === staleText;
}

/**
 * Try once to take an exclusive lock file (created with O_EXCL). Returns undefined while a
 * live holder has it; a stale lock is taken over.
 */
export async function tryLock(path: string, staleMs: number): Promise<HeldLock | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const mine = JSON.stringify({ pid: process.pid, at: Date.now() });
    try {
      await writeFile(path, mine, { flag: 'wx', mode: 0o600 });
      return {
        async release() {
          if ((await readOrUndefined(path)) === mine) await unlink(path).catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const text = await readOrUndefined(path);
    if (text === undefined) continue;
    if (!(await isStale(path, text, staleMs).catch(() => false))) return undefined;
    if (!(await takeOver(path, text))) return undefined;
  }
  return undefined;
}
