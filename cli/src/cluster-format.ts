// The tables of sky status and sky queue, in SkyPilot's columns.
import type { Autostop, ClusterSummary, JobRecord } from '@sky/protocol';
import { age, columnTable, table } from './format.js';

/** SkyPilot truncates long commands in `sky status` to this many characters. */
export const COMMAND_WIDTH = 25;

/** Cut a string at a word boundary near `max` and mark it with "...", as SkyPilot does. */
export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s*\n\s*/g, ' ');
  if (oneLine.length <= max) return oneLine;
  const words = oneLine.split(' ');
  if ((words[0] ?? '').length > max) return `${oneLine.slice(0, max)}...`;
  let prefix = '';
  for (const word of words) {
    const next = prefix === '' ? word : `${prefix} ${word}`;
    if (next.length > max) break;
    prefix = next;
  }
  return `${prefix}...`;
}

/** The AUTOSTOP column: `-`, `10m`, or `10m (down)` for autodown. */
export function autostopText(autostop: Autostop | undefined): string {
  if (autostop === undefined) return '-';
  return `${autostop.idleMinutes}m${autostop.down ? ' (down)' : ''}`;
}

export interface StatusTableOptions {
  /** sky status -u: a USER column after NAME. */
  showUser: boolean;
  /** sky status -v: an INFRA column before RESOURCES. */
  showInfra?: boolean;
  now?: number;
}

export function statusHeaders(showUser: boolean, showInfra = false): string[] {
  return ['NAME', ...(showUser ? ['USER'] : []), 'LAUNCHED', ...(showInfra ? ['INFRA'] : []), 'RESOURCES', 'STATUS', 'AUTOSTOP', 'COMMAND'];
}

/** `sky status` rows, newest launch first. */
export function statusTable(clusters: readonly ClusterSummary[], options: StatusTableOptions): string[] {
  const now = options.now ?? Date.now();
  const sorted = [...clusters].sort((a, b) => b.launchedAt - a.launchedAt || a.name.localeCompare(b.name));
  const count = sorted.length;
  const column = (): string[] => new Array<string>(count);
  const [names, users, launched, infra, resources, statuses, autostops, commands] = [column(), column(), column(), column(), column(), column(), column(), column()];
  // A team's clusters repeat a handful of command lines: each is cut to width once.
  const cut = new Map<string, string>();
  for (let r = 0; r < count; r++) {
    const c = sorted[r]!;
    names[r] = c.name;
    users[r] = c.ownerName;
    launched[r] = age(c.launchedAt, now);
    infra[r] = c.infra;
    resources[r] = c.resources;
    statuses[r] = c.status === 'INIT' && c.statusReason !== undefined ? `INIT (${truncate(c.statusReason, 40)})` : c.status;
    autostops[r] = autostopText(c.autostop);
    const command = c.lastCommand ?? '-';
    let shown = cut.get(command);
    if (shown === undefined) cut.set(command, (shown = truncate(command, COMMAND_WIDTH)));
    commands[r] = shown;
  }
  const columns = [names, ...(options.showUser ? [users] : []), launched, ...(options.showInfra === true ? [infra] : []), resources, statuses, autostops, commands];
  return columnTable(statusHeaders(options.showUser, options.showInfra), columns);
}

/** How long something ran, compactly: `5s`, `1m 5s`, `2h 3m`, `3d 4h`. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function number(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Math.round(n * 100) / 100);
}

/** A job's RESOURCES as SkyPilot shows them: `1x[CPU:1]`, `2x[H100:8]`. */
export function jobResources(job: Pick<JobRecord, 'numNodes' | 'demand'>): string {
  const { demand } = job;
  const parts = demand.accelerators.length > 0 ? demand.accelerators.map((a) => `${a.name}:${number(a.count)}`) : [`CPU:${number(demand.cpus)}`];
  return `${job.numNodes}x[${parts.join(', ')}]`;
}

export const QUEUE_HEADERS = ['ID', 'NAME', 'USER', 'SUBMITTED', 'STARTED', 'DURATION', 'RESOURCES', 'STATUS', 'LOG'];

/** `sky queue` rows for one cluster, newest job first. */
export function queueTable(cluster: string, jobs: readonly JobRecord[], now: number = Date.now()): string[] {
  const sorted = [...jobs].sort((a, b) => b.id - a.id);
  const rows = sorted.map((j) => [
    String(j.id),
    j.name ?? '-',
    j.userName,
    age(j.submittedAt, now),
    j.startedAt === undefined ? '-' : age(j.startedAt, now),
    j.startedAt === undefined ? '-' : elapsed((j.endedAt ?? now) - j.startedAt),
    jobResources(j),
    j.status,
    `sky logs ${cluster} ${j.id}`,
  ]);
  return table(QUEUE_HEADERS, rows);
}
