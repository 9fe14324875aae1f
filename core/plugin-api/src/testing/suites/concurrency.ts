import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRequest } from '../fixtures.js';
import { listAll, newestFirst, requireReopen, type StoreHarness } from './harness.js';

const N = 200;

export function describeConcurrency(h: StoreHarness): void {
  describe('concurrency', () => {
    it(`lands ${N} concurrent creates`, async () => {
      const records = Array.from({ length: N }, (_, i) => makeRequest({ user: `u-${i % 7}` }));
      const results = await Promise.all(records.map((r) => h.store.requests.create(r)));
      assert.ok(results.every((r) => r.created));
      assert.deepEqual((await listAll(h.store, { limit: 37 })).ids, newestFirst(records));
      assert.equal((await h.store.requests.listByStatus('PENDING')).length, N);
      const got = await Promise.all(records.map((r) => h.store.requests.get(r.id)));
      assert.deepEqual(got, records);
    });

    it(`lands ${N} concurrent create + transition + log + transition chains`, async (t) => {
      const records = Array.from({ length: N }, () => makeRequest());
      await Promise.all(
        records.map(async (r, i) => {
          assert.equal((await h.store.requests.create(r)).created, true);
          const running = await h.store.requests.transition(r.id, ['PENDING'], { status: 'RUNNING', startedAt: i, attempts: 1 });
          assert.equal(running?.status, 'RUNNING');
          assert.equal(await h.store.requests.appendLog(r.id, `out ${i}`, i), 0);
          const done = await h.store.requests.transition(r.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: i + 1, result: { i } });
          assert.equal(done?.status, 'SUCCEEDED');
        }),
      );
      const check = async (): Promise<void> => {
        assert.equal((await h.store.requests.listByStatus('PENDING')).length, 0);
        assert.equal((await h.store.requests.listByStatus('RUNNING')).length, 0);
        assert.equal((await h.store.requests.listByStatus('SUCCEEDED')).length, N);
        assert.deepEqual((await listAll(h.store, { status: ['SUCCEEDED'], limit: 64 })).ids, newestFirst(records));
        for (const [i, r] of records.entries()) {
          assert.deepEqual(await h.store.requests.get(r.id), {
            ...r,
            status: 'SUCCEEDED',
            startedAt: i,
            attempts: 1,
            finishedAt: i + 1,
            result: { i },
          });
        }
      };
      await check();
      if (h.store.capabilities.durable && requireReopen(h, t)) {
        await h.reopen();
        await check();
      }
    });

    it('serializes transitions racing with creates and other transitions', async () => {
      const records = Array.from({ length: N }, () => makeRequest());
      await Promise.all(records.map((r) => h.store.requests.create(r)));
      const outcomes = await Promise.all(
        records.flatMap((r) => [
          h.store.requests.transition(r.id, ['PENDING'], { status: 'RUNNING' }),
          h.store.requests.transition(r.id, ['PENDING'], { status: 'CANCELLED', finishedAt: 1 }),
        ]),
      );
      for (let i = 0; i < N; i++) {
        const won = [outcomes[2 * i], outcomes[2 * i + 1]].filter((o) => o !== undefined);
        assert.equal(won.length, 1, `request ${i}: ${won.length} transitions won`);
      }
      const running = (await h.store.requests.listByStatus('RUNNING')).length;
      const cancelled = (await h.store.requests.listByStatus('CANCELLED')).length;
      assert.equal(running + cancelled, N);
      assert.equal((await h.store.requests.listByStatus('PENDING')).length, 0);
    });
  });
}
