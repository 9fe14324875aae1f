import type pg from 'pg';
import { isJobTerminal, isManagedJobTerminal, SkyError } from '@sky/protocol';
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
import { checkedStateItems, importInconsistency, stateNotEmptyError, type ImportSummary, type ServiceEvent, type StateItem, type StoredChange } from '@sky/plugin-api';
import type { Db, Tx } from './db.js';
import { operationError } from './errors.js';

/** Rows read per query while exporting (keyset pages inside the one snapshot). */
const PAGE = 1000;

/** Page through `sql` (which takes the last key's columns as parameters and ends in LIMIT), yielding its rows. */
async function* pages<R extends pg.QueryResultRow>(client: pg.PoolClient, first: string, next: string, keyOf: (row: R) => unknown[]): AsyncGenerator<R> {
  let rows = (await client.query<R>(first, [PAGE])).rows;
  for (;;) {
    yield* rows;
    const last = rows[rows.length - 1];
    if (rows.length < PAGE || last === undefined) return;
    rows = (await client.query<R>(next, [...keyOf(last), PAGE])).rows;
  }
}

/** SELECT `columns` FROM `table` ordered by `key` (one or two columns), in keyset pages. */
function table<R extends pg.QueryResultRow>(client: pg.PoolClient, columns: string, from: string, key: readonly string[], keyOf: (row: R) => unknown[]): AsyncGenerator<R> {
  const order = key.join(', ');
  const after = key.length === 1 ? `${key[0]} > $1` : `(${order}) > (${key.map((_k, i) => `$${i + 1}`).join(', ')})`;
  return pages<R>(
    client,
    `SELECT ${columns} FROM ${from} ORDER BY ${order} LIMIT $1`,
    `SELECT ${columns} FROM ${from} WHERE ${after} ORDER BY ${order} LIMIT $${key.length + 1}`,
    keyOf,
  );
}

/**
 * The whole state as StateItems, read in ONE REPEATABLE READ, READ ONLY transaction: every
 * query sees the same snapshot, so a change committed meanwhile (by this replica or another)
 * is wholly in the export or wholly absent. Writes go on; the transaction takes no lock that
 * blocks them.
 */
export async function* exportPgState(db: Db): AsyncGenerator<StateItem> {
  let client: pg.PoolClient;
  try {
    client = await db.pool.connect();
  } catch (err) {
    throw operationError('export the state', err);
  }
  let broken: Error | undefined;
  let ended = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    yield* itemsOf(client);
    await client.query('COMMIT');
    ended = true;
  } catch (err) {
    broken = err instanceof Error ? err : new Error(String(err));
    throw err instanceof SkyError ? err : operationError('export the state', err);
  } finally {
    // A reader that stopped early leaves the transaction open: end it before the connection goes back.
    if (!ended && broken === undefined) await client.query('ROLLBACK').catch((err: unknown) => (broken = err instanceof Error ? err : new Error(String(err))));
    client.release(broken);
  }
}

async function* itemsOf(client: pg.PoolClient): AsyncGenerator<StateItem> {
  const feed = (await client.query<{ last_seq: number; last_at: number }>('SELECT last_seq, last_at FROM feed_state WHERE id = 1')).rows[0];
  yield { type: 'feed', last: feed?.last_seq ?? 0, lastAt: feed?.last_at ?? 0 };
  const counter = (await client.query<{ value: number }>("SELECT value FROM counters WHERE name = 'managed_job'")).rows[0];
  yield { type: 'counter', name: 'managedJobs', value: counter?.value ?? 0 };
  for await (const row of table<{ id: string; doc: UserRecord }>(client, 'id, doc', 'users', ['id'], (r) => [r.id])) yield { type: 'user', record: row.doc };
  for await (const row of table<{ id: string; doc: TokenRecord }>(client, 'id, doc', 'tokens', ['id'], (r) => [r.id])) yield { type: 'token', record: row.doc };
  for await (const row of table<{ id: string; doc: SessionRecord }>(client, 'id, doc', 'sessions', ['id'], (r) => [r.id])) yield { type: 'session', record: row.doc };
  for await (const row of table<{ name: string; doc: WorkspaceRecord }>(client, 'name, doc', 'workspaces', ['name'], (r) => [r.name])) yield { type: 'workspace', record: row.doc };
  for await (const row of table<{ id: string; doc: RequestRecord }>(client, 'id, doc', 'requests', ['id'], (r) => [r.id])) yield { type: 'request', record: row.doc };
  for await (const row of table<{ request_id: string; seq: number; at: number; text: string }>(client, 'request_id, seq, at, text', 'request_logs', ['request_id', 'seq'], (r) => [r.request_id, r.seq])) {
    const chunk: LogChunk = { seq: row.seq, at: row.at, text: row.text };
    yield { type: 'requestLog', id: row.request_id, chunk };
  }
  for await (const row of table<{ name: string; job_counter: number; doc: ClusterRecord }>(client, 'name, job_counter, doc', 'clusters', ['name'], (r) => [r.name])) {
    yield { type: 'cluster', record: row.doc, jobCounter: row.job_counter };
  }
  for await (const row of table<{ cluster: string; id: number; doc: JobRecord; spec: JobSpec | null }>(client, 'cluster, id, doc, spec', 'jobs', ['cluster', 'id'], (r) => [r.cluster, r.id])) {
    yield row.spec === null ? { type: 'job', record: row.doc } : { type: 'job', record: row.doc, spec: row.spec };
  }
  for await (const row of table<{ id: number; doc: ManagedJobRecord; spec: ManagedJobSpec | null; log: ManagedJobEvent[] }>(client, 'id, doc, spec, log', 'managed_jobs', ['id'], (r) => [r.id])) {
    yield row.spec === null ? { type: 'managedJob', record: row.doc, events: row.log } : { type: 'managedJob', record: row.doc, spec: row.spec, events: row.log };
  }
  for await (const row of table<{ name: string; doc: ServiceRecord; log: ServiceEvent[] }>(client, 'name, doc, log', 'services', ['name'], (r) => [r.name])) {
    const versions = (await client.query<{ spec: ServiceVersionSpec }>('SELECT spec FROM service_versions WHERE name = $1 ORDER BY version', [row.name])).rows.map((r) => r.spec);
    yield { type: 'service', record: row.doc, versions, events: row.log };
  }
  for await (const row of table<{ plugin: string; name: string; revision: string; value: unknown }>(client, 'plugin, name, revision, value', 'plugin_documents', ['plugin', 'name'], (r) => [r.plugin, r.name])) {
    yield { type: 'pluginDocument', plugin: row.plugin, name: row.name, value: row.value, revision: Number(row.revision) };
  }
  for await (const row of table<{ id: string; doc: AuditRecord }>(client, 'id, doc', 'audit', ['id'], (r) => [r.id])) yield { type: 'audit', record: row.doc };
  for await (const row of table<{ kind: string; cluster_id: string; seq: string; doc: UsageRecord }>(client, 'kind, cluster_id, seq, doc', 'usage', ['kind', 'cluster_id', 'seq'], (r) => [r.kind, r.cluster_id, r.seq])) {
    yield { type: 'usage', record: row.doc };
  }
  for await (const row of table<{ seq: number; at: number; change: StoredChange }>(client, 'seq, at, change', 'events', ['seq'], (r) => [r.seq])) {
    yield { type: 'event', seq: row.seq, at: row.at, change: row.change };
  }
}

const TABLES = ['users', 'sessions', 'workspaces', 'requests', 'clusters', 'managed_jobs', 'services', 'plugin_documents', 'audit', 'usage', 'events'] as const;

/** What the schema holds already, or undefined when it holds nothing. */
async function pgHolds(tx: Tx): Promise<string | undefined> {
  for (const name of TABLES) {
    if ((await tx.one(`SELECT 1 FROM ${name} LIMIT 1`)) !== undefined) return `${name.replace('_', ' ')} rows`;
  }
  const feed = await tx.one<{ last_seq: number }>('SELECT last_seq FROM feed_state WHERE id = 1');
  if ((feed?.last_seq ?? 0) > 0) return 'a change feed';
  const counter = await tx.one<{ value: number }>("SELECT value FROM counters WHERE name = 'managed_job'");
  if ((counter?.value ?? 0) > 0) return 'managed job ids';
  return undefined;
}

/**
 * Load the items into the (empty) schema in ONE transaction of its own (no other write shares
 * its commit): a bad item, or a failure half-way, writes nothing. The tables are locked for the
 * transaction, so no replica writes meanwhile (or finds the store half-loaded). Nothing is put on the feed: the feed's own entries and
 * position are imported as they were.
 */
export async function importPgState(db: Db, where: string, input: AsyncIterable<StateItem>): Promise<ImportSummary> {
  return db.tx('import the state', async (tx) => {
    await tx.rows(`LOCK TABLE feed_state, counters, ${TABLES.join(', ')}, tokens, request_logs, jobs, service_versions IN EXCLUSIVE MODE`);
    const holds = await pgHolds(tx);
    if (holds !== undefined) throw stateNotEmptyError(where, holds);
    const summary: ImportSummary = {};
    const requests = new Map<string, number>();
    const clusters = new Map<string, string>();
    const users = new Set<string>();
    let feedLast = 0;
    let lastEvent = 0;
    for await (const item of checkedStateItems(input, summary)) {
      switch (item.type) {
        case 'feed':
          feedLast = item.last;
          await tx.rows('UPDATE feed_state SET last_seq = $1, last_at = $2 WHERE id = 1', [item.last, item.lastAt]);
          break;
        case 'counter':
          if (item.value > 0) await tx.rows("INSERT INTO counters (name, value) VALUES ('managed_job', $1)", [item.value]);
          break;
        case 'user':
          users.add(item.record.id);
          await tx.rows('INSERT INTO users (id, name, doc) VALUES ($1, $2, $3)', [item.record.id, item.record.name, JSON.stringify(item.record)]);
          break;
        case 'token':
          if (!users.has(item.record.userId)) throw importInconsistency(`token ${item.record.id} belongs to no user`);
          await tx.rows('INSERT INTO tokens (id, user_id, hash, doc) VALUES ($1, $2, $3, $4)', [item.record.id, item.record.userId, item.record.hash, JSON.stringify(item.record)]);
          break;
        case 'session':
          await tx.rows('INSERT INTO sessions (id, user_id, hash, doc) VALUES ($1, $2, $3, $4)', [item.record.id, item.record.userId, item.record.hash, JSON.stringify(item.record)]);
          break;
        case 'workspace':
          await tx.rows('INSERT INTO workspaces (name, doc) VALUES ($1, $2)', [item.record.name, JSON.stringify(item.record)]);
          break;
        case 'request': {
          const r = item.record;
          requests.set(r.id, 0);
          await tx.rows(
            'INSERT INTO requests (id, user_id, status, name, cluster, idempotency_key, finished_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
            [r.id, r.user, r.status, r.name, r.cluster ?? null, r.idempotencyKey ?? null, r.finishedAt ?? null, JSON.stringify(r)],
          );
          break;
        }
        case 'requestLog': {
          const next = requests.get(item.id);
          if (next === undefined) throw importInconsistency(`a log chunk belongs to no request (${item.id})`);
          if (item.chunk.seq !== next) throw importInconsistency(`log chunk ${item.chunk.seq} of request ${item.id} is out of sequence`);
          requests.set(item.id, next + 1);
          await tx.rows('INSERT INTO request_logs (request_id, seq, at, text) VALUES ($1, $2, $3, $4)', [item.id, item.chunk.seq, item.chunk.at, item.chunk.text]);
          break;
        }
        case 'cluster': {
          const c = item.record;
          if (requests.size > 0) await flushLogNext(tx, requests);
          clusters.set(c.name, c.clusterId);
          await tx.rows('INSERT INTO clusters (name, cluster_id, owner, status, created_at, version, job_counter, doc) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
            c.name,
            c.clusterId,
            c.owner,
            c.status,
            c.launchedAt ?? null,
            c.version,
            item.jobCounter,
            JSON.stringify(c),
          ]);
          break;
        }
        case 'job': {
          const j = item.record;
          if (clusters.get(j.cluster) !== j.clusterId) throw importInconsistency(`job ${j.cluster}/${j.id} belongs to no cluster`);
          const ended = isJobTerminal(j.status);
          await tx.rows('INSERT INTO jobs (cluster, id, status, submitted_at, active, doc, spec) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            j.cluster,
            j.id,
            j.status,
            j.submittedAt,
            !ended,
            JSON.stringify(j),
            ended || item.spec === undefined ? null : JSON.stringify(item.spec),
          ]);
          break;
        }
        case 'managedJob': {
          const m = item.record;
          const ended = isManagedJobTerminal(m.status);
          await tx.rows('INSERT INTO managed_jobs (id, user_id, status, active, request_id, version, doc, spec, log) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
            m.id,
            m.user,
            m.status,
            !ended,
            m.requestId ?? null,
            m.version,
            JSON.stringify(m),
            ended || item.spec === undefined ? null : JSON.stringify(item.spec),
            JSON.stringify(item.events),
          ]);
          break;
        }
        case 'service': {
          const { record } = item;
          await tx.rows('INSERT INTO services (name, user_id, revision, doc, log) VALUES ($1, $2, $3, $4, $5)', [
            record.name,
            record.user,
            record.revision,
            JSON.stringify(record),
            JSON.stringify(item.events.map((e) => ({ at: e.at, text: e.text }))),
          ]);
          for (const spec of item.versions) await tx.rows('INSERT INTO service_versions (name, version, spec) VALUES ($1, $2, $3)', [record.name, spec.version, JSON.stringify(spec)]);
          break;
        }
        case 'pluginDocument':
          await tx.rows('INSERT INTO plugin_documents (plugin, name, revision, value) VALUES ($1, $2, $3, $4::jsonb)', [item.plugin, item.name, item.revision, JSON.stringify(item.value ?? null)]);
          break;
        case 'audit':
          await tx.rows('INSERT INTO audit (id, user_id, at, doc) VALUES ($1, $2, $3, $4)', [item.record.id, item.record.user ?? null, item.record.at, JSON.stringify(item.record)]);
          break;
        case 'usage': {
          const r = item.record;
          await tx.rows('INSERT INTO usage (kind, cluster_id, seq, user_id, start_at, end_at, doc) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            r.kind,
            r.clusterId,
            r.kind === 'job' ? (r.jobId ?? 0) : r.start,
            r.user,
            r.start,
            r.end ?? null,
            JSON.stringify(r),
          ]);
          break;
        }
        case 'event':
          if (item.seq <= lastEvent || item.seq > feedLast) throw importInconsistency(`feed entry ${item.seq} is out of order or beyond the feed's last seq ${feedLast}`);
          lastEvent = item.seq;
          await tx.rows('INSERT INTO events (seq, at, change) VALUES ($1, $2, $3)', [item.seq, item.at, JSON.stringify(item.change)]);
          break;
      }
    }
    await flushLogNext(tx, requests);
    return summary;
  }, { alone: true });
}

/** Set each imported request's next log sequence number (once its chunks are in). */
async function flushLogNext(tx: Tx, requests: Map<string, number>): Promise<void> {
  const withLogs = [...requests].filter(([, next]) => next > 0);
  for (let i = 0; i < withLogs.length; i += PAGE) {
    const part = withLogs.slice(i, i + PAGE);
    await tx.rows('UPDATE requests SET log_next = x.n FROM unnest($1::text[], $2::int[]) AS x(id, n) WHERE requests.id = x.id', [part.map(([id]) => id), part.map(([, n]) => n)]);
  }
  requests.clear();
}
