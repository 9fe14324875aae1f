import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceRecord, ServiceReplica, ServiceVersionSpec } from '@sky/protocol';
import type { ServiceEvent, StateStore, StoreChange, StoredEvent } from '../../store.js';
import { makeService, makeServiceVersionSpec } from '../fixtures.js';
import { rejectsWithCode, requireReopen, shuffled, type StoreHarness } from './harness.js';

type NewService = Omit<ServiceRecord, 'revision'>;
const CAP = 1000;

function replica(id: number, overrides: Partial<ServiceReplica> = {}): ServiceReplica {
  return { id, version: 1, status: 'READY', cluster: `svc-${id}`, endpoint: `http://10.0.0.${id}:8080`, jobId: 1, resources: '1x local(cpus=1)', launchedAt: 1_700_000_000_000, readySince: 1_700_000_001_000, failedProbes: 0, ...overrides };
}

/** A replica not serving yet: no endpoint, never READY. */
function starting(id: number, overrides: Partial<ServiceReplica> = {}): ServiceReplica {
  const { endpoint: _e, readySince: _r, ...rest } = replica(id, { status: 'STARTING', ...overrides });
  return rest;
}

/** A version spec of an open endpoint (no token). */
function openSpec(version: number): ServiceVersionSpec {
  const { token: _t, ...rest } = makeServiceVersionSpec({ version });
  return rest;
}

/** A service with every optional field set, replicas and non-ASCII text. */
function fullService(overrides: Partial<NewService> = {}): NewService {
  return makeService({
    name: 'llm-x',
    user: 'u-bob',
    userName: 'bøb',
    workspace: 'ml-team',
    status: 'READY',
    version: 2,
    activeVersion: 1,
    updateMode: 'blue_green',
    endpoint: 'http://127.0.0.1:30001',
    lbPort: 30001,
    lbReplica: 'replica-a',
    protected: true,
    replicaPolicy: { minReplicas: 1, maxReplicas: 4, targetQpsPerReplica: 2.5, upscaleDelaySeconds: 30, downscaleDelaySeconds: 60 },
    targetReplicas: 2,
    replicas: [replica(1), starting(2, { version: 2, failedProbes: 3, reason: 'probe: "connection refused"\nretrying' })],
    nextReplicaId: 3,
    reason: 'rolling to v2 ✨',
    ...overrides,
  });
}

function lines(from: number, count: number, prefix = 'line'): ServiceEvent[] {
  return Array.from({ length: count }, (_, i) => ({ at: 1_700_000_000_000 + from + i, text: `${prefix} ${from + i}` }));
}

function collect(store: StateStore): StoreChange[] {
  const changes: StoreChange[] = [];
  store.subscribe((change) => {
    if (change.kind === 'service') changes.push(change);
  });
  return changes;
}

async function create(store: StateStore, input: NewService = makeService()): Promise<ServiceRecord> {
  const { record, created } = await store.services.create(input, makeServiceVersionSpec());
  assert.ok(created);
  return record;
}

const change = (name: string, record: ServiceRecord | null): StoreChange => ({ kind: 'service', name, record });

export function describeServices(h: StoreHarness): void {
  describe('services: create, get, list', () => {
    it('stores a new service at revision 1 with the spec of its first version, and round-trips every field', async () => {
      const input = fullService();
      const spec = makeServiceVersionSpec({ version: 2, uploads: { workdir: `up-${'a'.repeat(64)}` } });
      const result = await h.store.services.create(input, spec);
      assert.deepEqual(result, { record: { ...input, revision: 1 }, created: true });
      assert.deepEqual(await h.store.services.get(input.name), result.record);
      assert.deepEqual(await h.store.services.getVersion(input.name, 2), spec);
      assert.equal(await h.store.services.getVersion(input.name, 1), undefined);
    });

    it('ignores a revision in the input', async () => {
      const sneaky = { ...makeService(), revision: 9 } as NewService;
      assert.equal((await create(h.store, sneaky)).revision, 1);
    });

    it('returns the existing service, storing nothing, when the name is taken; one of racing creates wins', async () => {
      const first = await create(h.store, makeService({ user: 'u-first' }));
      const changes = collect(h.store);
      const again = await h.store.services.create(makeService({ user: 'u-second' }), makeServiceVersionSpec({ token: 'other' }));
      assert.deepEqual(again, { record: first, created: false });
      assert.deepEqual((await h.store.services.getVersion('svc', 1))?.token, makeServiceVersionSpec().token);
      assert.deepEqual(changes, []);
      const racing = await Promise.all(Array.from({ length: 10 }, (_, i) => h.store.services.create(makeService({ name: 'race', user: `u-${i}` }), makeServiceVersionSpec())));
      assert.equal(racing.filter((r) => r.created).length, 1);
      const winner = racing.find((r) => r.created)?.record;
      for (const r of racing) assert.deepEqual(r.record, winner);
    });

    it('refuses a version spec without a version of 1 or more', async () => {
      for (const version of [0, -1, 1.5, Number.NaN]) {
        await rejectsWithCode(h.store.services.create(makeService({ name: 'bad' }), makeServiceVersionSpec({ version })), 'VALIDATION_FAILED');
      }
      assert.equal(await h.store.services.get('bad'), undefined);
    });

    it('lists by name, all or one owner\'s', async () => {
      for (const [i, name] of shuffled(['b-svc', 'a-svc', 'c-svc', 'a-svc2', 'z']).entries()) await create(h.store, makeService({ name, user: `u-${i % 2}` }));
      const all = await h.store.services.list();
      assert.deepEqual(
        all.map((s) => s.name),
        ['a-svc', 'a-svc2', 'b-svc', 'c-svc', 'z'],
      );
      assert.deepEqual(await h.store.services.list({}), all);
      assert.deepEqual(await h.store.services.list({ user: 'u-1' }), all.filter((s) => s.user === 'u-1'));
      assert.deepEqual(await h.store.services.list({ user: 'nobody' }), []);
      for (const s of all) assert.deepEqual(await h.store.services.get(s.name), s);
    });

    it('finds nothing for names and versions it never stored', async () => {
      await create(h.store);
      assert.equal(await h.store.services.get('other'), undefined);
      for (const version of [0, -1, 1.5, 2, Number.NaN]) assert.equal(await h.store.services.getVersion('svc', version), undefined, `version ${version}`);
      assert.equal(await h.store.services.getVersion('other', 1), undefined);
      assert.equal(await h.store.services.update('other', 1, { status: 'READY' }), undefined);
      assert.equal(await h.store.services.delete('other'), false);
      await h.store.services.appendEvents('other', lines(0, 1));
      assert.deepEqual(await h.store.services.events('other'), []);
      await h.store.services.putVersion('other', makeServiceVersionSpec());
      assert.equal(await h.store.services.getVersion('other', 1), undefined, 'no spec without its service');
    });

    it('shares no objects with the caller', async () => {
      const input = fullService();
      const spec = makeServiceVersionSpec();
      const { record } = await h.store.services.create(input, spec);
      input.replicas.length = 0;
      (spec.task as { name: string }).name = 'changed';
      record.replicas.length = 0;
      const stored = await h.store.services.get(input.name);
      assert.equal(stored?.replicas.length, 2);
      assert.deepEqual(await h.store.services.getVersion(input.name, 1), makeServiceVersionSpec());
      stored?.replicas.pop();
      (await h.store.services.list())[0]?.replicas.pop();
      const got = await h.store.services.getVersion(input.name, 1);
      (got?.task as { name: string }).name = 'changed';
      assert.equal((await h.store.services.get(input.name))?.replicas.length, 2);
      assert.deepEqual(await h.store.services.getVersion(input.name, 1), makeServiceVersionSpec());
    });

    it('keeps services, versions and logs across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const a = await create(h.store, fullService());
      const b = await create(h.store, makeService({ name: 'b' }));
      await h.store.services.putVersion(a.name, openSpec(2));
      await h.store.services.appendEvents(a.name, lines(0, 5));
      const store = await h.reopen();
      assert.deepEqual(await store.services.list(), [b, a]);
      assert.deepEqual(await store.services.getVersion(a.name, 2), openSpec(2));
      assert.deepEqual(await store.services.events(a.name), lines(0, 5));
      assert.equal(await store.services.update(a.name, 0, { status: 'FAILED' }), undefined);
      const next = await store.services.update(a.name, 1, { status: 'SHUTTING_DOWN' });
      assert.equal(next?.revision, 2);
      const again = await h.reopen();
      assert.deepEqual(await again.services.get(a.name), next);
      assert.equal((await again.services.create(makeService({ name: 'b' }), makeServiceVersionSpec())).created, false);
    });
  });

  describe('services: compare-and-set updates', () => {
    it('applies the patch at the expected revision and moves the revision up by one', async () => {
      const svc = await create(h.store);
      const replicas = [starting(1, { status: 'PROVISIONING' })];
      const next = await h.store.services.update(svc.name, 1, { status: 'REPLICA_INIT', replicas, nextReplicaId: 2, updatedAt: svc.updatedAt + 1 });
      assert.deepEqual(next, { ...svc, status: 'REPLICA_INIT', replicas, nextReplicaId: 2, updatedAt: svc.updatedAt + 1, revision: 2 });
      assert.deepEqual(await h.store.services.get(svc.name), next);
    });

    it('refuses a stale or future revision, changing nothing', async () => {
      const svc = await create(h.store);
      const next = await h.store.services.update(svc.name, 1, { status: 'READY' });
      assert.ok(next !== undefined);
      const changes = collect(h.store);
      for (const revision of [1, 3, 0, -1, 1.5]) assert.equal(await h.store.services.update(svc.name, revision, { status: 'FAILED' }), undefined, `revision ${revision}`);
      assert.deepEqual(await h.store.services.get(svc.name), next);
      assert.deepEqual(changes, []);
    });

    it('lets exactly one of racing updates from one revision win', async () => {
      const svc = await create(h.store);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => h.store.services.update(svc.name, 1, { targetReplicas: i + 1 })));
      const won = results.filter((r) => r !== undefined);
      assert.equal(won.length, 1);
      assert.deepEqual(await h.store.services.get(svc.name), won[0]);
    });

    it('never changes the fixed fields; undefined removes optional fields and leaves required ones', async () => {
      const svc = await create(h.store, fullService());
      const sneaky = { name: 'x', user: 'u-x', userName: 'x', workspace: 'x', createdAt: 1, requestId: 'r', revision: 99 } as never;
      const same = await h.store.services.update(svc.name, 1, sneaky);
      assert.deepEqual(same, { ...svc, revision: 2 });
      const cleared = await h.store.services.update(svc.name, 2, { endpoint: undefined, lbPort: undefined, lbReplica: undefined, reason: undefined, status: undefined, replicas: undefined });
      const { endpoint: _e, lbPort: _p, lbReplica: _r, reason: _why, ...rest } = svc;
      assert.deepEqual(cleared, { ...rest, revision: 3 });
      assert.deepEqual(await h.store.services.get(svc.name), cleared);
    });
  });

  describe('services: delete', () => {
    it('deletes the service with its versions and log; a new service of the name starts afresh', async () => {
      const svc = await create(h.store);
      const other = await create(h.store, makeService({ name: 'other' }));
      for (const version of [2, 3]) await h.store.services.putVersion(svc.name, makeServiceVersionSpec({ version }));
      await h.store.services.putVersion(other.name, makeServiceVersionSpec({ version: 2 }));
      await h.store.services.appendEvents(svc.name, lines(0, 3));
      await h.store.services.appendEvents(other.name, lines(0, 2));
      assert.equal(await h.store.services.delete(svc.name), true);
      assert.equal(await h.store.services.get(svc.name), undefined);
      for (const version of [1, 2, 3]) assert.equal(await h.store.services.getVersion(svc.name, version), undefined);
      assert.deepEqual(await h.store.services.events(svc.name), []);
      assert.deepEqual(await h.store.services.list(), [other]);
      assert.deepEqual(await h.store.services.getVersion(other.name, 2), makeServiceVersionSpec({ version: 2 }));
      assert.deepEqual(await h.store.services.events(other.name), lines(0, 2));
      assert.equal(await h.store.services.delete(svc.name), false);
      const again = await create(h.store);
      assert.equal(again.revision, 1);
      assert.equal(await h.store.services.getVersion(svc.name, 2), undefined);
      assert.deepEqual(await h.store.services.events(svc.name), []);
      await h.store.services.appendEvents(svc.name, lines(10, 1));
      assert.deepEqual(await h.store.services.events(svc.name), lines(10, 1));
    });

    it('deletes only at the expected revision when one is given', async () => {
      const svc = await create(h.store);
      await h.store.services.update(svc.name, 1, { status: 'SHUTTING_DOWN' });
      assert.equal(await h.store.services.delete(svc.name, 1), false);
      assert.equal((await h.store.services.get(svc.name))?.revision, 2);
      assert.equal(await h.store.services.delete(svc.name, 2), true);
    });

    it('deletes versions and log lines written in the same turn as the delete', async () => {
      await create(h.store);
      await Promise.all([
        h.store.services.putVersion('svc', makeServiceVersionSpec({ version: 2 })),
        h.store.services.appendEvents('svc', lines(0, 2)),
        h.store.services.delete('svc'),
        h.store.services.putVersion('svc', makeServiceVersionSpec({ version: 3 })),
      ]);
      assert.equal(await h.store.services.get('svc'), undefined);
      for (const version of [1, 2, 3]) assert.equal(await h.store.services.getVersion('svc', version), undefined);
      assert.deepEqual(await h.store.services.events('svc'), []);
    });

    it('stays deleted, versions and log with it, across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      await create(h.store);
      await h.store.services.appendEvents('svc', lines(0, 4));
      await h.store.services.putVersion('svc', makeServiceVersionSpec({ version: 2 }));
      assert.equal(await h.store.services.delete('svc'), true);
      const store = await h.reopen();
      assert.equal(await store.services.get('svc'), undefined);
      assert.equal(await store.services.getVersion('svc', 2), undefined);
      assert.deepEqual(await store.services.events('svc'), []);
      assert.equal((await store.services.create(makeService(), makeServiceVersionSpec())).created, true);
      assert.deepEqual(await store.services.events('svc'), []);
    });
  });

  describe('services: versions', () => {
    it('stores and replaces version specs, each read back as stored', async () => {
      await create(h.store);
      const two = makeServiceVersionSpec({ version: 2, token: 'second', task: { name: 'v2', run: 'serve 🚀' } });
      await h.store.services.putVersion('svc', two);
      assert.deepEqual(await h.store.services.getVersion('svc', 2), two);
      assert.deepEqual(await h.store.services.getVersion('svc', 1), makeServiceVersionSpec());
      const replaced = openSpec(2);
      await h.store.services.putVersion('svc', replaced);
      assert.deepEqual(await h.store.services.getVersion('svc', 2), replaced);
      await rejectsWithCode(h.store.services.putVersion('svc', makeServiceVersionSpec({ version: 0 })), 'VALIDATION_FAILED');
    });

    it('is not a change of the record', async () => {
      const svc = await create(h.store);
      const changes = collect(h.store);
      await h.store.services.putVersion('svc', makeServiceVersionSpec({ version: 2 }));
      await h.store.services.appendEvents('svc', lines(0, 1));
      assert.deepEqual(changes, []);
      assert.deepEqual(await h.store.services.get('svc'), svc);
    });
  });

  describe('services: controller log', () => {
    it('appends lines in order, each call in its own order, and reads them oldest first', async () => {
      await create(h.store);
      await h.store.services.appendEvents('svc', lines(0, 3));
      await h.store.services.appendEvents('svc', []);
      await h.store.services.appendEvents('svc', [{ at: 9, text: 'multi\nline "quoted" ✨' }]);
      assert.deepEqual(await h.store.services.events('svc'), [...lines(0, 3), { at: 9, text: 'multi\nline "quoted" ✨' }]);
      await Promise.all(Array.from({ length: 20 }, (_, i) => h.store.services.appendEvents('svc', lines(i * 2, 2, `call ${i}`))));
      const got = await h.store.services.events('svc');
      assert.equal(got.length, 44);
      for (let i = 0; i < 20; i++) {
        assert.deepEqual(
          got.filter((e) => e.text.startsWith(`call ${i} `)).map((e) => e.text),
          [`call ${i} ${i * 2}`, `call ${i} ${i * 2 + 1}`],
        );
      }
    });

    it('keeps the last 1,000 lines, also across a reopen', async (t) => {
      await create(h.store);
      let from = 0;
      for (const size of [400, 1, 650, 2500]) {
        await h.store.services.appendEvents('svc', lines(from, size));
        from += size;
        assert.deepEqual(await h.store.services.events('svc'), lines(Math.max(0, from - CAP), Math.min(from, CAP)), `after ${from} lines`);
      }
      if (!h.store.capabilities.durable) return;
      if (!requireReopen(h, t)) return;
      const store = await h.reopen();
      assert.deepEqual(await store.services.events('svc'), lines(from - CAP, CAP));
      await store.services.appendEvents('svc', lines(from, 3));
      assert.deepEqual(await store.services.events('svc'), lines(from + 3 - CAP, CAP));
    });

    it('stores only at and text, sharing nothing with the caller', async () => {
      await create(h.store);
      const input = [{ at: 1, text: 'one', extra: 'dropped' }] as unknown as ServiceEvent[];
      await h.store.services.appendEvents('svc', input);
      (input[0] as { text: string }).text = 'changed';
      const got = await h.store.services.events('svc');
      assert.deepEqual(got, [{ at: 1, text: 'one' }]);
      (got[0] as { text: string }).text = 'changed';
      assert.deepEqual(await h.store.services.events('svc'), [{ at: 1, text: 'one' }]);
    });
  });

  describe('services: change feed', () => {
    it('delivers creates, updates and deletes (null record) by the time each write resolves, in the persisted feed too', async () => {
      const changes = collect(h.store);
      const svc = await create(h.store);
      assert.equal(changes.length, 1);
      const next = await h.store.services.update('svc', 1, { status: 'READY', endpoint: 'http://x' });
      assert.equal(changes.length, 2);
      assert.ok(next !== undefined);
      await h.store.services.update('svc', 1, { status: 'FAILED' });
      assert.equal(await h.store.services.delete('svc'), true);
      assert.deepEqual(changes, [change('svc', svc), change('svc', next), change('svc', null)]);
      const stored: StoredEvent[] = await h.store.events.read(0, 100);
      assert.deepEqual(
        stored.filter((e) => e.change.kind === 'service').map((e) => e.change),
        [change('svc', svc), change('svc', next), change('svc', null)],
      );
    });

    it('lets a listener read the change from the store, and gives each listener its own copy', async () => {
      const reads: Array<Promise<[StoreChange, unknown]>> = [];
      h.store.subscribe((c) => {
        if (c.kind === 'service') reads.push(h.store.services.get(c.name).then((got) => [c, got ?? null]));
      });
      h.store.subscribe((c) => {
        if (c.kind === 'service' && c.record !== null) c.record.replicas.length = 0;
      });
      const svc = await create(h.store, fullService({ name: 'x' }));
      await h.store.services.update('x', 1, { status: 'SHUTTING_DOWN' });
      await h.store.services.delete('x');
      const settled = await Promise.all(reads);
      assert.equal(settled.length, 3);
      for (const [c, got] of settled) assert.deepEqual(got, c.record);
      assert.equal(svc.replicas.length, 2);
      assert.equal((settled[0]?.[0] as { record: ServiceRecord }).record.replicas.length, 2);
    });

    it('never carries a version spec or its token', async () => {
      const events: StoredEvent[] = [];
      const stop = h.store.events.subscribe((c, p) => events.push({ ...p, change: c }));
      await create(h.store, fullService({ name: 'p' }));
      await h.store.services.putVersion('p', makeServiceVersionSpec({ version: 2, token: 'second-t0k3n' }));
      await h.store.services.update('p', 1, { version: 2 });
      stop();
      const text = JSON.stringify([events, await h.store.events.read(0, 100)]);
      assert.ok(!text.includes('t0k3n') && !text.includes('hf_s3cr3t'), text);
    });
  });
}
