import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { UsageRecord } from '@sky/protocol';
import type { StateItem } from '../../state-transfer.js';
import type { StateStore, UsageRepository } from '../../store.js';
import { rejectsWithCode, requireReopen, type StoreHarness } from './harness.js';

/** The store's usage ledger, or skip the test when it keeps none (optional, plugin API 1.10). */
function usageOf(store: StateStore, t: TestContext): UsageRepository | undefined {
  if (store.usage === undefined) t.skip(`store "${store.kind}" keeps no usage ledger`);
  return store.usage;
}

function interval(clusterId: string, start: number, over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    kind: 'cluster',
    clusterId,
    cluster: `c-${clusterId}`,
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    driver: 'local',
    infra: 'local',
    nodes: 1,
    cpus: 2,
    memoryGb: 4,
    gpus: 0,
    start,
    ...over,
  };
}

function job(clusterId: string, jobId: number, start: number, end: number, over: Partial<UsageRecord> = {}): UsageRecord {
  return { ...interval(clusterId, start, over), kind: 'job', jobId, end, ...over };
}

const tag = (r: UsageRecord): string => `${r.kind}:${r.clusterId}:${r.kind === 'job' ? String(r.jobId) : String(r.start)}${r.end === undefined ? '' : `-${r.end}`}`;

/** The usage ledger (optional): one open interval per incarnation, closing, jobs once, windows, copies, durability, export. */
export function describeUsage(h: StoreHarness): void {
  describe('usage ledger', () => {
    it('an incarnation has at most one open interval; close ends it, and a new one may open after', async (t) => {
      const usage = usageOf(h.store, t);
      if (usage === undefined) return;
      assert.equal(await usage.open(interval('k1', 1000)), true);
      assert.equal(await usage.open(interval('k1', 2000)), false, 'a second open interval of k1');
      assert.equal(await usage.open(interval('k2', 1500, { gpus: 8, gpuType: 'A100' })), true);
      assert.deepEqual((await usage.listOpen()).map(tag), ['cluster:k1:1000', 'cluster:k2:1500']);
      const closed = await usage.close('k1', 5000);
      assert.equal(closed?.end, 5000);
      assert.equal(closed?.cpus, 2);
      assert.equal(await usage.close('k1', 6000), undefined, 'nothing open any more');
      assert.equal(await usage.close('nope', 6000), undefined);
      assert.equal(await usage.open(interval('k1', 1000)), false, 'the same interval again (a transition recorded twice)');
      assert.equal(await usage.open(interval('k1', 7000)), true, 'the incarnation started again');
      assert.deepEqual((await usage.listOpen()).map(tag), ['cluster:k1:7000', 'cluster:k2:1500']);
      assert.equal((await usage.close('k2', 100))?.end, 1500, 'an end before the start is taken as the start');
    });

    it('a job is recorded once; malformed entries are refused', async (t) => {
      const usage = usageOf(h.store, t);
      if (usage === undefined) return;
      assert.equal(await usage.recordJob(job('k1', 1, 1000, 4000)), true);
      assert.equal(await usage.recordJob(job('k1', 1, 1000, 9000)), false);
      assert.equal(await usage.recordJob(job('k1', 2, 1000, 4000)), true);
      assert.equal(await usage.recordJob(job('k9', 1, 1000, 4000)), true);
      await rejectsWithCode(usage.recordJob(interval('k1', 1000)), 'VALIDATION_FAILED');
      await rejectsWithCode(usage.recordJob({ ...job('k1', 3, 1000, 4000), end: 500 }), 'VALIDATION_FAILED');
      await rejectsWithCode(usage.open({ ...interval('k3', 1000), end: 2000 }), 'VALIDATION_FAILED');
      await rejectsWithCode(usage.open(interval('', 1000)), 'VALIDATION_FAILED');
      await rejectsWithCode(usage.open(interval('k3', 1000, { cpus: -1 })), 'VALIDATION_FAILED');
      const all = await usage.list({ since: 0, until: 10_000 });
      assert.deepEqual(all.map(tag), ['job:k1:1-4000', 'job:k1:2-4000', 'job:k9:1-4000']);
      assert.deepEqual(all[0], job('k1', 1, 1000, 4000));
    });

    it('list returns the entries overlapping [since, until), by start, of one user when asked', async (t) => {
      const usage = usageOf(h.store, t);
      if (usage === undefined) return;
      await usage.open(interval('a', 1000));
      await usage.close('a', 2000);
      await usage.open(interval('b', 3000, { user: 'u-bob', userName: 'bob' }));
      await usage.open(interval('c', 500));
      await usage.recordJob(job('a', 1, 1200, 1800));
      await usage.recordJob(job('b', 1, 3000, 3000, { user: 'u-bob', userName: 'bob' }));
      const window = async (since: number, until: number, user?: string): Promise<string[]> =>
        (await usage.list(user === undefined ? { since, until } : { since, until, user })).map(tag);
      assert.deepEqual(await window(0, 10_000), ['cluster:c:500', 'cluster:a:1000-2000', 'job:a:1-1800', 'cluster:b:3000', 'job:b:1-3000']);
      assert.deepEqual(await window(2000, 3000), ['cluster:c:500'], 'a closed interval ends before the window; b starts at its end');
      assert.deepEqual(await window(1999, 2000), ['cluster:c:500', 'cluster:a:1000-2000']);
      assert.deepEqual(await window(0, 500), [], 'nothing started before the window opened');
      assert.deepEqual(await window(3000, 3001), ['cluster:c:500', 'cluster:b:3000', 'job:b:1-3000'], 'an entry of no length inside the window');
      assert.deepEqual(await window(0, 10_000, 'u-bob'), ['cluster:b:3000', 'job:b:1-3000']);
      assert.deepEqual(await window(0, 10_000, 'nobody'), []);
      await rejectsWithCode(usage.list({ since: 10, until: 5 }), 'VALIDATION_FAILED');
    });

    it('entries are copies both ways', async (t) => {
      const usage = usageOf(h.store, t);
      if (usage === undefined) return;
      const input = interval('k1', 1000);
      await usage.open(input);
      input.cpus = 99;
      const [read] = await usage.list({ since: 0, until: 5000 });
      assert.equal(read?.cpus, 2);
      read!.cpus = 42;
      assert.equal((await usage.listOpen())[0]?.cpus, 2);
    });

    it('the ledger survives a restart of the store, open intervals included', async (t) => {
      if (usageOf(h.store, t) === undefined || !requireReopen(h, t)) return;
      await h.store.usage!.open(interval('k1', 1000));
      await h.store.usage!.open(interval('k2', 1000));
      await h.store.usage!.close('k2', 3000);
      await h.store.usage!.recordJob(job('k2', 1, 1000, 2000));
      const reopened = await h.reopen();
      assert.deepEqual((await reopened.usage!.listOpen()).map(tag), ['cluster:k1:1000']);
      assert.equal(await reopened.usage!.open(interval('k1', 4000)), false, 'k1 is still open after the restart');
      assert.deepEqual((await reopened.usage!.list({ since: 0, until: 5000 })).map(tag), ['cluster:k1:1000', 'cluster:k2:1000-3000', 'job:k2:1-2000']);
    });

    it('an export carries the ledger and an import restores it, open intervals still open', async (t) => {
      const usage = usageOf(h.store, t);
      if (usage === undefined || h.store.exportState === undefined) return;
      await usage.open(interval('k1', 1000));
      await usage.open(interval('k2', 1000));
      await usage.close('k2', 3000);
      await usage.recordJob(job('k2', 1, 1000, 2000));
      const items: StateItem[] = [];
      for await (const item of h.store.exportState()) items.push(item);
      const exported = items.filter((i) => i.type === 'usage');
      assert.equal(exported.length, 3);
      const target = await h.fresh();
      assert.ok(target.importState !== undefined && target.usage !== undefined);
      const summary = await target.importState((async function* () {
        yield* items;
      })());
      assert.equal(summary.usage, 3);
      assert.deepEqual((await target.usage.list({ since: 0, until: 5000 })).map(tag), ['cluster:k1:1000', 'cluster:k2:1000-3000', 'job:k2:1-2000']);
      assert.equal(await target.usage.open(interval('k1', 2000)), false, 'k1 came along open');
      assert.equal((await target.usage.close('k1', 4000))?.end, 4000);
    });
  });
}
