import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeHelper } from '@sky/plugin-api';

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

/** The state and process group of one process from its /proc stat line; undefined when it is gone (or there is no /proc). */
async function procStat(pid: number | string): Promise<{ state: string; pgrp: number } | undefined> {
  const stat = await readTrimmed(join('/proc', String(pid), 'stat'));
  if (stat === undefined) return undefined;
  // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
  const [state = '', , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, pgrp: Number(pgrp) };
}

const dead = (state: string): boolean => state === 'Z' || state === 'X';

/** Process groups with a live (not zombie) process, from one read of /proc; undefined where there is no /proc. */
async function scanLiveGroups(): Promise<Set<number> | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const live = new Set<number>();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await procStat(entry);
    if (stat !== undefined && !dead(stat.state)) live.add(stat.pgrp);
  }
  return live;
}

/** A scan of /proc shared by the checks made within a few milliseconds (many clusters torn down at once). */
let shared: { at: number; groups: Promise<Set<number> | undefined> } | undefined;
const SHARED_SCAN_MS = 20;

/**
 * Whether any live (not zombie) process is in the group. kill(0) first: a group with no process
 * at all is gone without reading /proc. Then the group's leader (its pid is the group id): alive
 * and still in the group settles it with one read. Otherwise a scan of /proc decides, because an
 * orphan that nobody reaps still answers kill(0) as a zombie; without /proc, kill(0) decides.
 * Many teardowns at once each check their groups, so the leader read spares a scan of every
 * process on the machine per check.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const leader = await procStat(pgid);
  if (leader !== undefined && leader.pgrp === pgid && !dead(leader.state)) return true;
  if (shared === undefined || Date.now() - shared.at > SHARED_SCAN_MS) shared = { at: Date.now(), groups: scanLiveGroups() };
  const live = await shared.groups;
  return live === undefined ? true : live.has(pgid);
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
  await untilGone(alive, groupAlive);
  return groups.length;
}

/** SIGKILL is delivered at once but a busy machine may take a moment to end the processes: wait for that (at most 2 s). */
async function untilGone(groups: readonly number[], alive: (pgid: number) => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 2_000;
  let left = groups;
  while (left.length > 0 && Date.now() < deadline) {
    const still: number[] = [];
    for (const pgid of left) if (await alive(pgid)) still.push(pgid);
    left = still;
    if (left.length > 0) await sleep(20);
  }
}

/**
 * Prints the process-group id of every unfinished job of the node it runs in. Run as the node's
 * account (through sky-node-helper) when the daemon cannot read the node's files itself.
 */
export const UNFINISHED_GROUPS_COMMAND = [
  `for d in ${JOBS_DIR}/*/; do`,
  '  [ -f "${d}pid" ] || continue',
  '  s=; { IFS= read -r s < "${d}status"; } 2>/dev/null || :',
  '  case "${s%% *}" in SUCCEEDED|FAILED|FAILED_SETUP|CANCELLED) continue ;; esac',
  '  p=; { IFS= read -r p < "${d}pid"; } 2>/dev/null || :',
  '  echo "$p"',
  'done',
].join('\n');

/**
 * endNodeProcesses for a node that belongs to an OS account: the job list is read and every
 * signal sent as that account through sky-node-helper, so a pid file a job forged can only
 * name the account's own processes.
 */
export async function endAccountNodeProcesses(helper: NodeHelper, account: string, nodeDir: string, graceMs = 5_000): Promise<number> {
  const listed = await helper.run(account, nodeDir, UNFINISHED_GROUPS_COMMAND, { timeoutMs: 30_000 });
  if (listed.code !== 0) return 0; // no node directory (any more): nothing runs there
  const pgids = [...new Set(listed.stdout.split('\n').map((l) => Number(l.trim())))].filter((n) => Number.isInteger(n) && n > 1 && n < 2 ** 22);
  const groups: number[] = [];
  for (const pgid of pgids) if (await helper.signal(account, pgid, 'SIGTERM')) groups.push(pgid);
  const deadline = Date.now() + graceMs;
  let alive = groups;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(50);
    const still: number[] = [];
    for (const pgid of alive) if (await helper.signal(account, pgid, 0)) still.push(pgid);
    alive = still;
  }
  for (const pgid of alive) await helper.signal(account, pgid, 'SIGKILL');
  await untilGone(alive, (pgid) => helper.signal(account, pgid, 0));
  return groups.length;
}
