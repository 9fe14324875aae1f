/**
 * Record helpers for StateStore implementations. Every store (in-memory, LevelDB, and the
 * PostgreSQL one to come) applies patches, filters and orders records with these, so the
 * semantics documented in store.ts live in one place and cannot drift between stores:
 * - a request or job transition sets the new status plus every patch field that is set;
 * - a cluster update never touches the fixed fields, removes an optional field whose patch
 *   key is present with undefined, ignores undefined for a required field, and bumps the
 *   version by one;
 * - patch values are copied, so the new record never shares objects with the caller.
 */
import { SkyError, isManagedJobTerminal } from '@sky/protocol/wire';
import type {
  AuditRecord,
  ClusterRecord,
  JobRecord,
  ManagedJobRecord,
  RequestRecord,
  RequestStatus,
  ServiceRecord,
  SessionRecord,
  TokenRecord,
  UserRecord,
  WorkspaceRecord,
} from '@sky/protocol';
import type {
  AuditFilter,
  ClusterPatch,
  JobListFilter,
  JobPatch,
  ManagedJobFilter,
  ManagedJobPatch,
  RequestFilter,
  RequestPatch,
  FeedChange,
  ServiceFilter,
  ServicePatch,
  UserPatch,
  WorkspacePatch,
} from './store.js';

/**
 * A copy with exactly the shape the value has once stored as JSON and read back (a JSON
 * round trip): what a durable store returns, so a cached record equals what a reopen reads.
 */
export function copyRecord<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Deep copy of a JSON-shaped value (a record, a body, a result), so callers never share
 * objects with the store. Several times faster than a JSON round trip or structuredClone,
 * which matters when a listing copies thousands of records; anything that is not a plain
 * object or array is copied by structuredClone, so caller input is safe to pass as well.
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

/** A change-feed event with its own copy of the record (each listener gets one). */
export function copyChange<C extends FeedChange>(change: C): C {
  const copy = change.record === undefined || change.record === null ? { ...change } : ({ ...change, record: copyJson(change.record) } as C);
  if ('deleted' in copy && copy.deleted !== undefined) copy.deleted = { owner: copy.deleted.owner, workspace: copy.deleted.workspace };
  return copy;
}

/**
 * The request after a transition: the new status plus every patch field that is set. The
 * result and error are copied in their stored JSON shape, as a durable store would return them.
 */
export function applyRequestPatch(record: RequestRecord, patch: RequestPatch): RequestRecord {
  const next: RequestRecord = { ...record, status: patch.status };
  if (patch.startedAt !== undefined) next.startedAt = patch.startedAt;
  if (patch.finishedAt !== undefined) next.finishedAt = patch.finishedAt;
  if (patch.result !== undefined) next.result = copyRecord(patch.result);
  if (patch.error !== undefined) next.error = copyRecord(patch.error);
  if (patch.attempts !== undefined) next.attempts = patch.attempts;
  if (patch.replica !== undefined) next.replica = patch.replica;
  if (patch.cancelRequestedAt !== undefined) next.cancelRequestedAt = patch.cancelRequestedAt;
  return next;
}

/**
 * Whether a request transition may be applied: its status is one of `from`, and a request
 * that has queued a job only ever moves to SUCCEEDED (RequestRepository.transition).
 */
export function mayTransitionRequest(record: RequestRecord, from: readonly RequestStatus[], patch: RequestPatch): boolean {
  if (!from.includes(record.status)) return false;
  return record.job === undefined || patch.status === 'SUCCEEDED' || patch.status === record.status;
}

/**
 * Why a job cannot be queued for request `id` (JobCreateOptions.request), or undefined when
 * it can: the request must exist, be RUNNING and have no job yet.
 */
export function requestLinkRefusal(id: string, record: RequestRecord | undefined): SkyError | undefined {
  if (record !== undefined && record.status === 'RUNNING' && record.job === undefined) return undefined;
  const why =
    record === undefined
      ? 'no such request'
      : record.job !== undefined
        ? `it already queued job ${record.job.id} on cluster ${record.job.cluster}`
        : `it is ${record.status}`;
  return new SkyError('REQUEST_NOT_RUNNING', `request ${id} cannot queue a job: ${why}; nothing was queued`, {
    details: { requestId: id, ...(record === undefined ? {} : { status: record.status }) },
  });
}

/** Fields of a cluster an update never changes, even when a caller passes them. */
export const FIXED_CLUSTER_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'clusterId',
  'owner',
  'ownerName',
  'workspace',
  'launchedAt',
  'version',
]);

/**
 * Optional fields of a cluster: a patch key present with undefined removes them. Written out
 * (a test checks it against ClusterRecordSchema) so loading this module loads no schema library:
 * plugins import @sky/plugin-api, and the daemon's memory should not pay for a second copy.
 */
export const OPTIONAL_CLUSTER_FIELDS: ReadonlySet<string> = new Set<keyof ClusterRecord>(['statusReason', 'driverState', 'lastCommand', 'ports', 'autostop', 'replica']);

/**
 * The cluster after an update: patch values (copied) replace fields, fixed fields excepted;
 * a key present with undefined removes an optional field and is ignored for a required
 * one; the version moves up by one.
 */
export function applyClusterPatch(current: ClusterRecord, patch: ClusterPatch): ClusterRecord {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (FIXED_CLUSTER_FIELDS.has(key)) continue;
    if (value === undefined) {
      if (OPTIONAL_CLUSTER_FIELDS.has(key)) delete next[key];
    } else {
      next[key] = copyJson(value);
    }
  }
  next.version = current.version + 1;
  return next as ClusterRecord;
}

/** The cluster given to another owner: a new version, like an update. */
export function applyOwnerChange(current: ClusterRecord, owner: { id: string; name: string }, updatedAt: number): ClusterRecord {
  return { ...copyJson(current), owner: owner.id, ownerName: owner.name, updatedAt, version: current.version + 1 };
}

/** The job after a transition: the new status plus every patch field that is set (copied). */
export function applyJobPatch(record: JobRecord, patch: JobPatch): JobRecord {
  const next: JobRecord = { ...record, status: patch.status };
  if (patch.startedAt !== undefined) next.startedAt = patch.startedAt;
  if (patch.endedAt !== undefined) next.endedAt = patch.endedAt;
  if (patch.exitCodes !== undefined) next.exitCodes = [...patch.exitCodes];
  if (patch.reason !== undefined) next.reason = patch.reason;
  if (patch.gpuIndices !== undefined) next.gpuIndices = patch.gpuIndices.map((rank) => [...rank]);
  if (patch.runtime !== undefined) next.runtime = patch.runtime;
  return next;
}

/** The order of JobRepository.listActive: by submittedAt, then cluster name, then id. */
/** Put listed jobs in the order a JobListFilter asks for and cut them to its limit (the records are not copied). */
export function orderJobs(jobs: JobRecord[], filter: JobListFilter): JobRecord[] {
  jobs.sort(filter.oldestFirst === true ? (a, b) => a.id - b.id : (a, b) => b.id - a.id);
  return filter.limit !== undefined && jobs.length > filter.limit ? jobs.slice(0, Math.max(0, filter.limit)) : jobs;
}

export function jobsOldestFirst(a: JobRecord, b: JobRecord): number {
  if (a.submittedAt !== b.submittedAt) return a.submittedAt - b.submittedAt;
  if (a.cluster !== b.cluster) return a.cluster < b.cluster ? -1 : 1;
  return a.id - b.id;
}

/** Whether a request passes a RequestFilter (user, status, name, cluster; paging aside). */
export function matchesRequestFilter(record: RequestRecord, filter: RequestFilter): boolean {
  if (filter.user !== undefined && record.user !== filter.user) return false;
  if (filter.status !== undefined && filter.status.length > 0 && !filter.status.includes(record.status)) return false;
  if (filter.name !== undefined && record.name !== filter.name) return false;
  if (filter.cluster !== undefined && record.cluster !== filter.cluster) return false;
  return true;
}

/** Ascending id: the order of RequestRepository.listByStatus. */
export function byIdAscending(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Descending id: the order of RequestRepository.list pages. */
export function byIdDescending(a: { id: string }, b: { id: string }): number {
  return byIdAscending(b, a);
}

/** Apply a patch: set keys copied; a key present with undefined removes an optional field, else is ignored. */
function applyPatch<T extends object>(current: T, patch: object, allowed: ReadonlySet<string>, optional: ReadonlySet<string>): T {
  const next: Record<string, unknown> = { ...(current as Record<string, unknown>) };
  for (const [key, value] of Object.entries(patch)) {
    if (!allowed.has(key)) continue;
    if (value === undefined) {
      if (optional.has(key)) delete next[key];
    } else {
      next[key] = copyJson(value);
    }
  }
  return next as T;
}

const USER_PATCH_FIELDS: ReadonlySet<string> = new Set<keyof UserRecord>(['name', 'role', 'passwordHash', 'disabled', 'updatedAt']);
const OPTIONAL_USER_FIELDS: ReadonlySet<string> = new Set<keyof UserRecord>(['passwordHash', 'disabled']);

/** The user after an update: only name, role, passwordHash, disabled and updatedAt change. */
export function applyUserPatch(current: UserRecord, patch: UserPatch): UserRecord {
  return applyPatch(current, patch, USER_PATCH_FIELDS, OPTIONAL_USER_FIELDS);
}

const WORKSPACE_PATCH_FIELDS: ReadonlySet<string> = new Set<keyof WorkspaceRecord>(['private', 'allowedUsers', 'allowedInfra', 'updatedAt', 'webhooks', 'webhookState']);
const OPTIONAL_WORKSPACE_FIELDS: ReadonlySet<string> = new Set<keyof WorkspaceRecord>(['allowedInfra', 'webhooks', 'webhookState']);

/** The workspace after an update: only private, allowedUsers, allowedInfra, updatedAt, webhooks and webhookState change. */
export function applyWorkspacePatch(current: WorkspaceRecord, patch: WorkspacePatch): WorkspaceRecord {
  return applyPatch(current, patch, WORKSPACE_PATCH_FIELDS, OPTIONAL_WORKSPACE_FIELDS);
}

/** The token after revoke: an earlier revocation is kept. */
export function revokedToken(current: TokenRecord, at: number): TokenRecord {
  return current.revokedAt === undefined ? { ...current, revokedAt: at } : { ...current };
}

/** The session after revoke: an earlier revocation is kept. */
export function revokedSession(current: SessionRecord, at: number): SessionRecord {
  return current.revokedAt === undefined ? { ...current, revokedAt: at } : { ...current };
}

/** Whether a session may be pruned at `before`: it expired, or was revoked, before then. */
export function sessionPrunable(session: SessionRecord, before: number): boolean {
  return session.expiresAt < before || (session.revokedAt !== undefined && session.revokedAt < before);
}

/** The token after touch: lastUsedAt moves forward only. */
export function touchedToken(current: TokenRecord, at: number): TokenRecord {
  return current.lastUsedAt !== undefined && current.lastUsedAt >= at ? { ...current } : { ...current, lastUsedAt: at };
}

/** Whether an audit entry passes an AuditFilter (user, since; paging aside). */
export function matchesAuditFilter(record: AuditRecord, filter: AuditFilter): boolean {
  if (filter.user !== undefined && record.user !== filter.user) return false;
  if (filter.since !== undefined && record.at < filter.since) return false;
  return true;
}

/** Ascending name: the order of user and workspace listings. */
export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const MANAGED_JOB_PATCH_FIELDS: ReadonlySet<string> = new Set<keyof ManagedJobRecord>([
  'name',
  'status',
  'reason',
  'endedAt',
  'recoveringSince',
  'currentTask',
  'attempts',
  'tasks',
]);

/** Optional fields of a managed job a patch key present with undefined removes (ManagedJobPatch). */
export const OPTIONAL_MANAGED_JOB_FIELDS: ReadonlySet<string> = new Set<keyof ManagedJobRecord>(['reason', 'endedAt', 'recoveringSince']);

/** How many lines of a managed job's controller log a store keeps (the newest). */
export const MANAGED_JOB_EVENT_CAP = 1000;

/** A new managed job as stored: the caller's fields (copied), the assigned id, version 1. */
export function newManagedJob(input: Omit<ManagedJobRecord, 'id' | 'version'>, id: number): ManagedJobRecord {
  return { ...copyJson(input), id, version: 1 } as ManagedJobRecord;
}

/**
 * The managed job after an update: only the ManagedJobPatch fields change (copied); a key
 * present with undefined removes reason, endedAt or recoveringSince and is ignored for any
 * other field; the version moves up by one.
 */
export function applyManagedJobPatch(current: ManagedJobRecord, patch: ManagedJobPatch): ManagedJobRecord {
  const next = applyPatch(current, patch, MANAGED_JOB_PATCH_FIELDS, OPTIONAL_MANAGED_JOB_FIELDS);
  next.version = current.version + 1;
  return next;
}

/** Whether a managed job is listed by `list({ active: true })`: it has not ended. */
export function isManagedJobActive(record: ManagedJobRecord): boolean {
  return !isManagedJobTerminal(record.status);
}

/** Whether a managed job passes a ManagedJobFilter (user, active, requestId; the limit aside). */
export function matchesManagedJobFilter(record: ManagedJobRecord, filter: ManagedJobFilter): boolean {
  if (filter.user !== undefined && record.user !== filter.user) return false;
  if (filter.active === true && !isManagedJobActive(record)) return false;
  if (filter.requestId !== undefined && record.requestId !== filter.requestId) return false;
  return true;
}

/** Reject a ManagedJobFilter.limit that is not a positive whole number (absent is fine: no limit). */
export function checkManagedJobLimit(filter: ManagedJobFilter): void {
  const { limit } = filter;
  if (limit === undefined || (Number.isSafeInteger(limit) && limit >= 1)) return;
  throw new SkyError('VALIDATION_FAILED', `limit must be a positive whole number, got ${String(limit)}`, {
    hint: 'pass a limit of 1 or more, or none for every managed job',
    details: { field: 'limit' },
  });
}

/** Managed jobs newest (highest id) first: the order of ManagedJobRepository.list. */
export function managedJobsNewestFirst(a: { id: number }, b: { id: number }): number {
  return b.id - a.id;
}

/** The controller log after appending `added` to `current`: the newest MANAGED_JOB_EVENT_CAP lines, oldest first. */
export function cappedEvents<T>(current: readonly T[], added: readonly T[]): T[] {
  const all = [...current, ...added];
  return all.length > MANAGED_JOB_EVENT_CAP ? all.slice(all.length - MANAGED_JOB_EVENT_CAP) : all;
}

/** Fields of a service an update never changes, even when a caller passes them (ServicePatch). */
export const FIXED_SERVICE_FIELDS: ReadonlySet<string> = new Set<keyof ServiceRecord>(['name', 'user', 'userName', 'workspace', 'createdAt', 'requestId', 'revision']);

/**
 * Optional fields of a service a patch key present with undefined removes. Written out (a
 * test checks it against ServiceRecordSchema), like OPTIONAL_CLUSTER_FIELDS.
 */
export const OPTIONAL_SERVICE_FIELDS: ReadonlySet<string> = new Set<keyof ServiceRecord>(['endpoint', 'lbPort', 'lbReplica', 'reason']);

/** How many lines of a service's controller log a store keeps (the newest), as for managed jobs. */
export const SERVICE_EVENT_CAP = MANAGED_JOB_EVENT_CAP;

/** A new service as stored: the caller's fields (copied) at revision 1 (a revision in the input is ignored). */
export function newService(input: Omit<ServiceRecord, 'revision'>): ServiceRecord {
  return { ...copyJson(input), revision: 1 } as ServiceRecord;
}

/**
 * The service after an update: patch values (copied) replace fields, the fixed ones excepted;
 * a key present with undefined removes an optional field and is ignored for a required one;
 * the revision moves up by one.
 */
export function applyServicePatch(current: ServiceRecord, patch: ServicePatch): ServiceRecord {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (FIXED_SERVICE_FIELDS.has(key)) continue;
    if (value === undefined) {
      if (OPTIONAL_SERVICE_FIELDS.has(key)) delete next[key];
    } else {
      next[key] = copyJson(value);
    }
  }
  next.revision = current.revision + 1;
  return next as ServiceRecord;
}

/** Whether a service passes a ServiceFilter. */
export function matchesServiceFilter(record: ServiceRecord, filter: ServiceFilter): boolean {
  return filter.user === undefined || record.user === filter.user;
}

/** Whether `version` can name a service version at all (1, 2, 3, ...). */
export function isServiceVersion(version: number): boolean {
  return Number.isSafeInteger(version) && version >= 1;
}

/**
 * Reject a version spec whose version is not a whole number from 1 (it is the spec's key).
 * The rest of the spec is the caller's: the store keeps it as given.
 */
export function checkServiceVersionSpec(spec: { version: number }): void {
  if (isServiceVersion(spec.version)) return;
  throw new SkyError('VALIDATION_FAILED', `a service version spec needs a version of 1 or more, got ${String(spec.version)}`, {
    details: { field: 'version' },
  });
}
