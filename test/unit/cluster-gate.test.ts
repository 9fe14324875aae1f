import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import 'reflect-metadata';
import { ClusterGate } from '../../core/daemon/src/clusters/cluster-gate.js';

/** A promise and the function that resolves it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Let every queued promise callback run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('cluster gate', () => {
  it('lets shared holders of one cluster run together', async () => {
    const gate = new ClusterGate();
    const release = latch();
    let inside = 0;
    let most = 0;
    const holders = Array.from({ length: 50 }, () =>
      gate.shared('c', async () => {
        inside += 1;
        most = Math.max(most, inside);
        await release.promise;
        inside -= 1;
      }),
    );
    await settle();
    assert.equal(most, 50);
    release.open();
    await Promise.all(holders);
    assert.equal(gate.busy('c'), false, 'nothing is kept once every holder left');
  });

  it('runs an exclusive holder alone, and admits waiters in arrival order', async () => {
    const gate = new ClusterGate();
    const events: string[] = [];
    const first = latch();
    const held = (name: string, wait?: Promise<void>) => async (): Promise<void> => {
      events.push(`${name}+`);
      if (wait) await wait;
      await settle();
      events.push(`${name}-`);
    };
    const done = Promise.all([
      gate.shared('c', held('s1', first.promise)),
      gate.exclusive('c', held('x1')),
      gate.shared('c', held('s2')),
      gate.shared('c', held('s3')),
      gate.exclusive('c', held('x2')),
    ]);
    await settle();
    assert.deepEqual(events, ['s1+'], 'the exclusive waits for the shared holder; later shared ones wait behind it');
    first.open();
    await done;
    assert.deepEqual(events, ['s1+', 's1-', 'x1+', 'x1-', 's2+', 's3+', 's2-', 's3-', 'x2+', 'x2-']);
  });

  it('lets a waiter leave when its signal fires, and admits those behind it', async () => {
    const gate = new ClusterGate();
    const release = latch();
    const holder = gate.shared('c', () => release.promise);
    const controller = new AbortController();
    const waitingExclusive = gate.exclusive('c', async () => 'never', controller.signal);
    let sharedRan = false;
    const behind = gate.shared('c', async () => {
      sharedRan = true;
    });
    await settle();
    assert.equal(sharedRan, false, 'a shared waiter queues behind the exclusive one');
    controller.abort(new Error('cancelled while waiting'));
    await assert.rejects(waitingExclusive, /cancelled while waiting/);
    await behind;
    assert.ok(sharedRan, 'with the exclusive waiter gone it joins the shared holder');
    release.open();
    await holder;
    await assert.rejects(gate.shared('c', async () => 'late', controller.signal), /cancelled while waiting/, 'an aborted signal never enters');
    assert.equal(gate.busy('c'), false);
  });

  it('keeps clusters apart and releases on failure', async () => {
    const gate = new ClusterGate();
    const hold = latch();
    const a = gate.exclusive('a', () => hold.promise);
    let ranB = false;
    await gate.exclusive('b', async () => {
      ranB = true;
    });
    assert.ok(ranB, 'cluster b is not held up by cluster a');
    await assert.rejects(
      gate.exclusive('b', async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await gate.shared('b', async () => 'after'), 'after', 'a failed holder released the gate');
    hold.open();
    await a;
    assert.equal(gate.busy('a') || gate.busy('b'), false);
  });
});
