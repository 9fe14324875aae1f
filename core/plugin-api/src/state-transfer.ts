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
import { SkyError } from '@sky/protocol';
import { orderChecker, stateItemProblem } from './state-file.js';
import type { ServiceEvent, StoreChange } from './store.js';

/** A feed entry as it is kept: a request's change names only the request (its body is in the request items). */
export type StoredChange = StoreChange | { kind: 'request'; id: string };

/**
 * One record of a store's whole state, as exportState yields it and importState takes it
 * (plugin API 1.7). Every kind keeps what a store needs to answer exactly as before: ids,
 * versions, job counters, log and feed sequence numbers. Tokens and sessions carry their
 * hashes only (a store never holds their secrets).
 *
 * The order is fixed, so that an importer may write each item as it comes: `feed` first, then
 * `counter`, users, tokens, sessions, workspaces, requests, request log chunks, clusters, jobs,
 * managed jobs, services, plugin documents, audit entries, usage entries, and last the retained feed entries
 * (ascending seq). Within a kind, items come in the order of their key (id, name, or cluster
 * then id).
 */
export type StateItem =
  /** The feed's position: the highest seq ever given and the commit time of the latest change. */
  | { type: 'feed'; last: number; lastAt: number }
  /** The last managed job id handed out (ids are never reused, even after the job is gone). */
  | { type: 'counter'; name: 'managedJobs'; value: number }
  | { type: 'user'; record: UserRecord }
  | { type: 'token'; record: TokenRecord }
  | { type: 'session'; record: SessionRecord }
  | { type: 'workspace'; record: WorkspaceRecord }
  | { type: 'request'; record: RequestRecord }
  | { type: 'requestLog'; id: string; chunk: LogChunk }
  /** A cluster with the last job id handed out in its incarnation. */
  | { type: 'cluster'; record: ClusterRecord; jobCounter: number }
  /** A job, with its spec while it has not ended. */
  | { type: 'job'; record: JobRecord; spec?: JobSpec }
  /** A managed job with its spec while it has not ended, and its controller log (oldest first). */
  | { type: 'managedJob'; record: ManagedJobRecord; spec?: ManagedJobSpec; events: ManagedJobEvent[] }
  /**
   * A service (plugin API 1.9) with the spec of each of its versions (ascending version; they
   * hold the task's secrets and the bearer token, as stored, like a managed job's spec) and its
   * controller log (oldest first).
   */
  | { type: 'service'; record: ServiceRecord; versions: ServiceVersionSpec[]; events: ServiceEvent[] }
  /** A plugin's document (plugin API 1.8, stores that keep them: see documents.ts). */
  | { type: 'pluginDocument'; plugin: string; name: string; value: unknown; revision: number }
  | { type: 'audit'; record: AuditRecord }
  /** A usage ledger entry (plugin API 1.10), in key order (see usageKey). */
  | { type: 'usage'; record: UsageRecord }
  /** One retained entry of the persisted change feed. */
  | { type: 'event'; seq: number; at: number; change: StoredChange };

export type StateItemType = StateItem['type'];

/** The order items come in (see StateItem). */
export const STATE_ITEM_ORDER: readonly StateItemType[] = [
  'feed',
  'counter',
  'user',
  'token',
  'session',
  'workspace',
  'request',
  'requestLog',
  'cluster',
  'job',
  'managedJob',
  'service',
  'pluginDocument',
  'audit',
  'usage',
  'event',
];

/** How many items of each type an import wrote. */
export type ImportSummary = Partial<Record<StateItemType, number>>;

/**
 * A store whose whole state can be read at one point in time and loaded into an empty store
 * of any kind (backups, moving from LevelDB to PostgreSQL). Plugin API 1.7; optional on
 * StateStore, so a store written against an earlier 1.x still loads (the daemon then refuses
 * export and import with a clear error).
 */
export interface StateTransfer {
  /**
   * Every record of every repository, from ONE consistent point in time: a multi-record write
   * committed while the export runs is either wholly in it or wholly absent. Writes go on
   * meanwhile. Yields in the order of STATE_ITEM_ORDER.
   */
  exportState(): AsyncIterable<StateItem>;
  /**
   * Load exported items into this open store, which must hold nothing (no user, request,
   * cluster, managed job, service, audit entry, usage entry, workspace, session, nor any feed entry): otherwise it
   * rejects with STATE_NOT_EMPTY, writing nothing. Ids, versions, counters and sequence
   * numbers are kept, so idempotency keys, tokens, sessions and feed positions work as before.
   * Rejects with VALIDATION_FAILED on items out of order or inconsistent (a job of no cluster,
   * a token of no user). Subscribers hear nothing of an import.
   */
  importState(items: AsyncIterable<StateItem>): Promise<ImportSummary>;
}

/** Whether `store` implements StateTransfer (plugin API 1.7). */
export function supportsStateTransfer<S extends object>(store: S): store is S & StateTransfer {
  const candidate = store as Partial<StateTransfer>;
  return typeof candidate.exportState === 'function' && typeof candidate.importState === 'function';
}

/** The refusal of an import into a store that holds records already. */
export function stateNotEmptyError(where: string, holds: string): SkyError {
  return new SkyError('STATE_NOT_EMPTY', `cannot import into ${where}: it already holds ${holds}`, {
    hint: 'Import into a new, empty store (a new state directory, or a new PostgreSQL schema or database), never over a store in use.',
  });
}

/**
 * Pass items through, checking their order (STATE_ITEM_ORDER) and counting them by type into
 * `summary` (for importState implementations).
 */
export async function* checkedStateItems(items: AsyncIterable<StateItem>, summary: ImportSummary): AsyncGenerator<StateItem> {
  const order = orderChecker();
  let n = 0;
  for await (const item of items) {
    n += 1;
    const problem = stateItemProblem(item);
    if (problem !== undefined) throw new SkyError('VALIDATION_FAILED', `state item ${n}: ${problem}`, { hint: 'Import what exportState (or `sky api export`) produced, unchanged.' });
    order(item, `state item ${n}`);
    summary[item.type] = (summary[item.type] ?? 0) + 1;
    yield item;
  }
}

/** An inconsistent item met during an import (a job of no cluster, a token of no user). */
export function importInconsistency(message: string): SkyError {
  return new SkyError('VALIDATION_FAILED', `the state to import is inconsistent: ${message}`, {
    hint: 'Import what exportState (or `sky api export`) produced, unchanged.',
  });
}
