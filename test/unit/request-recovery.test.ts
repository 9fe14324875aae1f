import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestRecord } from '@sky/protocol';
import type { StateStore } from '@sky/plugin-api';
import { makeCluster, makeJob, makeRequest, makeSpec, MemoryStateStore } from '@sky/plugin-api/testing';
import { idempotencyHash } from '../../core/daemon/src/scheduler/idempotency.js';
import { alice, inProcess } from '../helpers/in-process.js';

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
