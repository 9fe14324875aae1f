import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Level } from 'level';
import { SkyError } from '@sky/protocol';
import { makeAudit, makeCluster, makeJob, makeManagedJob, makeManagedJobSpec, makeRequest, makeService, makeServiceVersionSpec, makeSpec, makeToken, makeUser, makeWorkspace } from '@sky/plugin-api/testing';
import { LevelStateStore, MIGRATIONS, sublevels, type Migration } from '@sky/store-level';
import { idempotencyKey, statusKey, userKey } from '../../core/store-level/src/keys.js';

/** The newest schema version this code ships; test steps go above it. */
const LATEST = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const root = process.env.SKY_REPO_ROOT ?? resolve(import.meta.dirname, '../..');
const CHILD = join(root, 'test/fixtures/store-level-child.ts');

let dir: string;
let path: string;
const stores: LevelStateStore[] = [];
const children: ChildProcess[] = [];

function store(options: { migrations?: readonly Migration[] } = {}): LevelStateStore {
  const s = new LevelStateStore({ path, ...options });
  stores.push(s);
  return s;
}

function isSkyError(code: string, check?: (err: SkyError) => void): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  };
}

/** Start the child fixture and wait for its first line of output. */
function child(args: string[]): Promise<{ proc: ChildProcess; line: string; exit: Promise<NodeJS.Signals | number | null> }> {
  const proc = spawn(process.execPath, ['--conditions=sky-source', '--import', 'tsx', CHILD, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<NodeJS.Signals | number | null>((done) => proc.on('exit', (code, signal) => done(signal ?? code)));
  const line = new Promise<string>((done, fail) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', done);
    void exit.then((how) => fail(new Error(`child exited (${String(how)}) before printing anything: ${stderr}`)));
  });
  return line.then((first) => ({ proc, line: first, exit }));
}

/** Every key of the database (sublevel prefixes included) with its raw value. */
async function dump(at: string): Promise<Map<string, string>> {
  const db = new Level<string, string>(at, { valueEncoding: 'utf8' });
  await db.open();
  try {
    return new Map(await db.iterator().all());
  } finally {
    await db.close();
  }
}

const SCHEMA_VERSION_KEY = '!meta!schemaVersion';

function recorder(log: string[], version: number, extra?: (db: Level<string, unknown>) => Promise<void>): Migration {
  return {
    version,
    description: `step ${version}`,
    up: async (db) => {
      log.push(`v${version}`);
      await extra?.(db);
    },
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sky-store-level-unit-'));
  path = join(dir, 'state');
});

afterEach(async () => {
  for (const proc of children.splice(0)) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  for (const s of stores.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('LevelStateStore migrations', () => {
  it('runs the ladder once, in version order, and none on reopen', async () => {
    const log: string[] = [];
    const ladder = [recorder(log, 2), recorder(log, 1)];
    const first = store({ migrations: ladder });
    await first.open();
    assert.deepEqual(log, ['v1', 'v2']);
    assert.equal(await first.schemaVersion(), 2);
    await first.close();

    const second = store({ migrations: ladder });
    await second.open();
    assert.deepEqual(log, ['v1', 'v2'], 'reopening must not run migrations again');
    assert.equal(await second.schemaVersion(), 2);
    await second.close();

    const third = store({ migrations: [...ladder, recorder(log, 3)] });
    await third.open();
    assert.deepEqual(log, ['v1', 'v2', 'v3'], 'only the new step runs');
    assert.equal(await third.schemaVersion(), 3);
  });

  it('gives a migration the database before any request is read', async () => {
    const seeded = makeRequest({ status: 'RUNNING' });
    const ladder: Migration[] = [
      ...MIGRATIONS,
      {
        version: LATEST + 1,
        description: 'seed a request',
        up: async (db) => {
          const subs = sublevels(db);
          await db.batch([
            { type: 'put', sublevel: subs.requests, key: seeded.id, value: seeded },
            { type: 'put', sublevel: subs.byStatus, key: statusKey('RUNNING', seeded.id), value: '' },
            { type: 'put', sublevel: subs.byUser, key: userKey(seeded.user, seeded.id), value: '' },
          ]);
        },
      },
    ];
    const s = store({ migrations: ladder });
    await s.open();
    assert.deepEqual((await s.requests.listByStatus('RUNNING')).map((r) => r.id), [seeded.id]);
    assert.ok(await s.requests.transition(seeded.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: 1 }));
  });

  it('records each finished step, so a failed step is retried alone', async () => {
    const log: string[] = [];
    let fail = true;
    const ladder: Migration[] = [
      recorder(log, 1),
      {
        version: 2,
        description: 'fails once',
        up: async () => {
          log.push('v2');
          if (fail) throw new Error('disk on fire');
        },
      },
    ];
    await assert.rejects(store({ migrations: ladder }).open(), /disk on fire/);
    fail = false;
    const s = store({ migrations: ladder });
    await s.open();
    assert.deepEqual(log, ['v1', 'v2', 'v2']);
    assert.equal(await s.schemaVersion(), 2);
  });

  it('refuses a store written by a newer schema, and leaves it unlocked', async () => {
    const newerLadder = [...MIGRATIONS, recorder([], LATEST + 1), recorder([], LATEST + 2)];
    const newer = store({ migrations: newerLadder });
    await newer.open();
    const r = makeRequest();
    await newer.requests.create(r);
    await newer.close();

    await assert.rejects(
      store().open(),
      isSkyError('STATE_TOO_NEW', (err) => {
        const found = LATEST + 2;
        assert.match(err.message, new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*version ${found}.*up to ${LATEST}`));
        assert.deepEqual(err.details, { path, found, known: LATEST });
        assert.ok(err.hint);
      }),
    );
    const again = store({ migrations: newerLadder });
    await again.open();
    assert.deepEqual(await again.requests.get(r.id), r);
  });

  it('upgrades a v1 store to the latest version without touching what v1 wrote', async () => {
    const v1Ladder = MIGRATIONS.filter((m) => m.version === 1);
    const v1 = store({ migrations: v1Ladder });
    await v1.open();
    assert.equal(await v1.schemaVersion(), 1);
    const pending = makeRequest({ user: 'u-v1', idempotencyKey: 'k-v1' });
    const done = makeRequest({ user: 'u-v1', status: 'SUCCEEDED', startedAt: 1, finishedAt: 2 });
    await v1.requests.create(pending);
    await v1.requests.create(done);
    await v1.requests.appendLog(pending.id, 'hello', 3);
    await v1.close();
    const before = await dump(path);

    const s = store();
    await s.open();
    assert.equal(await s.schemaVersion(), LATEST);
    assert.deepEqual(await s.requests.get(pending.id), pending);
    assert.deepEqual((await s.requests.listByStatus('PENDING')).map((r) => r.id), [pending.id]);
    assert.deepEqual((await s.requests.list({ user: 'u-v1', limit: 10 })).items.map((r) => r.id), [done.id, pending.id]);
    assert.deepEqual((await s.requests.readLog(pending.id)).map((c) => c.text), ['hello']);
    assert.equal((await s.requests.create(makeRequest({ user: 'u-v1', idempotencyKey: 'k-v1' }))).record.id, pending.id);
    assert.deepEqual(await s.clusters.list(), []);
    assert.deepEqual(await s.jobs.listActive(), []);
    const cluster = (await s.clusters.create(makeCluster({ name: 'after-upgrade' }))).record;
    assert.equal((await s.jobs.create(makeJob(cluster), makeSpec())).id, 1);
    await s.close();

    const after = await dump(path);
    for (const [key, value] of before) {
      if (key === SCHEMA_VERSION_KEY) continue;
      assert.equal(after.get(key), value, `the upgrade changed or removed ${JSON.stringify(key)}`);
    }
    assert.equal(before.get(SCHEMA_VERSION_KEY), '1');
    assert.equal(after.get(SCHEMA_VERSION_KEY), String(LATEST));

    await assert.rejects(store({ migrations: v1Ladder }).open(), isSkyError('STATE_TOO_NEW'));
    const again = store();
    await again.open();
    assert.equal(await again.schemaVersion(), LATEST);
    assert.equal((await again.clusters.get('after-upgrade'))?.clusterId, cluster.clusterId);
    assert.equal((await again.jobs.get('after-upgrade', 1))?.status, 'PENDING');
  });

  it('upgrades a v2 store to v3 keeping its requests, clusters and jobs, and adds users, tokens, workspaces and audit', async () => {
    const v2Ladder = MIGRATIONS.filter((m) => m.version <= 2);
    const v2 = store({ migrations: v2Ladder });
    await v2.open();
    assert.equal(await v2.schemaVersion(), 2);
    const pending = makeRequest({ user: 'u-v2', idempotencyKey: 'k-v2' });
    const done = makeRequest({ user: 'u-v2', status: 'SUCCEEDED', startedAt: 1, finishedAt: 2 });
    await v2.requests.create(pending);
    await v2.requests.create(done);
    await v2.requests.appendLog(pending.id, 'hello v2', 3);
    const cluster = (await v2.clusters.create(makeCluster({ name: 'v2-cluster', owner: 'u-v2' }))).record;
    const job = await v2.jobs.create(makeJob(cluster), makeSpec());
    await v2.close();
    const before = await dump(path);

    const v3Ladder = MIGRATIONS.filter((m) => m.version <= 3);
    const s = store({ migrations: v3Ladder });
    await s.open();
    assert.equal(await s.schemaVersion(), 3);
    assert.deepEqual(await s.requests.get(pending.id), pending);
    assert.deepEqual((await s.requests.list({ user: 'u-v2', limit: 10 })).items.map((r) => r.id), [done.id, pending.id]);
    assert.deepEqual((await s.requests.readLog(pending.id)).map((c) => c.text), ['hello v2']);
    assert.equal((await s.requests.create(makeRequest({ user: 'u-v2', idempotencyKey: 'k-v2' }))).record.id, pending.id);
    assert.deepEqual(await s.clusters.get('v2-cluster'), cluster);
    assert.deepEqual(await s.jobs.get('v2-cluster', 1), job);
    assert.deepEqual(await s.jobs.getSpec('v2-cluster', 1), makeSpec());
    assert.deepEqual(await s.users.list(), []);
    assert.deepEqual(await s.workspaces.list(), []);
    assert.deepEqual((await s.audit.list({ limit: 10 })).items, []);
    const user = makeUser({ name: 'admin', role: 'admin' });
    const token = makeToken(user.id);
    const entry = makeAudit({ user: user.id, userName: user.name });
    await s.users.create(user);
    await s.tokens.create(token);
    await s.workspaces.create(makeWorkspace('default'));
    await s.audit.append(entry);
    await s.close();

    const after = await dump(path);
    for (const [key, value] of before) {
      if (key === SCHEMA_VERSION_KEY) continue;
      assert.equal(after.get(key), value, `the upgrade changed or removed ${JSON.stringify(key)}`);
    }
    assert.equal(before.get(SCHEMA_VERSION_KEY), '2');
    assert.equal(after.get(SCHEMA_VERSION_KEY), '3');
    // No password hash or token hash is written anywhere but its own record and the hash index.
    for (const [key, value] of after) {
      if (value.includes(token.hash)) assert.ok(key.startsWith('!tokens!') || key === `!token-hashes!${token.hash}`, key);
      if (user.passwordHash !== undefined && value.includes(user.passwordHash)) assert.ok(key.startsWith('!users!'), key);
    }

    await assert.rejects(store({ migrations: v2Ladder }).open(), isSkyError('STATE_TOO_NEW'));
    const again = store({ migrations: v3Ladder });
    await again.open();
    assert.equal(await again.schemaVersion(), 3);
    assert.deepEqual(await again.tokens.findByHash(token.hash), token);
    assert.deepEqual(await again.users.getByName('admin'), user);
    assert.deepEqual((await again.audit.list({ user: user.id, limit: 10 })).items, [entry]);
    assert.deepEqual(await again.clusters.get('v2-cluster'), cluster);
  });

  it('upgrades a v3 store to v4 keeping everything, and adds managed jobs', async () => {
    const v3Ladder = MIGRATIONS.filter((m) => m.version <= 3);
    const v3 = store({ migrations: v3Ladder });
    await v3.open();
    assert.equal(await v3.schemaVersion(), 3);
    const pending = makeRequest({ user: 'u-v3', idempotencyKey: 'k-v3' });
    await v3.requests.create(pending);
    const cluster = (await v3.clusters.create(makeCluster({ name: 'v3-cluster', owner: 'u-v3' }))).record;
    const job = await v3.jobs.create(makeJob(cluster), makeSpec());
    const user = makeUser({ name: 'v3-admin', role: 'admin' });
    await v3.users.create(user);
    await v3.close();
    const before = await dump(path);

    const s = store({ migrations: MIGRATIONS.filter((m) => m.version <= 4) });
    await s.open();
    assert.equal(await s.schemaVersion(), 4);
    assert.deepEqual(await s.requests.get(pending.id), pending);
    assert.deepEqual(await s.jobs.get('v3-cluster', 1), job);
    assert.deepEqual(await s.users.getByName('v3-admin'), user);
    assert.deepEqual(await s.managedJobs.list(), []);
    const managed = await s.managedJobs.create(makeManagedJob({ user: user.id, requestId: pending.id }), makeManagedJobSpec());
    assert.equal(managed.id, 1);
    await s.managedJobs.appendEvents(managed.id, [{ at: 1, text: 'submitted' }]);
    await s.close();

    const after = await dump(path);
    for (const [key, value] of before) {
      if (key === SCHEMA_VERSION_KEY) continue;
      assert.equal(after.get(key), value, `the upgrade changed or removed ${JSON.stringify(key)}`);
    }
    assert.equal(before.get(SCHEMA_VERSION_KEY), '3');
    assert.equal(after.get(SCHEMA_VERSION_KEY), '4');

    // A sky that knows only v3 would not see the managed jobs: it refuses the store.
    await assert.rejects(store({ migrations: v3Ladder }).open(), isSkyError('STATE_TOO_NEW'));
    const again = store();
    await again.open();
    assert.deepEqual(await again.managedJobs.list({ requestId: pending.id }), [managed]);
    assert.deepEqual(await again.managedJobs.events(managed.id), [{ at: 1, text: 'submitted' }]);
  });

  it('upgrades a v5 store to v6 keeping everything, adds services, and a v5 sky refuses it then', async () => {
    const v5Ladder = MIGRATIONS.filter((m) => m.version <= 5);
    const v5 = store({ migrations: v5Ladder });
    await v5.open();
    assert.equal(await v5.schemaVersion(), 5);
    const cluster = (await v5.clusters.create(makeCluster({ name: 'v5-cluster' }))).record;
    const managed = await v5.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
    await v5.close();
    const before = await dump(path);

    const s = store({ migrations: MIGRATIONS.filter((m) => m.version <= 6) });
    await s.open();
    assert.equal(await s.schemaVersion(), 6);
    assert.deepEqual(await s.clusters.get('v5-cluster'), cluster);
    assert.deepEqual(await s.managedJobs.get(managed.id), managed);
    assert.deepEqual(await s.services.list(), []);
    const { record } = await s.services.create(makeService(), makeServiceVersionSpec());
    await s.services.appendEvents(record.name, [{ at: 1, text: 'up' }]);
    await s.close();

    const after = await dump(path);
    for (const [key, value] of before) {
      if (key === SCHEMA_VERSION_KEY) continue;
      assert.equal(after.get(key), value, `the upgrade changed or removed ${JSON.stringify(key)}`);
    }
    assert.equal(after.get(SCHEMA_VERSION_KEY), '6');

    // A sky that knows only v5 would not see the services (nor stop their replicas): it refuses the store.
    await assert.rejects(store({ migrations: v5Ladder }).open(), isSkyError('STATE_TOO_NEW'));
    const again = store();
    await again.open();
    assert.deepEqual(await again.services.get(record.name), record);
    assert.deepEqual(await again.services.getVersion(record.name, 1), makeServiceVersionSpec());
    assert.deepEqual(await again.services.events(record.name), [{ at: 1, text: 'up' }]);
    await again.close();
  });

  it('upgrades a v6 store to v7 keeping everything, adds the usage ledger, and a v6 sky refuses it then', async () => {
    const v6Ladder = MIGRATIONS.filter((m) => m.version <= 6);
    const v6 = store({ migrations: v6Ladder });
    await v6.open();
    const cluster = (await v6.clusters.create(makeCluster({ name: 'v6-cluster' }))).record;
    await v6.close();
    const before = await dump(path);

    const s = store({ migrations: MIGRATIONS.filter((m) => m.version <= 7) });
    await s.open();
    assert.equal(await s.schemaVersion(), 7);
    assert.deepEqual(await s.clusters.get('v6-cluster'), cluster);
    assert.deepEqual(await s.usage.listOpen(), []);
    const entry = { kind: 'cluster' as const, clusterId: cluster.clusterId, cluster: cluster.name, user: cluster.owner, userName: cluster.ownerName, workspace: cluster.workspace, driver: 'local', infra: 'local', nodes: 1, cpus: 2, memoryGb: 4, gpus: 0, start: 1000 };
    assert.equal(await s.usage.open(entry), true);
    await s.close();

    const after = await dump(path);
    for (const [key, value] of before) {
      if (key === SCHEMA_VERSION_KEY) continue;
      assert.equal(after.get(key), value, `the upgrade changed or removed ${JSON.stringify(key)}`);
    }
    assert.equal(after.get(SCHEMA_VERSION_KEY), '7');
    await assert.rejects(store({ migrations: v6Ladder }).open(), isSkyError('STATE_TOO_NEW'));
    const again = store();
    await again.open();
    assert.deepEqual(await again.usage.listOpen(), [entry]);
    await again.close();
  });

  it('rejects a ladder with a repeated version', async () => {
    await assert.rejects(store({ migrations: [recorder([], 1), recorder([], 1)] }).open(), isSkyError('INTERNAL'));
  });
});

describe('LevelStateStore open errors', () => {
  it('reports STATE_LOCKED while another process holds the directory', async () => {
    const holder = await child(['hold', path]);
    assert.equal(holder.line, 'open');
    await assert.rejects(
      store().open(),
      isSkyError('STATE_LOCKED', (err) => {
        assert.ok(err.message.includes(path), err.message);
        assert.equal(err.hint, 'another sky daemon is using this state directory; stop it (sky api stop) or set store.path');
        assert.equal(err.status, 503);
      }),
    );
    holder.proc.kill('SIGKILL');
    await holder.exit;
    const s = store();
    await s.open();
    assert.ok((await s.schemaVersion()) >= 1, 'the lock goes away with the process that held it');
  });

  it('reports STATE_LOCKED to a second process while this one holds the directory', async () => {
    const s = store();
    await s.open();
    const other = await child(['hold', path]);
    const answer = JSON.parse(other.line) as { error?: { code?: string; message?: string } };
    assert.equal(answer.error?.code, 'STATE_LOCKED');
    assert.ok(answer.error?.message?.includes(path));
    assert.equal(await other.exit, 1);
  });

  it('reports STATE_UNAVAILABLE with the OS reason for a path it cannot create', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const bad = new LevelStateStore({ path: join(file, 'state') });
    await assert.rejects(
      bad.open(),
      isSkyError('STATE_UNAVAILABLE', (err) => {
        assert.ok(err.message.includes(join(file, 'state')), err.message);
        assert.match(err.message, /ENOTDIR|not a directory/);
        assert.equal(err.details?.reason, 'ENOTDIR');
        assert.ok(err.hint);
      }),
    );
  });

  it('rejects calls before open and after close', async () => {
    const s = store();
    await assert.rejects(s.requests.get('x'), isSkyError('STATE_UNAVAILABLE'));
    await s.open();
    await s.requests.create(makeRequest());
    await s.close();
    await assert.rejects(s.requests.create(makeRequest()), isSkyError('STATE_UNAVAILABLE'));
    await assert.rejects(s.schemaVersion(), isSkyError('STATE_UNAVAILABLE'));
  });

  it('lets writes queued before close finish', async () => {
    const s = store();
    await s.open();
    const records = Array.from({ length: 50 }, () => makeRequest());
    const pending = records.map((r) => s.requests.create(r));
    await s.close();
    assert.equal((await Promise.all(pending)).filter((r) => r.created).length, 50);
    const again = store();
    await again.open();
    assert.equal((await again.requests.listByStatus('PENDING')).length, 50);
  });
});

describe('LevelStateStore crash safety', () => {
  it('keeps every write that resolved before the process was SIGKILLed', async () => {
    const n = 400;
    const crashed = await child(['crash', path, String(n)]);
    const { ids } = JSON.parse(crashed.line) as { ids: string[] };
    assert.equal(await crashed.exit, 'SIGKILL');
    assert.equal(ids.length, n);

    const s = store();
    await s.open();
    for (const [i, id] of ids.entries()) {
      const record = await s.requests.get(id);
      assert.equal(record?.status, i % 2 === 0 ? 'PENDING' : 'RUNNING', `request ${i}`);
      assert.deepEqual(record?.body, { i });
      if (i % 2 === 1) assert.deepEqual((await s.requests.readLog(id)).map((c) => c.text), [`started ${i}`]);
    }
    assert.equal((await s.requests.listByStatus('PENDING')).length, n / 2);
    assert.equal((await s.requests.listByStatus('RUNNING')).length, n / 2);
  });
});

describe('LevelStateStore indexes', () => {
  it('holds exactly one index entry per record and nothing for pruned ones', async () => {
    const s = store();
    await s.open();
    const records = Array.from({ length: 30 }, (_, i) =>
      makeRequest({ user: `u-${i % 3}`, ...(i % 4 === 0 ? { idempotencyKey: `k${i}` } : {}) }),
    );
    for (const r of records) await s.requests.create(r);
    await s.requests.create(makeRequest({ user: 'u-0', idempotencyKey: 'k0' }));
    for (const [i, r] of records.entries()) {
      await s.requests.appendLog(r.id, 'x', 1);
      if (i % 3 === 0) continue;
      await s.requests.transition(r.id, ['PENDING'], { status: 'RUNNING', startedAt: 1 });
      if (i % 3 === 2) await s.requests.transition(r.id, ['RUNNING'], { status: i % 2 ? 'FAILED' : 'SUCCEEDED', finishedAt: i });
    }
    await s.requests.transition(records[0]!.id, ['PENDING'], { status: 'CANCELLED', finishedAt: 1 });
    assert.ok((await s.requests.prune(15)) > 0);
    await s.close();

    const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
    await db.open();
    try {
      const subs = sublevels(db);
      const stored = await subs.requests.values().all();
      const sorted = (xs: string[]): string[] => [...xs].sort();
      assert.deepEqual(sorted(await subs.byStatus.keys().all()), sorted(stored.map((r) => statusKey(r.status, r.id))));
      assert.deepEqual(sorted(await subs.byUser.keys().all()), sorted(stored.map((r) => userKey(r.user, r.id))));
      const withKeys = stored.filter((r) => r.idempotencyKey !== undefined);
      const idem = await subs.idempotency.iterator().all();
      assert.deepEqual(
        sorted(idem.map(([k, v]) => `${k}=${v}`)),
        sorted(withKeys.map((r) => `${idempotencyKey(r.user, r.idempotencyKey!)}=${r.id}`)),
      );
      const ids = new Set(stored.map((r) => r.id));
      for (const chunk of await subs.logs.values().all()) assert.ok(chunk.seq === 0);
      assert.equal((await subs.logs.keys().all()).length, ids.size, 'one log chunk per surviving request');
      assert.ok(stored.length < records.length, 'something was pruned');
    } finally {
      await db.close();
    }
  });
});

describe('LevelDB import of plugin documents', () => {
  it('refuses a state file holding plugin documents (it keeps none) and writes nothing', async () => {
    const s = store();
    await s.open();
    const items = (async function* () {
      yield { type: 'feed' as const, last: 0, lastAt: 0 };
      yield { type: 'user' as const, record: makeUser({ id: 'u-1', name: 'alice' }) };
      yield { type: 'pluginDocument' as const, plugin: 'ssh', name: 'ledger', value: { clusters: {} }, revision: 3 };
    })();
    await assert.rejects(
      s.importState(items),
      isSkyError('VALIDATION_FAILED', (err) => {
        assert.match(err.message, /plugin ssh's document "ledger"/);
        assert.match(err.hint ?? '', /PostgreSQL/);
      }),
    );
    assert.equal(await s.users.get('u-1'), undefined, 'nothing was written');
  });
});
