import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SkyError } from '@sky/protocol';
import type { FeedChange, FeedPosition, StoredEvent } from '@sky/plugin-api';
import { makeAudit, makeCluster, makeJob, makeRequest, makeSpec } from '@sky/plugin-api/testing';
import type { PostgresStateStore } from '@sky/store-postgres';
import { adminQuery, pgStoreFixture } from './store-postgres-fixture.js';

const quiet = (): void => {};

function label(change: FeedChange | StoredEvent['change']): string {
  if (change.kind === 'request') return `request ${change.id} ${change.record?.status ?? '-'}`;
  if (change.kind === 'job') return `job ${change.cluster}/${change.id}`;
  if (change.kind === 'cluster') return `cluster ${change.name}`;
  return change.kind;
}

function rejectedWith(result: PromiseSettledResult<unknown>, code: string, text: RegExp): void {
  assert.equal(result.status, 'rejected');
  const reason = (result as PromiseRejectedResult).reason as unknown;
  assert.ok(reason instanceof SkyError, `expected a SkyError, got ${String(reason)}`);
  assert.equal(reason.code, code);
  assert.match(reason.message, text);
}

describe('PostgreSQL store: writes called together share one commit', () => {
  let fixture: Awaited<ReturnType<typeof pgStoreFixture>>;
  let store: PostgresStateStore;
  const commits: number[] = [];
  const delivered: Array<{ change: FeedChange; position: FeedPosition }> = [];

  before(async () => {
    fixture = await pgStoreFixture({ onListenerError: quiet });
    store = fixture.make({ onWriteCommit: (writes) => commits.push(writes) });
    await store.open();
    store.events.subscribe((change, position) => delivered.push({ change, position }));
  });

  after(async () => {
    await store.close();
    await fixture.cleanup();
  });

  /** The commits and deliveries of `fn`'s writes, and the feed rows they added. */
  async function observe<T>(fn: () => Promise<T>): Promise<{ result: T; commits: number[]; delivered: typeof delivered; feed: StoredEvent[] }> {
    const start = (await store.events.bounds()).last;
    commits.length = 0;
    delivered.length = 0;
    const result = await fn();
    return { result, commits: [...commits], delivered: [...delivered], feed: await store.events.read(start, 1000) };
  }

  it('commits the others when a write in the middle fails, each write seeing the ones called before it', async () => {
    const cluster = (await store.clusters.create(makeCluster({ name: 'batch' }))).record;
    const taken = (await store.requests.create(makeRequest())).record;
    const audit = makeAudit();
    await store.audit.append(audit);
    const first = makeRequest();
    const second = makeRequest();

    const { result, commits: sizes, delivered: seen, feed } = await observe(() =>
      Promise.allSettled([
        store.requests.create(first),
        // Fails in JavaScript, after its INSERT found the id taken.
        store.requests.create({ ...makeRequest(), id: taken.id }),
        // Sees the request created just before it, in the same transaction.
        store.requests.transition(first.id, ['PENDING'], { status: 'RUNNING', startedAt: 1 }),
        // Fails in the database (a unique violation): only its savepoint is rolled back.
        store.audit.append(audit),
        store.jobs.create(makeJob(cluster), makeSpec(), { request: first.id }),
        store.requests.create(second),
      ]),
    );

    assert.equal(result[0].status, 'fulfilled');
    rejectedWith(result[1], 'VALIDATION_FAILED', /already used/);
    assert.equal(result[2].status, 'fulfilled');
    assert.equal((result[2] as PromiseFulfilledResult<unknown>).value !== undefined, true, 'the transition saw the request created before it');
    rejectedWith(result[3], 'VALIDATION_FAILED', /already exists/);
    assert.equal(result[4].status, 'fulfilled');
    assert.equal(result[5].status, 'fulfilled');
    assert.deepEqual(sizes, [4], 'the four writes that succeeded went in one commit');

    // The feed: the kept writes' changes only, in call order, consecutive seqs, one `at`.
    const expected = [`request ${first.id} PENDING`, `request ${first.id} RUNNING`, `job batch/1`, `request ${first.id} RUNNING`, `request ${second.id} PENDING`];
    assert.deepEqual(seen.map((d) => label(d.change)), expected);
    const seqs = seen.map((d) => d.position.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i));
    assert.deepEqual(feed.map((e) => e.seq), seqs);
    assert.equal(new Set(seen.map((d) => d.position.at)).size, 1);

    // The failed writes left nothing behind.
    assert.deepEqual(await store.requests.get(taken.id), taken);
    const audits = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${fixture.schema}".audit`);
    assert.equal(audits[0]?.n, 1);
    assert.equal((await store.requests.get(first.id))?.job?.id, 1);
    assert.equal((await store.requests.get(second.id))?.status, 'PENDING');
  });

  it('commits the others when the first write of a transaction fails', async () => {
    const taken = (await store.requests.create(makeRequest())).record;
    const later = [makeRequest(), makeRequest()];
    const { result, commits: sizes, delivered: seen } = await observe(() =>
      Promise.allSettled([store.requests.create({ ...makeRequest(), id: taken.id }), ...later.map((r) => store.requests.create(r))]),
    );
    rejectedWith(result[0], 'VALIDATION_FAILED', /already used/);
    assert.deepEqual(result.slice(1).map((r) => r.status), ['fulfilled', 'fulfilled']);
    assert.deepEqual(sizes, [2]);
    assert.deepEqual(seen.map((d) => label(d.change)), later.map((r) => `request ${r.id} PENDING`));
  });

  it('settles every write in call order, after its commit', async () => {
    const order: string[] = [];
    const requests = Array.from({ length: 5 }, () => makeRequest());
    await observe(() =>
      Promise.all(
        requests.map((r, i) =>
          (i === 2 ? store.requests.create({ ...r, id: requests[0]!.id }) : store.requests.create(r)).then(
            () => order.push(`${i} ok`),
            () => order.push(`${i} failed`),
          ),
        ),
      ),
    );
    assert.deepEqual(order, ['0 ok', '1 ok', '2 failed', '3 ok', '4 ok']);
  });
});

describe('PostgreSQL store: two instances writing at once keep the feed gapless and in each one\'s call order', () => {
  let fixture: Awaited<ReturnType<typeof pgStoreFixture>>;
  let a: PostgresStateStore;
  let b: PostgresStateStore;
  let reader: PostgresStateStore;
  const commits = { a: [] as number[], b: [] as number[] };

  before(async () => {
    fixture = await pgStoreFixture({ onListenerError: quiet });
    a = fixture.make({ onWriteCommit: (n) => commits.a.push(n) });
    b = fixture.make({ onWriteCommit: (n) => commits.b.push(n) });
    reader = fixture.make();
    await Promise.all([a.open(), b.open(), reader.open()]);
  });

  after(async () => {
    await Promise.allSettled([a.close(), b.close(), reader.close()]);
    await fixture.cleanup();
  });

  it('never skips, repeats or reorders a change, and groups writes into shared commits', async () => {
    const start = (await reader.events.bounds()).last;
    const seen: StoredEvent[] = [];
    const follower = await reader.follow({ afterSeq: start, onEvent: (e) => seen.push(e), onError: quiet });
    const ROUNDS = 6;
    const PER_ROUND = 12;
    // What each instance called, in call order: a create then a transition of each request.
    const called = { a: [] as string[], b: [] as string[] };
    try {
      await Promise.all(
        (['a', 'b'] as const).map(async (who) => {
          const store = who === 'a' ? a : b;
          for (let round = 0; round < ROUNDS; round++) {
            const writes: Array<Promise<unknown>> = [];
            for (let i = 0; i < PER_ROUND; i++) {
              const request = makeRequest({ id: `${who}-${round}-${String(i).padStart(2, '0')}` });
              writes.push(store.requests.create(request));
              called[who].push(`${request.id} create`);
              writes.push(store.requests.transition(request.id, ['PENDING'], { status: 'RUNNING', startedAt: round }));
              called[who].push(`${request.id} transition`);
            }
            const results = await Promise.all(writes);
            assert.ok(results.every((r) => r !== undefined), 'every create and transition took effect');
          }
        }),
      );
      const last = (await reader.events.bounds()).last;
      await follower.waitFor(last, 30_000);
    } finally {
      await follower.close();
    }
    const total = 2 * ROUNDS * PER_ROUND * 2;
    assert.equal(seen.length, total);
    assert.deepEqual(seen.map((e) => e.seq), Array.from({ length: total }, (_, i) => start + 1 + i), 'seqs are consecutive, none missed or repeated');
    // Each instance's changes appear in the order it called the writes.
    for (const who of ['a', 'b'] as const) {
      const mine = seen.filter((e) => e.change.kind === 'request' && e.change.id.startsWith(`${who}-`));
      const order: string[] = [];
      const created = new Set<string>();
      for (const e of mine) {
        const id = (e.change as { id: string }).id;
        order.push(`${id} ${created.has(id) ? 'transition' : 'create'}`);
        created.add(id);
      }
      assert.deepEqual(order, called[who]);
    }
    // The feed agrees with the one the reader reads by page.
    const read = await reader.events.read(start, 1000);
    assert.deepEqual(read.map((e) => e.seq), seen.map((e) => e.seq));
    assert.ok([...commits.a, ...commits.b].some((n) => n > 1), 'some commit carried several writes');
    assert.equal([...commits.a, ...commits.b].reduce((s, n) => s + n, 0), total, 'every write committed once');
  });
});
