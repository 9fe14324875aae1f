import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterRecord, JobRecord } from '@sky/protocol';
import type { StateStore } from '../../store.js';
import { makeCluster, makeJob, makeSpec } from '../fixtures.js';
import { rejectsWithCode, requireReopen, shuffled, type StoreHarness } from './harness.js';

/** A cluster with every optional field set, nested driver state and non-ASCII text. */
export function fullCluster(overrides: Partial<Omit<ClusterRecord, 'version'>> = {}): Omit<ClusterRecord, 'version'> {
  return makeCluster({
    name: 'train-full',
    owner: 'u-bob',
    ownerName: 'bøb 🚀',
    workspace: 'ml-team',
    driver: 'ssh',
    infra: 'ssh/pool-a',
    status: 'INIT',
    statusReason: 'provisioning 2 nodes',
    numNodes: 2,
    nodes: [
      {
        id: 'head',
        rank: 0,
        address: '10.0.0.1',
        reach: { kind: 'ssh', host: '10.0.0.1', port: 2222, user: 'ubuntu', identityFile: '/keys/id', proxyJump: 'bastion' },
        resources: { cpus: 8, memoryGb: 32.5, accelerators: [{ name: 'A100', count: 8 }] },
      },
      {
        id: 'worker-1',
        rank: 1,
        address: '10.0.0.2',
        reach: { kind: 'local', root: '/var/lib/sky/nodes/w1' },
        resources: { cpus: 8, memoryGb: 32.5, accelerators: [] },
      },
    ],
    resources: '2x ssh(cpus=8, mem=32.5GB, A100:8)',
    driverState: { instances: ['i-1', 'i-2'], nested: { list: [1, null, 'x', { deep: true }] }, text: 'line 1\n"quoted"\t' },
    launchedAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_100,
    lastActiveAt: 1_700_000_000_200,
    lastCommand: 'python train.py --lr 3e-4',
    autostop: { idleMinutes: 30, down: true },
    ...overrides,
  });
}

/** Create a cluster that must not exist yet; returns the stored record. */
export async function createCluster(store: StateStore, input: Omit<ClusterRecord, 'version'> = makeCluster()): Promise<ClusterRecord> {
  const { record, created } = await store.clusters.create(input);
  assert.equal(created, true, `cluster ${input.name} already existed`);
  return record;
}

/** Names in the order list() must return them. */
function byName(names: readonly string[]): string[] {
  return [...names].sort();
}

/** Every trace of a cluster's jobs the store shows: records, specs and active entries. */
async function jobTraces(store: StateStore, cluster: string, ids: readonly number[]): Promise<unknown[]> {
  const traces: unknown[] = [];
  traces.push(...(await store.jobs.list(cluster)));
  for (const id of ids) {
    const job = await store.jobs.get(cluster, id);
    const spec = await store.jobs.getSpec(cluster, id);
    if (job !== undefined) traces.push(job);
    if (spec !== undefined) traces.push(spec);
  }
  traces.push(...(await store.jobs.listActive()).filter((j) => j.cluster === cluster));
  return traces;
}

/** Three jobs on the cluster: one PENDING, one RUNNING, one SUCCEEDED. */
async function seedJobs(store: StateStore, cluster: ClusterRecord): Promise<JobRecord[]> {
  const jobs: JobRecord[] = [];
  for (let i = 0; i < 3; i++) jobs.push(await store.jobs.create(makeJob(cluster, { command: `job ${i}` }), makeSpec({ run: `job ${i}` })));
  const [, second, third] = jobs;
  assert.ok(second !== undefined && third !== undefined);
  await store.jobs.transition(cluster.name, second.id, ['PENDING'], { status: 'RUNNING', startedAt: 1 });
  await store.jobs.transition(cluster.name, third.id, ['PENDING'], { status: 'RUNNING', startedAt: 1 });
  await store.jobs.transition(cluster.name, third.id, ['RUNNING'], { status: 'SUCCEEDED', endedAt: 2, exitCodes: [0] });
  return jobs;
}

export function describeClusters(h: StoreHarness): void {
  describe('clusters: create and get', () => {
    it('stores a new cluster at version 1 and round-trips every field', async () => {
      const input = fullCluster();
      const result = await h.store.clusters.create(structuredClone(input));
      assert.equal(result.created, true);
      assert.deepEqual(result.record, { ...input, version: 1 });
      assert.deepEqual(await h.store.clusters.get(input.name), { ...input, version: 1 });
    });

    it('round-trips a minimal cluster without adding fields', async () => {
      const input: Omit<ClusterRecord, 'version'> = makeCluster({ nodes: [] });
      delete input.driverState;
      const { record } = await h.store.clusters.create(structuredClone(input));
      const got = await h.store.clusters.get(input.name);
      assert.deepEqual(got, { ...input, version: 1 });
      assert.deepEqual(record, got);
      assert.deepEqual(Object.keys(got ?? {}).sort(), [...Object.keys(input), 'version'].sort());
    });

    it('ignores a version passed in the input', async () => {
      const input = { ...makeCluster(), version: 7 } as Omit<ClusterRecord, 'version'>;
      assert.equal((await h.store.clusters.create(input)).record.version, 1);
      assert.equal((await h.store.clusters.get(input.name))?.version, 1);
    });

    it('returns the existing cluster and stores nothing when the name is taken', async () => {
      const first = await createCluster(h.store, makeCluster({ name: 'taken', owner: 'u-alice' }));
      const again = await h.store.clusters.create(makeCluster({ name: 'taken', owner: 'u-bob', status: 'INIT' }));
      assert.equal(again.created, false);
      assert.deepEqual(again.record, first);
      assert.deepEqual(await h.store.clusters.get('taken'), first);
      assert.deepEqual(await h.store.clusters.list(), [first]);
    });

    it('creates exactly one of several racing creates of one name', async () => {
      const inputs = Array.from({ length: 20 }, (_, i) => makeCluster({ name: 'raced', owner: `u-${i}` }));
      const results = await Promise.all(inputs.map((c) => h.store.clusters.create(c)));
      const winners = results.filter((r) => r.created);
      assert.equal(winners.length, 1);
      const winner = winners[0]?.record;
      for (const r of results) assert.deepEqual(r.record, winner);
      assert.deepEqual(await h.store.clusters.get('raced'), winner);
    });

    it('returns undefined for an unknown name', async () => {
      assert.equal(await h.store.clusters.get('no-such-cluster'), undefined);
    });

    it('does not share objects with callers', async () => {
      const input = fullCluster();
      const expected = { ...structuredClone(input), version: 1 };
      const { record } = await h.store.clusters.create(input);
      input.nodes[0]!.resources.cpus = 999;
      (input.driverState as { instances: string[] }).instances.push('changed-input');
      record.nodes.pop();
      record.status = 'STOPPED';
      assert.deepEqual(await h.store.clusters.get(expected.name), expected);
      const got = await h.store.clusters.get(expected.name);
      got!.autostop!.idleMinutes = 1;
      const [listed] = await h.store.clusters.list();
      listed!.nodes[0]!.address = 'changed';
      assert.deepEqual(await h.store.clusters.get(expected.name), expected);
      assert.deepEqual(await h.store.clusters.list(), [expected]);
    });
  });

  describe('clusters: list', () => {
    it('returns nothing from an empty store', async () => {
      assert.deepEqual(await h.store.clusters.list(), []);
      assert.deepEqual(await h.store.clusters.list({ owner: 'u-alice' }), []);
    });

    it('lists every cluster ordered by name, whatever the creation order', async () => {
      const names = ['b', 'a-b', 'a', 'A', 'z9', 'z10', 'a.b', 'a_b', 'ab', 'm'];
      for (const name of shuffled(names)) await createCluster(h.store, makeCluster({ name }));
      assert.deepEqual((await h.store.clusters.list()).map((c) => c.name), byName(names));
    });

    it('reflects every create, update and delete in the next list()', async () => {
      const expected = new Map<string, ClusterRecord>();
      const check = async (): Promise<void> => {
        assert.deepEqual(await h.store.clusters.list(), byName([...expected.keys()]).map((name) => expected.get(name)));
        assert.deepEqual(await h.store.clusters.list({ owner: 'u-odd' }), byName([...expected.keys()]).map((name) => expected.get(name)).filter((c) => c?.owner === 'u-odd'));
      };
      await check();
      for (const [i, name] of shuffled(['k', 'c', 'x', 'a', 'q']).entries()) {
        expected.set(name, await createCluster(h.store, makeCluster({ name, owner: i % 2 ? 'u-odd' : 'u-even' })));
        await check();
      }
      expected.set('c', (await h.store.clusters.update('c', 1, { status: 'STOPPED' }))!);
      await check();
      await h.store.clusters.delete('x');
      expected.delete('x');
      await check();
      expected.set('x', await createCluster(h.store, makeCluster({ name: 'x', owner: 'u-odd' })));
      await check();
    });

    it('filters by owner, still ordered by name', async () => {
      const owned: Record<string, string[]> = { 'u-1': [], 'u-2': [] };
      for (let i = 0; i < 30; i++) {
        const owner = i % 3 === 0 ? 'u-2' : 'u-1';
        const name = `c-${(i * 7) % 30}`;
        owned[owner]!.push(name);
        await createCluster(h.store, makeCluster({ name, owner }));
      }
      assert.deepEqual((await h.store.clusters.list({ owner: 'u-1' })).map((c) => c.name), byName(owned['u-1']!));
      assert.deepEqual((await h.store.clusters.list({ owner: 'u-2' })).map((c) => c.name), byName(owned['u-2']!));
      assert.deepEqual(await h.store.clusters.list({ owner: 'u-nobody' }), []);
      assert.equal((await h.store.clusters.list({})).length, 30);
    });

    it('lands 1,000 concurrent creates and lists them all with their latest versions', async () => {
      const inputs = shuffled(Array.from({ length: 1000 }, (_, i) => makeCluster({ name: `bulk-${String(i).padStart(4, '0')}`, owner: `u-${i % 10}` })));
      const created = await Promise.all(inputs.map((c) => h.store.clusters.create(c)));
      assert.ok(created.every((r) => r.created));
      const updated = await Promise.all(created.filter((_, i) => i % 2 === 0).map((r) => h.store.clusters.update(r.record.name, 1, { status: 'STOPPED' })));
      assert.ok(updated.every((r) => r?.version === 2));
      const listed = await h.store.clusters.list();
      assert.deepEqual(listed.map((c) => c.name), byName(inputs.map((c) => c.name)));
      const stopped = new Set(updated.map((r) => r?.name));
      for (const c of listed) assert.equal(c.status, stopped.has(c.name) ? 'STOPPED' : 'UP', c.name);
      assert.equal((await h.store.clusters.list({ owner: 'u-3' })).length, 100);
    });
  });

  describe('clusters: update', () => {
    it('applies the patch at the expected version and moves the version up by one', async () => {
      const stored = await createCluster(h.store, fullCluster());
      const nodes = [{ ...stored.nodes[0]!, address: '10.0.0.9' }];
      const next = await h.store.clusters.update(stored.name, 1, {
        status: 'UP',
        nodes,
        numNodes: 1,
        updatedAt: 5,
        driverState: { moved: true },
      });
      const expected = { ...stored, status: 'UP' as const, nodes, numNodes: 1, updatedAt: 5, driverState: { moved: true }, version: 2 };
      assert.deepEqual(next, expected);
      assert.deepEqual(await h.store.clusters.get(stored.name), expected);
      const third = await h.store.clusters.update(stored.name, 2, { lastActiveAt: 9 });
      assert.deepEqual(third, { ...expected, lastActiveAt: 9, version: 3 });
    });

    it('leaves updatedAt as it was unless the patch sets it', async () => {
      const stored = await createCluster(h.store, makeCluster({ updatedAt: 42 }));
      assert.equal((await h.store.clusters.update(stored.name, 1, { status: 'STOPPED' }))?.updatedAt, 42);
      assert.equal((await h.store.clusters.update(stored.name, 2, { updatedAt: 43 }))?.updatedAt, 43);
    });

    it('refuses a stale or a future version and changes nothing', async () => {
      const stored = await createCluster(h.store);
      assert.ok(await h.store.clusters.update(stored.name, 1, { status: 'STOPPED' }));
      const current = await h.store.clusters.get(stored.name);
      assert.equal(await h.store.clusters.update(stored.name, 1, { status: 'UP' }), undefined);
      assert.equal(await h.store.clusters.update(stored.name, 3, { status: 'UP' }), undefined);
      assert.equal(await h.store.clusters.update(stored.name, 0, { status: 'UP' }), undefined);
      assert.deepEqual(await h.store.clusters.get(stored.name), current);
    });

    it('returns undefined for a missing cluster and creates nothing', async () => {
      assert.equal(await h.store.clusters.update('missing', 1, { status: 'UP' }), undefined);
      assert.equal(await h.store.clusters.get('missing'), undefined);
    });

    it('removes an optional field whose patch key is undefined, and ignores undefined for required ones', async () => {
      const stored = await createCluster(h.store, fullCluster());
      const next = await h.store.clusters.update(stored.name, 1, { autostop: undefined, statusReason: undefined, status: undefined });
      const expected: Record<string, unknown> = { ...stored, version: 2 };
      delete expected.autostop;
      delete expected.statusReason;
      assert.deepEqual(next, expected);
      assert.deepEqual(await h.store.clusters.get(stored.name), expected);
      assert.ok(!('autostop' in (next ?? {})), 'autostop is removed, not kept as undefined');
      assert.equal(next?.status, stored.status);
    });

    it('never changes the fixed fields, even when they are passed', async () => {
      const stored = await createCluster(h.store);
      const sneaky = { name: 'renamed', clusterId: 'other', owner: 'u-mallory', ownerName: 'mallory', workspace: 'x', launchedAt: 1, version: 99, status: 'STOPPED' };
      const next = await h.store.clusters.update(stored.name, 1, sneaky as never);
      assert.deepEqual(next, { ...stored, status: 'STOPPED', version: 2 });
      assert.equal(await h.store.clusters.get('renamed'), undefined);
      assert.deepEqual(await h.store.clusters.get(stored.name), next);
    });

    it('lets exactly one of many updates racing from one version win', async () => {
      const stored = await createCluster(h.store);
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => h.store.clusters.update(stored.name, 1, { lastCommand: `cmd ${i}`, lastActiveAt: i })),
      );
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.equal(winners[0]?.version, 2);
      assert.deepEqual(await h.store.clusters.get(stored.name), winners[0]);
    });

    it('serializes a chain of updates each reading the version the last one wrote', async () => {
      const stored = await createCluster(h.store);
      const bump = async (name: string): Promise<void> => {
        for (;;) {
          const current = await h.store.clusters.get(name);
          assert.ok(current);
          if (await h.store.clusters.update(name, current.version, { lastActiveAt: current.lastActiveAt + 1 })) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, () => bump(stored.name)));
      const final = await h.store.clusters.get(stored.name);
      assert.equal(final?.version, 21);
      assert.equal(final?.lastActiveAt, stored.lastActiveAt + 20);
    });

    it('does not share patch objects with the caller', async () => {
      const stored = await createCluster(h.store);
      const autostop = { idleMinutes: 10, down: false };
      const next = await h.store.clusters.update(stored.name, 1, { autostop });
      autostop.idleMinutes = 99;
      next!.autostop!.down = true;
      assert.deepEqual((await h.store.clusters.get(stored.name))?.autostop, { idleMinutes: 10, down: false });
    });
  });

  describe('clusters: change owner', () => {
    it('gives the cluster to another user at the expected version, like an update, and keeps its jobs', async () => {
      const stored = await createCluster(h.store, fullCluster({ name: 'handover', owner: 'u-alice', ownerName: 'alice' }));
      const jobs = await seedJobs(h.store, stored);
      const changes: unknown[] = [];
      const off = h.store.subscribe((c) => changes.push(c));
      const next = await h.store.clusters.changeOwner('handover', stored.version, { id: 'u-bob', name: 'bob' }, 1_800_000_000_000);
      off();
      assert.deepEqual(next, { ...stored, owner: 'u-bob', ownerName: 'bob', updatedAt: 1_800_000_000_000, version: stored.version + 1 });
      assert.deepEqual(await h.store.clusters.get('handover'), next);
      assert.deepEqual(changes, [{ kind: 'cluster', name: 'handover', record: next }]);
      assert.deepEqual((await h.store.clusters.list({ owner: 'u-bob' })).map((c) => c.name), ['handover']);
      assert.deepEqual(await h.store.clusters.list({ owner: 'u-alice' }), []);
      assert.deepEqual((await h.store.jobs.list('handover')).map((j) => j.user).sort(), jobs.map((j) => j.user).sort(), 'jobs keep their users');
    });

    it('refuses a stale version or a missing cluster and changes nothing', async () => {
      const stored = await createCluster(h.store, makeCluster({ name: 'kept', owner: 'u-alice', ownerName: 'alice' }));
      await h.store.clusters.update('kept', 1, { status: 'STOPPED' });
      assert.equal(await h.store.clusters.changeOwner('kept', 1, { id: 'u-bob', name: 'bob' }, 5), undefined);
      assert.equal(await h.store.clusters.changeOwner('nope', 1, { id: 'u-bob', name: 'bob' }, 5), undefined);
      const now = await h.store.clusters.get('kept');
      assert.deepEqual([now?.owner, now?.ownerName, now?.version], [stored.owner, stored.ownerName, 2]);
    });

    it('keeps the new owner across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const stored = await createCluster(h.store, makeCluster({ name: 'moved', owner: 'u-alice', ownerName: 'alice' }));
      const next = await h.store.clusters.changeOwner('moved', stored.version, { id: 'u-carol', name: 'carol' }, 9);
      const store = await h.reopen();
      assert.deepEqual(await store.clusters.get('moved'), next);
      assert.deepEqual((await store.clusters.list({ owner: 'u-carol' })).map((c) => c.name), ['moved']);
    });
  });

  describe('clusters: delete', () => {
    it('deletes a cluster once', async () => {
      const stored = await createCluster(h.store);
      const other = await createCluster(h.store);
      assert.equal(await h.store.clusters.delete(stored.name), true);
      assert.equal(await h.store.clusters.get(stored.name), undefined);
      assert.deepEqual(await h.store.clusters.list(), [other]);
      assert.equal(await h.store.clusters.delete(stored.name), false);
      assert.equal(await h.store.clusters.delete('never-existed'), false);
    });

    it('deletes only at the expected version when one is given', async () => {
      const stored = await createCluster(h.store);
      await h.store.clusters.update(stored.name, 1, { status: 'STOPPED' });
      assert.equal(await h.store.clusters.delete(stored.name, 1), false);
      assert.equal((await h.store.clusters.get(stored.name))?.version, 2);
      assert.equal(await h.store.clusters.delete(stored.name, 2), true);
      assert.equal(await h.store.clusters.get(stored.name), undefined);
    });

    it('lets exactly one of a delete and an update racing from one version win', async () => {
      const stored = await createCluster(h.store);
      const [deleted, updated] = await Promise.all([
        h.store.clusters.delete(stored.name, 1),
        h.store.clusters.update(stored.name, 1, { status: 'STOPPED' }),
      ]);
      assert.equal(Number(deleted) + Number(updated !== undefined), 1);
      assert.deepEqual(await h.store.clusters.get(stored.name), deleted ? undefined : updated);
    });

    it("deletes the cluster's jobs and their specs with it, and nothing of other clusters", async () => {
      const doomed = await createCluster(h.store);
      const kept = await createCluster(h.store);
      await seedJobs(h.store, doomed);
      const keptJobs = await seedJobs(h.store, kept);
      assert.equal(await h.store.clusters.delete(doomed.name), true);
      assert.deepEqual(await jobTraces(h.store, doomed.name, [1, 2, 3]), []);
      assert.equal((await h.store.jobs.list(kept.name)).length, 3);
      assert.deepEqual((await h.store.jobs.listActive()).map((j) => [j.cluster, j.id]), [
        [kept.name, keptJobs[0]!.id],
        [kept.name, keptJobs[1]!.id],
      ]);
      assert.ok(await h.store.jobs.getSpec(kept.name, keptJobs[0]!.id));
    });

    it('leaves the jobs of clusters whose names start with the deleted name alone', async () => {
      const names = ['a', 'a-b', 'ab', 'a!b', 'a.b', 'a0', 'a ', 'b'];
      const clusters = new Map<string, ClusterRecord>();
      for (const name of names) {
        const cluster = await createCluster(h.store, makeCluster({ name }));
        clusters.set(name, cluster);
        for (let i = 0; i < 11; i++) await h.store.jobs.create(makeJob(cluster), makeSpec());
      }
      assert.equal(await h.store.clusters.delete('a'), true);
      assert.deepEqual(await jobTraces(h.store, 'a', [1, 2, 11]), []);
      for (const name of names.filter((n) => n !== 'a')) {
        assert.equal((await h.store.jobs.list(name)).length, 11, name);
        assert.ok(await h.store.jobs.getSpec(name, 11), name);
        assert.equal((await h.store.jobs.listActive()).filter((j) => j.cluster === name).length, 11, name);
      }
      assert.equal((await h.store.jobs.create(makeJob(clusters.get('a-b')!), makeSpec())).id, 12);
    });

    it('starts a re-created cluster at job 1 with none of the old jobs', async () => {
      const old = await createCluster(h.store, makeCluster({ name: 'again' }));
      await seedJobs(h.store, old);
      assert.equal(await h.store.clusters.delete('again'), true);
      const fresh = await createCluster(h.store, makeCluster({ name: 'again' }));
      assert.notEqual(fresh.clusterId, old.clusterId);
      assert.deepEqual(await jobTraces(h.store, 'again', [1, 2, 3]), []);
      const job = await h.store.jobs.create(makeJob(fresh, { command: 'new' }), makeSpec({ run: 'new' }));
      assert.equal(job.id, 1);
      assert.equal(job.clusterId, fresh.clusterId);
      assert.deepEqual(await h.store.jobs.list('again'), [job]);
      assert.deepEqual(await h.store.jobs.listActive(), [job]);
      assert.equal((await h.store.jobs.getSpec('again', 1))?.run, 'new');
      assert.equal(await h.store.jobs.get('again', 2), undefined);
      await rejectsWithCode(h.store.jobs.create(makeJob(old), makeSpec()), 'VALIDATION_FAILED');
    });

    it('leaves no job behind when job creates race with the delete', async () => {
      const cluster = await createCluster(h.store, makeCluster({ name: 'racy' }));
      const creates = (n: number): Array<Promise<JobRecord | Error>> =>
        Array.from({ length: n }, () => h.store.jobs.create(makeJob(cluster), makeSpec()).catch((err: Error) => err));
      const before = creates(10);
      const deleted = h.store.clusters.delete('racy');
      const after = creates(10);
      assert.equal(await deleted, true);
      const outcomes = await Promise.all([...before, ...after]);
      for (const outcome of outcomes) {
        if (outcome instanceof Error) assert.equal((outcome as { code?: string }).code, 'VALIDATION_FAILED');
      }
      assert.deepEqual(await jobTraces(h.store, 'racy', Array.from({ length: 20 }, (_, i) => i + 1)), []);
      const fresh = await createCluster(h.store, makeCluster({ name: 'racy' }));
      assert.equal((await h.store.jobs.create(makeJob(fresh), makeSpec())).id, 1);
    });
  });

  describe('clusters: durability', () => {
    it('has every created cluster durable once create resolves', async (t) => {
      if (!requireReopen(h, t)) return;
      const inputs = [fullCluster(), makeCluster(), makeCluster({ status: 'STOPPED' })];
      const stored = (await Promise.all(inputs.map((c) => h.store.clusters.create(c)))).map((r) => r.record);
      const store = await h.reopen();
      assert.deepEqual(await store.clusters.list(), [...stored].sort((a, b) => (a.name < b.name ? -1 : 1)));
    });

    it('keeps updates and deletes across a reopen, and compare-and-set goes on from there', async (t) => {
      if (!requireReopen(h, t)) return;
      const a = await createCluster(h.store, makeCluster({ name: 'd-a' }));
      await createCluster(h.store, makeCluster({ name: 'd-b' }));
      await h.store.clusters.update('d-a', 1, { status: 'STOPPED', autostop: { idleMinutes: 5, down: true } });
      const a3 = await h.store.clusters.update('d-a', 2, { autostop: undefined });
      await h.store.clusters.delete('d-b');
      const store = await h.reopen();
      assert.deepEqual(await store.clusters.list(), [a3]);
      assert.equal(a3?.version, 3);
      assert.ok(!('autostop' in (a3 ?? {})));
      assert.equal(await store.clusters.update('d-a', 2, { status: 'UP' }), undefined);
      assert.equal((await store.clusters.update('d-a', 3, { status: 'UP' }))?.version, 4);
      assert.equal((await store.clusters.create(makeCluster({ name: 'd-a' }))).created, false);
      assert.equal((await store.clusters.create(makeCluster({ name: 'd-b' }))).created, true);
      assert.equal(a.clusterId, (await store.clusters.get('d-a'))?.clusterId);
    });

    it('keeps a deleted incarnation gone across a reopen: ids start again at 1', async (t) => {
      if (!requireReopen(h, t)) return;
      const old = await createCluster(h.store, makeCluster({ name: 'phoenix' }));
      await seedJobs(h.store, old);
      await h.store.clusters.delete('phoenix');
      let store = await h.reopen();
      assert.deepEqual(await jobTraces(store, 'phoenix', [1, 2, 3]), []);
      const fresh = await createCluster(store, makeCluster({ name: 'phoenix' }));
      store = await h.reopen();
      assert.deepEqual(await jobTraces(store, 'phoenix', [1, 2, 3]), []);
      assert.equal((await store.jobs.create(makeJob(fresh), makeSpec())).id, 1);
    });
  });
}
