import type { UsageFigures, UsageRecord, UsageReport, UsageRow } from '@sky/protocol';

const HOUR_MS = 3_600_000;

/** Hours rounded to a millionth (3.6 ms): short test clusters still show, and sums stay stable to compare. */
function round(hours: number): number {
  return Math.round(hours * 1e6) / 1e6;
}

/** Raw sums (milliseconds × amount) of one group before they are turned into hours. */
interface Sums {
  node: number;
  cpu: number;
  gpu: number;
  memory: number;
  gpuByType: Map<string, number>;
  jobs: number;
  jobCpu: number;
  jobGpu: number;
}

function emptySums(): Sums {
  return { node: 0, cpu: 0, gpu: 0, memory: 0, gpuByType: new Map(), jobs: 0, jobCpu: 0, jobGpu: 0 };
}

/** How long the entry lies within [since, until), an open interval counting up to `now`. */
export function overlapMs(record: Pick<UsageRecord, 'start' | 'end'>, since: number, until: number, now: number): number {
  const end = record.end ?? Math.max(now, record.start);
  return Math.max(0, Math.min(end, until) - Math.max(record.start, since));
}

function add(sums: Sums, record: UsageRecord, ms: number): void {
  if (record.kind === 'job') {
    sums.jobs += 1;
    sums.jobCpu += ms * record.cpus;
    sums.jobGpu += ms * record.gpus;
    return;
  }
  sums.node += ms * record.nodes;
  sums.cpu += ms * record.cpus;
  sums.memory += ms * record.memoryGb;
  sums.gpu += ms * record.gpus;
  if (record.gpus > 0) {
    const type = record.gpuType ?? 'unknown';
    sums.gpuByType.set(type, (sums.gpuByType.get(type) ?? 0) + ms * record.gpus);
  }
}

function merge(into: Sums, from: Sums): void {
  into.node += from.node;
  into.cpu += from.cpu;
  into.gpu += from.gpu;
  into.memory += from.memory;
  into.jobs += from.jobs;
  into.jobCpu += from.jobCpu;
  into.jobGpu += from.jobGpu;
  for (const [type, value] of from.gpuByType) into.gpuByType.set(type, (into.gpuByType.get(type) ?? 0) + value);
}

function figures(sums: Sums): UsageFigures {
  const byType = [...sums.gpuByType].map(([type, ms]) => ({ type, hours: round(ms / HOUR_MS) })).sort((a, b) => b.hours - a.hours || (a.type < b.type ? -1 : 1));
  return {
    nodeHours: round(sums.node / HOUR_MS),
    cpuHours: round(sums.cpu / HOUR_MS),
    gpuHours: round(sums.gpu / HOUR_MS),
    memoryGbHours: round(sums.memory / HOUR_MS),
    gpuHoursByType: byType,
    jobs: sums.jobs,
    jobCpuHours: round(sums.jobCpu / HOUR_MS),
    jobGpuHours: round(sums.jobGpu / HOUR_MS),
  };
}

/**
 * The report of ledger entries over [since, until): each entry clipped to the window (open
 * intervals run to `now`), summed by user and workspace, by workspace, and in total. A job
 * counts once in every window it overlaps; entries wholly outside the window add nothing.
 */
export function usageReport(entries: readonly UsageRecord[], window: { since: number; until: number; now: number; allUsers: boolean }): UsageReport {
  const { since, until, now } = window;
  const rows = new Map<string, { user: string; userName: string; workspace: string; sums: Sums }>();
  for (const record of entries) {
    const ms = overlapMs(record, since, until, now);
    const inWindow = ms > 0 || (record.kind === 'job' && record.start >= since && record.start < until);
    if (!inWindow) continue;
    const key = `${record.user}\x00${record.workspace}`;
    let row = rows.get(key);
    if (row === undefined) {
      row = { user: record.user, userName: record.userName, workspace: record.workspace, sums: emptySums() };
      rows.set(key, row);
    }
    add(row.sums, record, ms);
  }
  const ordered = [...rows.values()].sort((a, b) => (a.userName < b.userName ? -1 : a.userName > b.userName ? 1 : a.workspace < b.workspace ? -1 : a.workspace > b.workspace ? 1 : 0));
  const byWorkspace = new Map<string, Sums>();
  const total = emptySums();
  for (const row of ordered) {
    const ws = byWorkspace.get(row.workspace) ?? emptySums();
    merge(ws, row.sums);
    byWorkspace.set(row.workspace, ws);
    merge(total, row.sums);
  }
  return {
    since,
    until,
    allUsers: window.allUsers,
    rows: ordered.map((row): UsageRow => ({ user: row.user, userName: row.userName, workspace: row.workspace, ...figures(row.sums) })),
    workspaces: [...byWorkspace.keys()].sort().map((workspace) => ({ workspace, ...figures(byWorkspace.get(workspace)!) })),
    total: figures(total),
  };
}
