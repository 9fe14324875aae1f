import { isJobTerminal, isManagedJobTerminal, SkyError } from '@sky/protocol';
import type { JobSpec, ManagedJobSpec } from '@sky/protocol';
import { checkedStateItems, importInconsistency, usageKey, type ImportSummary, type StateItem } from '@sky/plugin-api';
import { EVENT_FLOOR_KEY, lastSeqOf } from './event-state.js';
import {
  eventKey,
  idempotencyKey,
  jobKey,
  managedJobEventKey,
  managedJobEventRange,
  managedJobIndexKey,
  managedJobKey,
  statusKey,
  userKey,
  logKey,
  prefixRange,
  serviceEventKey,
  serviceVersionKey,
} from './keys.js';
import { INDEX_MARK, type LevelDb, type Sublevels } from './layout.js';
import { COUNTER_KEY } from './managed-job-state.js';

/** A snapshot of the database (abstract-level's explicit snapshot). */
type Snapshot = ReturnType<LevelDb['snapshot']>;

/**
 * The whole state as StateItems, read from one explicit LevelDB snapshot taken at the call:
 * every read below sees the database as it was then, whatever the writer commits meanwhile
 * (its batches are atomic, so no multi-record change is torn).
 */
export async function* exportLevelState(db: LevelDb, subs: Sublevels): AsyncGenerator<StateItem> {
  const snapshot: Snapshot = db.snapshot();
  try {
    yield* itemsOf(subs, snapshot);
  } finally {
    await snapshot.close();
  }
}

async function* itemsOf(subs: Sublevels, snapshot: Snapshot): AsyncGenerator<StateItem> {
  const at = { snapshot };
  const [newest] = await subs.events.iterator({ ...at, reverse: true, limit: 1 }).all();
  const floor = (await subs.meta.get(EVENT_FLOOR_KEY, at)) as number | undefined;
  const last = Math.max(newest === undefined ? 0 : lastSeqOf(newest[0], newest[1]), floor ?? 0);
  yield { type: 'feed', last, lastAt: newest?.[1].at ?? 0 };
  yield { type: 'counter', name: 'managedJobs', value: (await subs.managedJobCounter.get(COUNTER_KEY, at)) ?? 0 };
  for await (const [, record] of subs.users.iterator(at)) yield { type: 'user', record };
  for await (const [, record] of subs.tokens.iterator(at)) yield { type: 'token', record };
  for await (const [, record] of subs.sessions.iterator(at)) yield { type: 'session', record };
  for await (const [, record] of subs.workspaces.iterator(at)) yield { type: 'workspace', record };
  for await (const [, record] of subs.requests.iterator(at)) yield { type: 'request', record };
  for await (const [key, chunk] of subs.logs.iterator(at)) yield { type: 'requestLog', id: key.slice(0, key.lastIndexOf('\x00')), chunk };
  for await (const [name, record] of subs.clusters.iterator(at)) {
    yield { type: 'cluster', record, jobCounter: (await subs.jobCounters.get(name, at)) ?? 0 };
  }
  for await (const [key, record] of subs.jobs.iterator(at)) {
    const spec = isJobTerminal(record.status) ? undefined : ((await subs.jobSpecs.get(key, at)) as JobSpec | undefined);
    yield spec === undefined ? { type: 'job', record } : { type: 'job', record, spec };
  }
  for await (const [key, record] of subs.managedJobs.iterator(at)) {
    const spec = isManagedJobTerminal(record.status) ? undefined : ((await subs.managedJobSpecs.get(key, at)) as ManagedJobSpec | undefined);
    const events = (await subs.managedJobEvents.iterator({ ...at, ...managedJobEventRange(record.id) }).all()).map(([, event]) => event);
    yield spec === undefined ? { type: 'managedJob', record, events } : { type: 'managedJob', record, spec, events };
  }
  for await (const [name, record] of subs.services.iterator(at)) {
    const range = { ...at, ...prefixRange(name) };
    const [versions, events] = await Promise.all([subs.serviceVersions.values(range).all(), subs.serviceEvents.values(range).all()]);
    yield { type: 'service', record, versions, events };
  }
  for await (const [, record] of subs.audit.iterator(at)) yield { type: 'audit', record };
  for await (const [, record] of subs.usage.iterator(at)) yield { type: 'usage', record };
  for await (const [key, value] of subs.events.iterator(at)) {
    const first = Number(key);
    for (const [i, change] of value.changes.entries()) yield { type: 'event', seq: first + i, at: value.at, change };
  }
}

/** What the database holds already (besides its schema version), or undefined when it holds nothing. */
export async function levelHolds(subs: Sublevels): Promise<string | undefined> {
  for (const [name, sublevel] of Object.entries(subs) as Array<[string, Sublevels['meta']]>) {
    if (name === 'meta') continue;
    const [key] = await sublevel.keys({ limit: 1 }).all();
    if (key !== undefined) return `${name} records`;
  }
  if ((await subs.meta.get(EVENT_FLOOR_KEY)) !== undefined) return 'a change feed';
  return undefined;
}

/** A chained batch of the root database. */
type Batch = ReturnType<LevelDb['batch']>;

/**
 * Write the items into the (empty, checked by the caller) database in ONE atomic batch, with
 * every index the store keeps: a bad item, or a failure half-way, writes nothing. The caller
 * reopens the store afterwards, so its in-memory state is loaded from what was written.
 */
export async function importLevelState(db: LevelDb, subs: Sublevels, input: AsyncIterable<StateItem>): Promise<ImportSummary> {
  const summary: ImportSummary = {};
  const batch: Batch = db.batch();
  const put = (sublevel: Sublevels[keyof Sublevels], key: string, value: unknown): void => {
    if (typeof value === 'string') batch.put(key, value, { sublevel: sublevel as never, valueEncoding: 'utf8' });
    else batch.put(key, JSON.stringify(value), { sublevel: sublevel as never, valueEncoding: 'utf8' });
  };
  const users = new Set<string>();
  const requests = new Map<string, number>();
  const clusters = new Map<string, string>();
  let feedLast = 0;
  let firstEvent: number | undefined;
  let lastEvent = 0;
  try {
    for await (const item of checkedStateItems(input, summary)) {
      switch (item.type) {
        case 'feed':
          feedLast = item.last;
          break;
        case 'counter':
          put(subs.managedJobCounter, COUNTER_KEY, item.value);
          break;
        case 'user':
          users.add(item.record.id);
          put(subs.users, item.record.id, item.record);
          break;
        case 'token':
          if (!users.has(item.record.userId)) throw importInconsistency(`token ${item.record.id} belongs to no user`);
          put(subs.tokens, item.record.id, item.record);
          put(subs.tokenHashes, item.record.hash, item.record.id);
          break;
        case 'session':
          put(subs.sessions, item.record.id, item.record);
          put(subs.sessionHashes, item.record.hash, item.record.id);
          break;
        case 'workspace':
          put(subs.workspaces, item.record.name, item.record);
          break;
        case 'request': {
          const r = item.record;
          requests.set(r.id, 0);
          put(subs.requests, r.id, r);
          put(subs.byStatus, statusKey(r.status, r.id), INDEX_MARK);
          put(subs.byUser, userKey(r.user, r.id), INDEX_MARK);
          if (r.idempotencyKey !== undefined) put(subs.idempotency, idempotencyKey(r.user, r.idempotencyKey), r.id);
          break;
        }
        case 'requestLog': {
          const next = requests.get(item.id);
          if (next === undefined) throw importInconsistency(`a log chunk belongs to no request (${item.id})`);
          if (item.chunk.seq !== next) throw importInconsistency(`log chunk ${item.chunk.seq} of request ${item.id} is out of sequence`);
          requests.set(item.id, next + 1);
          put(subs.logs, logKey(item.id, item.chunk.seq), item.chunk);
          break;
        }
        case 'cluster':
          clusters.set(item.record.name, item.record.clusterId);
          put(subs.clusters, item.record.name, item.record);
          if (item.jobCounter > 0) put(subs.jobCounters, item.record.name, item.jobCounter);
          break;
        case 'job': {
          const j = item.record;
          if (clusters.get(j.cluster) !== j.clusterId) throw importInconsistency(`job ${j.cluster}/${j.id} belongs to no cluster`);
          const key = jobKey(j.cluster, j.id);
          put(subs.jobs, key, j);
          if (!isJobTerminal(j.status)) {
            put(subs.activeJobs, key, INDEX_MARK);
            if (item.spec !== undefined) put(subs.jobSpecs, key, item.spec);
          }
          break;
        }
        case 'managedJob': {
          const m = item.record;
          const key = managedJobKey(m.id);
          put(subs.managedJobs, key, m);
          put(subs.managedJobsByUser, managedJobIndexKey(m.user, m.id), INDEX_MARK);
          if (m.requestId !== undefined) put(subs.managedJobsByRequest, managedJobIndexKey(m.requestId, m.id), INDEX_MARK);
          if (!isManagedJobTerminal(m.status)) {
            put(subs.managedJobsActive, key, INDEX_MARK);
            if (item.spec !== undefined) put(subs.managedJobSpecs, key, item.spec);
          }
          item.events.forEach((event, seq) => put(subs.managedJobEvents, managedJobEventKey(m.id, seq), event));
          if (item.events.length > 0) put(subs.managedJobEventSeqs, key, item.events.length);
          break;
        }
        case 'service': {
          const { name } = item.record;
          put(subs.services, name, item.record);
          for (const spec of item.versions) put(subs.serviceVersions, serviceVersionKey(name, spec.version), spec);
          item.events.forEach((event, seq) => put(subs.serviceEvents, serviceEventKey(name, seq), { at: event.at, text: event.text }));
          if (item.events.length > 0) put(subs.serviceEventSeqs, name, item.events.length);
          break;
        }
        case 'pluginDocument':
          // Plugins keep their state in their data directory on LevelDB: importing it here would drop it (the SSH driver's hosts held by clusters).
          throw new SkyError('VALIDATION_FAILED', `the state to import holds plugin ${item.plugin}'s document "${item.name}", which a LevelDB store does not keep`, {
            hint: 'Import it into a PostgreSQL store (store: {kind: postgres}), which keeps plugin documents for every replica.',
          });
        case 'audit':
          put(subs.audit, item.record.id, item.record);
          if (item.record.user !== undefined) put(subs.auditByUser, userKey(item.record.user, item.record.id), INDEX_MARK);
          break;
        case 'usage': {
          const key = usageKey(item.record);
          put(subs.usage, key, item.record);
          if (item.record.kind === 'cluster' && item.record.end === undefined) put(subs.usageOpen, item.record.clusterId, key);
          break;
        }
        case 'event':
          if (item.seq <= lastEvent || item.seq > feedLast) throw importInconsistency(`feed entry ${item.seq} is out of order or beyond the feed's last seq ${feedLast}`);
          firstEvent ??= item.seq;
          lastEvent = item.seq;
          put(subs.events, eventKey(item.seq), { at: item.at, changes: [item.change] });
          break;
      }
    }
    const floor = (firstEvent ?? feedLast + 1) - 1;
    if (floor > 0) put(subs.meta, EVENT_FLOOR_KEY, floor);
    await batch.write({ sync: true });
  } catch (err) {
    await batch.close().catch(() => undefined);
    throw err;
  }
  return summary;
}
