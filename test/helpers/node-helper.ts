import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { NodeHelperClient } from '@sky/plugin-api';
import { REPO_ROOT } from './daemon-process.js';

export const HELPER_BIN = join(REPO_ROOT, 'core/runtime/bin/sky-node-helper.js');

export interface NodeHelperHandle {
  socket: string;
  nodeRoot: string;
  /** Accounts the helper allows (and the tests' driver derives) start with this; unique per helper. */
  prefix: string;
  /** The temp directory holding the socket and node root. */
  dir: string;
  pid: number;
  /** The helper's log (JSON lines) so far. */
  log(): string;
  /** Resolves once a line of the log matches (the helper writes a call's line just after answering it); rejects after 5 s. */
  waitForLog(pattern: RegExp): Promise<string>;
  /** Stop the helper (SIGTERM) and start it again with the same settings; its accounts stay. */
  restart(): Promise<void>;
  /** Accounts of this helper's prefix that exist now. */
  accounts(): Array<{ name: string; uid: number; gid: number }>;
  /** Stop the helper (by pid), end its accounts' processes, remove the accounts (userdel -r) and the temp dir. */
  stop(): Promise<void>;
}

export interface NodeHelperOptions {
  /** The daemon's account (default: whoever runs the tests). */
  socketOwner?: string;
  /** Explicit accounts to allow besides the prefix. */
  names?: string[];
  createAccounts?: boolean;
  /** More flags. */
  args?: string[];
}

const live = new Set<{ cleanup: () => void }>();
process.once('exit', () => {
  for (const h of live) h.cleanup();
});

/** Every account in /etc/passwd whose name starts with `prefix`. */
export function accountsWithPrefix(prefix: string): Array<{ name: string; uid: number; gid: number }> {
  return readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .filter((f) => f[0]?.startsWith(prefix) && f.length >= 4)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) }));
}

/** Pids of the processes owned by `uid`. */
export function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statSync(`/proc/${entry}`).uid === uid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** SIGKILL every process of `uid` (by pid), until none is left (they may fork meanwhile). */
export function killProcessesOf(uid: number): void {
  if (uid < 1000) return;
  for (let round = 0; round < 20; round++) {
    const pids = processesOf(uid);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    spawnSync('sleep', ['0.05']);
  }
}

/** Remove an account made by a test: its processes first, then `userdel -r` (retried while /etc/passwd is locked). */
export function removeAccount(account: { name: string; uid: number }): void {
  killProcessesOf(account.uid);
  for (let attempt = 0; attempt < 50; attempt++) {
    const out = spawnSync('userdel', ['-r', account.name], { encoding: 'utf8' });
    if (out.status !== 10 && out.status !== 8) return; // 8: still logged in (a process was just forking), 10: lock busy
    killProcessesOf(account.uid);
    spawnSync('sleep', ['0.1']);
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Start sky-node-helper as root (the tests run as root) on a temp socket and node root, allowing
 * accounts with a prefix unique to this helper and creating them on demand. Resolves once it
 * answers hello.
 */
export async function startNodeHelper(options: NodeHelperOptions = {}): Promise<NodeHelperHandle> {
  const dir = mkdtempSync('/tmp/sky-helper-');
  chmodSync(dir, 0o711); // accounts walk through it to their node directories
  const socket = join(dir, 'sock', 'helper.sock');
  const nodeRoot = join(dir, 'nodes');
  const prefix = `t${randomBytes(3).toString('hex')}-`;
  const args = [
    HELPER_BIN,
    '--socket',
    socket,
    '--socket-owner',
    options.socketOwner ?? userInfo().username,
    '--node-root',
    nodeRoot,
    '--prefix',
    prefix,
    '--worker-idle-seconds',
    '10',
    ...(options.createAccounts === false ? [] : ['--create-accounts']),
    ...(options.names ?? []).flatMap((n) => ['--account', n]),
    ...(options.args ?? []),
  ];
  let log = '';
  const launch = (): ChildProcess => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SKY_HELPER_TEST_MARKER: 'root-env-must-not-leak' } });
    c.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    return c;
  };
  let child = launch();
  let stopped = false;
  const cleanup = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const account of accountsWithPrefix(prefix)) removeAccount(account);
    rmSync(dir, { recursive: true, force: true });
  };
  const entry = { cleanup };
  live.add(entry);
  const ready = async (): Promise<void> => {
    const client = new NodeHelperClient(socket);
    const deadline = Date.now() + 15_000;
    try {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`sky-node-helper exited with ${child.exitCode}: ${log}`);
        try {
          await client.hello();
          return;
        } catch {
          if (Date.now() > deadline) throw new Error(`sky-node-helper did not answer within 15 s: ${log}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } finally {
      await client.close();
    }
  };
  const handle: NodeHelperHandle = {
    socket,
    nodeRoot,
    prefix,
    dir,
    get pid() {
      return child.pid!;
    },
    log: () => log,
    async waitForLog(pattern: RegExp) {
      const deadline = Date.now() + 5000;
      for (;;) {
        const line = log.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) return line;
        if (Date.now() > deadline) throw new Error(`no line of the helper log matches ${pattern}:\n${log.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    accounts: () => accountsWithPrefix(prefix),
    async restart() {
      child.kill('SIGTERM');
      await waitExit(child, 5000);
      child = launch();
      await ready();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await waitExit(child, 5000);
      cleanup();
      live.delete(entry);
    },
  };
  try {
    await ready();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}
