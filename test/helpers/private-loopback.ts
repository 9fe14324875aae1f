/**
 * A network namespace with nothing in it but its own loopback interface, for tests of what the
 * CLI does at the default endpoint (http://127.0.0.1:46580): in the namespace that port is free
 * whatever runs on the machine, and parallel test files each get their own. Needs root and
 * `ip netns` (always there on CI); elsewhere `privateLoopback()` returns undefined and the
 * caller skips loudly (an error under CI=true).
 *
 * Names carry the test process's pid (`sky-lo<pid>-<n>`); leftovers of runs whose process is
 * dead are removed on the next call. `destroy()` kills the processes inside by PID, then deletes
 * the namespace.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PREFIX = 'sky-lo';
let counter = 0;

export interface PrivateLoopback {
  name: string;
  /** The argv that runs `command args` inside the namespace. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] };
  /** PIDs of the processes in the namespace. */
  pids(): Promise<number[]>;
  destroy(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function pidsOf(name: string): Promise<number[]> {
  const { stdout } = await run('ip', ['netns', 'pids', name]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
}

async function remove(name: string): Promise<void> {
  for (const pid of await pidsOf(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
}

/** Namespaces left by test processes that have died. */
async function removeStale(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  for (const line of stdout.split('\n')) {
    const match = new RegExp(`^(${PREFIX}(\\d+)-\\d+)`).exec(line.trim());
    if (match?.[1] !== undefined && !alive(Number(match[2]))) await remove(match[1]);
  }
}

export async function privateLoopback(): Promise<PrivateLoopback | undefined> {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error('a private loopback needs root (ip netns), and CI=true runs every test: run the suite as root');
    return undefined;
  }
  await removeStale();
  const name = `${PREFIX}${process.pid}-${counter++}`;
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await remove(name);
    if (process.env.CI === 'true') throw err;
    return undefined;
  }
  return {
    name,
    wrap: (command, args) => ({ command: 'ip', args: ['netns', 'exec', name, command, ...args] }),
    pids: () => pidsOf(name),
    destroy: () => remove(name),
  };
}
