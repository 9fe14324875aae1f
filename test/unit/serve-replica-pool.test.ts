import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { PASSIVE_SKIP_MS, ReplicaPool } from '../../core/daemon/src/serve/replica-pool.js';
import { RequestRate } from '../../core/daemon/src/serve/request-rate.js';

const three = [
  { id: 1, endpoint: 'http://127.0.0.1:9001' },
  { id: 2, endpoint: 'http://127.0.0.1:9002' },
  { id: 3, endpoint: 'http://[::1]:9003' },
];

function firstPicks(pool: ReplicaPool, n: number): number[] {
  return Array.from({ length: n }, () => pool.order()[0]!.id);
}

describe('ReplicaPool', () => {
  it('round_robin takes turns and lists every replica once per request', () => {
    const pool = new ReplicaPool('round_robin');
    pool.set(three);
    assert.deepEqual(firstPicks(pool, 6), [1, 2, 3, 1, 2, 3]);
    assert.deepEqual(pool.order().map((r) => r.id).sort(), [1, 2, 3]);
    const v6 = pool.order().find((r) => r.id === 3)!;
    assert.deepEqual([v6.host, v6.port], ['::1', 9003]);
    pool.close();
  });

  it('passes over a failed replica for a while, keeping the turns even among the others', () => {
    let now = 5_000;
    const pool = new ReplicaPool('round_robin', () => now);
    pool.set(three);
    const second = pool.order().find((r) => r.id === 2)!;
    assert.equal(pool.skip(second), true);
    assert.equal(pool.skip(second), false, 'already passed over');
    const picks = firstPicks(pool, 6);
    assert.deepEqual([picks.filter((id) => id === 1).length, picks.filter((id) => id === 3).length, picks.includes(2)], [3, 3, false]);
    assert.equal(pool.order().at(-1)!.id, 2, 'still tried last');
    // Listed again unchanged, it stays passed over; with a new endpoint it is a new replica.
    pool.set(three);
    assert.equal(pool.order().at(-1)!.id, 2);
    now += PASSIVE_SKIP_MS + 1;
    assert.ok(firstPicks(pool, 3).includes(2), 'back in turn once the while is over');
    pool.skip(pool.order().find((r) => r.id === 2)!);
    pool.set([three[0]!, { id: 2, endpoint: 'http://127.0.0.1:9102' }, three[2]!]);
    assert.ok(firstPicks(pool, 3).includes(2));
    pool.close();
  });

  it('least_load prefers the fewest in flight and takes turns among equals', () => {
    const pool = new ReplicaPool('least_load');
    pool.set(three);
    const [a, b, c] = [1, 2, 3].map((id) => pool.order().find((r) => r.id === id)!);
    a!.inFlight = 2;
    b!.inFlight = 0;
    c!.inFlight = 0;
    assert.deepEqual(firstPicks(pool, 4).sort(), [2, 2, 3, 3]);
    c!.inFlight = 1;
    assert.deepEqual(pool.order().map((r) => r.id), [2, 3, 1]);
    pool.close();
  });

  it('counts what each replica was sent and forgets nothing when the pool changes', () => {
    const pool = new ReplicaPool('round_robin');
    pool.set(three);
    for (const replica of pool.order()) pool.count(replica);
    pool.set([three[0]!]);
    pool.count(pool.order()[0]!);
    assert.deepEqual(Object.fromEntries(pool.served), { 1: 2, 2: 1, 3: 1 });
    assert.equal(pool.size, 1);
    pool.close();
    assert.deepEqual(pool.order(), []);
  });
});

describe('RequestRate', () => {
  it('averages the requests of the window, forgetting older seconds', () => {
    let now = 1_000_000;
    const rate = new RequestRate(() => now);
    assert.equal(rate.perSecond(), 0);
    for (let i = 0; i < 30; i++) rate.record();
    now += 10_000;
    for (let i = 0; i < 30; i++) rate.record();
    assert.equal(rate.perSecond(60), 1);
    assert.equal(rate.perSecond(5), 6);
    now += 55_000;
    assert.equal(rate.perSecond(60), 0.5, 'the first 30 left the window');
    now += 700_000;
    assert.equal(rate.perSecond(600), 0, 'a slot a full ring ago is not counted again');
  });
});
