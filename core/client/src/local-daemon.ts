import { readFile, open } from 'node:fs/promises';
import { SkyError, type DaemonInfo } from '@sky/protocol/wire';
import { skyPaths } from './paths.js';
import { isPidAlive, waitForExit } from './process.js';

export type { DaemonInfo };

function isDaemonInfo(value: unknown): value is DaemonInfo {
  const v = value as Partial<DaemonInfo> | null;
  return typeof v === 'object' && v !== null && typeof v.pid === 'number' && typeof v.url === 'string';
}

/** The local daemon's record, or undefined when none is written (or it is being rewritten). */
export async function readDaemonInfo(home?: string): Promise<DaemonInfo | undefined> {
  const file = skyPaths(home).daemonFile;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const value: unknown = JSON.parse(text);
    return isDaemonInfo(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

export type StopOutcome =
  | { kind: 'stopped'; info: DaemonInfo }
  | { kind: 'not-running' }
  | { kind: 'stale'; info: DaemonInfo };

export interface StopOptions {
  home?: string;
  /** How long to wait for the drain (the daemon's own drain limit is shutdown.drain_seconds, 30 s by default). */
  timeoutMs?: number;
  /** Called once if the daemon has not exited after a second (it is draining running requests). */
  onDraining?: (info: DaemonInfo) => void;
}

/** SIGTERM the local daemon named in daemon.json and wait until it has drained and exited. */
export async function stopLocalDaemon(options: StopOptions = {}): Promise<StopOutcome> {
  const info = await readDaemonInfo(options.home);
  if (info === undefined) return { kind: 'not-running' };
  if (!isPidAlive(info.pid)) return { kind: 'stale', info };
  try {
    process.kill(info.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { kind: 'stopped', info };
    throw new SkyError('INTERNAL', `cannot signal the API server (pid ${info.pid}): ${(err as Error).message}`, {
      hint: 'Stop it as the user who started it.',
    });
  }
  const timeoutMs = options.timeoutMs ?? 90_000;
  const quick = await waitForExit(info.pid, Math.min(1_000, timeoutMs));
  if (!quick) options.onDraining?.(info);
  if (!quick && !(await waitForExit(info.pid, timeoutMs - 1_000))) {
    throw new SkyError('INTERNAL', `the API server (pid ${info.pid}) is still running ${Math.round(timeoutMs / 1000)} s after SIGTERM`, {
      hint: `It may be draining long requests; wait, or force it with: kill -9 ${info.pid}`,
    });
  }
  return { kind: 'stopped', info };
}

/** The last lines of a log file from byte `from` on (empty when it cannot be read), each cut to `width` characters. */
export async function tailLines(file: string, count: number, from = 0, width = 400): Promise<string[]> {
  const maxBytes = 16_384;
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const start = Math.max(from, size - maxBytes, 0);
      const buffer = Buffer.alloc(Math.max(size - start, 0));
      await handle.read(buffer, 0, buffer.length, start);
      const lines = buffer.toString('utf8').split('\n').filter((l) => l.trim() !== '');
      return lines.slice(-count).map((l) => (l.length > width ? `${l.slice(0, width)}…` : l));
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
}
