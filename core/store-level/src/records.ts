import type { RequestRecord } from '@sky/protocol';
import type { RequestFilter, RequestPatch } from '@sky/plugin-api';

/**
 * A private copy with exactly the shape the record has on disk (JSON): callers never share
 * objects with the store's cache, and a cached record equals what a reopen would read.
 */
export function copyRecord<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The record after a transition: the new status plus every patch field that is set. */
export function applyPatch(record: RequestRecord, patch: RequestPatch): RequestRecord {
  const next: RequestRecord = { ...record, status: patch.status };
  if (patch.startedAt !== undefined) next.startedAt = patch.startedAt;
  if (patch.finishedAt !== undefined) next.finishedAt = patch.finishedAt;
  if (patch.result !== undefined) next.result = copyRecord(patch.result);
  if (patch.error !== undefined) next.error = copyRecord(patch.error);
  if (patch.attempts !== undefined) next.attempts = patch.attempts;
  return next;
}

export function matchesFilter(record: RequestRecord, filter: RequestFilter): boolean {
  if (filter.user !== undefined && record.user !== filter.user) return false;
  if (filter.status !== undefined && filter.status.length > 0 && !filter.status.includes(record.status)) return false;
  if (filter.name !== undefined && record.name !== filter.name) return false;
  if (filter.cluster !== undefined && record.cluster !== filter.cluster) return false;
  return true;
}

export function byIdAscending(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function byIdDescending(a: { id: string }, b: { id: string }): number {
  return byIdAscending(b, a);
}
