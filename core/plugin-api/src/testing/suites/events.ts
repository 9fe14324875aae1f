import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_EVENT_PAGE, type FeedChange, type FeedPosition, type StateStore, type StoredEvent } from '../../store.js';
import { makeCluster, makeJob, makeManagedJob, makeManagedJobSpec, makeRequest, makeSpec } from '../fixtures.js';
import { createCluster } from './clusters.js';
import { rejectsWithCode, requireReopen, type StoreHarness } from './harness.js';

/** Every retained event, read page by page. */
async function readAll(store: StateStore, afterSeq = 0, page = 3): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after = afterSeq;
  for (;;) {
    const events = await store.events.read(after, page);
    assert.ok(events.length <= page, `a page of ${page} held ${events.length} events`);
    out.push(...events);
    const last = events[events.length - 1];
    if (last === undefined || events.length < page) return out;
    after = last.seq;
  }
}

/** A short name for a change, to compare sequences. */
function label(change: FeedChange | StoredEvent['change']): string {
  switch (change.kind) {
    case 'cluster':
      return `cluster:${change.name}:${change.record === undefined ? 'deleted' : change.record.status}`;
    case 'job':
      return `job:${change.cluster}/${change.id}:${change.record === undefined ? 'deleted' : change.record.status}`;
    case 'managedJob':
      return `managedJob:${change.id}:${change.record.status}`;
    case 'service':
      return `service:${change.name}:${change.record === null ? 'deleted' : change.record.status}`;
    case 'request':
      return `request:${change.id}`;
  }
}

function assertAscending(events: readonly { seq: number; at: number }[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.seq > events[i - 1]!.seq, `seq ${events[i]!.seq} follows ${events[i - 1]!.seq}`);
    assert.ok(events[i]!.at >= events[i - 1]!.at, `commit time ${events[i]!.at} follows ${events[i - 1]!.at}`);
  }
}

/** Wait until the clock has passed `at`, so the next write commits strictly later. */
async function pastMs(at: number): Promise<void> {
  while (Date.now() <= at) await new Promise((resolve) => setTimeout(resolve, 2));
}

export function describeEvents(h: StoreHarness): void {
  describe('persisted change feed', () => {
    it('numbers every change, requests included, and reads them back in order', async () => {
      const seen: Array<{ change: FeedChange; position: FeedPosition }> = [];
      const storeSeen: FeedPosition[] = [];
      const stopAll = h.store.events.subscribe((change, position) => seen.push({ change, position }));
      const stopStore = h.store.subscribe((_change, position) => storeSeen.push(position));
      const request = makeRequest({ status: 'PENDING' });
      await h.store.requests.create(request);
      const cluster = await createCluster(h.store, makeCluster({ name: 'numbered' }));
      await h.store.requests.transition(request.id, ['PENDING'], { status: 'RUNNING', startedAt: 2 });
      await h.store.jobs.create(makeJob(cluster), makeSpec(), { request: request.id });
      await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      stopAll();
      stopStore();
      const expected = ['request:' + request.id, 'cluster:numbered:UP', 'request:' + request.id, 'job:numbered/1:PENDING', 'request:' + request.id, 'managedJob:1:PENDING'];
      assert.deepEqual(seen.map((s) => label(s.change)), expected);
      assertAscending(seen.map((s) => s.position));
      // Store listeners get the same positions for the changes they see (no requests).
      assert.deepEqual(storeSeen, seen.filter((s) => s.change.kind !== 'request').map((s) => s.position));
      const stored = await readAll(h.store);
      assert.deepEqual(stored.map((e) => label(e.change)), expected);
      assert.deepEqual(stored.map((e) => ({ seq: e.seq, at: e.at })), seen.map((s) => s.position));
      const bounds = await h.store.events.bounds();
      assert.equal(bounds.first, stored[0]?.seq);
      assert.equal(bounds.last, stored[stored.length - 1]?.seq);
    });

    it('serves a request event with the request as stored now, and the job it queued', async () => {
      const request = makeRequest({ status: 'RUNNING', startedAt: 1 });
      await h.store.requests.create(request);
      const cluster = await createCluster(h.store);
      await h.store.jobs.create(makeJob(cluster), makeSpec(), { request: request.id });
      const events = (await readAll(h.store)).filter((e) => e.change.kind === 'request');
      assert.equal(events.length, 2);
      const now = await h.store.requests.get(request.id);
      for (const e of events) assert.deepEqual(e.change.record, now);
      assert.deepEqual(now?.job, { cluster: cluster.name, id: 1 });
    });

    it('records a deletion with no record: each job of a deleted cluster, then the cluster', async () => {
      const cluster = await createCluster(h.store, makeCluster({ name: 'doomed' }));
      await h.store.jobs.create(makeJob(cluster), makeSpec());
      await h.store.jobs.create(makeJob(cluster), makeSpec());
      const before = (await h.store.events.bounds()).last;
      assert.equal(await h.store.clusters.delete('doomed'), true);
      const after = await h.store.events.read(before, 10);
      assert.deepEqual(after.map((e) => label(e.change)), ['job:doomed/1:deleted', 'job:doomed/2:deleted', 'cluster:doomed:deleted']);
      for (const e of after) {
        assert.equal(e.change.record, undefined);
        // Whose the cluster was travels with its deletion: after a restart nobody else remembers it.
        assert.deepEqual((e.change as { deleted?: unknown }).deleted, { owner: cluster.owner, workspace: cluster.workspace });
      }
    });

    it('adds nothing for writes that change nothing', async () => {
      const cluster = await createCluster(h.store, makeCluster({ name: 'quiet' }));
      const request = makeRequest({ status: 'PENDING' });
      await h.store.requests.create(request);
      const { last } = await h.store.events.bounds();
      assert.equal((await h.store.clusters.create(makeCluster({ name: 'quiet' }))).created, false);
      assert.equal(await h.store.clusters.update('quiet', cluster.version + 5, { status: 'STOPPED' }), undefined);
      assert.equal(await h.store.requests.transition(request.id, ['RUNNING'], { status: 'SUCCEEDED' }), undefined);
      await h.store.requests.appendLog(request.id, 'a log line is not a change', 5);
      assert.equal((await h.store.events.bounds()).last, last);
      assert.deepEqual(await h.store.events.read(last, 10), []);
    });

    it('has every change on the feed before its write resolves (a listener reads it back)', async () => {
      const readBack: Array<Promise<StoredEvent[]>> = [];
      const stop = h.store.events.subscribe((_change, position) => readBack.push(h.store.events.read(position.seq - 1, 1)));
      await createCluster(h.store, makeCluster({ name: 'durable-first' }));
      const request = makeRequest();
      await h.store.requests.create(request);
      stop();
      const got = await Promise.all(readBack);
      assert.deepEqual(got.map((page) => page.map((e) => label(e.change))), [['cluster:durable-first:UP'], [`request:${request.id}`]]);
    });

    it('pages reads with a bounded limit', async () => {
      for (let i = 0; i < 7; i++) await createCluster(h.store, makeCluster({ name: `paged-${i}` }));
      const all = await readAll(h.store, 0, 7);
      assert.equal(all.length, 7);
      const first = await h.store.events.read(0, 3);
      const second = await h.store.events.read(first[2]!.seq, 3);
      const third = await h.store.events.read(second[2]!.seq, 3);
      assert.deepEqual([...first, ...second, ...third].map((e) => e.seq), all.map((e) => e.seq));
      assert.equal(third.length, 1);
      assert.deepEqual(await h.store.events.read(all[6]!.seq, 3), []);
      assert.deepEqual((await h.store.events.read(all[4]!.seq, MAX_EVENT_PAGE)).map((e) => e.seq), [all[5]!.seq, all[6]!.seq]);
      await rejectsWithCode(h.store.events.read(0, 0), 'VALIDATION_FAILED');
      await rejectsWithCode(h.store.events.read(0, MAX_EVENT_PAGE + 1), 'VALIDATION_FAILED');
      await rejectsWithCode(h.store.events.read(0, 2.5), 'VALIDATION_FAILED');
    });

    it('pages through changes committed together, from any position inside them', async () => {
      await createCluster(h.store, makeCluster({ name: 'alone' }));
      // Written in one turn: a store may commit them in one write.
      await Promise.all(Array.from({ length: 7 }, (_, i) => createCluster(h.store, makeCluster({ name: `together-${i}` }))));
      const cluster = await createCluster(h.store, makeCluster({ name: 'with-jobs' }));
      await Promise.all(Array.from({ length: 4 }, () => h.store.jobs.create(makeJob(cluster), makeSpec())));
      await h.store.clusters.delete('with-jobs');
      const all = await readAll(h.store, 0, MAX_EVENT_PAGE);
      assert.equal(all.length, 1 + 7 + 1 + 4 + 5);
      assert.deepEqual(all.map((e) => e.seq), Array.from({ length: all.length }, (_, i) => all[0]!.seq + i));
      for (const page of [1, 2, 3, 5]) {
        for (const start of [0, all[1]!.seq, all[3]!.seq, all[9]!.seq]) {
          const got = await readAll(h.store, start, page);
          assert.deepEqual(got.map((e) => e.seq), all.filter((e) => e.seq > start).map((e) => e.seq), `pages of ${page} after ${start}`);
        }
      }
      assert.deepEqual(await readAll(h.store, 0, 4), all);
    });

    it('prunes by commit time, keeping the last seq so numbers are never reused', async () => {
      await createCluster(h.store, makeCluster({ name: 'old-1' }));
      await createCluster(h.store, makeCluster({ name: 'old-2' }));
      const old = await readAll(h.store);
      await pastMs(old[old.length - 1]!.at);
      await createCluster(h.store, makeCluster({ name: 'new-1' }));
      const fresh = (await readAll(h.store)).slice(old.length);
      assert.equal(fresh.length, 1);
      assert.equal(await h.store.events.prune(fresh[0]!.at), 2);
      assert.deepEqual((await readAll(h.store)).map((e) => label(e.change)), ['cluster:new-1:UP']);
      assert.deepEqual(await h.store.events.bounds(), { first: fresh[0]!.seq, last: fresh[0]!.seq });
      assert.equal(await h.store.events.prune(fresh[0]!.at), 0);
      // Everything pruned: the feed is empty but keeps counting from where it was.
      await pastMs(fresh[0]!.at);
      assert.equal(await h.store.events.prune(Date.now()), 1);
      assert.deepEqual(await h.store.events.bounds(), { first: undefined, last: fresh[0]!.seq });
      await createCluster(h.store, makeCluster({ name: 'new-2' }));
      const after = await readAll(h.store);
      assert.deepEqual(after.map((e) => e.seq), [fresh[0]!.seq + 1]);
    });

    it('keeps counting across a reopen, also after everything was pruned', async (t) => {
      if (!requireReopen(h, t)) return;
      await createCluster(h.store, makeCluster({ name: 'before-1' }));
      await h.store.requests.create(makeRequest());
      const before = await readAll(h.store);
      let store = await h.reopen();
      assert.deepEqual(await readAll(store), before);
      await createCluster(store, makeCluster({ name: 'after-1' }));
      const all = await readAll(store);
      assert.equal(all.length, 3);
      assertAscending(all);
      assert.equal(all[2]!.seq, before[1]!.seq + 1);
      await pastMs(all[2]!.at);
      assert.equal(await store.events.prune(Date.now()), 3);
      store = await h.reopen();
      assert.deepEqual(await store.events.bounds(), { first: undefined, last: all[2]!.seq });
      const seen: FeedPosition[] = [];
      const stop = store.events.subscribe((_change, position) => seen.push(position));
      await createCluster(store, makeCluster({ name: 'after-2' }));
      stop();
      assert.equal(seen[0]?.seq, all[2]!.seq + 1);
      assert.ok(seen[0]!.at >= all[2]!.at);
    });
  });
}
