import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { StateStore } from '../../store.js';
import { supportsStateTransfer, type StateItem, type StateTransfer } from '../../state-transfer.js';
import { makeAudit, makeCluster, makeJob, makeManagedJob, makeManagedJobSpec, makeRequest, makeService, makeServiceVersionSpec, makeSession, makeSpec, makeToken, makeUser, makeWorkspace } from '../fixtures.js';
import { rejectsWithCode, type StoreHarness } from './harness.js';

type Transferable = StateStore & StateTransfer;

/** The store under test with export/import, or skip: StateTransfer is optional in plugin API 1.x. */
function transferable(store: StateStore, t: TestContext): Transferable | undefined {
  if (supportsStateTransfer(store)) return store;
  t.skip(`store "${store.kind}" does not implement exportState/importState (plugin API 1.7, optional)`);
  return undefined;
}

async function collect(items: AsyncIterable<StateItem>): Promise<StateItem[]> {
  const out: StateItem[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* replay(items: readonly StateItem[]): AsyncGenerator<StateItem> {
  yield* items;
}

/** Something of every repository, with ended and live records, logs, a deleted cluster and a pruned feed start. */
async function populate(store: StateStore): Promise<{ clusters: string[]; managedIds: number[]; users: string[] }> {
  const alice = makeUser({ name: 'alice-x', role: 'admin' });
  const bob = makeUser({ name: 'bob-x' });
  for (const user of [alice, bob]) await store.users.create(user);
  await store.tokens.create(makeToken(alice.id));
  const revoked = await store.tokens.create(makeToken(bob.id));
  await store.tokens.revoke(revoked.id, Date.now());
  await store.sessions.create(makeSession(alice.id));
  await store.workspaces.create(makeWorkspace('default'));
  await store.workspaces.create(makeWorkspace('secret', { private: true, allowedUsers: [alice.id] }));
  // Webhooks (with a sealed secret) and their delivery state travel inside the workspace record.
  await store.workspaces.create(
    makeWorkspace('hooked', {
      webhooks: [{ id: 'wh-00aa11bb', url: 'https://hooks.example.com/x', kinds: ['job', 'service'], secret: 'sky-sealed:v1:key:c2VhbGVk', from: 0, createdAt: 1, createdBy: alice.id, createdByName: alice.name }],
      webhookState: { 'wh-00aa11bb': { cursor: 3, log: [{ id: 'wh-00aa11bb-3', seq: 3, kind: 'job', key: 'c/1', url: 'https://hooks.example.com/x', at: 2, attempts: 3, ok: false, status: 500, error: 'HTTP 500', excerpt: 'boom' }] } },
    }),
  );

  const done = await store.requests.create(makeRequest({ user: alice.id, idempotencyKey: 'launch-1' }));
  await store.requests.appendLog(done.record.id, 'one\n', Date.now());
  await store.requests.appendLog(done.record.id, 'two\n', Date.now());
  await store.requests.transition(done.record.id, ['PENDING'], { status: 'RUNNING', startedAt: Date.now(), attempts: 1 });
  await store.requests.transition(done.record.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: Date.now(), result: { ok: true } });
  await store.requests.create(makeRequest({ user: bob.id, name: 'status' }));

  const gone = (await store.clusters.create(makeCluster({ owner: bob.id }))).record;
  await store.jobs.create(makeJob(gone), makeSpec());
  assert.equal(await store.clusters.delete(gone.name), true);
  const up = (await store.clusters.create(makeCluster({ owner: alice.id }))).record;
  const first = await store.jobs.create(makeJob(up, { user: alice.id }), makeSpec());
  await store.jobs.transition(up.name, first.id, ['PENDING'], { status: 'SUCCEEDED', endedAt: Date.now(), exitCodes: [0] });
  await store.jobs.create(makeJob(up, { user: alice.id }), makeSpec({ run: 'sleep 100' }));
  const updated = await store.clusters.update(up.name, 1, { status: 'UP', lastCommand: 'sky exec' });
  assert.ok(updated);
  const second = (await store.clusters.create(makeCluster({ owner: bob.id }))).record;

  const m1 = await store.managedJobs.create(makeManagedJob({ user: alice.id }), makeManagedJobSpec());
  await store.managedJobs.appendEvents(m1.id, [{ at: Date.now(), text: 'launching' }, { at: Date.now(), text: 'running' }]);
  await store.managedJobs.update(m1.id, m1.version, { status: 'RUNNING' });
  const m2 = await store.managedJobs.create(makeManagedJob({ user: bob.id }), makeManagedJobSpec());
  await store.managedJobs.update(m2.id, m2.version, { status: 'SUCCEEDED', endedAt: Date.now() });

  // Services: one with two versions (their specs hold the task secrets and the token) and a log, one deleted, one plain.
  const svc = (await store.services.create(makeService({ name: 'svc-b', user: bob.id }), makeServiceVersionSpec())).record;
  await store.services.putVersion(svc.name, makeServiceVersionSpec({ version: 2, token: 'second-t0k3n' }));
  await store.services.appendEvents(svc.name, [{ at: Date.now(), text: 'replica 1 READY' }]);
  await store.services.update(svc.name, svc.revision, { status: 'READY', version: 2, endpoint: 'http://127.0.0.1:30001', lbPort: 30001 });
  await store.services.create(makeService({ name: 'svc-gone', user: bob.id }), makeServiceVersionSpec());
  assert.equal(await store.services.delete('svc-gone'), true);
  const { token: _open, ...openSpec } = makeServiceVersionSpec();
  await store.services.create(makeService({ name: 'svc-a', user: alice.id, workspace: 'secret' }), openSpec);

  await store.audit.append(makeAudit({ user: alice.id }));
  await store.audit.append(makeAudit({ user: bob.id, result: 'FAILED' }));
  return { clusters: [up.name, second.name], managedIds: [m1.id, m2.id], users: [alice.id, bob.id] };
}

/** Everything the repositories answer, for comparing two stores. */
async function view(store: StateStore, keys: { clusters: string[]; managedIds: number[]; users: string[] }): Promise<unknown> {
  const requests = (await store.requests.list({ limit: 1000 })).items;
  const logs = await Promise.all(requests.map((r) => store.requests.readLog(r.id)));
  const users = await store.users.list();
  const tokens = await Promise.all(keys.users.map((id) => store.tokens.listByUser(id)));
  const byHash = await Promise.all(tokens.flat().map((t) => store.tokens.findByHash(t.hash)));
  const sessions = await Promise.all(keys.users.map((id) => store.sessions.listByUser(id)));
  const clusters = await store.clusters.list();
  const jobs = await Promise.all(clusters.map((c) => store.jobs.list(c.name)));
  const specs = await Promise.all(jobs.flat().map((j) => store.jobs.getSpec(j.cluster, j.id)));
  const managed = await store.managedJobs.list();
  const managedSpecs = await Promise.all(keys.managedIds.map((id) => store.managedJobs.getSpec(id)));
  const managedEvents = await Promise.all(keys.managedIds.map((id) => store.managedJobs.events(id)));
  const services = await store.services.list();
  const serviceVersions = await Promise.all(['svc-a', 'svc-b', 'svc-gone'].flatMap((name) => [1, 2, 3].map((v) => store.services.getVersion(name, v))));
  const serviceEvents = await Promise.all(['svc-a', 'svc-b', 'svc-gone'].map((name) => store.services.events(name)));
  const feed = await store.events.read(0, 1000);
  return {
    services,
    servicesOfUser: await store.services.list({ user: keys.users[1] }),
    serviceVersions,
    serviceEvents,
    requests,
    logs,
    pending: await store.requests.listByStatus('PENDING'),
    users,
    tokens,
    byHash,
    sessions,
    workspaces: await store.workspaces.list(),
    clusters,
    jobs,
    specs,
    active: await store.jobs.listActive(),
    managed,
    managedActive: await store.managedJobs.list({ active: true }),
    managedSpecs,
    managedEvents,
    audit: (await store.audit.list({ limit: 1000 })).items,
    auditOfUser: (await store.audit.list({ limit: 1000, user: keys.users[0] })).items,
    feed,
    bounds: await store.events.bounds(),
  };
}

/** StateTransfer (plugin API 1.7): export, import into an empty store, refusals, and consistency under writes. */
export function describeExport(h: StoreHarness): void {
  describe('state export and import', () => {
    it('exports in the fixed order and an import answers every list and get the same', async (t) => {
      const source = transferable(h.store, t);
      if (source === undefined) return;
      const keys = await populate(source);
      const items = await collect(source.exportState());
      const order = items.map((i) => i.type).filter((type, i, all) => all[i - 1] !== type);
      assert.deepEqual(order, ['feed', 'counter', 'user', 'token', 'session', 'workspace', 'request', 'requestLog', 'cluster', 'job', 'managedJob', 'service', 'audit', 'event']);
      const services = items.flatMap((i) => (i.type === 'service' ? [i] : []));
      assert.deepEqual(
        services.map((i) => [i.record.name, i.versions.map((v) => v.version), i.events.length]),
        [
          ['svc-a', [1], 0],
          ['svc-b', [1, 2], 1],
        ],
      );
      assert.equal(services[1]?.versions[1]?.token, 'second-t0k3n', 'version specs travel as stored, like managed job specs');
      for (const item of items) if (item.type === 'token') assert.match(item.record.hash, /^sha256:/, 'tokens travel as hashes');

      const target = await h.fresh();
      assert.ok(supportsStateTransfer(target));
      const summary = await target.importState(replay(items));
      assert.equal(summary.user, 2);
      assert.equal(summary.cluster, 2);
      assert.deepEqual(await view(target, keys), await view(source, keys));
      assert.deepEqual(await collect(target.exportState()), items, 'exporting the import gives the same items');
    });

    it('keeps ids, counters, idempotency keys and feed positions going after an import', async (t) => {
      const source = transferable(h.store, t);
      if (source === undefined) return;
      const keys = await populate(source);
      const target = await h.fresh();
      assert.ok(supportsStateTransfer(target));
      await target.importState(source.exportState());
      const before = await target.events.bounds();
      const [upName] = keys.clusters;
      assert.ok(upName);
      const up = await target.clusters.get(upName);
      assert.ok(up);
      const job = await target.jobs.create(makeJob(up), makeSpec());
      assert.equal(job.id, 3, 'job ids go on from the cluster counter');
      const managed = await target.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      assert.equal(managed.id, 3, 'managed job ids go on from the counter');
      const again = await target.requests.create(makeRequest({ user: keys.users[0], idempotencyKey: 'launch-1' }));
      assert.equal(again.created, false, 'an idempotency key used before the export still matches');
      const request = (await target.requests.list({ limit: 1000, user: keys.users[0] })).items[0];
      assert.ok(request);
      assert.equal(await target.requests.appendLog(request.id, 'three\n', Date.now()), 2, 'log sequence numbers go on');
      const after = await target.events.bounds();
      assert.ok(after.last > before.last, 'new changes follow the imported feed');
      const fresh = await target.events.read(before.last, 100);
      assert.equal(fresh[0]?.seq, before.last + 1, 'the first new change takes the next seq');
      const updated = await target.clusters.update(up.name, up.version, { lastCommand: 'again' });
      assert.equal(updated?.version, up.version + 1, 'cluster versions are kept');
      const svc = await target.services.get('svc-b');
      assert.equal(svc?.revision, 2, 'service revisions are kept');
      assert.equal((await target.services.update('svc-b', 2, { status: 'SHUTTING_DOWN' }))?.revision, 3);
      await target.services.appendEvents('svc-b', [{ at: 1, text: 'after' }]);
      assert.deepEqual(
        (await target.services.events('svc-b')).map((e) => e.text),
        ['replica 1 READY', 'after'],
        'service logs go on',
      );
      assert.equal((await target.services.create(makeService({ name: 'svc-a' }), makeServiceVersionSpec())).created, false);
    });

    it('refuses an import into a store that holds records, writing nothing', async (t) => {
      const source = transferable(h.store, t);
      if (source === undefined) return;
      await populate(source);
      const items = await collect(source.exportState());
      const target = await h.fresh();
      assert.ok(supportsStateTransfer(target));
      await target.workspaces.create(makeWorkspace('default'));
      await rejectsWithCode(target.importState(replay(items)), 'STATE_NOT_EMPTY');
      assert.deepEqual(await target.users.list(), []);
      const other = await h.fresh();
      assert.ok(supportsStateTransfer(other));
      await other.services.create(makeService(), makeServiceVersionSpec());
      await rejectsWithCode(other.importState(replay(items)), 'STATE_NOT_EMPTY');
      assert.deepEqual(await other.users.list(), [], 'a store holding only a service is not empty');
      assert.deepEqual(await target.clusters.list(), []);
      await rejectsWithCode(source.importState(replay(items)), 'STATE_NOT_EMPTY');
    });

    it('refuses items out of order or inconsistent, and leaves the store empty for another try', async (t) => {
      const source = transferable(h.store, t);
      if (source === undefined) return;
      await populate(source);
      const items = await collect(source.exportState());
      const target = await h.fresh();
      assert.ok(supportsStateTransfer(target));
      const users = items.filter((i) => i.type === 'user');
      const rest = items.filter((i) => i.type !== 'user');
      await rejectsWithCode(target.importState(replay([...rest, ...users])), 'VALIDATION_FAILED');
      const orphan = items.filter((i) => i.type !== 'cluster');
      await rejectsWithCode(target.importState(replay(orphan)), 'VALIDATION_FAILED');
      assert.deepEqual(await target.users.list(), [], 'a refused import wrote nothing');
      assert.deepEqual((await target.events.bounds()).last, 0);
      await target.importState(replay(items));
      assert.equal((await target.users.list()).length, 2);
    });

    it('is one point in time while writes go on: no torn multi-record change', async (t) => {
      const source = transferable(h.store, t);
      if (source === undefined) return;
      await populate(source);
      const cluster = (await source.clusters.create(makeCluster())).record;
      const running = async (): Promise<string> => {
        const { record } = await source.requests.create(makeRequest({ name: 'exec' }));
        await source.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: Date.now(), attempts: 1 });
        return record.id;
      };
      const iterator = source.exportState()[Symbol.asyncIterator]();
      const items: StateItem[] = [];
      const first = await iterator.next();
      assert.equal(first.done, false);
      items.push(first.value as StateItem);
      // Writes after the export started, each of several records at once, interleaved with its reading.
      for (;;) {
        const request = await running();
        await source.jobs.create(makeJob(cluster, { requestId: request }), makeSpec(), { request });
        const next = await iterator.next();
        if (next.done === true) break;
        items.push(next.value);
      }
      await source.clusters.delete(cluster.name);
      const feed = items.find((i) => i.type === 'feed');
      assert.ok(feed?.type === 'feed');
      const events = items.filter((i) => i.type === 'event');
      assert.ok(events.every((e) => e.seq <= feed.last), 'no feed entry beyond the exported position');
      assert.equal(events[events.length - 1]?.seq, feed.last, 'the feed ends at the exported position');
      const jobs = items.filter((i) => i.type === 'job' && i.record.cluster === cluster.name);
      assert.deepEqual(jobs, [], 'no job written after the export started is in it');
      const requests = items.filter((i) => i.type === 'request');
      assert.ok(requests.every((r) => r.record.job === undefined || r.record.job.cluster !== cluster.name), 'no request carries a job the export lacks');
      assert.ok(items.some((i) => i.type === 'cluster' && i.record.name === cluster.name), 'the cluster deleted after the export started is in it');
      const target = await h.fresh();
      assert.ok(supportsStateTransfer(target));
      await target.importState(replay(items));
      assert.deepEqual((await target.events.bounds()).last, feed.last);
    });
  });
}
