import type { UsageRecord } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import { copyJson } from './records.js';
import type { UsageFilter } from './store.js';

/**
 * What every store does the same with usage entries (plugin API 1.10): check them, key them,
 * match them to a window and order them, so the stores differ only in where entries live.
 */

function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', `usage entry: ${message}`, { details: { field } });
}

function isNonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && !value.includes('\x00');
}

/** Reject an entry a store cannot key or sum: an open() or recordJob() input of the wrong shape. */
export function checkUsageRecord(record: UsageRecord, kind: UsageRecord['kind']): void {
  if (record.kind !== kind) throw invalid(`expected a ${kind} entry, got ${String(record.kind)}`, 'kind');
  for (const field of ['clusterId', 'cluster', 'user', 'workspace'] as const) {
    if (!isNonEmpty(record[field])) throw invalid(`${field} must be a non-empty string without NUL`, field);
  }
  if (!Number.isSafeInteger(record.start) || record.start < 0) throw invalid('start must be a whole number of milliseconds', 'start');
  for (const field of ['nodes', 'cpus', 'gpus', 'memoryGb'] as const) {
    if (typeof record[field] !== 'number' || !Number.isFinite(record[field]) || record[field] < 0) throw invalid(`${field} must be a number of 0 or more`, field);
  }
  if (kind === 'cluster') {
    if (record.end !== undefined) throw invalid('an interval is opened without an end (close() sets it)', 'end');
    if (record.jobId !== undefined) throw invalid('a cluster interval has no jobId', 'jobId');
    return;
  }
  if (record.jobId === undefined || !Number.isSafeInteger(record.jobId) || record.jobId < 1) throw invalid('a job entry needs a jobId of 1 or more', 'jobId');
  if (record.end === undefined || !Number.isSafeInteger(record.end) || record.end < record.start) throw invalid('a job entry needs an end not before its start', 'end');
}

/** Width of the zero-padded numbers in keys, so keys sort as their numbers do. */
const WIDTH = 16;

function pad(n: number): string {
  return String(n).padStart(WIDTH, '0');
}

/** The entry's identity: `kind NUL clusterId NUL start` for an interval, `kind NUL clusterId NUL jobId` for a job. */
export function usageKey(record: Pick<UsageRecord, 'kind' | 'clusterId' | 'start' | 'jobId'>): string {
  return `${record.kind}\x00${record.clusterId}\x00${pad(record.kind === 'job' ? (record.jobId ?? 0) : record.start)}`;
}

/** Whether the entry overlaps [since, until) (an entry of no length counts when it lies in the window). */
export function usageOverlaps(record: Pick<UsageRecord, 'start' | 'end'>, filter: UsageFilter): boolean {
  if (record.start >= filter.until) return false;
  if (record.end === undefined) return true;
  return record.end > filter.since || (record.end === record.start && record.start >= filter.since);
}

/** Whether the entry is in the filter: the window and, when set, the user. */
export function matchesUsageFilter(record: UsageRecord, filter: UsageFilter): boolean {
  return (filter.user === undefined || record.user === filter.user) && usageOverlaps(record, filter);
}

/** The order UsageRepository.list returns: by start, then by key. */
export function compareUsage(a: UsageRecord, b: UsageRecord): number {
  if (a.start !== b.start) return a.start - b.start;
  const ka = usageKey(a);
  const kb = usageKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** An interval closed at `end` (never before its start). */
export function closedInterval(record: UsageRecord, end: number): UsageRecord {
  return { ...copyJson(record), end: Math.max(end, record.start) };
}

/** Reject a window that is not two whole numbers of milliseconds in order. */
export function checkUsageFilter(filter: UsageFilter): void {
  if (!Number.isSafeInteger(filter.since) || !Number.isSafeInteger(filter.until) || filter.until < filter.since) {
    throw new SkyError('VALIDATION_FAILED', `a usage window needs since <= until in whole milliseconds, got ${String(filter.since)}..${String(filter.until)}`, {
      details: { field: 'since' },
    });
  }
}
