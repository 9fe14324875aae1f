import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterRecord, JobRecord, JobSpec, JobStatus } from '@sky/protocol';
import type { StateStore } from '../../store.js';
import { makeCluster, makeJob, makeSpec } from '../fixtures.js';
import { createCluster } from './clusters.js';
import { rejectsWithCode, requireReopen, shuffled, type StoreHarness } from './harness.js';

const N = 200;
const TERMINAL: readonly JobStatus[] = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'];

/** A spec with every field set. */
function fullSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  return makeSpec({
    setup: 'pip install -r requirements.txt\necho "set up"',
    run: 'python train.py --epochs 3',
    envs: { EPOCHS: '3', EMPTY: '', 'WITH=EQUALS': 'a=b' },
    secrets: { HF_TOKEN: 'hf_abc', WANDB_KEY: 'wandb 🔑' },
    workdir: '/home/alice/project',
    fileMounts: { '/data': '/mnt/data', '~/cfg.yaml': './cfg.yaml' },
    ...overrides,
  });
}

/** Ids 1..n. */
function upTo(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

async function ids(store: StateStore, cluster: string, status?: readonly JobStatus[]): Promise<number[]> {
  return (await store.jobs.list(cluster, status === undefined ? undefined : { status })).map((j) => j.id);
}

export function describeJobs(h: StoreHarness): void {
  describe('jobs: create and get', () => {
    it('assigns ids 1, 2, 3, ... per cluster', async () => {
      const a = await createCluster(h.store);
      const b = await createCluster(h.store);
      const order = [a, b, a, a, b, a];
      const created: Array<[string, number]> = [];
      for (const cluster of order) created.push([cluster.name, (await h.store.jobs.create(makeJob(cluster), makeSpec())).id]);
      assert.deepEqual(created, [
        [a.name, 1],
        [b.name, 1],
        [a.name, 2],
        [a.name, 3],
        [b.name, 2],
        [a.name, 4],
      ]);
    });

    it('round-trips every field of a job and of its spec', async () => {
      const cluster = await createCluster(h.store);
      const input = makeJob(cluster, {
        name: 'train ✨',
        user: 'u-bob',
        userName: 'bøb',
        status: 'RUNNING',
        submittedAt: 1_700_000_000_000,
        startedAt: 1_700_000_000_500,
        numNodes: 2,
        demand: { cpus: 4, memoryGb: 7.5, accelerators: [{ name: 'H100', count: 8 }] },
        command: 'python train.py',
        exitCodes: [0, null],
        reason: 'why not',
        requestId: 'req-123',
      });
      const spec = fullSpec();
      const job = await h.store.jobs.create(structuredClone(input), structuredClone(spec));
      assert.deepEqual(job, { ...input, id: 1 });
      assert.deepEqual(await h.store.jobs.get(cluster.name, 1), job);
      assert.deepEqual(await h.store.jobs.getSpec(cluster.name, 1), spec);
    });

    it('round-trips a minimal job and spec without adding fields', async () => {
      const cluster = await createCluster(h.store);
      const input: Omit<JobRecord, 'id'> = makeJob(cluster);
      delete input.command;
      const spec: JobSpec = { envs: {}, secrets: {}, fileMounts: {} };
      await h.store.jobs.create(structuredClone(input), structuredClone(spec));
      const got = await h.store.jobs.get(cluster.name, 1);
      assert.deepEqual(got, { ...input, id: 1 });
      assert.deepEqual(Object.keys(got ?? {}).sort(), [...Object.keys(input), 'id'].sort());
      assert.deepEqual(await h.store.jobs.getSpec(cluster.name, 1), spec);
    });

    it('ignores an id passed in the input', async () => {
      const cluster = await createCluster(h.store);
      const job = await h.store.jobs.create({ ...makeJob(cluster), id: 99 } as Omit<JobRecord, 'id'>, makeSpec());
      assert.equal(job.id, 1);
      assert.equal(await h.store.jobs.get(cluster.name, 99), undefined);
      assert.equal((await h.store.jobs.create(makeJob(cluster), makeSpec())).id, 2);
    });

    it('refuses a job for a missing cluster, storing nothing', async () => {
      const ghost = makeCluster({ name: 'ghost' });
      await rejectsWithCode(h.store.jobs.create(makeJob(ghost), makeSpec()), 'VALIDATION_FAILED');
      assert.deepEqual(await h.store.jobs.list('ghost'), []);
      assert.deepEqual(await h.store.jobs.listActive(), []);
      assert.equal(await h.store.clusters.get('ghost'), undefined);
      const real = await createCluster(h.store, ghost);
      assert.equal((await h.store.jobs.create(makeJob(real), makeSpec())).id, 1);
    });

    it('refuses a job for an earlier incarnation of the cluster', async () => {
      const first = await createCluster(h.store, makeCluster({ name: 'reborn' }));
      await h.store.clusters.delete('reborn');
      const second = await createCluster(h.store, makeCluster({ name: 'reborn' }));
      await rejectsWithCode(h.store.jobs.create(makeJob(first), makeSpec()), 'VALIDATION_FAILED');
      assert.deepEqual(await h.store.jobs.list('reborn'), []);
      assert.equal((await h.store.jobs.create(makeJob(second), makeSpec())).id, 1);
    });

    it('returns undefined for an unknown cluster or id', async () => {
      const cluster = await createCluster(h.store);
      await h.store.jobs.create(makeJob(cluster), makeSpec());
      for (const [name, id] of [
        ['no-such-cluster', 1],
        [cluster.name, 2],
        [cluster.name, 0],
        [cluster.name, -1],
        [cluster.name, 1.5],
        [cluster.name, Number.NaN],
      ] as const) {
        assert.equal(await h.store.jobs.get(name, id), undefined, `get(${name}, ${id})`);
        assert.equal(await h.store.jobs.getSpec(name, id), undefined, `getSpec(${name}, ${id})`);
        assert.equal(await h.store.jobs.transition(name, id, ['PENDING'], { status: 'RUNNING' }), undefined);
      }
      assert.deepEqual(await h.store.jobs.list('no-such-cluster'), []);
    });

    it('keeps no spec for a job created already ended', async () => {
      const cluster = await createCluster(h.store);
      for (const status of TERMINAL) {
        const job = await h.store.jobs.create(makeJob(cluster, { status, endedAt: 1 }), fullSpec());
        assert.equal(job.status, status);
        assert.equal(await h.store.jobs.getSpec(cluster.name, job.id), undefined, status);
      }
      assert.deepEqual(await h.store.jobs.listActive(), []);
    });

    it('does not share objects with callers', async () => {
      const cluster = await createCluster(h.store);
      const input = makeJob(cluster, { exitCodes: [1] });
      const spec = fullSpec();
      const expectedJob = { ...structuredClone(input), id: 1 };
      const expectedSpec = structuredClone(spec);
      const job = await h.store.jobs.create(input, spec);
      input.demand.cpus = 99;
      input.exitCodes!.push(2);
      spec.secrets.HF_TOKEN = 'leaked';
      spec.envs.NEW = 'x';
      job.demand.accelerators.push({ name: 'x', count: 1 });
      job.status = 'FAILED';
      const got = await h.store.jobs.get(cluster.name, 1);
      got!.exitCodes![0] = 7;
      (await h.store.jobs.getSpec(cluster.name, 1))!.secrets.HF_TOKEN = 'changed';
      (await h.store.jobs.list(cluster.name))[0]!.command = 'changed';
      (await h.store.jobs.listActive())[0]!.user = 'changed';
      assert.deepEqual(await h.store.jobs.get(cluster.name, 1), expectedJob);
      assert.deepEqual(await h.store.jobs.getSpec(cluster.name, 1), expectedSpec);
      assert.deepEqual(await h.store.jobs.listActive(), [expectedJob]);
    });
  });

  describe('jobs: list', () => {
    it("lists a cluster's jobs newest first, in numeric order past 9", async () => {
      const cluster = await createCluster(h.store);
      for (let i = 0; i < 12; i++) await h.store.jobs.create(makeJob(cluster), makeSpec());
      assert.deepEqual(await ids(h.store, cluster.name), upTo(12).reverse());
    });

    it('lists oldest first and at most `limit`, for active and for ended statuses alike', async () => {
      const cluster = await createCluster(h.store);
      const other = await createCluster(h.store);
      for (let i = 0; i < 7; i++) await h.store.jobs.create(makeJob(cluster), makeSpec());
      await h.store.jobs.create(makeJob(other), makeSpec());
      await h.store.jobs.transition(cluster.name, 2, ['PENDING'], { status: 'RUNNING' });
      await h.store.jobs.transition(cluster.name, 3, ['PENDING'], { status: 'SUCCEEDED' });
      await h.store.jobs.transition(cluster.name, 6, ['PENDING'], { status: 'FAILED' });
      const list = async (filter: Parameters<StateStore['jobs']['list']>[1]): Promise<number[]> => (await h.store.jobs.list(cluster.name, filter)).map((j) => j.id);
      assert.deepEqual(await list({ status: ['PENDING'], oldestFirst: true }), [1, 4, 5, 7]);
      assert.deepEqual(await list({ status: ['PENDING'], oldestFirst: true, limit: 2 }), [1, 4]);
      assert.deepEqual(await list({ status: ['PENDING', 'RUNNING'], limit: 3 }), [7, 5, 4]);
      assert.deepEqual(await list({ status: ['SUCCEEDED', 'FAILED'], oldestFirst: true, limit: 1 }), [3]);
      assert.deepEqual(await list({ oldestFirst: true, limit: 3 }), [1, 2, 3]);
      assert.deepEqual(await list({ limit: 2 }), [7, 6]);
      assert.deepEqual(await list({ status: ['PENDING'], limit: 10 }), [7, 5, 4, 1], 'a limit above the count gives every job');
      (await h.store.jobs.list(cluster.name, { status: ['PENDING'], oldestFirst: true, limit: 1 }))[0]!.command = 'changed';
      assert.notEqual((await h.store.jobs.get(cluster.name, 1))!.command, 'changed', 'listed records are copies');
    });

    it('filters by status; an empty status list means every status', async () => {
      const cluster = await createCluster(h.store);
      for (let i = 0; i < 6; i++) await h.store.jobs.create(makeJob(cluster), makeSpec());
      await h.store.jobs.transition(cluster.name, 2, ['PENDING'], { status: 'RUNNING' });
      await h.store.jobs.transition(cluster.name, 3, ['PENDING'], { status: 'SUCCEEDED' });
      await h.store.jobs.transition(cluster.name, 5, ['PENDING'], { status: 'RUNNING' });
      await h.store.jobs.transition(cluster.name, 6, ['PENDING'], { status: 'CANCELLED' });
      assert.deepEqual(await ids(h.store, cluster.name, ['RUNNING']), [5, 2]);
      assert.deepEqual(await ids(h.store, cluster.name, ['PENDING', 'RUNNING']), [5, 4, 2, 1]);
      assert.deepEqual(await ids(h.store, cluster.name, ['SUCCEEDED', 'CANCELLED']), [6, 3]);
      assert.deepEqual(await ids(h.store, cluster.name, ['FAILED']), []);
      assert.deepEqual(await ids(h.store, cluster.name, []), [6, 5, 4, 3, 2, 1]);
      const running = await h.store.jobs.list(cluster.name, { status: ['RUNNING'] });
      assert.ok(running.every((j) => j.status === 'RUNNING'));
    });

    it('lists active jobs across clusters oldest first: submittedAt, then cluster, then id', async () => {
      const b = await createCluster(h.store, makeCluster({ name: 'b' }));
      const a = await createCluster(h.store, makeCluster({ name: 'a' }));
      const plan: Array<[ClusterRecord, number]> = [
        [b, 30],
        [a, 20],
        [b, 10],
        [a, 20],
        [b, 20],
        [a, 5],
        [b, 40],
      ];
      const jobs: JobRecord[] = [];
      for (const [cluster, submittedAt] of plan) jobs.push(await h.store.jobs.create(makeJob(cluster, { submittedAt }), makeSpec()));
      // b#2 (submitted 10) ends; a#1 moves on but stays active.
      await h.store.jobs.transition('b', 2, ['PENDING'], { status: 'FAILED', endedAt: 50 });
      await h.store.jobs.transition('a', 1, ['PENDING'], { status: 'SETTING_UP' });
      const active = (await h.store.jobs.listActive()).map((j) => `${j.cluster}#${j.id}@${j.submittedAt}`);
      assert.deepEqual(active, ['a#3@5', 'a#1@20', 'a#2@20', 'b#3@20', 'b#1@30', 'b#4@40']);
      assert.equal((await h.store.jobs.listActive()).find((j) => j.cluster === 'a' && j.id === 1)?.status, 'SETTING_UP');
    });
  });

  describe('jobs: transition', () => {
    it('moves a job and sets the patched fields only', async () => {
      const cluster = await createCluster(h.store);
      const job = await h.store.jobs.create(makeJob(cluster, { reason: 'queued' }), makeSpec());
      const setting = await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'SETTING_UP', startedAt: 10 });
      assert.deepEqual(setting, { ...job, status: 'SETTING_UP', startedAt: 10 });
      const done = await h.store.jobs.transition(cluster.name, job.id, ['SETTING_UP'], {
        status: 'FAILED_SETUP',
        endedAt: 20,
        exitCodes: [1, null],
        reason: 'setup exited 1',
      });
      const expected = { ...job, status: 'FAILED_SETUP' as const, startedAt: 10, endedAt: 20, exitCodes: [1, null], reason: 'setup exited 1' };
      assert.deepEqual(done, expected);
      assert.deepEqual(await h.store.jobs.get(cluster.name, job.id), expected);
    });

    it('returns undefined and changes nothing from a wrong status', async () => {
      const cluster = await createCluster(h.store);
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      assert.equal(await h.store.jobs.transition(cluster.name, job.id, ['RUNNING'], { status: 'SUCCEEDED' }), undefined);
      assert.equal(await h.store.jobs.transition(cluster.name, job.id, [], { status: 'RUNNING' }), undefined);
      assert.deepEqual(await h.store.jobs.get(cluster.name, job.id), job);
      assert.deepEqual(await h.store.jobs.getSpec(cluster.name, job.id), makeSpec());
    });

    it('accepts any of several from-statuses', async () => {
      const cluster = await createCluster(h.store);
      const job = await h.store.jobs.create(makeJob(cluster, { status: 'RUNNING' }), makeSpec());
      const cancelled = await h.store.jobs.transition(cluster.name, job.id, ['PENDING', 'SETTING_UP', 'RUNNING'], { status: 'CANCELLED' });
      assert.equal(cancelled?.status, 'CANCELLED');
    });

    it('lets exactly one of many racing transitions win', async () => {
      const cluster = await createCluster(h.store);
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          h.store.jobs.transition(cluster.name, job.id, ['PENDING'], i % 2 ? { status: 'CANCELLED', endedAt: i } : { status: 'SETTING_UP', startedAt: i }),
        ),
      );
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.deepEqual(await h.store.jobs.get(cluster.name, job.id), winners[0]);
      const spec = await h.store.jobs.getSpec(cluster.name, job.id);
      assert.equal(spec === undefined, winners[0]?.status === 'CANCELLED', 'the spec is dropped exactly when the winner ended the job');
    });

    for (const end of TERMINAL) {
      it(`keeps the spec while the job runs and drops it when it ends ${end}`, async () => {
        const cluster = await createCluster(h.store);
        const job = await h.store.jobs.create(makeJob(cluster), fullSpec());
        for (const [from, to] of [
          ['PENDING', 'SETTING_UP'],
          ['SETTING_UP', 'RUNNING'],
        ] as const) {
          assert.ok(await h.store.jobs.transition(cluster.name, job.id, [from], { status: to }));
          assert.deepEqual(await h.store.jobs.getSpec(cluster.name, job.id), fullSpec(), `spec after ${to}`);
          assert.deepEqual((await h.store.jobs.listActive()).map((j) => j.status), [to]);
        }
        assert.equal((await h.store.jobs.transition(cluster.name, job.id, ['RUNNING'], { status: end, endedAt: 5 }))?.status, end);
        assert.equal(await h.store.jobs.getSpec(cluster.name, job.id), undefined);
        assert.deepEqual(await h.store.jobs.listActive(), []);
        assert.equal((await h.store.jobs.get(cluster.name, job.id))?.status, end);
      });
    }

    it('moves an ended job only when `from` names its status, without bringing its spec back', async () => {
      const cluster = await createCluster(h.store);
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'FAILED', endedAt: 1 });
      assert.equal(await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'RUNNING' }), undefined);
      const again = await h.store.jobs.transition(cluster.name, job.id, ['FAILED'], { status: 'PENDING' });
      assert.equal(again?.status, 'PENDING');
      assert.deepEqual((await h.store.jobs.listActive()).map((j) => j.id), [job.id]);
      assert.equal(await h.store.jobs.getSpec(cluster.name, job.id), undefined);
    });
  });

  describe('jobs: concurrency', () => {
    it(`gives ${N} concurrent creates on one cluster the ids 1..${N}, each exactly once`, async (t) => {
      const cluster = await createCluster(h.store);
      const created = await Promise.all(
        Array.from({ length: N }, (_, i) => h.store.jobs.create(makeJob(cluster, { command: `run ${i}` }), makeSpec({ run: `run ${i}` }))),
      );
      const check = async (store: StateStore): Promise<void> => {
        assert.deepEqual(created.map((j) => j.id).sort((a, b) => a - b), upTo(N));
        assert.deepEqual(await ids(store, cluster.name), upTo(N).reverse());
        assert.equal((await store.jobs.listActive()).length, N);
        for (const job of created) {
          assert.deepEqual(await store.jobs.get(cluster.name, job.id), job);
          assert.equal((await store.jobs.getSpec(cluster.name, job.id))?.run, job.command, `job ${job.id} has its own spec`);
        }
      };
      await check(h.store);
      if (h.store.capabilities.durable && requireReopen(h, t)) {
        const store = await h.reopen();
        await check(store);
        assert.equal((await store.jobs.create(makeJob(cluster), makeSpec())).id, N + 1);
      }
    });

    it('counts every cluster on its own under concurrent creates', async () => {
      const clusters = await Promise.all(Array.from({ length: 5 }, () => createCluster(h.store)));
      const work = shuffled(clusters.flatMap((c) => Array.from({ length: 40 }, () => c)));
      const created = await Promise.all(work.map((c) => h.store.jobs.create(makeJob(c), makeSpec())));
      for (const c of clusters) {
        assert.deepEqual(created.filter((j) => j.cluster === c.name).map((j) => j.id).sort((a, b) => a - b), upTo(40));
        assert.deepEqual(await ids(h.store, c.name), upTo(40).reverse());
      }
    });

    it(`leaves no spec behind after ${N} concurrent create, run and end chains`, async (t) => {
      const cluster = await createCluster(h.store);
      await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const job = await h.store.jobs.create(makeJob(cluster), fullSpec({ run: `run ${i}` }));
          assert.ok(await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'SETTING_UP', startedAt: i }));
          assert.equal((await h.store.jobs.getSpec(cluster.name, job.id))?.run, `run ${i}`);
          assert.ok(await h.store.jobs.transition(cluster.name, job.id, ['SETTING_UP'], { status: 'RUNNING' }));
          const end = TERMINAL[i % TERMINAL.length]!;
          assert.ok(await h.store.jobs.transition(cluster.name, job.id, ['RUNNING'], { status: end, endedAt: i + 1, exitCodes: [i % 2] }));
        }),
      );
      const check = async (store: StateStore): Promise<void> => {
        assert.deepEqual(await store.jobs.listActive(), []);
        const jobs = await store.jobs.list(cluster.name);
        assert.equal(jobs.length, N);
        for (const job of jobs) {
          assert.ok(TERMINAL.includes(job.status), `job ${job.id} is ${job.status}`);
          assert.equal(await store.jobs.getSpec(cluster.name, job.id), undefined, `job ${job.id} kept its spec`);
        }
      };
      await check(h.store);
      if (h.store.capabilities.durable && requireReopen(h, t)) await check(await h.reopen());
    });
  });

  describe('jobs: durability', () => {
    it('keeps jobs, specs, counters and the active list across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const a = await createCluster(h.store, makeCluster({ name: 'keep-a' }));
      const b = await createCluster(h.store, makeCluster({ name: 'keep-b' }));
      for (let i = 0; i < 3; i++) await h.store.jobs.create(makeJob(a, { submittedAt: 10 + i }), fullSpec({ run: `a${i + 1}` }));
      await h.store.jobs.create(makeJob(b, { submittedAt: 11 }), fullSpec({ run: 'b1' }));
      await h.store.jobs.transition('keep-a', 1, ['PENDING'], { status: 'RUNNING', startedAt: 20 });
      await h.store.jobs.transition('keep-a', 2, ['PENDING'], { status: 'SUCCEEDED', endedAt: 21, exitCodes: [0] });
      // Every job of b ends: its counter must survive anyway.
      await h.store.jobs.transition('keep-b', 1, ['PENDING'], { status: 'CANCELLED', endedAt: 22 });
      const before = { a: await h.store.jobs.list('keep-a'), b: await h.store.jobs.list('keep-b'), active: await h.store.jobs.listActive() };

      const store = await h.reopen();
      assert.deepEqual(await store.jobs.list('keep-a'), before.a);
      assert.deepEqual(await store.jobs.list('keep-b'), before.b);
      assert.deepEqual(await store.jobs.listActive(), before.active);
      assert.deepEqual(before.active.map((j) => `${j.cluster}#${j.id}`), ['keep-a#1', 'keep-a#3']);
      assert.equal((await store.jobs.getSpec('keep-a', 1))?.run, 'a1');
      assert.equal((await store.jobs.getSpec('keep-a', 3))?.run, 'a3');
      assert.equal(await store.jobs.getSpec('keep-a', 2), undefined);
      assert.equal(await store.jobs.getSpec('keep-b', 1), undefined);
      assert.equal((await store.jobs.create(makeJob(a), makeSpec())).id, 4);
      assert.equal((await store.jobs.create(makeJob(b), makeSpec())).id, 2);
      assert.ok(await store.jobs.transition('keep-a', 1, ['RUNNING'], { status: 'FAILED', endedAt: 30 }));
      assert.equal(await store.jobs.getSpec('keep-a', 1), undefined);
      const again = await h.reopen();
      assert.equal(await again.jobs.getSpec('keep-a', 1), undefined);
      assert.deepEqual((await again.jobs.listActive()).map((j) => `${j.cluster}#${j.id}`), ['keep-a#3', 'keep-a#4', 'keep-b#2']);
    });
  });
}
