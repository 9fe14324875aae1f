/**
 * Small operating-system helpers of the test harnesses (SSH hosts in namespaces, the Kubernetes
 * control plane and kubelet): running a command, free ports, processes by PID (signal, wait,
 * descendants) and reading a file that may be gone.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { alive } from './processes.js';

export interface Exec {
  stdout: string;
  stderr: string;
}

/** Run a command (no shell); rejects naming the command and its stderr unless allowFail. */
export function sh(cmd: string, args: string[], options: { allowFail?: boolean; input?: string } = {}): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && !options.allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed: ${(stderr || err.message).trim()}`));
      else resolve({ stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export { alive } from './processes.js';

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** Every process whose ancestry leads to `root` (from /proc), children first. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        walk(child);
        out.push(child);
      }
    }
  };
  walk(root);
  return out;
}

/** Poll `check` every 50 ms until it holds; fails naming `what` (and `detail()`) after `ms`. */
export async function until(check: () => Promise<boolean> | boolean, ms: number, what: string, detail?: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait for a process to be gone, up to `ms`; true when it is. */
export async function exited(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/** SIGTERM, then SIGKILL after `graceMs`, for a process and everything it started. */
export async function terminate(pid: number, graceMs = 5000): Promise<void> {
  const tree = [...descendants(pid), pid];
  for (const p of tree) signal(p, 'SIGTERM');
  if (await exited(pid, graceMs)) {
    for (const p of tree) signal(p, 'SIGKILL');
    return;
  }
  for (const p of [...descendants(pid), ...tree]) signal(p, 'SIGKILL');
  await exited(pid, 2000);
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Start a long-running process with stdout and stderr in `<dir>/<name>.log`, and its PID in
 * `<dir>/<name>.pid` (so a later run can kill it when this one died without cleaning up).
 */
export function startLogged(dir: string, name: string, cmd: string, args: string[]): { child: ChildProcess; log: string } {
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.on('error', () => undefined);
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  writeFileSync(join(dir, `${name}.pid`), String(child.pid));
  return { child, log };
}

export function exitedEarly(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
