import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SkyError } from '@sky/protocol';
import type { StoredEvent } from '@sky/plugin-api';
import { makeCluster, makeJob, makeRequest, makeService, makeServiceVersionSpec, makeSpec } from '@sky/plugin-api/testing';
import { MIGRATIONS, type PostgresStateStore } from '@sky/store-postgres';
import { adminQuery, pgStoreFixture, testDatabaseUrl } from './store-postgres-fixture.js';

const quiet = (): void => {};

/** Poll `check` until it holds, at most `bound` tries `everyMs` apart. */
async function until(what: string, check: () => Promise<boolean> | boolean, bound = 200, everyMs = 50): Promise<void> {
  for (let i = 0; i < bound; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('PostgreSQL store: two replicas on one schema', () => {
  let fixture: Awaited<ReturnType<typeof pgStoreFixture>>;
  let a: PostgresStateStore;
  let b: PostgresStateStore;

  before(async () => {
    fixture = await pgStoreFixture({ onListenerError: quiet });
    a = fixture.make();
    b = fixture.make();
    await Promise.all([a.open(), b.open()]);
  });

  after(async () => {
    await Promise.allSettled([a.close(), b.close()]);
    await fixture.cleanup();
  });

  it('migrates once when both open at the same time', async () => {
    assert.equal(await a.schemaVersion(), MIGRATIONS.length);
    assert.equal(await b.schemaVersion(), MIGRATIONS.length);
    const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${fixture.schema}".schema_migrations`);
    assert.equal(rows[0]?.n, MIGRATIONS.length);
  });

  it("sees a write of one replica in the other's feed, in seq order", async () => {
    const seen: StoredEvent[] = [];
    const start = (await b.events.bounds()).last;
    const follower = await b.follow({ afterSeq: start, onEvent: (e) => seen.push(e), onError: quiet });
    try {
      const cluster = (await a.clusters.create(makeCluster({ name: 'from-a' }))).record;
      const job = await a.jobs.create(makeJob(cluster), makeSpec());
      const last = (await a.events.bounds()).last;
      await follower.waitFor(last, 10_000);
      assert.deepEqual(
        seen.map((e) => e.change.kind === 'job' ? `job ${e.change.id}` : e.change.kind === 'cluster' ? `cluster ${e.change.name}` : e.change.kind),
        ['cluster from-a', `job ${job.id}`],
      );
      assert.deepEqual(seen.map((e) => e.seq), [start + 1, start + 2]);
      assert.deepEqual(await b.clusters.get('from-a'), cluster);
    } finally {
      await follower.close();
    }
  });

  it('lets exactly one of concurrent compare-and-set updates from both replicas win', async () => {
    const cluster = (await a.clusters.create(makeCluster({ name: 'contended' }))).record;
    for (let round = 0; round < 5; round++) {
      const version = cluster.version + round;
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).clusters.update('contended', version, { lastActiveAt: round * 100 + i })),
      );
      const won = results.filter((r) => r !== undefined);
      assert.equal(won.length, 1, `round ${round}: ${won.length} winners`);
      assert.equal(won[0]?.version, version + 1);
    }
    const requests = await Promise.all([a, b].map((s) => s.requests.create(makeRequest({ status: 'PENDING' }))));
    for (const { record } of requests) {
      const moves = await Promise.all([a, b, a, b].map((s) => s.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: 1 })));
      assert.equal(moves.filter((m) => m !== undefined).length, 1);
    }
  });

  it('hands out job ids and feed seqs without gaps or repeats when both replicas write at once', async () => {
    const cluster = (await a.clusters.create(makeCluster({ name: 'busy' }))).record;
    const first = (await a.events.bounds()).last;
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).jobs.create(makeJob(cluster), makeSpec())));
    assert.deepEqual(
      jobs.map((j) => j.id).sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    const events = await a.events.read(first, 1000);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => first + 1 + i));
    // Commit order is seq order: the job ids (taken under the cluster's row lock) ascend with the seq.
    assert.deepEqual(events.map((e) => (e.change.kind === 'job' ? e.change.id : -1)), Array.from({ length: 40 }, (_, i) => i + 1));
  });
});

describe('PostgreSQL store: the feed across a lost LISTEN connection', () => {
  it('delivers every change exactly once, in order, when the connection is killed mid-stream', async () => {
    const fixture = await pgStoreFixture({ onListenerError: quiet });
    const writer = fixture.make();
    const reader = fixture.make();
    await Promise.all([writer.open(), reader.open()]);
    const seen: number[] = [];
    const errors: Error[] = [];
    const follower = await reader.follow({ afterSeq: 0, onEvent: (e) => seen.push(e.seq), onError: (err) => errors.push(err), reconnectMs: 50 });
    try {
      const cluster = (await writer.clusters.create(makeCluster({ name: 'feed' }))).record;
      for (let i = 0; i < 20; i++) await writer.jobs.create(makeJob(cluster), makeSpec());
      const listeners = async (): Promise<number[]> =>
        (await adminQuery<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, [`sky-feed ${fixture.schema}`])).map((r) => r.pid);
      const before = await listeners();
      assert.equal(before.length, 1, 'one LISTEN connection');
      // Writes go on while the follower is cut off: it must catch up on all of them.
      const writing = (async () => {
        for (let i = 0; i < 30; i++) await writer.jobs.create(makeJob(cluster), makeSpec());
      })();
      await adminQuery('SELECT pg_terminate_backend($1)', [before[0]]);
      await writing;
      await until('a new LISTEN connection', async () => {
        const now = await listeners();
        return now.length === 1 && now[0] !== before[0];
      });
      for (let i = 0; i < 10; i++) await writer.jobs.create(makeJob(cluster), makeSpec());
      const last = (await writer.events.bounds()).last;
      await follower.waitFor(last, 20_000);
      assert.equal(last, 61);
      assert.deepEqual(seen, Array.from({ length: last }, (_, i) => i + 1), 'every seq once, in order');
      assert.ok(errors.length >= 1, 'the lost connection was reported');
      assert.ok(errors.every((e) => e instanceof SkyError && e.code === 'STATE_UNAVAILABLE'));
    } finally {
      await follower.close();
      await Promise.allSettled([writer.close(), reader.close()]);
      await fixture.cleanup();
    }
  });
});

describe('PostgreSQL store: leases', () => {
  let fixture: Awaited<ReturnType<typeof pgStoreFixture>>;
  let a: PostgresStateStore;
  let b: PostgresStateStore;

  before(async () => {
    fixture = await pgStoreFixture();
    a = fixture.make();
    b = fixture.make();
    await Promise.all([a.open(), b.open()]);
  });

  after(async () => {
    await Promise.allSettled([a.close(), b.close()]);
    await fixture.cleanup();
  });

  it('gives a free lease to exactly one of two racing holders', async () => {
    for (let round = 0; round < 10; round++) {
      const name = `race-${round}`;
      const got = await Promise.all([a.leases.acquire(name, 'replica-a', 60_000), b.leases.acquire(name, 'replica-b', 60_000)]);
      assert.equal(got.filter(Boolean).length, 1, `round ${round}`);
      const winner = got[0] === true ? 'replica-a' : 'replica-b';
      assert.equal(await a.leases.holder(name), winner);
      assert.equal(await b.leases.renew(name, winner === 'replica-a' ? 'replica-b' : 'replica-a', 60_000), false, 'the loser cannot renew');
      assert.equal(await b.leases.renew(name, winner, 60_000), true, 'the holder renews');
    }
  });

  it('frees an expired lease for another holder; the old holder cannot renew it after the loss', async () => {
    assert.equal(await a.leases.acquire('pruner', 'replica-a', 300), true);
    assert.equal(await b.leases.acquire('pruner', 'replica-b', 60_000), false);
    await until('the lease to expire', async () => (await b.leases.holder('pruner')) === undefined);
    assert.equal(await b.leases.acquire('pruner', 'replica-b', 60_000), true);
    assert.equal(await a.leases.renew('pruner', 'replica-a', 60_000), false);
    assert.equal(await a.leases.release('pruner', 'replica-a'), false);
    assert.equal(await a.leases.holder('pruner'), 'replica-b');
    assert.equal(await b.leases.release('pruner', 'replica-b'), true);
    assert.equal(await a.leases.holder('pruner'), undefined);
  });

  it('refuses a ttl that is not a positive whole number of milliseconds', async () => {
    await assert.rejects(a.leases.acquire('x', 'a', 0), /ttlMs/);
    await assert.rejects(a.leases.acquire('x', 'a', 1.5), /ttlMs/);
  });
});

describe('PostgreSQL store: opening', () => {
  it('refuses a schema newer than it knows, writing nothing', async () => {
    const fixture = await pgStoreFixture();
    const first = fixture.make();
    await first.open();
    await first.close();
    const known = MIGRATIONS.length;
    await adminQuery(`INSERT INTO "${fixture.schema}".schema_migrations (version, name) VALUES ($1, 'from the future')`, [known + 1]);
    const old = fixture.make();
    try {
      await assert.rejects(old.open(), (err: unknown) => {
        assert.ok(err instanceof SkyError);
        assert.equal(err.code, 'STATE_TOO_NEW');
        assert.match(err.message, new RegExp(`schema version ${known + 1}, but this version of sky knows only up to ${known}`));
        return true;
      });
      const rows = await adminQuery<{ version: number }>(`SELECT version FROM "${fixture.schema}".schema_migrations ORDER BY version`);
      assert.deepEqual(rows.map((r) => r.version), [...MIGRATIONS.map((m) => m.version), known + 1]);
      await assert.rejects(old.clusters.list(), /is not open/);
    } finally {
      await old.close();
      await fixture.cleanup();
    }
  });

  it('upgrades a schema of version 3 to the services tables, after which a replica that knows only 3 refuses it', async () => {
    const fixture = await pgStoreFixture();
    const v3Ladder = MIGRATIONS.filter((m) => m.version <= 3);
    const old = fixture.make({ migrations: v3Ladder });
    const current = fixture.make();
    const stale = fixture.make({ migrations: v3Ladder });
    try {
      await old.open();
      assert.equal(await old.schemaVersion(), 3);
      const cluster = (await old.clusters.create(makeCluster({ name: 'kept' }))).record;
      await old.close();
      await current.open();
      assert.equal(await current.schemaVersion(), MIGRATIONS.length);
      assert.deepEqual(await current.clusters.get('kept'), cluster);
      const { record } = await current.services.create(makeService(), makeServiceVersionSpec());
      assert.deepEqual(await current.services.list(), [record]);
      await assert.rejects(stale.open(), (err: unknown) => err instanceof SkyError && err.code === 'STATE_TOO_NEW');
    } finally {
      await Promise.allSettled([old.close(), current.close(), stale.close()]);
      await fixture.cleanup();
    }
  });

  it('says the database is missing, with the password hidden', async () => {
    const url = new URL(await testDatabaseUrl());
    url.password = 'hunter2';
    url.pathname = '/sky_no_such_database';
    const fixture = await pgStoreFixture();
    const store = fixture.make({ url: url.toString() });
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'STATE_UNAVAILABLE');
      assert.match(err.message, /has no such database/);
      assert.ok(!JSON.stringify({ m: err.message, h: err.hint, d: err.details }).includes('hunter2'));
      assert.match(err.hint ?? '', /createdb/);
      return true;
    });
  });

  it('says the server is down (nothing listens on the port), with the password hidden and a retry hint', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const fixture = await pgStoreFixture();
    const store = fixture.make({ url: `postgres://root:hunter2@127.0.0.1:${port}/test`, connectTimeoutMs: 2000 });
    await assert.rejects(store.open(), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'STATE_UNAVAILABLE');
      assert.match(err.message, /cannot reach PostgreSQL at postgres:\/\/root:\*\*\*@127\.0\.0\.1/);
      assert.ok(!JSON.stringify({ m: err.message, h: err.hint, d: err.details }).includes('hunter2'));
      assert.equal((err.details as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds, 5);
      return true;
    });
  });

  it('refuses a bad URL before connecting', async () => {
    const fixture = await pgStoreFixture();
    await assert.rejects(fixture.make({ url: 'mysql://u:hunter2@h/d' }).open(), (err: unknown) => {
      assert.ok(err instanceof SkyError && err.code === 'VALIDATION_FAILED');
      assert.ok(!err.message.includes('hunter2'));
      return true;
    });
  });
});

describe('PostgreSQL store: scale', () => {
  it('lists 10,000 clusters (figure reported, not asserted)', async (t) => {
    const fixture = await pgStoreFixture();
    const store = fixture.make();
    await store.open();
    try {
      const docs = Array.from({ length: 10_000 }, (_, i) => ({ ...makeCluster({ name: `scale-${String(i).padStart(5, '0')}`, owner: `u-${i % 50}` }), version: 1 }));
      await adminQuery(
        `INSERT INTO "${fixture.schema}".clusters (name, cluster_id, owner, status, created_at, version, doc)
         SELECT d->>'name', d->>'clusterId', d->>'owner', d->>'status', (d->>'launchedAt')::bigint, 1, d::json FROM jsonb_array_elements($1::jsonb) AS x(d)`,
        [JSON.stringify(docs)],
      );
      await store.clusters.list(); // warm the pool's connection and the server's cache
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = process.hrtime.bigint();
        const all = await store.clusters.list();
        times.push(Number(process.hrtime.bigint() - started) / 1e6);
        assert.equal(all.length, 10_000);
        assert.equal(all[0]?.name, 'scale-00000');
      }
      const sorted = [...times].sort((x, y) => x - y);
      t.diagnostic(`clusters.list() of 10,000: median ${sorted[2]!.toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms, max ${sorted[4]!.toFixed(1)} ms`);
      assert.equal((await store.clusters.list({ owner: 'u-7' })).length, 200);
    } finally {
      await store.close();
      await fixture.cleanup();
    }
  });
});

describe('PostgreSQL store: lost connections', () => {
  it('answers STATE_UNAVAILABLE (never crashes) while its connections are cut, and works again with new ones', async () => {
    const fixture = await pgStoreFixture();
    const events: string[] = [];
    const store = fixture.make({ onHealth: (e) => events.push(e.state) });
    await store.open();
    try {
      await Promise.all(Array.from({ length: 4 }, (_, i) => store.clusters.create(makeCluster({ name: `cut-${i}` }))));
      const killed = await adminQuery<{ pid: number }>(
        'SELECT pg_terminate_backend(pid), pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
        [`sky ${fixture.schema}`],
      );
      assert.ok(killed.length >= 1, 'the pool had connections to cut');
      const failures: unknown[] = [];
      await until('the store to answer again', async () => {
        try {
          await store.clusters.list();
          return true;
        } catch (err) {
          failures.push(err);
          return false;
        }
      });
      for (const err of failures) assert.ok(err instanceof SkyError && err.code === 'STATE_UNAVAILABLE', String(err));
      if (failures.length > 0) assert.deepEqual(events, ['degraded', 'recovered']);
      assert.equal((await store.clusters.list()).length, 4);
      assert.ok((await store.clusters.update('cut-0', 1, { lastActiveAt: 5 })) !== undefined);
    } finally {
      await store.close();
      await fixture.cleanup();
    }
  });
});
