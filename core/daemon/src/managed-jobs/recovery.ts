import type { JobRecovery, JobStatus, ManagedJobStatus } from '@sky/protocol';

/** How a task's job on its cluster ended, as the controller saw it. */
export interface TaskEnd {
  status: JobStatus;
  exitCodes?: ReadonlyArray<number | null>;
  reason?: string;
  /** A node of the cluster is gone or unreachable (the driver says so, or the job failed for it). */
  nodeLost: boolean;
}

export interface RestartCounts {
  /** Relaunches after the task's own failures so far. */
  restarts: number;
}

/** What the controller does next with the task. */
export type EndDecision =
  | { kind: 'succeeded' }
  | { kind: 'relaunch'; counts: 'recovery' | 'restart'; why: string }
  | { kind: 'end'; status: ManagedJobStatus; reason: string };

/** The exit code that failed the task: the first non-zero one of its ranks. */
export function failingExitCode(exitCodes: ReadonlyArray<number | null> | undefined): number | undefined {
  return exitCodes?.find((c): c is number => c !== null && c !== 0);
}

/**
 * Decide what follows the end of a task's job. A lost node is always recovered (whatever the
 * strategy); the task's own failure is relaunched while max_restarts_on_errors allows, or when its
 * exit code is listed in recover_on_exit_codes (under `exitCodeCeiling` relaunches in all); a
 * failed setup is never relaunched. A rank killed by a signal exits 128+n: the task's own failure.
 */
export function decideEnd(end: TaskEnd, recovery: JobRecovery | undefined, counts: RestartCounts, exitCodeCeiling: number): EndDecision {
  if (end.nodeLost && end.status !== 'SUCCEEDED' && end.status !== 'CANCELLED') {
    return { kind: 'relaunch', counts: 'recovery', why: end.reason ?? 'a node of its cluster was lost' };
  }
  switch (end.status) {
    case 'SUCCEEDED':
      return { kind: 'succeeded' };
    case 'CANCELLED':
      return { kind: 'end', status: 'CANCELLED', reason: end.reason ?? 'its job was cancelled on the cluster' };
    case 'FAILED_SETUP':
      return { kind: 'end', status: 'FAILED_SETUP', reason: withCode('setup failed', failingExitCode(end.exitCodes)) };
    default: {
      const code = failingExitCode(end.exitCodes);
      const failed = withCode(end.reason ?? 'the task failed', code);
      if (recovery === undefined) return { kind: 'end', status: 'FAILED', reason: failed };
      if (code !== undefined && recovery.recoverOnExitCodes.includes(code) && counts.restarts < exitCodeCeiling) {
        return { kind: 'relaunch', counts: 'restart', why: `exit code ${code} is in recover_on_exit_codes` };
      }
      if (counts.restarts < recovery.maxRestartsOnErrors) {
        return { kind: 'relaunch', counts: 'restart', why: `${failed}; restart ${counts.restarts + 1} of ${recovery.maxRestartsOnErrors} (max_restarts_on_errors)` };
      }
      const limit = recovery.maxRestartsOnErrors > 0 ? ` after ${counts.restarts} restart(s)` : '';
      return { kind: 'end', status: 'FAILED', reason: `${failed}${limit}` };
    }
  }
}

function withCode(text: string, code: number | undefined): string {
  return code === undefined || text.includes(`exit code ${code}`) ? text : `${text} (exit code ${code})`;
}
