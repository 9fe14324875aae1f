import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestRecord } from '@sky/protocol';
import { LaneQueue } from '../../core/daemon/src/scheduler/lane.js';
import { alice, bob, delay, inProcess, type InProcess } from '../helpers/in-process.js';

let seq = 0;
function req(user: string): RequestRecord {
  seq += 1;
  return { id: `r${String(seq).padStart(6, '0')}`, name: 'ping', user, userName: user, workspace: 'default', lane: 'short', status: 'PENDING', createdAt: seq, body: {}, attempts: 0 };
}

function takeAll(q: LaneQueue): string[] {
  const out: string[] = [];
  for (let r = q.take(); r !== undefined; r = q.take()) out.push(r.user);
  return out;
}

describe('lane queue: fair across users', () => {
  it('hands free slots round-robin to the users with queued requests', () => {
    const q = new LaneQueue('short', 6);
    for (let i = 0; i < 10; i++) q.push(req('a'), 10);
    q.push(req('b'), 10);
    q.push(req('b'), 10);
    q.push(req('c'), 10);
    assert.deepEqual(takeAll(q), ['a', 'b', 'c', 'a', 'b', 'a']);
    assert.equal(q.queued, 7);
  });

  it("never runs more of one user's requests than their cap, even with free slots", () => {
    const q = new LaneQueue('short', 64);
    for (let i = 0; i < 68; i++) q.push(req('flood'), 2);
    assert.deepEqual(takeAll(q), ['flood', 'flood']);
    q.push(req('other'), 2);
    assert.deepEqual(takeAll(q), ['other'], 'another user starts at once');
    q.release('flood');
    assert.deepEqual(takeAll(q), ['flood'], 'a released slot goes to the capped user again');
    assert.equal(q.runningOf('flood'), 2);
    assert.equal(q.running, 3);
  });

  it('caps each user by the cap of their latest request (admins have their own)', () => {
    const q = new LaneQueue('long', 10);
    for (let i = 0; i < 5; i++) q.push(req('user'), 2);
    for (let i = 0; i < 5; i++) q.push(req('admin'), 3);
    assert.deepEqual(takeAll(q).sort(), ['admin', 'admin', 'admin', 'user', 'user']);
  });

  it('keeps each user\'s own order, and forgets users with nothing queued or running', () => {
    const q = new LaneQueue('short', 1);
    const first = req('a');
    const second = req('a');
    q.push(first, 5);
    q.push(second, 5);
    assert.equal(q.take()?.id, first.id);
    assert.equal(q.take(), undefined, 'the lane is full');
    q.release('a');
    assert.equal(q.take()?.id, second.id);
    q.release('a');
    assert.equal(q.runningOf('a'), 0);
    assert.equal(q.queued, 0);
  });
});

describe('scheduler: one user cannot occupy a lane', () => {
  let p: InProcess;
  before(async () => {
    p = await inProcess({ auth: { mode: 'basic' }, requests: { short_workers: 4, max_running_per_user: { short: 2, long: 1 }, cancel_grace_seconds: 1 } });
  });
  after(async () => p.close());

  it("answers another user's ping while one user has 20 sleeping pings queued", async () => {
    const flood = [];
    for (let i = 0; i < 20; i++) flood.push((await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'short' })).record.id);
    await delay(50);
    const running = (await Promise.all(flood.map((id) => p.service.get(id)))).filter((r) => r.status === 'RUNNING');
    assert.equal(running.length, 2, 'the flood holds only its cap of the lane');
    const other = await p.scheduler.submit({ ...bob, name: 'ping', body: {}, lane: 'short' });
    assert.equal((await p.service.wait(other.record.id, 5)).status, 'SUCCEEDED');
    await p.service.cancel({ id: alice.user, name: alice.userName, role: 'admin' }, { ids: flood });
  });
});

describe('scheduler: idempotency keys', () => {
  let p: InProcess;
  before(async () => {
    p = await inProcess();
  });
  after(async () => p.close());

  it('returns the first request for a retry with the same body (whatever the key order)', async () => {
    const first = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 0, fail: 'x' }, lane: 'short', idempotencyKey: 'same' });
    const retry = await p.scheduler.submit({ ...alice, name: 'ping', body: { fail: 'x', sleep: 0 }, lane: 'short', idempotencyKey: 'same' });
    assert.equal(retry.created, false);
    assert.equal(retry.record.id, first.record.id);
  });

  it('refuses the key with another body, another operation or another workspace (409), and never returns another user\'s request', async () => {
    await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 0 }, lane: 'short', idempotencyKey: 'k-body' });
    await assert.rejects(p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 1 }, lane: 'short', idempotencyKey: 'k-body' }), { code: 'IDEMPOTENCY_CONFLICT' });
    await assert.rejects(p.scheduler.submit({ ...alice, name: 'check', body: {}, lane: 'short', idempotencyKey: 'k-body' }), { code: 'IDEMPOTENCY_CONFLICT' });
    await assert.rejects(p.scheduler.submit({ ...alice, workspace: 'other', name: 'ping', body: { sleep: 0 }, lane: 'short', idempotencyKey: 'k-body' }), { code: 'IDEMPOTENCY_CONFLICT' });
    const bobs = await p.scheduler.submit({ ...bob, name: 'ping', body: { sleep: 1 }, lane: 'short', idempotencyKey: 'k-body' });
    assert.equal(bobs.created, true);
    assert.equal(bobs.record.user, bob.user);
  });
});
