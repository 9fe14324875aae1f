import { SkyError, type DaemonInfo } from '@sky/protocol/wire';
import { checkLocalDaemon, removeStaleDaemonFile, waitForDaemonExit, type CheckOptions } from './daemon-check.js';
import { readDaemonInfo } from './local-daemon.js';
import { liveSupervisor } from './supervisor.js';

export type StopOutcome =
  | { kind: 'stopped'; info: DaemonInfo }
  /** sky daemon start's supervisor was stopped, and with it the API server it ran (info: that server, if one was up). */
  | { kind: 'stopped-supervised'; supervisor: number; info?: DaemonInfo }
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
  const supervised = await stopSupervisor(options);
  if (supervised !== undefined) return supervised;
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

/**
 * Stop sky daemon start's supervisor, proven by its pid and start time (supervisor.json): it
 * stops the API server it runs (SIGTERM, drain) and then exits. Undefined when none runs.
 */
async function stopSupervisor(options: StopOptions): Promise<StopOutcome | undefined> {
  const supervisor = await liveSupervisor(options.home);
  if (supervisor === undefined) return undefined;
  const daemon = await readDaemonInfo(options.home);
  const info = daemon?.supervisor === supervisor.pid ? daemon : undefined;
  try {
    process.kill(supervisor.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return { kind: 'stopped-supervised', supervisor: supervisor.pid, ...(info === undefined ? {} : { info }) };
    throw new SkyError('INTERNAL', `cannot signal the API server's supervisor (pid ${supervisor.pid}): ${(err as Error).message}`, { hint: 'Stop it as the user who started it.' });
  }
  const target: DaemonInfo = { pid: supervisor.pid, host: '', port: 0, url: '', startedAt: supervisor.startedAt, version: '', ...(supervisor.procStart === undefined ? {} : { procStart: supervisor.procStart }) };
  const timeoutMs = options.timeoutMs ?? 90_000;
  const quick = await waitForDaemonExit(target, Math.min(1_000, timeoutMs));
  if (!quick && info !== undefined) options.onDraining?.(info);
  if (!quick && !(await waitForDaemonExit(target, timeoutMs - 1_000))) {
    throw new SkyError('INTERNAL', `the API server's supervisor (pid ${supervisor.pid}) is still running ${Math.round(timeoutMs / 1000)} s after SIGTERM`, {
      hint: `The API server may be draining long requests; wait, or force both with: kill -9 ${supervisor.pid}${info === undefined ? '' : ` ${info.pid}`}`,
    });
  }
  return { kind: 'stopped-supervised', supervisor: supervisor.pid, ...(info === undefined ? {} : { info }) };
}
