// The machine's PostgreSQL for the benches: a throwaway schema per run (dropped after), the
// server's durability settings, and the connections a daemon's store holds (its pool and feed
// connections carry application_name "<role> <schema>", see core/store-postgres/src/db.ts).
// Only SQL over one admin connection of our own: the server itself is never restarted.
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = resolve(import.meta.dirname, '../..');
// pg is a dependency of core/store-postgres; resolved from there (npm workspaces hoist it).
const { default: pg } = await import('pg');
const { PostgresStateStore } = await import(join(ROOT, 'core/store-postgres/dist/index.js'));

export const PG_URL = process.env.SKY_BENCH_PG_URL ?? 'postgres://root@127.0.0.1:5432/test';
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** One admin connection (application_name "sky-bench", so it never counts as a daemon's). */
export async function connectAdmin(url = PG_URL) {
  const client = new pg.Client({ connectionString: url, application_name: 'sky-bench', connectionTimeoutMillis: 5_000 });
  await client.connect();
  return client;
}

/** The server settings that decide what a commit costs and whether it survives a crash. */
export async function durabilitySettings(admin) {
  const names = ['synchronous_commit', 'fsync', 'wal_sync_method', 'full_page_writes', 'commit_delay', 'max_connections', 'server_version'];
  const { rows } = await admin.query('SELECT name, setting FROM pg_settings WHERE name = ANY($1)', [names]);
  return Object.fromEntries(names.map((n) => [n, rows.find((r) => r.name === n)?.setting]));
}

/** A fresh schema name for this process; nothing is created (the store creates it on open). */
let made = 0;
export function schemaName(tag) {
  const name = `bench_${tag}_${process.pid}_${(made += 1)}`;
  if (!SCHEMA.test(name)) throw new Error(`bench: bad schema name ${name}`);
  return name;
}

export async function dropSchema(admin, schema) {
  if (!SCHEMA.test(schema)) throw new Error(`bench: bad schema name ${schema}`);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** Connections held on the server by the stores of a schema (every replica), by state. */
export async function connectionsOf(admin, schema) {
  const { rows } = await admin.query(
    "SELECT coalesce(state, '') AS state, count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE '% ' || $1 GROUP BY 1",
    [schema],
  );
  const byState = Object.fromEntries(rows.map((r) => [r.state, r.n]));
  return { total: rows.reduce((n, r) => n + r.n, 0), active: byState.active ?? 0 };
}

/**
 * Sample connectionsOf every `everyMs` until stop(); stop() resolves with the largest total and
 * the largest number active at once.
 */
export function sampleConnections(admin, schema, everyMs = 100) {
  let maxTotal = 0;
  let maxActive = 0;
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const c = await connectionsOf(admin, schema);
      maxTotal = Math.max(maxTotal, c.total);
      maxActive = Math.max(maxActive, c.active);
      samples += 1;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { max_total: maxTotal, max_active: maxActive, samples };
    },
  };
}

/** The store of a schema, opened (migrated) directly: to fill it before a daemon starts on it. */
export async function openStore(schema, url = PG_URL) {
  const store = new PostgresStateStore({ url, schema });
  await store.open();
  return store;
}

/**
 * What one durable commit costs on this server, seen from a client: `count` single-row INSERTs,
 * each its own transaction, into a table of a throwaway schema (dropped after). The floor under
 * every write of the store (each is at least one such commit).
 */
export async function commitLatency(admin, count = 50) {
  const schema = schemaName('commit');
  await admin.query(`CREATE SCHEMA "${schema}"`);
  try {
    await admin.query(`CREATE TABLE "${schema}".t (id int PRIMARY KEY, at bigint)`);
    const times = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await admin.query(`INSERT INTO "${schema}".t VALUES ($1, $2)`, [i, Date.now()]);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { count, p50_ms: times[Math.floor(count / 2)], p90_ms: times[Math.floor(count * 0.9)] };
  } finally {
    await dropSchema(admin, schema);
  }
}

/**
 * What the stores wrote into a schema, from the server's table statistics: feed transactions
 * (each advances the one feed_state row once) and rows inserted, updated and deleted in all its
 * tables. A backend reports its statistics when it ends at the latest, so call this once the
 * daemons are stopped: it first waits (bounded) until the schema has no connection left.
 */
export async function writesOf(admin, schema, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await connectionsOf(admin, schema)).total > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const { rows } = await admin.query(
    "SELECT relname, (n_tup_ins + n_tup_upd + n_tup_del)::int AS rows, n_tup_upd::int AS updates FROM pg_stat_user_tables WHERE schemaname = $1",
    [schema],
  );
  return { feed_transactions: rows.find((r) => r.relname === 'feed_state')?.updates ?? 0, rows_written: rows.reduce((n, r) => n + r.rows, 0) };
}
