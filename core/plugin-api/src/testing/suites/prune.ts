import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '@sky/protocol';
import { makeRequest } from '../fixtures.js';
import { listAll, requireReopen, type StoreHarness } from './harness.js';

interface PruneSetup {
  gone: RequestRecord[];
  kept: RequestRecord[];
}

const BEFORE = 5_000;

async function setup(h: StoreHarness): Promise<PruneSetup> {
  const gone = [
    makeRequest({ status: 'SUCCEEDED', finishedAt: 1_000, idempotencyKey: 'k-gone' }),
    makeRequest({ status: 'FAILED', finishedAt: 2_000, user: 'u-bob', error: { code: 'OPERATION_FAILED', message: 'x' } }),
    makeRequest({ status: 'CANCELLED', finishedAt: BEFORE - 1 }),
  ];
  const kept = [
    makeRequest({ status: 'SUCCEEDED', finishedAt: BEFORE, idempotencyKey: 'k-kept' }),
    makeRequest({ status: 'FAILED', finishedAt: 9_000 }),
    makeRequest({ status: 'PENDING', createdAt: 1 }),
    makeRequest({ status: 'RUNNING', createdAt: 1, startedAt: 2, user: 'u-bob' }),
  ];
  for (const r of [...gone, ...kept]) {
    await h.store.requests.create(r);
    await h.store.requests.appendLog(r.id, `log of ${r.id}`, 1);
  }
  return { gone, kept };
}

async function assertPruned(h: StoreHarness, { gone, kept }: PruneSetup): Promise<void> {
  const listed = (await listAll(h.store, { limit: 3 })).ids;
  const listedBob = (await listAll(h.store, { user: 'u-bob', limit: 3 })).ids;
  const listedDone = (await listAll(h.store, { status: ['SUCCEEDED', 'FAILED', 'CANCELLED'], limit: 3 })).ids;
  for (const r of gone) {
    assert.equal(await h.store.requests.get(r.id), undefined, `${r.id} (${r.status}) should be pruned`);
    assert.deepEqual(await h.store.requests.readLog(r.id), [], `log of ${r.id} should be pruned`);
    assert.ok(!listed.includes(r.id) && !listedBob.includes(r.id) && !listedDone.includes(r.id));
    assert.ok(!(await h.store.requests.listByStatus(r.status)).some((x) => x.id === r.id));
  }
  for (const r of kept) {
    assert.deepEqual(await h.store.requests.get(r.id), r, `${r.id} (${r.status}) should be kept`);
    assert.equal((await h.store.requests.readLog(r.id)).length, 1);
    assert.ok(listed.includes(r.id));
    assert.ok((await h.store.requests.listByStatus(r.status)).some((x) => x.id === r.id));
  }
  assert.equal(listed.length, kept.length);
}

export function describePrune(h: StoreHarness): void {
  describe('prune', () => {
    it('deletes only finished requests with finishedAt < before, with logs and index entries', async () => {
      const s = await setup(h);
      assert.equal(await h.store.requests.prune(BEFORE), s.gone.length);
      await assertPruned(h, s);
      assert.equal(await h.store.requests.prune(BEFORE), 0);
    });

    it('frees the idempotency keys of pruned requests only', async () => {
      const s = await setup(h);
      await h.store.requests.prune(BEFORE);
      const reused = makeRequest({ idempotencyKey: 'k-gone' });
      const created = await h.store.requests.create(reused);
      assert.equal(created.created, true);
      assert.equal(created.record.id, reused.id);
      const dup = await h.store.requests.create(makeRequest({ idempotencyKey: 'k-kept' }));
      assert.equal(dup.created, false);
      assert.equal(dup.record.id, s.kept[0]?.id);
    });

    it('stays pruned after a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const s = await setup(h);
      await h.store.requests.prune(BEFORE);
      await h.reopen();
      await assertPruned(h, s);
    });
  });
}
