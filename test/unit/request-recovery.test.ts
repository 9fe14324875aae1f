import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeRecord, RequestRecord } from '@sky/protocol';
import type { JobRepository, StateStore } from '@sky/plugin-api';
import { makeCluster, makeJob, makeRequest, makeSpec, MemoryStateStore } from '@sky/plugin-api/testing';
import { idempotencyHash } from '../../core/daemon/src/scheduler/idempotency.js';
import { alice, delay, inProcess } from '../helpers/in-process.js';

/** A request as a dead daemon left it: claimed (RUNNING, first attempt), its handler gone. */
async function leftRunning(store: StateStore, overrides: Partial<RequestRecord>): Promise<RequestRecord> {
  const { record } = await store.requests.create(makeRequest({ user: alice.user, userName: alice.userName, ...overrides }));
  const running = await store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: Date.now(), attempts: 1 });
  assert.ok(running);
  return running;
}

describe('requests left RUNNING by a dead daemon', () => {
  it('complete with the job they queued, resume when they had none, and fail only with a reason saying what was left', async () => {
    const store = new MemoryStateStore();
    await store.open();
    const cluster = (await store.clusters.create(makeCluster({ name: 'rc', owner: alice.user, ownerName: alice.userName, driver: 'local', infra: 'local', resources: '1x local(cpus=2)' }))).record;
    await store.clusters.create(makeCluster({ name: 'half-made', owner: alice.user, status: 'INIT', statusReason: 'provisioning', infra: 'local', nodes: [] }));

    const execBody = { cluster: 'rc', task: { run: 'true' } };
    const queuedExec = await leftRunning(store, { name: 'exec', body: execBody, idempotencyKey: 'k-exec', idempotencyHash: idempotencyHash('exec', alice.workspace, execBody) });
    const execJob = await store.jobs.create(makeJob(cluster, { requestId: queuedExec.id }), makeSpec(), { request: queuedExec.id });
    const queuedLaunch = await leftRunning(store, { name: 'launch', lane: 'long', body: { cluster: 'rc', task: { run: 'true' } } });
    const launchJob = await store.jobs.create(makeJob(cluster, { requestId: queuedLaunch.id }), makeSpec(), { request: queuedLaunch.id });
    const provisioning = await leftRunning(store, { name: 'launch', lane: 'long', body: { cluster: 'half-made', task: { run: 'true' } } });
    const ping = await leftRunning(store, { name: 'ping', body: { sleep: 30 } });
    const down = await leftRunning(store, { name: 'down', lane: 'long', body: { cluster: 'already-gone' } });
    const unqueuedExec = await leftRunning(store, { name: 'exec', body: { cluster: 'gone', task: { run: 'true' } } });

    const p = await inProcess({}, store);
    try {
      assert.deepEqual(await p.scheduler.recover(), { requeued: 0, failed: 2, resumed: 2, completed: 2 });

      const exec = await p.service.wait(queuedExec.id, 5);
      assert.equal(exec.status, 'SUCCEEDED');
      assert.deepEqual(exec.result, { cluster: 'rc', jobId: execJob.id });
      const launch = await p.service.wait(queuedLaunch.id, 5);
      assert.equal(launch.status, 'SUCCEEDED');
      assert.deepEqual(launch.result, { cluster: 'rc', jobId: launchJob.id, plan: { driver: 'local', infra: 'local', numNodes: cluster.numNodes, resources: '1x local(cpus=2)', existing: false } });

      const failed = await p.service.wait(provisioning.id, 5);
      assert.equal(failed.status, 'FAILED');
      assert.equal(failed.error?.code, 'DAEMON_RESTARTED');
      assert.match(failed.error!.message, /cluster half-made was being provisioned .* left INIT .* no job was queued/);
      assert.match(failed.error!.hint ?? '', /sky down half-made/);
      assert.equal((await p.service.wait(ping.id, 5)).error?.message, 'daemon restarted', 'an operation that cannot resume still fails');

      const terminated = await p.service.wait(down.id, 5);
      assert.equal(terminated.status, 'SUCCEEDED', 'a down run again finds its cluster gone: done');
      assert.equal(terminated.attempts, 2);
      const rerun = await p.service.wait(unqueuedExec.id, 5);
      assert.equal(rerun.attempts, 2, 'an exec without its job ran again');
      assert.equal(rerun.error?.code, 'CLUSTER_NOT_FOUND');

      const retry = await p.scheduler.submit({ ...alice, name: 'exec', body: execBody, lane: 'short', idempotencyKey: 'k-exec' });
      assert.equal(retry.created, false);
      assert.equal(retry.record.id, queuedExec.id, 'the retry gets the request that has the job');
      assert.deepEqual(retry.record.result, { cluster: 'rc', jobId: execJob.id });
      assert.equal((await store.jobs.list('rc')).length, 2, 'no job was queued twice');

      // On a team server the job is part of what only the owner (and admins) read, like the result.
      const team = await inProcess({ auth: { mode: 'basic' } }, store);
      const theirs = (await team.service.list({ id: 'u-bob', name: 'bob' }, { all_users: true, limit: 100 })).items.find((r) => r.id === queuedExec.id);
      assert.ok(theirs);
      assert.equal(theirs.job, undefined);
      assert.equal(theirs.result, undefined);
      const own = (await team.service.list({ id: alice.user, name: alice.userName }, { limit: 100 })).items.find((r) => r.id === queuedExec.id);
      assert.deepEqual(own?.job, { cluster: 'rc', id: execJob.id });
      await team.scheduler.drain(0);
      rmSync(team.dir, { recursive: true, force: true });
    } finally {
      await p.close();
    }
  });
});

/** A promise and the function that resolves it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('a cancel racing the queueing of a job', () => {
  /** An UP 1-node cluster on a local node directory, and a store whose job create can be held before or after it writes. */
  async function setUp(hold: 'before' | 'after') {
    const store = new MemoryStateStore();
    const p = await inProcess({ requests: { cancel_grace_seconds: 0.2 } }, store);
    const root = join(p.dir, 'node0');
    mkdirSync(root, { recursive: true });
    const node: NodeRecord = { id: 'n0', rank: 0, address: '127.0.0.1', reach: { kind: 'local', root }, resources: { cpus: 4, memoryGb: 8, accelerators: [] } };
    await store.clusters.create(makeCluster({ name: 'race', owner: alice.user, ownerName: alice.userName, nodes: [node], numNodes: 1 }));
    const entered = latch();
    const gate = latch();
    const jobs: JobRepository = store.jobs;
    const create = jobs.create.bind(jobs);
    jobs.create = async (job, spec, options) => {
      entered.open();
      if (hold === 'before') await gate.promise;
      const created = await create(job, spec, options);
      if (hold === 'after') await gate.promise;
      return created;
    };
    return { p, store, entered, gate };
  }

  it('after the job is queued, the request ends SUCCEEDED with it and the cancel says it had finished', async () => {
    const { p, store, entered, gate } = await setUp('after');
    try {
      const { record } = await p.scheduler.submit({ ...alice, name: 'exec', body: { cluster: 'race', task: { run: 'true' } }, lane: 'short' });
      await entered.promise;
      const cancelled = p.service.cancel({ id: alice.user, name: alice.userName }, { ids: [record.id] });
      await delay(400); // past the cancel grace period: the cancel tries to record CANCELLED and is refused
      gate.open();
      assert.deepEqual(await cancelled, { cancelled: [], alreadyFinished: [record.id] });
      const done = await p.service.wait(record.id, 5);
      assert.equal(done.status, 'SUCCEEDED');
      const [job] = await store.jobs.list('race');
      assert.deepEqual(done.result, { cluster: 'race', jobId: job!.id });
      assert.equal(job!.requestId, record.id);
    } finally {
      gate.open();
      await p.close();
    }
  });

  it('before the job is queued, the request ends CANCELLED and no job is queued, even when the handler goes on', async () => {
    const { p, store, entered, gate } = await setUp('before');
    try {
      const { record } = await p.scheduler.submit({ ...alice, name: 'exec', body: { cluster: 'race', task: { run: 'true' } }, lane: 'short' });
      await entered.promise;
      // The scheduler's grace timer does not hold the process open (a daemon has its listener for that).
      const alive = setInterval(() => undefined, 50);
      const answer = await p.service.cancel({ id: alice.user, name: alice.userName }, { ids: [record.id] }).finally(() => clearInterval(alive));
      assert.deepEqual(answer.cancelled, [record.id], 'recorded CANCELLED after the grace period');
      gate.open(); // the handler, which ignored its signal, now tries to queue the job: the store refuses
      await delay(100);
      assert.equal((await p.service.get(record.id)).status, 'CANCELLED');
      assert.deepEqual(await store.jobs.list('race'), []);
    } finally {
      gate.open();
      await p.close();
    }
  });
});
