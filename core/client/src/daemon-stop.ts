import { SkyError, type DaemonInfo } from '@sky/protocol/wire';
import { checkLocalDaemon, removeStaleDaemonFile, waitForDaemonExit, type CheckOptions } from './daemon-check.js';

export type StopOutcome =
  | { kind: 'stopped'; info: DaemonInfo }
  | { kind: 'not-running' }
  /** daemon.json named a process that is gone or a pid now used by another process: nothing was signalled; the file was removed. */
  | { kind: 'stale'; info: DaemonInfo; reason: string; removed: boolean }
  /** The pid is alive but did not answer the health probe as that daemon: nothing was signalled. */
  | { kind: 'unverified'; info: DaemonInfo; reason: string };

export interface StopOptions extends CheckOptions {
  /** How long to wait for the drain (the daemon's own drain limit is shutdown.drain_seconds, 30 s by default). */
  timeoutMs?: number;
  /** Called once if the daemon has not exited after a second (it is draining running requests). */
  onDraining?: (info: DaemonInfo) => void;
}

/**
 * SIGTERM the local daemon named in daemon.json once it is proven to be that daemon (the pid
 * has the recorded start time and the health probe at its URL answers with that pid and start
 * time; see checkLocalDaemon), and wait until it has drained and exited. A stale daemon.json is
 * removed and its pid never signalled; a live pid that does not answer as the daemon is not
 * signalled either.
 */
export async function stopLocalDaemon(options: StopOptions = {}): Promise<StopOutcome> {
  const check = await checkLocalDaemon(options);
  if (check.kind === 'none') return { kind: 'not-running' };
  if (check.kind === 'stale') return { kind: 'stale', info: check.info, reason: check.reason, removed: await removeStaleDaemonFile(check.info, options.home) };
  // Signalled only on proof: its own answer, with its pid and start time.
  if (check.kind === 'unverified' || check.kind === 'unresponsive') return { kind: 'unverified', info: check.info, reason: check.reason };
  const { info } = check;
  try {
    process.kill(info.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { kind: 'stopped', info };
    throw new SkyError('INTERNAL', `cannot signal the API server (pid ${info.pid}): ${(err as Error).message}`, {
      hint: 'Stop it as the user who started it.',
    });
  }
  const timeoutMs = options.timeoutMs ?? 90_000;
  const quick = await waitForDaemonExit(info, Math.min(1_000, timeoutMs));
  if (!quick) options.onDraining?.(info);
  if (!quick && !(await waitForDaemonExit(info, timeoutMs - 1_000))) {
    throw new SkyError('INTERNAL', `the API server (pid ${info.pid}) is still running ${Math.round(timeoutMs / 1000)} s after SIGTERM`, {
      hint: `It may be draining long requests; wait, or force it with: kill -9 ${info.pid}`,
    });
  }
  return { kind: 'stopped', info };
}
