import { Level } from 'level';
import type {
  AuditRecord,
  ClusterRecord,
  JobRecord,
  JobSpec,
  LogChunk,
  ManagedJobEvent,
  ManagedJobRecord,
  ManagedJobSpec,
  RequestRecord,
  ServiceRecord,
  ServiceVersionSpec,
  SessionRecord,
  TokenRecord,
  UsageRecord,
  UserRecord,
  WorkspaceRecord,
} from '@sky/protocol';
import type { ServiceEvent, StoreChange } from '@sky/plugin-api';

/**
 * The changes of one committed batch, in the feed: its key is the seq of the first, the others
 * follow one by one; they share the commit time.
 */
export interface EventValue {
  at: number;
  changes: Array<StoreChange | { kind: 'request'; id: string }>;
}

/** The root database: JSON values unless a sublevel says otherwise. */
export type LevelDb = Level<string, unknown>;

/**
 * LevelDB keeps each table file it has open in native memory with its index block (about 1 %
 * of the table), up to maxOpenFiles: by default 1,000 tables of 2 MB, so that memory would grow
 * with the finished requests kept on disk up to ~2 GB of them. A hundred open tables cover the
 * recent data that listings read; an older table is reopened on the rare read that reaches it.
 * The block cache (8 MB) and the write buffers (2 × 4 MB) are LevelDB's defaults, bounded.
 */
const MAX_OPEN_FILES = 100;

/**
 * The value of an index entry, whose key is all that is read. Not the empty string: classic-level
 * leaks native memory on every put of an empty value (~45 bytes each, never freed; measured with
 * LevelDB alone), which grew the daemon by ~100 bytes per finished request (two or three index
 * entries each). Entries written before with '' read the same.
 */
export const INDEX_MARK = '1';

export function openLevel(path: string): LevelDb {
  return new Level<string, unknown>(path, { valueEncoding: 'json', maxOpenFiles: MAX_OPEN_FILES });
}

/**
 * One sublevel per record type. Index sublevels hold only keys (value INDEX_MARK) except
 * idempotency, whose value is the request id the key was first used for.
 *
 * Clusters and jobs (schema v2): clusters by name; jobs and job-specs by `cluster NUL id`
 * (see keys.ts); job-counters holds the last id handed out per cluster incarnation; and
 * active-jobs is the index of jobs that have not ended, by job key.
 *
 * Users, tokens, workspaces and the audit log (schema v3): users by id; tokens by id, with
 * token-hashes (hash → token id) written in the same batch as the token; workspaces by name;
 * audit entries by id, with audit-by-user (`user NUL id`, value '').
 *
 * Browser sessions: sessions by id, with session-hashes (hash → session id) in the same batch.
 * They came without a schema step: a sky that does not know them ignores them, which only
 * means its users open their dashboard sessions again.
 *
 * Managed jobs (schema v4): managed-jobs by id (fixed width, see keys.ts), managed-job-specs
 * of those not ended, managed-job-counter (key `last`: the last id handed out, so ids are
 * never reused), the indexes managed-jobs-by-user (`user NUL id`), managed-jobs-by-request
 * (`requestId NUL id`) and managed-jobs-active (id, for jobs not ended), and apart from the
 * records, managed-job-events (`id NUL seq`): each job's controller log, its last 1,000 lines,
 * with managed-job-event-seqs (id → the next sequence number, written in the same batch as the
 * lines; the log holds sequence numbers max(0, next - 1000) to next - 1).
 *
 * The change feed (schema v5): events, one entry per committed batch that changed anything,
 * written in that same batch, keyed by the seq of its first change (fixed width, see keys.ts);
 * a request's change holds only its id (the record is read from requests when the feed is
 * read). meta/eventFloor is the highest seq pruned, so seqs are never reused after everything
 * retained was pruned.
 *
 * Services (schema v6): services by name; service-versions (`name NUL version`, fixed width)
 * with the spec of each version; service-events (`name NUL seq`), each service's controller log,
 * its last 1,000 lines, with service-event-seqs (name → the next sequence number, in the same
 * batch as the lines; the log holds max(0, next - 1000) to next - 1). A service's delete removes
 * all of them in one batch.
 *
 * The usage ledger (schema v7): usage by usageKey (@sky/plugin-api), the intervals clusters
 * held their nodes and the finished jobs, never deleted; usage-open (clusterId → the key of its
 * open interval), removed in the batch that closes it.
 */
export function sublevels(db: LevelDb) {
  return {
    requests: db.sublevel<string, RequestRecord>('requests', { valueEncoding: 'json' }),
    logs: db.sublevel<string, LogChunk>('logs', { valueEncoding: 'json' }),
    byStatus: db.sublevel<string, string>('by-status', { valueEncoding: 'utf8' }),
    byUser: db.sublevel<string, string>('by-user', { valueEncoding: 'utf8' }),
    idempotency: db.sublevel<string, string>('idempotency', { valueEncoding: 'utf8' }),
    meta: db.sublevel<string, unknown>('meta', { valueEncoding: 'json' }),
    clusters: db.sublevel<string, ClusterRecord>('clusters', { valueEncoding: 'json' }),
    jobs: db.sublevel<string, JobRecord>('jobs', { valueEncoding: 'json' }),
    jobSpecs: db.sublevel<string, JobSpec>('job-specs', { valueEncoding: 'json' }),
    jobCounters: db.sublevel<string, number>('job-counters', { valueEncoding: 'json' }),
    activeJobs: db.sublevel<string, string>('active-jobs', { valueEncoding: 'utf8' }),
    users: db.sublevel<string, UserRecord>('users', { valueEncoding: 'json' }),
    tokens: db.sublevel<string, TokenRecord>('tokens', { valueEncoding: 'json' }),
    tokenHashes: db.sublevel<string, string>('token-hashes', { valueEncoding: 'utf8' }),
    workspaces: db.sublevel<string, WorkspaceRecord>('workspaces', { valueEncoding: 'json' }),
    audit: db.sublevel<string, AuditRecord>('audit', { valueEncoding: 'json' }),
    auditByUser: db.sublevel<string, string>('audit-by-user', { valueEncoding: 'utf8' }),
    sessions: db.sublevel<string, SessionRecord>('sessions', { valueEncoding: 'json' }),
    sessionHashes: db.sublevel<string, string>('session-hashes', { valueEncoding: 'utf8' }),
    managedJobs: db.sublevel<string, ManagedJobRecord>('managed-jobs', { valueEncoding: 'json' }),
    managedJobSpecs: db.sublevel<string, ManagedJobSpec>('managed-job-specs', { valueEncoding: 'json' }),
    managedJobCounter: db.sublevel<string, number>('managed-job-counter', { valueEncoding: 'json' }),
    managedJobsByUser: db.sublevel<string, string>('managed-jobs-by-user', { valueEncoding: 'utf8' }),
    managedJobsByRequest: db.sublevel<string, string>('managed-jobs-by-request', { valueEncoding: 'utf8' }),
    managedJobsActive: db.sublevel<string, string>('managed-jobs-active', { valueEncoding: 'utf8' }),
    managedJobEvents: db.sublevel<string, ManagedJobEvent>('managed-job-events', { valueEncoding: 'json' }),
    managedJobEventSeqs: db.sublevel<string, number>('managed-job-event-seqs', { valueEncoding: 'json' }),
    events: db.sublevel<string, EventValue>('events', { valueEncoding: 'json' }),
    services: db.sublevel<string, ServiceRecord>('services', { valueEncoding: 'json' }),
    serviceVersions: db.sublevel<string, ServiceVersionSpec>('service-versions', { valueEncoding: 'json' }),
    serviceEvents: db.sublevel<string, ServiceEvent>('service-events', { valueEncoding: 'json' }),
    serviceEventSeqs: db.sublevel<string, number>('service-event-seqs', { valueEncoding: 'json' }),
    usage: db.sublevel<string, UsageRecord>('usage', { valueEncoding: 'json' }),
    usageOpen: db.sublevel<string, string>('usage-open', { valueEncoding: 'utf8' }),
  };
}

export type Sublevels = ReturnType<typeof sublevels>;
export type AnySublevel = Sublevels[keyof Sublevels];

/** One operation of an atomic cross-sublevel batch. */
export type WriteOp =
  | { type: 'put'; sublevel: AnySublevel; key: string; value: unknown; valueEncoding?: 'utf8' }
  | { type: 'del'; sublevel: AnySublevel; key: string };

/** Read many keys of one sublevel, in chunks so a large request does not stall the loop. */
export async function getMany<V>(
  fetch: (keys: string[]) => Promise<Array<V | undefined>>,
  keys: readonly string[],
): Promise<Map<string, V>> {
  const found = new Map<string, V>();
  const CHUNK = 512;
  for (let i = 0; i < keys.length; i += CHUNK) {
    const part = keys.slice(i, i + CHUNK);
    const values = await fetch(part);
    part.forEach((key, j) => {
      const value = values[j];
      if (value !== undefined) found.set(key, value);
    });
  }
  return found;
}
