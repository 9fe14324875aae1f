import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { alice, bob, delay, inProcess, type InProcess } from '../helpers/in-process.js';

describe('scheduler', () => {
  let p: InProcess;
  before(async () => {
    p = await inProcess({ requests: { short_workers: 2, long_workers: 1, cancel_grace_seconds: 1 } });
  });
  after(async () => p.close());

  it('runs a submitted request to SUCCEEDED with its result and log', async () => {
    const { record, created } = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 0.05 }, lane: 'short' });
    assert.equal(created, true);
    assert.equal(record.status, 'PENDING');
    const done = await p.service.wait(record.id, 5);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal((done.result as { pong: boolean }).pong, true);
    assert.equal(done.attempts, 1);
    assert.ok(done.startedAt! >= done.createdAt && done.finishedAt! >= done.startedAt!);
    const log = await p.store.requests.readLog(record.id);
    assert.deepEqual(log.map((c) => c.text), ['ping: sleeping 0.05s', 'ping: 0.05s elapsed', 'pong']);
  });

  it('records the error of a failing operation', async () => {
    const { record } = await p.scheduler.submit({ ...alice, name: 'ping', body: { fail: 'boom' }, lane: 'short' });
    const done = await p.service.wait(record.id, 5);
    assert.equal(done.status, 'FAILED');
    assert.equal(done.error?.code, 'OPERATION_FAILED');
    assert.equal(done.error?.message, 'boom');
  });

  it('answers short requests while the long lane is saturated', async () => {
    const long1 = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'long' });
    const long2 = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'long' });
    await delay(20);
    assert.equal((await p.service.get(long1.record.id)).status, 'RUNNING');
    assert.equal((await p.service.get(long2.record.id)).status, 'PENDING', 'long lane holds one at a time');
    const short = await p.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'short' });
    assert.equal((await p.service.wait(short.record.id, 5)).status, 'SUCCEEDED');
    assert.equal((await p.service.get(long1.record.id)).status, 'RUNNING');
    await p.service.cancel({ id: 'u-alice', name: 'alice' }, { ids: [long1.record.id, long2.record.id] });
  });

  it('never starts a PENDING request once cancel has returned', async () => {
    const blocker = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'long' });
    const queued = await p.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'long' });
    const result = await p.service.cancel({ id: 'u-alice', name: 'alice' }, { ids: [queued.record.id] });
    assert.deepEqual(result.cancelled, [queued.record.id]);
    await p.service.cancel({ id: 'u-alice', name: 'alice' }, { ids: [blocker.record.id] });
    await delay(100);
    const after = await p.service.get(queued.record.id);
    assert.equal(after.status, 'CANCELLED');
    assert.equal(after.startedAt, undefined, 'it never started');
    assert.equal(after.attempts, 0);
  });

  it('aborts a RUNNING request on cancel and ends it CANCELLED', async () => {
    const { record } = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'short' });
    await delay(30);
    assert.equal((await p.service.get(record.id)).status, 'RUNNING');
    const started = Date.now();
    const result = await p.service.cancel({ id: 'u-alice', name: 'alice' }, { ids: [record.id] });
    assert.deepEqual(result.cancelled, [record.id]);
    const after = await p.service.get(record.id);
    assert.equal(after.status, 'CANCELLED');
    assert.equal(after.error?.code, 'CANCELLED');
    assert.ok(Date.now() - started < 30_000);
  });

  it('reports finished requests as already finished and unknown ids as not found', async () => {
    const { record } = await p.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'short' });
    await p.service.wait(record.id, 5);
    const result = await p.service.cancel({ id: 'u-alice', name: 'alice' }, { ids: [record.id] });
    assert.deepEqual(result.alreadyFinished, [record.id]);
    await assert.rejects(p.service.cancel({ id: 'u-alice', name: 'alice' }, { ids: ['nope'] }), { code: 'REQUEST_NOT_FOUND' });
  });

  it('returns the first request for a retried idempotency key, per user', async () => {
    const first = await p.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'short', idempotencyKey: 'k-1' });
    const again = await p.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'short', idempotencyKey: 'k-1' });
    const other = await p.scheduler.submit({ ...bob, name: 'ping', body: {}, lane: 'short', idempotencyKey: 'k-1' });
    assert.equal(again.created, false);
    assert.equal(again.record.id, first.record.id);
    assert.equal(other.created, true);
    assert.notEqual(other.record.id, first.record.id);
  });

  it('cancels all of the caller\'s active requests, leaving other users\' alone', async () => {
    const mine = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'short' });
    const theirs = await p.scheduler.submit({ ...bob, name: 'ping', body: { sleep: 30 }, lane: 'short' });
    const result = await p.service.cancel({ id: 'u-alice', name: 'alice' }, { all: true });
    assert.ok(result.cancelled.includes(mine.record.id));
    assert.ok(!result.cancelled.includes(theirs.record.id));
    assert.equal((await p.service.get(theirs.record.id)).status, 'RUNNING');
    await p.service.cancel({ id: 'u-bob', name: 'bob' }, { all: true, all_users: true });
    assert.equal((await p.service.get(theirs.record.id)).status, 'CANCELLED');
  });

  it('lists only the caller\'s requests unless all users are asked for', async () => {
    const page = await p.service.list({ id: 'u-bob', name: 'bob' }, {});
    assert.ok(page.items.length > 0);
    assert.ok(page.items.every((r) => r.user === 'u-bob'));
    const all = await p.service.list({ id: 'u-bob', name: 'bob' }, { all_users: true, limit: 1000 });
    assert.ok(all.items.some((r) => r.user === 'u-alice'));
    const ids = all.items.map((r) => r.id);
    assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first');
  });
});

describe('scheduler recovery and drain', () => {
  it('after a restart re-runs PENDING requests and fails RUNNING ones with "daemon restarted"', async () => {
    const store = new MemoryStateStore();
    const first = await inProcess({ requests: { long_workers: 1 } }, store);
    const running = await first.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'long' });
    const pending = await first.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'long' });
    await delay(30);
    // Simulate the process dying: a second graph over the same store, the first one abandoned.
    const second = await inProcess({}, store);
    const recovered = await second.scheduler.recover();
    assert.deepEqual(recovered, { requeued: 1, failed: 1, resumed: 0, completed: 0 });
    const failed = await second.service.get(running.record.id);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.error?.code, 'DAEMON_RESTARTED');
    assert.equal(failed.error?.message, 'daemon restarted');
    assert.equal((await second.service.wait(pending.record.id, 5)).status, 'SUCCEEDED');
    await first.scheduler.drain(0);
    await second.close();
  });

  it('on drain refuses new requests and hands running ones back as PENDING', async () => {
    const p = await inProcess({ requests: { short_workers: 1 } });
    const { record } = await p.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'short' });
    await delay(30);
    const drained = await p.scheduler.drain(50);
    assert.equal(drained.handedBack, 1);
    const back = await p.service.get(record.id);
    assert.equal(back.status, 'PENDING');
    await assert.rejects(p.scheduler.submit({ ...alice, name: 'ping', body: {}, lane: 'short' }), { code: 'SHUTTING_DOWN' });
    await p.close();
  });
});
