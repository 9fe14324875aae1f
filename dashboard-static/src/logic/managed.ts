/** Durations of a managed job as `sky jobs queue` shows them. */

interface TaskTimes {
  startedAt?: number;
  endedAt?: number;
  runningMs: number;
  runningSince?: number;
}

interface JobTimes {
  submittedAt: number;
  endedAt?: number;
  tasks: readonly TaskTimes[];
}

/** Total: submitted to ended (or now). Running: time spent RUNNING over every task and recovery (undefined before it ever ran). */
export function managedDurations(job: JobTimes, now: number): { total: number; running: number | undefined } {
  const total = (job.endedAt ?? now) - job.submittedAt;
  let running = 0;
  let ran = false;
  for (const t of job.tasks) {
    if (t.startedAt !== undefined || t.runningMs > 0 || t.runningSince !== undefined) ran = true;
    running += t.runningMs;
    if (t.runningSince !== undefined) running += Math.max(0, (job.endedAt ?? now) - t.runningSince);
  }
  return { total: Math.max(0, total), running: ran ? running : undefined };
}
