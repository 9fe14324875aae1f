import type { UsageFigures, UsageReport } from '@sky/protocol';
import { parseSince } from './audit-format.js';
import { table } from './format.js';

/**
 * `--since` and `--until` of `sky api usage`: an age (`7d`, `24h`: that long before now), an
 * ISO date or date and time, or unix milliseconds (see parseSince). Undefined when none.
 */
export function parseUsageWindow(since: string, until: string | undefined, now: number = Date.now()): { since: number; until?: number } | undefined {
  const from = parseSince(since, now);
  if (from === undefined) return undefined;
  if (until === undefined) return { since: from };
  const to = parseSince(until, now);
  return to === undefined ? undefined : { since: from, until: to };
}

/** Hours as the table shows them: one decimal from 10 up, two below, 0 for nothing. */
export function hours(value: number): string {
  if (value === 0) return '0';
  if (value >= 10) return value.toFixed(1);
  return value >= 0.01 ? value.toFixed(2) : '<0.01';
}

function gpuCell(figures: UsageFigures): string {
  if (figures.gpuHours === 0) return '0';
  const types = figures.gpuHoursByType.map((g) => `${g.type}:${hours(g.hours)}`).join(',');
  return `${hours(figures.gpuHours)} (${types})`;
}

function cells(figures: UsageFigures): string[] {
  return [hours(figures.nodeHours), hours(figures.cpuHours), gpuCell(figures), String(figures.jobs)];
}

/** A time as the report's heading shows it: UTC, to the minute. */
function when(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

/**
 * The `sky api usage` table: USER WORKSPACE NODE-HOURS CPU-HOURS GPU-HOURS JOBS, a row per user
 * and workspace, then a TOTAL row when there is more than one; headed by the period.
 */
export function usageTable(report: UsageReport): string[] {
  const lines = [`Usage from ${when(report.since)} to ${when(report.until)}${report.allUsers ? ' (every user)' : ''}`];
  const rows = report.rows.map((r) => [r.userName, r.workspace, ...cells(r)]);
  if (report.rows.length > 1) rows.push(['TOTAL', '-', ...cells(report.total)]);
  lines.push(...table(['USER', 'WORKSPACE', 'NODE-HOURS', 'CPU-HOURS', 'GPU-HOURS', 'JOBS'], rows));
  return lines;
}
