import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord, RequestStatus } from '@sky/protocol';
import type { RequestFilter } from '../../store.js';
import { makeRequest } from '../fixtures.js';
import { listAll, newestFirst, oldestFirst, rejectsWithCode, shuffled, type StoreHarness } from './harness.js';

const STATUSES: RequestStatus[] = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];

/** 60 requests over 3 users, 5 statuses, 3 names and 3 cluster values (one being "none"). */
function dataset(): RequestRecord[] {
  const users = ['u-alice', 'u-bob', 'u-carol'];
  const names = ['ping', 'launch', 'exec'];
  const clusters = ['c1', 'c2', undefined];
  return Array.from({ length: 60 }, (_, i) => {
    const cluster = clusters[i % 3];
    return makeRequest({
      user: users[i % users.length] as string,
      status: STATUSES[Math.floor(i / 3) % STATUSES.length] as RequestStatus,
      name: names[Math.floor(i / 5) % names.length] as string,
      ...(cluster === undefined ? {} : { cluster }),
    });
  });
}

/** The records a filter should match, as the spec defines it. */
function oracle(records: readonly RequestRecord[], filter: Omit<RequestFilter, 'limit' | 'cursor'>): string[] {
  return newestFirst(
    records.filter(
      (r) =>
        (filter.user === undefined || r.user === filter.user) &&
        (filter.status === undefined || filter.status.includes(r.status)) &&
        (filter.name === undefined || r.name === filter.name) &&
        (filter.cluster === undefined || r.cluster === filter.cluster),
    ),
  );
}

async function createAll(h: StoreHarness, records: readonly RequestRecord[]): Promise<void> {
  // Insertion order differs from id order: the store must order by id, not by arrival.
  for (const r of shuffled(records)) await h.store.requests.create(r);
}

export function describeListing(h: StoreHarness): void {
  describe('list', () => {
    it('returns an empty page without a cursor on an empty store', async () => {
      const page = await h.store.requests.list({ limit: 10 });
      assert.deepEqual(page.items, []);
      assert.equal(page.nextCursor, undefined);
    });

    it('orders newest first (descending id) and returns whole records', async () => {
      const records = Array.from({ length: 12 }, () => makeRequest());
      await createAll(h, records);
      const page = await h.store.requests.list({ limit: 100 });
      assert.deepEqual(page.items.map((r) => r.id), newestFirst(records));
      assert.equal(page.nextCursor, undefined);
      const byId = new Map(records.map((r) => [r.id, r]));
      for (const item of page.items) assert.deepEqual(item, byId.get(item.id));
    });

    const filters: Array<[string, Omit<RequestFilter, 'limit' | 'cursor'>]> = [
      ['user', { user: 'u-bob' }],
      ['one status', { status: ['RUNNING'] }],
      ['several statuses', { status: ['PENDING', 'FAILED', 'CANCELLED'] }],
      ['name', { name: 'launch' }],
      ['cluster', { cluster: 'c2' }],
      ['user + status', { user: 'u-alice', status: ['SUCCEEDED', 'PENDING'] }],
      ['user + name + cluster', { user: 'u-carol', name: 'ping', cluster: 'c1' }],
      ['status + name + cluster', { status: ['RUNNING', 'FAILED'], name: 'exec', cluster: 'c1' }],
      ['all four', { user: 'u-bob', status: ['PENDING', 'RUNNING', 'CANCELLED'], name: 'ping', cluster: 'c2' }],
      ['an unknown user', { user: 'u-nobody' }],
    ];
    for (const [label, filter] of filters) {
      it(`filters by ${label}`, async () => {
        const records = dataset();
        await createAll(h, records);
        const expected = oracle(records, filter);
        const page = await h.store.requests.list({ ...filter, limit: 1000 });
        assert.deepEqual(page.items.map((r) => r.id), expected);
        assert.equal(page.nextCursor, undefined);
        assert.deepEqual((await listAll(h.store, { ...filter, limit: 4 })).ids, expected, 'paginated with limit 4');
      });
    }

    it('paginates: every match exactly once, in order, ending without a cursor', async () => {
      const records = Array.from({ length: 23 }, () => makeRequest());
      await createAll(h, records);
      const { ids, pages } = await listAll(h.store, { limit: 5 });
      assert.deepEqual(ids, newestFirst(records));
      assert.equal(pages, 5);
    });

    it('gives no cursor on a last page that is exactly full', async () => {
      const records = Array.from({ length: 20 }, () => makeRequest());
      await createAll(h, records);
      const { ids, pages } = await listAll(h.store, { limit: 5 });
      assert.deepEqual(ids, newestFirst(records));
      assert.equal(pages, 4);
      const single = await listAll(h.store, { limit: 1 });
      assert.deepEqual(single.ids, newestFirst(records));
      assert.equal(single.pages, 20);
    });

    it('keeps a cursor valid while newer requests arrive', async () => {
      const records = Array.from({ length: 10 }, () => makeRequest({ user: 'u-erin' }));
      await createAll(h, records);
      const first = await h.store.requests.list({ user: 'u-erin', limit: 4 });
      assert.ok(first.nextCursor !== undefined);
      const newer = Array.from({ length: 3 }, () => makeRequest({ user: 'u-erin' }));
      for (const r of newer) await h.store.requests.create(r);
      const rest = await listAll(h.store, { user: 'u-erin', limit: 4 }, first.nextCursor);
      assert.deepEqual([...first.items.map((r) => r.id), ...rest.ids], newestFirst(records));
    });

    it('rejects a cursor it did not issue', async () => {
      await h.store.requests.create(makeRequest());
      await rejectsWithCode(h.store.requests.list({ limit: 5, cursor: 'not-a-cursor' }), 'VALIDATION_FAILED');
    });
  });

  describe('listByStatus', () => {
    it('returns every request in one status, oldest first', async () => {
      const records = dataset();
      await createAll(h, records);
      for (const status of STATUSES) {
        const got = await h.store.requests.listByStatus(status);
        assert.deepEqual(got.map((r) => r.id), oldestFirst(records.filter((r) => r.status === status)));
        for (const r of got) assert.equal(r.status, status);
      }
    });

    it('returns an empty array when nothing matches', async () => {
      assert.deepEqual(await h.store.requests.listByStatus('RUNNING'), []);
    });
  });
}
