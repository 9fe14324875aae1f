import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestRecord } from '@sky/protocol';
import type { Leases, StateStore } from '@sky/plugin-api';
import { makeRequest, MemoryStateStore } from '@sky/plugin-api/testing';
import { LogBus } from '../../core/daemon/src/scheduler/log-bus.js';
import { alice, inProcess } from '../helpers/in-process.js';

/** Leases as a shared store keeps them, with the holders a test says are alive (no expiry). */
class TestLeases implements Leases {
  readonly held = new Map<string, string>();
  acquire(name: string, holder: string): Promise<boolean> {
    const now = this.held.get(name);
    if (now !== undefined && now !== holder) return Promise.resolve(false);
    this.held.set(name, holder);
    return Promise.resolve(true);
  }
  renew(name: string, holder: string): Promise<boolean> {
    return Promise.resolve(this.held.get(name) === holder);
  }
  release(name: string, holder: string): Promise<boolean> {
    if (this.held.get(name) !== holder) return Promise.resolve(false);
    this.held.delete(name);
    return Promise.resolve(true);
  }
  holder(name: string): Promise<string | undefined> {
    return Promise.resolve(this.held.get(name));
  }
}

/** The memory store with leases: a store shared by several replicas, as far as the scheduler can tell. */
class SharedMemoryStore extends MemoryStateStore {
  readonly leases = new TestLeases();
}

async function left(store: StateStore, status: 'PENDING' | 'RUNNING', replica: string, overrides: Partial<RequestRecord> = {}): Promise<RequestRecord> {
  const { record } = await store.requests.create(makeRequest({ user: alice.user, userName: alice.userName, name: 'ping', body: {}, replica, ...overrides }));
  if (status === 'PENDING') return record;
  const running = await store.requests.transition(record.id, ['PENDING'], { status: 'RUNNING', startedAt: Date.now(), attempts: 1, replica });
  assert.ok(running);
  return running;
}

describe('taking over the requests of dead replicas', () => {
  it('takes the requests of replicas without a lease (and of its own id at start), never those of a live replica', async () => {
    const store = new SharedMemoryStore();
    await store.open();
    store.leases.held.set('replica/live-b', 'live-b');
    const liveRunning = await left(store, 'RUNNING', 'live-b', { body: { sleep: 30 } });
    const livePending = await left(store, 'PENDING', 'live-b');
    const deadPending = await left(store, 'PENDING', 'dead-c');
    const deadPing = await left(store, 'RUNNING', 'dead-c', { body: { sleep: 30 } });
    const deadDown = await left(store, 'RUNNING', 'dead-c', { name: 'down', lane: 'long', body: { cluster: 'gone' } });
    const deadCancelled = await left(store, 'RUNNING', 'dead-c', { body: { sleep: 30 } });
    await store.requests.transition(deadCancelled.id, ['RUNNING'], { status: 'RUNNING', cancelRequestedAt: Date.now() });
    const ownPending = await left(store, 'PENDING', 'me');

    const p = await inProcess({ replica_id: 'me' }, store);
    try {
      assert.deepEqual(await p.scheduler.recover(), { requeued: 2, failed: 2, resumed: 1, completed: 0 });
      const pending = await p.service.wait(deadPending.id, 5);
      assert.deepEqual([pending.status, pending.replica, pending.attempts], ['SUCCEEDED', 'me', 1]);
      assert.equal((await p.service.wait(ownPending.id, 5)).status, 'SUCCEEDED');
      const ping = await p.service.wait(deadPing.id, 5);
      assert.deepEqual([ping.status, ping.error?.code], ['FAILED', 'DAEMON_RESTARTED']);
      const down = await p.service.wait(deadDown.id, 5);
      assert.deepEqual([down.status, down.replica, down.attempts], ['SUCCEEDED', 'me', 2]);
      assert.equal((await p.service.wait(deadCancelled.id, 5)).status, 'CANCELLED');

      const untouched = await store.requests.get(liveRunning.id);
      assert.deepEqual([untouched?.status, untouched?.replica], ['RUNNING', 'live-b']);
      const waiting = await store.requests.get(livePending.id);
      assert.deepEqual([waiting?.status, waiting?.replica], ['PENDING', 'live-b']);

      // live-b dies: the next periodic look takes its requests.
      store.leases.held.delete('replica/live-b');
      assert.deepEqual(await p.scheduler.takeOverDead(), { requeued: 1, failed: 1, resumed: 0, completed: 0 });
      assert.equal((await p.service.wait(livePending.id, 5)).replica, 'me');
      assert.equal((await p.service.wait(liveRunning.id, 5)).error?.code, 'DAEMON_RESTARTED');
    } finally {
      await p.close();
    }
  });

  it('two survivors looking at once run each request of the dead one once', async () => {
    const store = new SharedMemoryStore();
    await store.open();
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await left(store, i % 3 === 0 ? 'RUNNING' : 'PENDING', 'dead-a', i % 3 === 0 ? { name: 'down', lane: 'long', body: { cluster: `gone-${i}` } } : {})).id);
    const b = await inProcess({ replica_id: 'b' }, store);
    const c = await inProcess({ replica_id: 'c' }, store);
    try {
      store.leases.held.set('replica/b', 'b');
      store.leases.held.set('replica/c', 'c');
      await Promise.all([b.scheduler.takeOverDead(), c.scheduler.takeOverDead()]);
      for (const id of ids) {
        const done = await b.service.wait(id, 10);
        assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done));
        const started = done.name === 'down' ? 2 : 1;
        assert.equal(done.attempts, started, `${id} started ${done.attempts} times`);
        assert.ok(done.replica === 'b' || done.replica === 'c');
      }
    } finally {
      await b.close();
      await c.close();
    }
  });
});

describe('the log bus', () => {
  it('wakes the waiters of a request once, however often its end is seen', () => {
    const bus = new LogBus();
    const record = makeRequest({ status: 'SUCCEEDED' });
    let woken = 0;
    let audited = 0;
    bus.subscribe(record.id, { end: () => (woken += 1) });
    bus.onAnyEnd(() => (audited += 1));
    bus.finish(record);
    bus.ended(record);
    bus.ended(record);
    assert.deepEqual({ woken, audited }, { woken: 1, audited: 1 });
    const remote = makeRequest({ status: 'CANCELLED' });
    bus.subscribe(remote.id, { end: () => (woken += 1) });
    bus.ended(remote);
    assert.deepEqual({ woken, audited }, { woken: 2, audited: 1 }, 'an end seen in the shared feed is not audited here');
  });
});
