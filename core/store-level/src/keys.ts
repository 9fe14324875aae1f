import type { RequestStatus } from '@sky/protocol';
import { pageCursor } from '@sky/plugin-api';

/**
 * Composite keys inside the index sublevels. Parts are joined with NUL, which sorts below
 * every character a user id, a status or a request id contains, so `prefix + SEP` ..
 * `prefix + END` is exactly the range of one prefix.
 */
const SEP = '\x00';
const END = '\x01';

export interface KeyRange {
  gt?: string;
  gte?: string;
  lt?: string;
}

/** by-status: `status NUL id`. */
export function statusKey(status: RequestStatus, id: string): string {
  return status + SEP + id;
}

/** by-user: `user NUL id`. */
export function userKey(user: string, id: string): string {
  return user + SEP + id;
}

/** idempotency: `user NUL idempotencyKey` → request id. */
export function idempotencyKey(user: string, key: string): string {
  return user + SEP + key;
}

/** Every entry under one status or user, restricted to ids below `belowId` when given. */
export function prefixRange(prefix: string, belowId?: string): KeyRange {
  return { gt: prefix + SEP, lt: belowId === undefined ? prefix + END : prefix + SEP + belowId };
}

/** The request id at the end of a by-status or by-user key. */
export function idOfIndexKey(key: string): string {
  return key.slice(key.indexOf(SEP) + 1);
}

/** Log sequence numbers are fixed width so that they sort numerically. */
const SEQ_WIDTH = 16;

/** logs: `id NUL seq` → LogChunk. */
export function logKey(id: string, seq: number): string {
  return id + SEP + String(seq).padStart(SEQ_WIDTH, '0');
}

/** The log chunks of one request with seq > afterSeq (all when undefined or negative). */
export function logRange(id: string, afterSeq?: number): KeyRange {
  const lt = id + END;
  if (afterSeq === undefined || afterSeq < 0) return { gt: id + SEP, lt };
  return { gt: logKey(id, Math.floor(afterSeq)), lt };
}

/** Job ids are fixed width so that a cluster's jobs sort numerically. */
const JOB_ID_WIDTH = 16;

/**
 * jobs, job-specs, active-jobs: `cluster NUL id` (cluster names never contain NUL, so
 * `prefixRange(cluster)` is exactly one cluster's jobs, and never those of a cluster whose
 * name merely starts with it).
 */
export function jobKey(cluster: string, id: number): string {
  return cluster + SEP + String(id).padStart(JOB_ID_WIDTH, '0');
}

/** The cluster and id a job key names. */
export function parseJobKey(key: string): { cluster: string; id: number } {
  const at = key.lastIndexOf(SEP);
  return { cluster: key.slice(0, at), id: Number(key.slice(at + 1)) };
}

/** Whether `id` can name a job at all (ids are 1, 2, 3, ...). */
export function isJobId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1;
}

/** Whether `name` can be a key part: NUL is the separator, so no cluster name may contain it. */
export function isKeySafe(name: string): boolean {
  return typeof name === 'string' && !name.includes(SEP);
}

/** list() cursors carry the last id of the page: the next page starts strictly below it. */
export const { encode: encodeCursor, decode: decodeCursor } = pageCursor('l1:');

/** Managed job ids are fixed width so that they sort numerically. */
const MANAGED_JOB_ID_WIDTH = 16;

/** managed-jobs, managed-job-specs, managed-jobs-active: the id, fixed width. */
export function managedJobKey(id: number): string {
  return String(id).padStart(MANAGED_JOB_ID_WIDTH, '0');
}

/** The id a managed-jobs key (or the end of an index key) names. */
export function parseManagedJobKey(key: string): number {
  return Number(key.slice(key.lastIndexOf(SEP) + 1));
}

/**
 * managed-jobs-by-user: `user NUL id`; managed-jobs-by-request: `requestId NUL id`. Read
 * with prefixRange(user) (or requestId), in reverse for newest first.
 */
export function managedJobIndexKey(prefix: string, id: number): string {
  return prefix + SEP + managedJobKey(id);
}

/** Controller log sequence numbers are fixed width so that they sort numerically. */
const EVENT_SEQ_WIDTH = 16;

/** managed-job-events: `id NUL seq` → one line of the managed job's controller log. */
export function managedJobEventKey(id: number, seq: number): string {
  return managedJobKey(id) + SEP + String(seq).padStart(EVENT_SEQ_WIDTH, '0');
}

/** Every controller log line of one managed job. */
export function managedJobEventRange(id: number): KeyRange {
  return prefixRange(managedJobKey(id));
}

/** The sequence number at the end of a managed-job-events key. */
export function seqOfEventKey(key: string): number {
  return Number(key.slice(key.lastIndexOf(SEP) + 1));
}

/** Feed sequence numbers are fixed width so that they sort numerically. */
const FEED_SEQ_WIDTH = 16;

/** events: the seq, fixed width. */
export function eventKey(seq: number): string {
  return String(seq).padStart(FEED_SEQ_WIDTH, '0');
}

/** Service version numbers and controller log sequence numbers are fixed width so that they sort numerically. */
const SERVICE_NUMBER_WIDTH = 16;

/** service-versions: `name NUL version` → the spec of that version. */
export function serviceVersionKey(name: string, version: number): string {
  return name + SEP + String(version).padStart(SERVICE_NUMBER_WIDTH, '0');
}

/** service-events: `name NUL seq` → one line of the service's controller log. */
export function serviceEventKey(name: string, seq: number): string {
  return name + SEP + String(seq).padStart(SERVICE_NUMBER_WIDTH, '0');
}

/** The number at the end of a service-versions or service-events key, and the service it belongs to. */
export function parseServiceKey(key: string): { name: string; n: number } {
  const at = key.lastIndexOf(SEP);
  return { name: key.slice(0, at), n: Number(key.slice(at + 1)) };
}
