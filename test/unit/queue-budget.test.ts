import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SkyError } from '@sky/protocol';
import { alice, bob, inProcess, type InProcess } from '../helpers/in-process.js';

// Requests waiting for a worker are held in memory, so the queue is bounded: in total, per user
// and in body bytes. Refused submits store nothing; a dispatched request frees its place.

async function refusal(p: Promise<unknown>): Promise<SkyError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SkyError, String(err));
    return err;
  }
  assert.fail('the submit was accepted');
}

describe('queue budget', () => {
  let p: InProcess;
  before(async () => {
    p = await inProcess({ requests: { short_workers: 1, long_workers: 1, cancel_grace_seconds: 0, max_queued: 5, max_queued_per_user: 3, max_queued_body_bytes: 4096 } });
  });
  after(async () => p.close());

  const sleeper = (who: typeof alice, body: object = { sleep: 30 }) => p.scheduler.submit({ ...who, name: 'ping', body, lane: 'long' });

  it('refuses with QUEUE_FULL past the per-user, total and byte limits, storing nothing, and frees places as requests start', async () => {
    const running = await sleeper(alice);
    // The first one was dispatched at once: it holds no place in the queue.
    assert.equal(p.scheduler.stats().running.long, 1);
    const queued = [await sleeper(alice), await sleeper(alice), await sleeper(alice)];
    const perUser = await refusal(sleeper(alice));
    assert.equal(perUser.code, 'QUEUE_FULL');
    assert.match(perUser.message, /alice already has 3 requests waiting \(at most 3 per user\)/);
    assert.equal(perUser.details?.retryAfterSeconds, 2);
    assert.equal(perUser.hint?.includes('max_queued_per_user'), true);

    // Another user still gets in, up to the total.
    await sleeper(bob);
    await sleeper(bob);
    const total = await refusal(sleeper(bob));
    assert.equal(total.code, 'QUEUE_FULL');
    assert.match(total.message, /5 requests are already waiting \(at most 5\)/);
    assert.deepEqual(p.scheduler.stats().reserved, { requests: 5, users: 2, bodyBytes: 5 * JSON.stringify({ sleep: 30 }).length });

    // Nothing of the refused submits was stored: 6 requests, all accepted ones.
    const listed = await p.store.requests.list({ limit: 100 });
    assert.equal(listed.items.length, 6);

    // The running one ends: the next queued one starts and frees its place.
    assert.equal(await p.scheduler.cancel(running.record.id), 'cancelled');
    for (let i = 0; i < 200 && p.scheduler.stats().reserved.requests !== 4; i += 1) await new Promise((r) => setTimeout(r, 10));
    assert.equal(p.scheduler.stats().reserved.requests, 4);
    const back = await sleeper(alice);
    assert.equal(back.created, true);
    for (const r of [...queued, back]) await p.scheduler.cancel(r.record.id);
  });

  it('bounds the bytes of waiting bodies', async () => {
    const q = await inProcess({ requests: { short_workers: 1, long_workers: 1, cancel_grace_seconds: 0, max_queued_body_bytes: 200 } });
    try {
      const first = await q.scheduler.submit({ ...alice, name: 'ping', body: { sleep: 30 }, lane: 'long' });
      const big = { sleep: 30, fail: 'x'.repeat(150) };
      const waiting = await q.scheduler.submit({ ...alice, name: 'ping', body: big, lane: 'long' });
      const err = await refusal(q.scheduler.submit({ ...bob, name: 'ping', body: big, lane: 'long' }));
      assert.equal(err.code, 'QUEUE_FULL');
      assert.match(err.message, /bytes of bodies \(at most 200\)/);
      for (const r of [first, waiting]) await q.scheduler.cancel(r.record.id);
    } finally {
      await q.close();
    }
  });
});
