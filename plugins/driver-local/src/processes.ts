import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Where processes on a local node record themselves (see LocalReach in @sky/plugin-api). */
export const JOBS_DIR = join('.sky', 'jobs');
const FINISHED = new Set(['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED']);

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Process-group ids of the jobs on a node that have not finished. */
export async function unfinishedJobGroups(nodeDir: string): Promise<number[]> {
  let jobs: string[];
  try {
    jobs = await readdir(join(nodeDir, JOBS_DIR));
  } catch {
    return [];
  }
  const groups: number[] = [];
  for (const job of jobs) {
    const dir = join(nodeDir, JOBS_DIR, job);
    const status = (await readTrimmed(join(dir, 'status')))?.split(/\s+/)[0];
    if (status !== undefined && FINISHED.has(status)) continue;
    const pid = Number(await readTrimmed(join(dir, 'pid')));
    if (Number.isInteger(pid) && pid > 1) groups.push(pid);
  }
  return groups;
}

/**
 * Whether any live (not zombie) process is in the group. Reads /proc where there is one, because
 * an orphan that nobody reaps still answers kill(0) as a zombie; elsewhere asks kill(0).
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readTrimmed(join('/proc', entry, 'stat'));
    if (stat === undefined) continue;
    // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') return true;
  }
  return false;
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone, or not ours
  }
}

/**
 * End every unfinished job's process group on a node: SIGTERM, then SIGKILL for groups still
 * alive after `graceMs`. Resolves with the number of groups that had to be signalled.
 */
export async function endNodeProcesses(nodeDir: string, graceMs = 5_000): Promise<number> {
  const groups: number[] = [];
  for (const pgid of await unfinishedJobGroups(nodeDir)) {
    if (await groupAlive(pgid)) groups.push(pgid);
  }
  for (const pgid of groups) signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let alive = groups;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    const still: number[] = [];
    for (const pgid of alive) if (await groupAlive(pgid)) still.push(pgid);
    alive = still;
  }
  for (const pgid of alive) signalGroup(pgid, 'SIGKILL');
  return groups.length;
}
