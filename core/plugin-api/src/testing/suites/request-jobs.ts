import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '@sky/protocol';
import type { StateStore } from '../../store.js';
import { makeCluster, makeJob, makeRequest, makeSpec } from '../fixtures.js';
import { createCluster } from './clusters.js';
import { rejectsWithCode, requireReopen, type StoreHarness } from './harness.js';

/** A request that has been claimed (RUNNING), as the dispatcher leaves it while its handler runs. */
async function runningRequest(store: StateStore, overrides: Partial<RequestRecord> = {}): Promise<RequestRecord> {
  const { record } = await store.requests.create(makeRequest({ name: 'exec', ...overrides }));
  const running = await store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: Date.now(), attempts: 1 });
  assert.ok(running);
  return running;
}

/**
 * JobCreateOptions.request: a job queued by a request is recorded on that request in the same
 * atomic write, and a request with a job only ever ends SUCCEEDED.
 */
export function describeRequestJobs(h: StoreHarness): void {
  describe('jobs queued by a request', () => {
    it('records the job on the RUNNING request that queued it, in the same write', async () => {
      const cluster = await createCluster(h.store);
      const request = await runningRequest(h.store);
      const job = await h.store.jobs.create(makeJob(cluster, { requestId: request.id }), makeSpec(), { request: request.id });
      assert.deepEqual((await h.store.requests.get(request.id))?.job, { cluster: cluster.name, id: job.id });
      assert.equal((await h.store.jobs.get(cluster.name, job.id))?.requestId, request.id);
    });

    it('queues nothing for a request that is not RUNNING, missing, or has its job already', async () => {
      const cluster = await createCluster(h.store);
      const { record: pending } = await h.store.requests.create(makeRequest({ name: 'exec' }));
      await rejectsWithCode(h.store.jobs.create(makeJob(cluster), makeSpec(), { request: pending.id }), 'REQUEST_NOT_RUNNING');
      const cancelled = await runningRequest(h.store);
      await h.store.requests.transition(cancelled.id, ['RUNNING'], { status: 'CANCELLED', finishedAt: Date.now() });
      await rejectsWithCode(h.store.jobs.create(makeJob(cluster), makeSpec(), { request: cancelled.id }), 'REQUEST_NOT_RUNNING');
      await rejectsWithCode(h.store.jobs.create(makeJob(cluster), makeSpec(), { request: 'req-no-such-request' }), 'REQUEST_NOT_RUNNING');
      const once = await runningRequest(h.store);
      const first = await h.store.jobs.create(makeJob(cluster), makeSpec(), { request: once.id });
      await rejectsWithCode(h.store.jobs.create(makeJob(cluster), makeSpec(), { request: once.id }), 'REQUEST_NOT_RUNNING');
      assert.deepEqual((await h.store.jobs.list(cluster.name)).map((j) => j.id), [first.id], 'only the first job was stored');
      assert.deepEqual((await h.store.requests.get(once.id))?.job, { cluster: cluster.name, id: first.id });
    });

    it('leaves the request without a job when the job is refused (a stale cluster)', async () => {
      const cluster = await createCluster(h.store);
      const request = await runningRequest(h.store);
      await rejectsWithCode(h.store.jobs.create(makeJob(cluster, { clusterId: 'another-incarnation' }), makeSpec(), { request: request.id }), 'VALIDATION_FAILED');
      assert.equal((await h.store.requests.get(request.id))?.job, undefined);
      assert.deepEqual(await h.store.jobs.list(cluster.name), []);
    });

    it('of many racing requests, each gets exactly its own job', async () => {
      const cluster = await createCluster(h.store);
      const requests = await Promise.all(Array.from({ length: 50 }, () => runningRequest(h.store)));
      const jobs = await Promise.all(requests.map((r) => h.store.jobs.create(makeJob(cluster, { requestId: r.id }), makeSpec(), { request: r.id })));
      assert.equal(new Set(jobs.map((j) => j.id)).size, 50);
      for (const [i, r] of requests.entries()) assert.deepEqual((await h.store.requests.get(r.id))?.job, { cluster: cluster.name, id: jobs[i]!.id });
    });

    it('a request with a job only ends SUCCEEDED: cancel, failure and hand-back are refused', async () => {
      const cluster = await createCluster(h.store);
      const request = await runningRequest(h.store);
      await h.store.jobs.create(makeJob(cluster), makeSpec(), { request: request.id });
      for (const status of ['CANCELLED', 'FAILED', 'PENDING'] as const) {
        assert.equal(await h.store.requests.transition(request.id, ['RUNNING'], { status, finishedAt: Date.now() }), undefined, `moved to ${status}`);
      }
      assert.equal((await h.store.requests.get(request.id))?.status, 'RUNNING');
      const done = await h.store.requests.transition(request.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: Date.now(), result: { jobId: 1 } });
      assert.equal(done?.status, 'SUCCEEDED');
      assert.deepEqual(done?.job, { cluster: cluster.name, id: 1 });
    });

    it('keeps the link across a reopen, and after the cluster is gone', async (t) => {
      if (!requireReopen(h, t)) return;
      const cluster = await createCluster(h.store, makeCluster({ name: 'linked' }));
      const request = await runningRequest(h.store);
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec(), { request: request.id });
      const store = await h.reopen();
      const again = await store.requests.get(request.id);
      assert.equal(again?.status, 'RUNNING');
      assert.deepEqual(again?.job, { cluster: 'linked', id: job.id });
      assert.equal(await store.requests.transition(request.id, ['RUNNING'], { status: 'FAILED', finishedAt: Date.now() }), undefined);
      assert.ok(await store.clusters.delete('linked'));
      assert.deepEqual((await store.requests.get(request.id))?.job, { cluster: 'linked', id: job.id });
    });
  });
}
