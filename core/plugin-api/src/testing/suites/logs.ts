import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRequest } from '../fixtures.js';
import { rejectsWithCode, type StoreHarness } from './harness.js';

export function describeLogs(h: StoreHarness): void {
  describe('logs', () => {
    it('numbers chunks 0, 1, 2 ... per request', async () => {
      const a = makeRequest();
      const b = makeRequest();
      await h.store.requests.create(a);
      await h.store.requests.create(b);
      assert.equal(await h.store.requests.appendLog(a.id, 'a0', 1), 0);
      assert.equal(await h.store.requests.appendLog(a.id, 'a1', 2), 1);
      assert.equal(await h.store.requests.appendLog(b.id, 'b0', 3), 0);
      assert.equal(await h.store.requests.appendLog(a.id, 'a2', 4), 2);
      assert.deepEqual(await h.store.requests.readLog(a.id), [
        { seq: 0, at: 1, text: 'a0' },
        { seq: 1, at: 2, text: 'a1' },
        { seq: 2, at: 4, text: 'a2' },
      ]);
      assert.deepEqual(await h.store.requests.readLog(b.id), [{ seq: 0, at: 3, text: 'b0' }]);
    });

    it('keeps text exactly and orders past seq 9 numerically', async () => {
      const r = makeRequest();
      await h.store.requests.create(r);
      const texts = Array.from({ length: 25 }, (_, i) => (i === 3 ? 'multi\nline\r\n\ttabs "quotes" ✓' : `line ${i}\n`));
      for (const [i, text] of texts.entries()) assert.equal(await h.store.requests.appendLog(r.id, text, 1000 + i), i);
      const chunks = await h.store.requests.readLog(r.id);
      assert.deepEqual(chunks.map((c) => c.seq), texts.map((_, i) => i));
      assert.deepEqual(chunks.map((c) => c.text), texts);
      assert.deepEqual(chunks.map((c) => c.at), texts.map((_, i) => 1000 + i));
    });

    it('reads only chunks after afterSeq', async () => {
      const r = makeRequest();
      await h.store.requests.create(r);
      for (let i = 0; i < 12; i++) await h.store.requests.appendLog(r.id, `t${i}`, i);
      assert.deepEqual((await h.store.requests.readLog(r.id, 0)).map((c) => c.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      assert.deepEqual((await h.store.requests.readLog(r.id, 9)).map((c) => c.seq), [10, 11]);
      assert.deepEqual(await h.store.requests.readLog(r.id, 11), []);
      assert.deepEqual(await h.store.requests.readLog(r.id, 50), []);
      assert.equal((await h.store.requests.readLog(r.id, -1)).length, 12);
    });

    it('gives concurrent appends distinct consecutive seqs', async () => {
      const r = makeRequest();
      await h.store.requests.create(r);
      const seqs = await Promise.all(Array.from({ length: 50 }, (_, i) => h.store.requests.appendLog(r.id, `c${i}`, i)));
      assert.deepEqual([...seqs].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
      const chunks = await h.store.requests.readLog(r.id);
      assert.deepEqual(chunks.map((c) => c.seq), Array.from({ length: 50 }, (_, i) => i));
      for (const [i, seq] of seqs.entries()) assert.equal(chunks[seq]?.text, `c${i}`);
    });

    it('reads an empty log for an unknown or silent request', async () => {
      const r = makeRequest();
      await h.store.requests.create(r);
      assert.deepEqual(await h.store.requests.readLog(r.id), []);
      assert.deepEqual(await h.store.requests.readLog('req-missing'), []);
    });

    it('refuses to append to a missing request', async () => {
      await rejectsWithCode(h.store.requests.appendLog('req-missing', 'x', 1), 'REQUEST_NOT_FOUND');
      assert.deepEqual(await h.store.requests.readLog('req-missing'), []);
    });

    it('appends to a finished request', async () => {
      const r = makeRequest();
      await h.store.requests.create(r);
      assert.equal(await h.store.requests.appendLog(r.id, 'before', 1), 0);
      await h.store.requests.transition(r.id, ['PENDING'], { status: 'SUCCEEDED', finishedAt: 2 });
      assert.equal(await h.store.requests.appendLog(r.id, 'after', 3), 1);
      assert.deepEqual((await h.store.requests.readLog(r.id)).map((c) => c.text), ['before', 'after']);
    });
  });
}
