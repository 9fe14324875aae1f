// Process figures from /proc for the benches: CPU time of a whole process tree (live processes
// plus what their reaped descendants used), resident memory, and start/stop of commands under
// bench/lib/reaper.py so that orphaned descendants are accounted too.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const REAPER = join(import.meta.dirname, 'reaper.py');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

let ticks;
function clockTicks() {
  ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return ticks;
}

/** Fields of /proc/<pid>/stat after the command name (index 0 = state), or undefined when gone. */
function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU ms of one process: its own user+system time, plus (withChildren) that of the children it reaped. */
export function cpuMsOf(pid, withChildren = true) {
  const f = statFields(pid);
  if (f === undefined) return 0;
  const own = Number(f[11]) + Number(f[12]);
  const reaped = withChildren ? Number(f[13]) + Number(f[14]) : 0;
  return ((own + reaped) * 1000) / clockTicks();
}

/** Every live descendant of `root` (found by parent pid across /proc), root first. */
export function treeOf(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (f === undefined) continue;
    const ppid = Number(f[1]);
    (children.get(ppid) ?? children.set(ppid, []).get(ppid)).push(Number(entry));
  }
  const out = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop();
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU ms of everything under a reaper so far: the reaper's reaped children (the dead part of the
 * tree, also orphans) plus every live process of the tree with what it reaped itself.
 */
export function treeCpuMs(reaperPid) {
  const [, ...live] = treeOf(reaperPid);
  return cpuMsOf(reaperPid) - cpuMsOf(reaperPid, false) + live.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
}

/** VmRSS of a process in MiB (undefined when gone). */
export function rssMib(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Start `argv` under the reaper. Returns the reaper's child process handle; the command itself
 * is the reaper's first child (see mainPid).
 */
export function spawnReaped(argv, options) {
  return spawn(PYTHON, [REAPER, ...argv], options);
}

/** The pid of the command a reaper runs (its oldest child), once it exists. */
export async function mainPid(reaperPid, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const kids = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const f = statFields(entry);
      if (f !== undefined && Number(f[1]) === reaperPid) kids.push({ pid: Number(entry), start: Number(f[19]) });
    }
    kids.sort((a, b) => a.start - b.start || a.pid - b.pid);
    if (kids.length > 0) return kids[0].pid;
    if (Date.now() > deadline) throw new Error(`no process started under reaper ${reaperPid}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGKILL a reaper's whole tree by pid at once (for an exit handler: synchronous). */
export function killTreeNow(reaperPid) {
  for (const pid of treeOf(reaperPid).reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** SIGTERM a reaper's whole tree by pid, SIGKILL what is left after `graceMs`; resolves once the reaper exited. */
export async function stopTree(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const signalAll = (signal) => {
    for (const pid of treeOf(child.pid).reverse()) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  signalAll('SIGTERM');
  const timer = setTimeout(() => signalAll('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function percentile(sorted, p) {
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  return sorted[lo] + (sorted[Math.ceil(rank)] - sorted[lo]) * (rank - lo);
}

export function median(values) {
  return percentile([...values].sort((a, b) => a - b), 50);
}
