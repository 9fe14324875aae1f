// The table and the JSON of `sky jobs queue`, in SkyPilot's columns.
import type { ManagedJobRecord, ManagedTaskState } from '@sky/protocol';
import { elapsed } from './cluster-format.js';
import { age, table } from './format.js';

export interface ManagedJobTableOptions {
  /** -u: a USER column after NAME. */
  showUser: boolean;
  /** -a: WORKSPACE, INFRA/CLUSTER and the whole failure reason (DETAILS) too. */
  showAll?: boolean;
  now?: number;
}

export function managedJobHeaders(showUser: boolean, showAll = false): string[] {
  return [
    'ID',
    'TASK',
    'NAME',
    ...(showUser ? ['USER'] : []),
    'RESOURCES',
    'SUBMITTED',
    'TOT. DURATION',
    'JOB DURATION',
    '#RECOVERIES',
    'STATUS',
    ...(showAll ? ['WORKSPACE', 'INFRA/CLUSTER', 'DETAILS'] : []),
  ];
}

/** How long a task has spent RUNNING: its past runs plus the current one; undefined when it never ran. */
export function taskRunningMs(task: Pick<ManagedTaskState, 'runningMs' | 'runningSince' | 'startedAt'>, now: number): number | undefined {
  const current = task.runningSince === undefined ? 0 : Math.max(0, now - task.runningSince);
  if (task.runningMs === 0 && task.runningSince === undefined && task.startedAt === undefined) return undefined;
  return task.runningMs + current;
}

/** JOB DURATION of a managed job: the sum over its tasks; undefined when none ever ran. */
export function jobRunningMs(job: Pick<ManagedJobRecord, 'tasks'>, now: number): number | undefined {
  const each = job.tasks.map((t) => taskRunningMs(t, now)).filter((ms): ms is number => ms !== undefined);
  return each.length === 0 ? undefined : each.reduce((a, b) => a + b, 0);
}

/** TOT. DURATION: from submission to its end (or now, while it is not over). */
export function totalMs(job: Pick<ManagedJobRecord, 'submittedAt' | 'endedAt'>, now: number): number {
  return Math.max(0, (job.endedAt ?? now) - job.submittedAt);
}

function durationText(ms: number | undefined): string {
  return ms === undefined ? '-' : elapsed(ms);
}

function recoveries(job: Pick<ManagedJobRecord, 'tasks'>): number {
  return job.tasks.reduce((n, t) => n + t.recoveries, 0);
}

/** Where a task runs: `local/sky-jobs-3-alice`, its infra or its cluster alone, or `-`. */
export function placeOf(task: Pick<ManagedTaskState, 'infra' | 'cluster'>): string {
  if (task.infra !== undefined && task.cluster !== undefined) return `${task.infra}/${task.cluster}`;
  return task.infra ?? task.cluster ?? '-';
}

function oneLine(text: string | undefined): string {
  return text === undefined || text === '' ? '-' : text.replace(/\s*\n\s*/g, ' ');
}

/**
 * `sky jobs queue` rows, newest first. A one-task job is one row; a pipeline is a row for the
 * job (RESOURCES `-`) and then a `↳` row per task, TASK being its index.
 */
export function managedJobTable(jobs: readonly ManagedJobRecord[], options: ManagedJobTableOptions): string[] {
  const now = options.now ?? Date.now();
  const showAll = options.showAll === true;
  const rows: string[][] = [];
  const userCell = (cells: string[], user: string): string[] => (options.showUser ? [...cells.slice(0, 3), user, ...cells.slice(3)] : cells);
  for (const job of [...jobs].sort((a, b) => b.id - a.id)) {
    const pipeline = job.tasks.length > 1;
    const only = job.tasks[0];
    const jobRow = [
      String(job.id),
      '-',
      job.name ?? only?.name ?? '-',
      pipeline ? '-' : (only?.resources ?? '-'),
      age(job.submittedAt, now),
      elapsed(totalMs(job, now)),
      durationText(jobRunningMs(job, now)),
      String(recoveries(job)),
      job.status,
      ...(showAll ? [job.workspace, pipeline || only === undefined ? '-' : placeOf(only), oneLine(job.reason)] : []),
    ];
    rows.push(userCell(jobRow, job.userName));
    if (!pipeline) continue;
    for (const task of job.tasks) {
      const taskRow = [
        '↳',
        String(task.index),
        task.name ?? '-',
        task.resources,
        '-',
        task.startedAt === undefined ? '-' : elapsed(Math.max(0, (task.endedAt ?? now) - task.startedAt)),
        durationText(taskRunningMs(task, now)),
        String(task.recoveries),
        task.status,
        ...(showAll ? ['-', placeOf(task), '-'] : []),
      ];
      rows.push(userCell(taskRow, job.userName));
    }
  }
  return table(managedJobHeaders(options.showUser, showAll), rows);
}

/** One task in `sky jobs queue -o json`. */
export interface ManagedTaskJson {
  index: number;
  name: string | null;
  status: string;
  resources: string;
  infra: string | null;
  cluster: string | null;
  /** ISO 8601 times; null when not (yet) there. */
  startedAt: string | null;
  endedAt: string | null;
  /** Time spent RUNNING, over every run; null when it never ran. */
  jobDurationMs: number | null;
  recoveries: number;
  restarts: number;
}

/** One managed job in `sky jobs queue -o json` (README "sky jobs queue -o json"). */
export interface ManagedJobJson {
  id: number;
  name: string | null;
  user: string;
  workspace: string;
  status: string;
  reason: string | null;
  submittedAt: string;
  endedAt: string | null;
  totalDurationMs: number;
  jobDurationMs: number | null;
  recoveries: number;
  tasks: ManagedTaskJson[];
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function managedJobJson(job: ManagedJobRecord, now: number = Date.now()): ManagedJobJson {
  return {
    id: job.id,
    name: job.name ?? null,
    user: job.userName,
    workspace: job.workspace,
    status: job.status,
    reason: job.reason ?? null,
    submittedAt: new Date(job.submittedAt).toISOString(),
    endedAt: iso(job.endedAt),
    totalDurationMs: totalMs(job, now),
    jobDurationMs: jobRunningMs(job, now) ?? null,
    recoveries: recoveries(job),
    tasks: job.tasks.map((t) => ({
      index: t.index,
      name: t.name ?? null,
      status: t.status,
      resources: t.resources,
      infra: t.infra ?? null,
      cluster: t.cluster ?? null,
      startedAt: iso(t.startedAt),
      endedAt: iso(t.endedAt),
      jobDurationMs: taskRunningMs(t, now) ?? null,
      recoveries: t.recoveries,
      restarts: t.restarts,
    })),
  };
}
