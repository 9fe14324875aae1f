import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRequest } from '../fixtures.js';
import { listAll, type StoreHarness } from './harness.js';

export function describeIdempotency(h: StoreHarness): void {
  describe('idempotency', () => {
    it('returns the first request, created:false, for the same user and key', async () => {
      const first = makeRequest({ user: 'u-alice', idempotencyKey: 'k1', body: { n: 1 } });
      const second = makeRequest({ user: 'u-alice', idempotencyKey: 'k1', body: { n: 2 } });
      assert.equal((await h.store.requests.create(first)).created, true);
      const again = await h.store.requests.create(second);
      assert.equal(again.created, false);
      assert.deepEqual(again.record, first);
      assert.equal(await h.store.requests.get(second.id), undefined, 'the duplicate must not be stored');
      assert.deepEqual((await listAll(h.store, { limit: 10 })).ids, [first.id]);
    });

    it('returns the first request with the digest stored with it, so a retry can be told from a reuse of the key', async () => {
      const first = makeRequest({ user: 'u-alice', idempotencyKey: 'k-hash', idempotencyHash: 'sha256:aaa', body: { n: 1 } });
      await h.store.requests.create(first);
      const again = await h.store.requests.create(makeRequest({ user: 'u-alice', idempotencyKey: 'k-hash', idempotencyHash: 'sha256:bbb', body: { n: 2 } }));
      assert.equal(again.created, false);
      assert.equal(again.record.idempotencyHash, 'sha256:aaa');
      assert.deepEqual(again.record.body, { n: 1 });
    });

    it('returns the first request in its current state', async () => {
      const first = makeRequest({ idempotencyKey: 'k-state' });
      await h.store.requests.create(first);
      await h.store.requests.transition(first.id, ['PENDING'], { status: 'RUNNING', startedAt: 7, attempts: 1 });
      const again = await h.store.requests.create(makeRequest({ idempotencyKey: 'k-state' }));
      assert.equal(again.created, false);
      assert.deepEqual(again.record, { ...first, status: 'RUNNING', startedAt: 7, attempts: 1 });
    });

    it('scopes keys per user', async () => {
      const alice = makeRequest({ user: 'u-alice', idempotencyKey: 'shared' });
      const bob = makeRequest({ user: 'u-bob', idempotencyKey: 'shared' });
      assert.equal((await h.store.requests.create(alice)).created, true);
      const result = await h.store.requests.create(bob);
      assert.equal(result.created, true);
      assert.deepEqual(result.record, bob);
      assert.deepEqual(await h.store.requests.get(bob.id), bob);
    });

    it('creates separate requests for different keys or no key', async () => {
      const records = [
        makeRequest({ idempotencyKey: 'a' }),
        makeRequest({ idempotencyKey: 'b' }),
        makeRequest(),
        makeRequest(),
      ];
      for (const r of records) assert.equal((await h.store.requests.create(r)).created, true);
      assert.equal((await listAll(h.store, { limit: 10 })).ids.length, 4);
    });

    it('lets exactly one of many racing creates with one key win', async () => {
      const racers = Array.from({ length: 20 }, () => makeRequest({ idempotencyKey: 'race' }));
      const results = await Promise.all(racers.map((r) => h.store.requests.create(r)));
      const winners = results.filter((r) => r.created);
      assert.equal(winners.length, 1);
      const winnerId = winners[0]?.record.id;
      for (const r of results) assert.equal(r.record.id, winnerId);
      assert.deepEqual((await listAll(h.store, { limit: 50 })).ids, [winnerId]);
    });
  });
}
