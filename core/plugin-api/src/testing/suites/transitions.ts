import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestStatus } from '@sky/protocol';
import { makeRequest } from '../fixtures.js';
import { listAll, type StoreHarness } from './harness.js';

/** Assert that every index view places `id` under `status` and under no other status. */
async function assertIndexedAs(h: StoreHarness, id: string, user: string, status: RequestStatus): Promise<void> {
  const all: RequestStatus[] = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
  for (const s of all) {
    const byStatus = (await h.store.requests.listByStatus(s)).map((r) => r.id);
    const listed = (await listAll(h.store, { status: [s], limit: 100 })).ids;
    const listedForUser = (await listAll(h.store, { user, status: [s], limit: 100 })).ids;
    const expected = s === status;
    assert.equal(byStatus.includes(id), expected, `listByStatus(${s}) ${expected ? 'misses' : 'still has'} ${id}`);
    assert.equal(listed.includes(id), expected, `list({status:[${s}]}) ${expected ? 'misses' : 'still has'} ${id}`);
    assert.equal(listedForUser.includes(id), expected, `list({user, status:[${s}]}) ${expected ? 'misses' : 'still has'} ${id}`);
  }
  const got = (await h.store.requests.listByStatus(status)).find((r) => r.id === id);
  assert.equal(got?.status, status, 'listByStatus returns the record with its current status');
}

export function describeTransitions(h: StoreHarness): void {
  describe('transition', () => {
    it('moves a request and sets the patched fields only', async () => {
      const record = makeRequest({ body: { keep: true } });
      await h.store.requests.create(record);
      const running = await h.store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: 100, attempts: 1 });
      const expectedRunning = { ...record, status: 'RUNNING' as const, startedAt: 100, attempts: 1 };
      assert.deepEqual(running, expectedRunning);
      assert.deepEqual(await h.store.requests.get(record.id), expectedRunning);

      const done = await h.store.requests.transition(record.id, ['RUNNING'], {
        status: 'FAILED',
        finishedAt: 200,
        result: { partial: [1, 2] },
        error: { code: 'OPERATION_FAILED', message: 'boom', details: { exitCode: 2 } },
      });
      const expectedDone = {
        ...expectedRunning,
        status: 'FAILED' as const,
        finishedAt: 200,
        result: { partial: [1, 2] },
        error: { code: 'OPERATION_FAILED', message: 'boom', details: { exitCode: 2 } },
      };
      assert.deepEqual(done, expectedDone);
      assert.deepEqual(await h.store.requests.get(record.id), expectedDone);
    });

    it('keeps the owning replica and a cancel asked from another replica (same-status transitions)', async () => {
      const record = makeRequest({ replica: 'r-a' });
      await h.store.requests.create(record);
      await h.store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', attempts: 1, replica: 'r-a' });
      const asked = await h.store.requests.transition(record.id, ['RUNNING'], { status: 'RUNNING', cancelRequestedAt: 300 });
      assert.deepEqual([asked?.status, asked?.replica, asked?.cancelRequestedAt], ['RUNNING', 'r-a', 300]);
      const stored = await h.store.requests.get(record.id);
      assert.deepEqual([stored?.replica, stored?.cancelRequestedAt], ['r-a', 300]);
      const taken = await h.store.requests.transition(record.id, ['RUNNING'], { status: 'PENDING', replica: 'r-b' });
      assert.deepEqual([taken?.status, taken?.replica, taken?.cancelRequestedAt], ['PENDING', 'r-b', 300]);
      await assertIndexedAs(h, record.id, record.user, 'PENDING');
    });

    it('returns undefined and changes nothing from a wrong status', async () => {
      const record = makeRequest();
      await h.store.requests.create(record);
      assert.equal(await h.store.requests.transition(record.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: 1 }), undefined);
      assert.equal(await h.store.requests.transition(record.id, [], { status: 'RUNNING' }), undefined);
      assert.deepEqual(await h.store.requests.get(record.id), record);
      await assertIndexedAs(h, record.id, record.user, 'PENDING');
    });

    it('returns undefined for a missing request', async () => {
      assert.equal(await h.store.requests.transition('req-missing', ['PENDING'], { status: 'RUNNING' }), undefined);
      assert.equal(await h.store.requests.get('req-missing'), undefined);
    });

    it('accepts any of several from-statuses', async () => {
      const record = makeRequest({ status: 'RUNNING', startedAt: 3 });
      await h.store.requests.create(record);
      const cancelled = await h.store.requests.transition(record.id, ['PENDING', 'RUNNING'], { status: 'CANCELLED', finishedAt: 4 });
      assert.equal(cancelled?.status, 'CANCELLED');
    });

    it('lets exactly one of two racing transitions win', async () => {
      const record = makeRequest();
      await h.store.requests.create(record);
      const [run, cancel] = await Promise.all([
        h.store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: 1, attempts: 1 }),
        h.store.requests.transition(record.id, ['PENDING'], { status: 'CANCELLED', finishedAt: 1 }),
      ]);
      assert.equal([run, cancel].filter((r) => r !== undefined).length, 1);
      const winner = run ?? cancel;
      assert.deepEqual(await h.store.requests.get(record.id), winner);
      await assertIndexedAs(h, record.id, record.user, winner?.status ?? 'PENDING');
    });

    it('lets exactly one of many racing transitions win', async () => {
      const record = makeRequest();
      await h.store.requests.create(record);
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => h.store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', attempts: i + 1 })),
      );
      const winners = results.filter((r) => r !== undefined);
      assert.equal(winners.length, 1);
      assert.deepEqual(await h.store.requests.get(record.id), winners[0]);
    });

    it('keeps every index in step with the status', async () => {
      const record = makeRequest({ user: 'u-dave' });
      await h.store.requests.create(record);
      await assertIndexedAs(h, record.id, 'u-dave', 'PENDING');
      await h.store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: 1 });
      await assertIndexedAs(h, record.id, 'u-dave', 'RUNNING');
      await h.store.requests.transition(record.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: 2 });
      await assertIndexedAs(h, record.id, 'u-dave', 'SUCCEEDED');
    });

    it('moves a finished request when `from` names its status', async () => {
      const record = makeRequest({ status: 'FAILED', finishedAt: 5, attempts: 1 });
      await h.store.requests.create(record);
      const retried = await h.store.requests.transition(record.id, ['FAILED'], { status: 'PENDING', attempts: 1 });
      assert.equal(retried?.status, 'PENDING');
      await assertIndexedAs(h, record.id, record.user, 'PENDING');
      const running = await h.store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', attempts: 2 });
      assert.equal(running?.attempts, 2);
      await assertIndexedAs(h, record.id, record.user, 'RUNNING');
    });
  });
}
