import { ClusterRecordSchema } from '@sky/protocol';
import type { ClusterRecord, JobRecord, RequestRecord } from '@sky/protocol';
import type { ClusterPatch, JobPatch, RequestFilter, RequestPatch } from '@sky/plugin-api';

/**
 * A private copy with exactly the shape the record has on disk (JSON): callers never share
 * objects with the store's cache, and a cached record equals what a reopen would read.
 */
export function copyRecord<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Deep copy of a value that is already JSON-shaped (a cached record, which came from
 * JSON.parse): several times faster than a JSON round trip, which matters when a listing
 * copies thousands of clusters. Anything that is not a plain object or array is copied by
 * structuredClone, so caller input is safe to pass as well.
 */
export function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i] as unknown);
    return out as T;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = copyJson((value as Record<string, unknown>)[key]);
    // An own "__proto__" key (JSON.parse makes them) must stay a key, not become the prototype.
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    else out[key] = item;
  }
  return out as T;
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

/** Fields an update never changes, even when a caller passes them. */
const FIXED_FIELDS: ReadonlySet<string> = new Set(['name', 'clusterId', 'owner', 'ownerName', 'workspace', 'launchedAt', 'version']);

/** Optional fields of a cluster: a patch key present with undefined removes them. */
const OPTIONAL_FIELDS: ReadonlySet<string> = new Set(
  Object.entries(ClusterRecordSchema.shape)
    .filter(([, schema]) => schema.safeParse(undefined).success)
    .map(([key]) => key),
);

/**
 * The cluster after an update: patch values replace fields (fixed fields excepted), an
 * undefined value removes an optional field, and the version moves up by one.
 */
export function applyClusterPatch(current: ClusterRecord, patch: ClusterPatch): ClusterRecord {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (FIXED_FIELDS.has(key)) continue;
    if (value === undefined) {
      if (OPTIONAL_FIELDS.has(key)) delete next[key];
    } else {
      next[key] = value;
    }
  }
  next.version = current.version + 1;
  return next as ClusterRecord;
}

/** The job after a transition: the new status plus every patch field that is set. */
export function applyJobPatch(record: JobRecord, patch: JobPatch): JobRecord {
  const next: JobRecord = { ...record, status: patch.status };
  if (patch.startedAt !== undefined) next.startedAt = patch.startedAt;
  if (patch.endedAt !== undefined) next.endedAt = patch.endedAt;
  if (patch.exitCodes !== undefined) next.exitCodes = patch.exitCodes;
  if (patch.reason !== undefined) next.reason = patch.reason;
  return next;
}

/** Oldest first: submittedAt, then cluster name, then id. */
export function jobsOldestFirst(a: JobRecord, b: JobRecord): number {
  if (a.submittedAt !== b.submittedAt) return a.submittedAt - b.submittedAt;
  if (a.cluster !== b.cluster) return a.cluster < b.cluster ? -1 : 1;
  return a.id - b.id;
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
