import type { RequestRecord, LogChunk } from '@sky/protocol';
import { copyJson } from '../records.js';
import { checkedStateItems, importInconsistency, stateNotEmptyError, type ImportSummary, type StateItem } from '../state-transfer.js';
import type { MemoryAuditRepository, MemoryAuthData, MemoryWorkspaceRepository } from './memory-auth.js';
import type { MemoryClusterData } from './memory-clusters.js';
import type { MemoryFeed } from './memory-events.js';
import type { MemoryManagedJobRepository } from './memory-managed-jobs.js';
import type { MemoryServiceRepository } from './memory-services.js';
import type { MemorySessionRepository } from './memory-sessions.js';
import type { MemoryDocumentRepository } from './memory-documents.js';
import type { MemoryUsageRepository } from './memory-usage.js';

/** The request repository's raw access (it lives in memory-store.ts). */
export interface MemoryRequestRaw {
  raw(): { records: RequestRecord[]; logs: Array<{ id: string; chunk: LogChunk }> };
  putRaw(record: RequestRecord): void;
  putRawLog(id: string, chunk: LogChunk): boolean;
}

/** Every part of the in-memory store, as export and import reach them. */
export interface MemoryParts {
  requests: MemoryRequestRaw;
  feed: MemoryFeed;
  clusters: MemoryClusterData;
  managedJobs: MemoryManagedJobRepository;
  services: MemoryServiceRepository;
  auth: MemoryAuthData;
  sessions: MemorySessionRepository;
  workspaces: MemoryWorkspaceRepository;
  audit: MemoryAuditRepository;
  documents: MemoryDocumentRepository;
  usage: MemoryUsageRepository;
}

/**
 * The whole in-memory state as StateItems. Everything is copied before the first item is
 * yielded (in one turn of the event loop), so the export is one point in time however long
 * its reader takes.
 */
export function memoryStateItems(parts: MemoryParts): StateItem[] {
  const feed = parts.feed.raw();
  const requests = parts.requests.raw();
  const managed = parts.managedJobs.raw();
  const items: StateItem[] = [{ type: 'feed', last: feed.last, lastAt: feed.lastAt }, { type: 'counter', name: 'managedJobs', value: managed.lastId }];
  const byKey = <T>(map: ReadonlyMap<string, T>): T[] => [...map.keys()].sort().map((k) => copyJson(map.get(k) as T));
  for (const record of [...parts.auth.users.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) items.push({ type: 'user', record: copyJson(record) });
  for (const record of byKey(parts.auth.tokens)) items.push({ type: 'token', record });
  for (const record of parts.sessions.raw()) items.push({ type: 'session', record });
  for (const record of parts.workspaces.raw()) items.push({ type: 'workspace', record });
  for (const record of requests.records) items.push({ type: 'request', record });
  for (const { id, chunk } of requests.logs) items.push({ type: 'requestLog', id, chunk });
  const names = [...parts.clusters.clusters.keys()].sort();
  for (const name of names) {
    items.push({ type: 'cluster', record: copyJson(parts.clusters.clusters.get(name)!), jobCounter: parts.clusters.counters.get(name) ?? 0 });
  }
  for (const name of names) {
    const specs = parts.clusters.specs.get(name);
    const jobs = [...(parts.clusters.jobs.get(name)?.values() ?? [])].sort((a, b) => a.id - b.id);
    for (const record of jobs) {
      const spec = specs?.get(record.id);
      items.push(spec === undefined ? { type: 'job', record: copyJson(record) } : { type: 'job', record: copyJson(record), spec: copyJson(spec) });
    }
  }
  for (const { record, spec, events } of managed.jobs) items.push(spec === undefined ? { type: 'managedJob', record, events } : { type: 'managedJob', record, spec, events });
  for (const { record, versions, events } of parts.services.raw()) items.push({ type: 'service', record, versions, events });
  for (const doc of parts.documents.raw()) items.push({ type: 'pluginDocument', ...doc });
  for (const record of parts.audit.raw()) items.push({ type: 'audit', record });
  for (const record of parts.usage.raw()) items.push({ type: 'usage', record });
  for (const entry of feed.entries) items.push({ type: 'event', seq: entry.seq, at: entry.at, change: entry.change });
  return items;
}

/** What the in-memory store holds already, or undefined when it is empty. */
function holds(parts: MemoryParts): string | undefined {
  if (parts.auth.users.size > 0) return 'users';
  if (parts.sessions.raw().length > 0) return 'sessions';
  if (parts.workspaces.raw().length > 0) return 'workspaces';
  if (parts.requests.raw().records.length > 0) return 'requests';
  if (parts.clusters.clusters.size > 0) return 'clusters';
  if (parts.managedJobs.raw().lastId > 0) return 'managed jobs';
  if (parts.services.size > 0) return 'services';
  if (parts.audit.raw().length > 0) return 'audit entries';
  if (parts.documents.size > 0) return 'plugin documents';
  if (parts.usage.size > 0) return 'usage entries';
  if (parts.feed.used) return 'a change feed';
  return undefined;
}

/** Load items into the in-memory store (see StateTransfer.importState). */
export async function importMemoryState(parts: MemoryParts, input: AsyncIterable<StateItem>): Promise<ImportSummary> {
  const full = holds(parts);
  if (full !== undefined) throw stateNotEmptyError('the in-memory state store', full);
  // Read (and check) everything before writing anything: a bad item leaves the store empty.
  const summary: ImportSummary = {};
  const items: StateItem[] = [];
  for await (const item of checkedStateItems(input, summary)) items.push(item);
  const users = new Set(items.flatMap((i) => (i.type === 'user' ? [i.record.id] : [])));
  const requests = new Set(items.flatMap((i) => (i.type === 'request' ? [i.record.id] : [])));
  const clusters = new Map(items.flatMap((i) => (i.type === 'cluster' ? [[i.record.name, i.record.clusterId] as const] : [])));
  for (const item of items) {
    if (item.type === 'token' && !users.has(item.record.userId)) throw importInconsistency(`token ${item.record.id} belongs to no user`);
    if (item.type === 'requestLog' && !requests.has(item.id)) throw importInconsistency(`a log chunk belongs to no request (${item.id})`);
    if (item.type === 'job' && clusters.get(item.record.cluster) !== item.record.clusterId) throw importInconsistency(`job ${item.record.cluster}/${item.record.id} belongs to no cluster`);
  }
  for (const item of items) {
    switch (item.type) {
      case 'feed':
        parts.feed.setPosition(item.last, item.lastAt);
        break;
      case 'counter':
        parts.managedJobs.setLastId(item.value);
        break;
      case 'user':
        parts.auth.users.set(item.record.id, copyJson(item.record));
        break;
      case 'token':
        parts.auth.tokens.set(item.record.id, copyJson(item.record));
        parts.auth.byHash.set(item.record.hash, item.record.id);
        break;
      case 'session':
        parts.sessions.putRaw(item.record);
        break;
      case 'workspace':
        parts.workspaces.putRaw(item.record);
        break;
      case 'request':
        parts.requests.putRaw(item.record);
        break;
      case 'requestLog':
        if (!parts.requests.putRawLog(item.id, item.chunk)) throw importInconsistency(`log chunk ${item.chunk.seq} of request ${item.id} is out of sequence`);
        break;
      case 'cluster':
        parts.clusters.clusters.set(item.record.name, copyJson(item.record));
        parts.clusters.counters.set(item.record.name, item.jobCounter);
        parts.clusters.jobs.set(item.record.name, new Map());
        parts.clusters.specs.set(item.record.name, new Map());
        parts.clusters.namesChanged();
        break;
      case 'job': {
        const { cluster, id } = item.record;
        parts.clusters.jobs.get(cluster)?.set(id, copyJson(item.record));
        if (item.spec !== undefined) parts.clusters.specs.get(cluster)?.set(id, copyJson(item.spec));
        break;
      }
      case 'managedJob':
        parts.managedJobs.putRaw(item.record, item.spec, item.events);
        break;
      case 'service':
        parts.services.putRaw(item);
        break;
      case 'pluginDocument':
        parts.documents.putRaw(item.plugin, item.name, item.value, item.revision);
        break;
      case 'audit':
        parts.audit.putRaw(item.record);
        break;
      case 'usage':
        parts.usage.putRaw(item.record);
        break;
      case 'event':
        parts.feed.putRaw(item.seq, item.at, item.change);
        break;
    }
  }
  return summary;
}
