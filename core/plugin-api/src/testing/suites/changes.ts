import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterRecord, JobRecord } from '@sky/protocol';
import type { StateStore, StoreChange } from '../../store.js';
import { makeCluster, makeJob, makeSpec } from '../fixtures.js';
import { createCluster } from './clusters.js';
import { requireReopen, shuffled, type StoreHarness } from './harness.js';

/** Subscribe and collect every change delivered. */
function collect(store: StateStore): { changes: StoreChange[]; stop: () => void } {
  const changes: StoreChange[] = [];
  const stop = store.subscribe((change) => changes.push(change));
  return { changes, stop };
}

/** A delete says whose the cluster was (`of`). */
type Of = Pick<ClusterRecord, 'owner' | 'workspace'>;
const clusterChange = (name: string, record: ClusterRecord | undefined, of?: Of): StoreChange =>
  of === undefined ? { kind: 'cluster', name, record } : { kind: 'cluster', name, record, deleted: { owner: of.owner, workspace: of.workspace } };
const jobChange = (cluster: string, id: number, record: JobRecord | undefined, of?: Of): StoreChange =>
  of === undefined ? { kind: 'job', cluster, id, record } : { kind: 'job', cluster, id, record, deleted: { owner: of.owner, workspace: of.workspace } };

/** The clusters and jobs a view folded from list() and the feed holds. */
class View {
  readonly clusters = new Map<string, ClusterRecord>();
  readonly jobs = new Map<string, JobRecord>();

  apply(change: StoreChange): void {
    if (change.kind === 'cluster') {
      if (change.record === undefined) this.clusters.delete(change.name);
      else this.clusters.set(change.name, change.record);
    } else if (change.kind === 'job') {
      const key = `${change.cluster}#${change.id}`;
      if (change.record === undefined) this.jobs.delete(key);
      else this.jobs.set(key, change.record);
    }
  }
}

export function describeChanges(h: StoreHarness): void {
  describe('change feed', () => {
    it('delivers cluster creates, updates and deletes with the committed record', async () => {
      const { changes } = collect(h.store);
      const created = await createCluster(h.store, makeCluster({ name: 'fed' }));
      const updated = await h.store.clusters.update('fed', 1, { status: 'STOPPED', autostop: { idleMinutes: 3, down: false } });
      const cleared = await h.store.clusters.update('fed', 2, { autostop: undefined });
      assert.equal(await h.store.clusters.delete('fed'), true);
      assert.deepEqual(changes, [clusterChange('fed', created), clusterChange('fed', updated), clusterChange('fed', cleared), clusterChange('fed', undefined, created)]);
    });

    it('delivers job creates and transitions with the committed record', async () => {
      const cluster = await createCluster(h.store);
      const { changes } = collect(h.store);
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      const running = await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'RUNNING', startedAt: 2 });
      const done = await h.store.jobs.transition(cluster.name, job.id, ['RUNNING'], { status: 'SUCCEEDED', endedAt: 3, exitCodes: [0] });
      assert.deepEqual(changes, [jobChange(cluster.name, 1, job), jobChange(cluster.name, 1, running), jobChange(cluster.name, 1, done)]);
    });

    it("emits a delete for each of a deleted cluster's jobs, ascending, then the cluster's", async () => {
      const cluster = await createCluster(h.store, makeCluster({ name: 'gone' }));
      const other = await createCluster(h.store, makeCluster({ name: 'gone-not' }));
      for (let i = 0; i < 11; i++) await h.store.jobs.create(makeJob(cluster), makeSpec());
      await h.store.jobs.create(makeJob(other), makeSpec());
      await h.store.jobs.transition('gone', 4, ['PENDING'], { status: 'CANCELLED' });
      const { changes } = collect(h.store);
      assert.equal(await h.store.clusters.delete('gone'), true);
      assert.deepEqual(changes, [...Array.from({ length: 11 }, (_, i) => jobChange('gone', i + 1, undefined, cluster)), clusterChange('gone', undefined, cluster)]);
    });

    it('delivers nothing for writes that change nothing', async () => {
      const cluster = await createCluster(h.store, makeCluster({ name: 'still' }));
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      const { changes } = collect(h.store);
      assert.equal((await h.store.clusters.create(makeCluster({ name: 'still' }))).created, false);
      assert.equal(await h.store.clusters.update('still', 2, { status: 'STOPPED' }), undefined);
      assert.equal(await h.store.clusters.update('missing', 1, { status: 'STOPPED' }), undefined);
      assert.equal(await h.store.clusters.delete('still', 5), false);
      assert.equal(await h.store.clusters.delete('missing'), false);
      assert.equal(await h.store.jobs.transition('still', job.id, ['RUNNING'], { status: 'SUCCEEDED' }), undefined);
      assert.equal(await h.store.jobs.transition('still', 99, ['PENDING'], { status: 'RUNNING' }), undefined);
      await assert.rejects(h.store.jobs.create(makeJob(makeCluster({ name: 'missing' })), makeSpec()));
      assert.deepEqual(changes, []);
    });

    it('has delivered a change by the time the write that made it resolves', async () => {
      const { changes } = collect(h.store);
      const cluster = await createCluster(h.store);
      assert.equal(changes.length, 1);
      await h.store.clusters.update(cluster.name, 1, { status: 'STOPPED' });
      assert.equal(changes.length, 2);
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      assert.equal(changes.length, 3);
      await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'CANCELLED' });
      assert.equal(changes.length, 4);
      await h.store.clusters.delete(cluster.name);
      assert.equal(changes.length, 6);
    });

    it('lets a listener read the change from the store', async () => {
      const reads: Array<Promise<[StoreChange, unknown]>> = [];
      h.store.subscribe((change) => {
        const read =
          change.kind === 'cluster'
            ? h.store.clusters.get(change.name)
            : change.kind === 'job'
              ? h.store.jobs.get(change.cluster, change.id)
              : change.kind === 'managedJob'
                ? h.store.managedJobs.get(change.id)
                : h.store.services.get(change.name).then((got) => got ?? null);
        reads.push(read.then((got) => [change, got]));
      });
      const settle = async (): Promise<void> => {
        for (const [change, got] of await Promise.all(reads.splice(0))) assert.deepEqual(got, change.record, `read after ${JSON.stringify(change)}`);
      };
      const cluster = await createCluster(h.store);
      await settle();
      await h.store.clusters.update(cluster.name, 1, { status: 'STOPPED' });
      await settle();
      const job = await h.store.jobs.create(makeJob(cluster), makeSpec());
      await settle();
      await h.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'FAILED' });
      await settle();
      await h.store.clusters.delete(cluster.name);
      await settle();
    });

    it('delivers concurrent writes in commit order', async () => {
      const cluster = await createCluster(h.store);
      const { changes } = collect(h.store);
      const jobs = await Promise.all(Array.from({ length: 200 }, () => h.store.jobs.create(makeJob(cluster), makeSpec())));
      assert.deepEqual(
        changes.map((c) => (c.kind === 'job' ? c.id : -1)),
        Array.from({ length: 200 }, (_, i) => i + 1),
        'ids are handed out in commit order, so their changes arrive in id order',
      );
      changes.length = 0;
      const results = await Promise.all(
        jobs.flatMap((j) => [
          h.store.jobs.transition(cluster.name, j.id, ['PENDING'], { status: 'RUNNING' }),
          h.store.jobs.transition(cluster.name, j.id, ['PENDING', 'RUNNING'], { status: 'CANCELLED' }),
        ]),
      );
      for (const [i, j] of jobs.entries()) {
        const mine = changes.filter((c) => c.kind === 'job' && c.id === j.id).map((c) => c.record?.status);
        const won = [results[2 * i], results[2 * i + 1]].filter((r) => r !== undefined).map((r) => r?.status);
        assert.deepEqual(mine, won, `job ${j.id}: the feed shows the transitions that won, in order`);
        assert.equal(mine[mine.length - 1], (await h.store.jobs.get(cluster.name, j.id))?.status);
      }
      changes.length = 0;
      const updates = await Promise.all(Array.from({ length: 20 }, (_, i) => h.store.clusters.update(cluster.name, 1, { lastActiveAt: i })));
      assert.equal(updates.filter((u) => u !== undefined).length, 1);
      assert.deepEqual(changes, [clusterChange(cluster.name, updates.find((u) => u !== undefined))]);
    });

    it('keeps a view built from list() and the feed equal to the store under a concurrent workload', async () => {
      for (let i = 0; i < 20; i++) await createCluster(h.store, makeCluster({ name: `v-${i}`, owner: `u-${i % 3}` }));
      const view = new View();
      const pending: StoreChange[] = [];
      let loaded = false;
      h.store.subscribe((change) => (loaded ? view.apply(change) : pending.push(change)));
      for (const record of await h.store.clusters.list()) view.clusters.set(record.name, record);
      for (let i = 0; i < 20; i++) for (const job of await h.store.jobs.list(`v-${i}`)) view.jobs.set(`${job.cluster}#${job.id}`, job);
      loaded = true;
      for (const change of pending) view.apply(change);

      const ops: Array<() => Promise<unknown>> = [];
      for (let i = 0; i < 30; i++) {
        const name = `v-${i % 25}`;
        ops.push(async () => {
          const current = await h.store.clusters.get(name);
          if (current === undefined) return h.store.clusters.create(makeCluster({ name }));
          switch (i % 5) {
            case 0:
              return h.store.clusters.delete(name);
            case 1:
              return h.store.clusters.update(name, current.version, { status: 'STOPPED', lastActiveAt: i });
            default: {
              const job = await h.store.jobs.create(makeJob(current), makeSpec()).catch(() => undefined);
              if (job !== undefined && i % 2 === 0) await h.store.jobs.transition(name, job.id, ['PENDING'], { status: 'RUNNING' });
              return job;
            }
          }
        });
      }
      await Promise.all(shuffled(ops, 11).map((op) => op()));
      await Promise.all(shuffled(ops, 5).map((op) => op()));

      const clusters = await h.store.clusters.list();
      assert.deepEqual([...view.clusters.values()].sort((a, b) => (a.name < b.name ? -1 : 1)), clusters);
      const jobs: JobRecord[] = [];
      for (const c of clusters) jobs.push(...(await h.store.jobs.list(c.name)));
      const viewJobs = [...view.jobs.values()];
      const key = (j: JobRecord): string => `${j.cluster}#${String(j.id).padStart(6, '0')}`;
      assert.deepEqual(viewJobs.sort((a, b) => (key(a) < key(b) ? -1 : 1)), jobs.sort((a, b) => (key(a) < key(b) ? -1 : 1)));
    });

    it('gives every listener its own copy of the record', async () => {
      const seen: StoreChange[] = [];
      h.store.subscribe((change) => {
        if (change.kind === 'cluster' && change.record !== undefined) {
          change.record.status = 'STOPPED';
          change.record.nodes.length = 0;
        }
      });
      h.store.subscribe((change) => seen.push(change));
      const stored = await createCluster(h.store, makeCluster());
      assert.deepEqual(seen, [clusterChange(stored.name, stored)]);
      assert.deepEqual(await h.store.clusters.get(stored.name), stored);
      assert.equal(stored.status, 'UP');
    });

    it('keeps writing and delivering when a listener throws', async () => {
      let thrown = 0;
      h.store.subscribe(() => {
        thrown += 1;
        throw new Error('listener on fire');
      });
      const { changes } = collect(h.store);
      const cluster = await createCluster(h.store);
      const updated = await h.store.clusters.update(cluster.name, 1, { status: 'STOPPED' });
      const jobs = await Promise.all(Array.from({ length: 10 }, () => h.store.jobs.create(makeJob(cluster), makeSpec())));
      assert.equal(updated?.version, 2);
      assert.deepEqual(jobs.map((j) => j.id).sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i + 1));
      assert.equal(changes.length, 12);
      assert.equal(thrown, 12);
      assert.equal((await h.store.clusters.get(cluster.name))?.version, 2);
      assert.equal(await h.store.clusters.delete(cluster.name), true);
      assert.equal(changes.length, 12 + 11);
    });

    it('stops delivering after unsubscribe; unsubscribing twice is harmless', async () => {
      const a = collect(h.store);
      const b = collect(h.store);
      const cluster = await createCluster(h.store);
      a.stop();
      a.stop();
      await h.store.clusters.update(cluster.name, 1, { status: 'STOPPED' });
      assert.equal(a.changes.length, 1);
      assert.equal(b.changes.length, 2);
    });

    it('treats the same function subscribed twice as two subscriptions', async () => {
      const changes: StoreChange[] = [];
      const listener = (change: StoreChange): void => {
        changes.push(change);
      };
      const stopFirst = h.store.subscribe(listener);
      h.store.subscribe(listener);
      await createCluster(h.store);
      assert.equal(changes.length, 2);
      stopFirst();
      await createCluster(h.store);
      assert.equal(changes.length, 3);
    });

    it('lets a listener unsubscribe itself while it is being called', async () => {
      const changes: StoreChange[] = [];
      const stop = h.store.subscribe((change) => {
        changes.push(change);
        stop();
      });
      const cluster = await createCluster(h.store);
      await h.store.jobs.create(makeJob(cluster), makeSpec());
      assert.equal(changes.length, 1);
    });

    it('delivers the writes of a reopened store to its subscribers', async (t) => {
      if (!requireReopen(h, t)) return;
      const cluster = await createCluster(h.store, makeCluster({ name: 'reopened' }));
      const store = await h.reopen();
      const { changes } = collect(store);
      assert.deepEqual(changes, [], 'opening delivers nothing');
      const job = await store.jobs.create(makeJob(cluster), makeSpec());
      assert.deepEqual(changes, [jobChange('reopened', 1, job)]);
    });
  });
}
