import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLedger } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';

// The JSON ledger drivers keep their state in: changes made at once in one process are applied
// in arrival order and saved together; a change that throws leaves nothing of itself behind.

interface Doc {
  count: number;
  seen: number[];
}

function ledger(dir: string): JsonLedger<Doc> {
  return new JsonLedger<Doc>({
    dir,
    owner: 'test ledger',
    empty: () => ({ count: 0, seen: [] }),
    parse: (data) => data as Doc,
  });
}

const never = new AbortController().signal;

describe('JsonLedger', () => {
  it('applies concurrent changes of one process in arrival order, each on what the one before left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-ledger-'));
    try {
      const l = ledger(dir);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          l.update(never, (d) => {
            d.seen.push(i);
            d.count += 1;
            return d.count;
          }),
        ),
      );
      assert.deepEqual(results, Array.from({ length: 50 }, (_, i) => i + 1));
      const saved = JSON.parse(readFileSync(join(dir, 'ledger.json'), 'utf8')) as Doc;
      assert.equal(saved.count, 50);
      assert.deepEqual(saved.seen, Array.from({ length: 50 }, (_, i) => i));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('undoes a change that throws, keeps the others of its turn, and rejects only its caller', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-ledger-'));
    try {
      const l = ledger(dir);
      await l.update(never, (d) => void (d.count = 1));
      const outcomes = await Promise.allSettled([
        l.update(never, (d) => (d.count += 1)),
        l.update(never, (d) => {
          d.count += 100;
          d.seen.push(-1);
          throw new Error('refused');
        }),
        l.update(never, (d) => (d.count += 1)),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.deepEqual([(outcomes[0] as PromiseFulfilledResult<number>).value, (outcomes[2] as PromiseFulfilledResult<number>).value], [2, 3], 'each saw what the ones before it left');
      assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, 'refused');
      assert.deepEqual(await l.read(), { count: 3, seen: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('two ledgers on one directory (two processes) never lose each other\'s changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-ledger-'));
    try {
      const a = ledger(dir);
      const b = ledger(dir);
      await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? a : b).update(never, (d) => void (d.count += 1))));
      assert.equal((await a.read()).count, 30);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a change whose signal aborts before its turn is not applied and rejects CANCELLED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-ledger-'));
    try {
      const l = ledger(dir);
      const gone = new AbortController();
      gone.abort();
      const refused = await l.update(gone.signal, (d) => void (d.count = 99)).catch((err: unknown) => err);
      assert.ok(refused instanceof SkyError && refused.code === 'CANCELLED', String(refused));
      assert.equal((await l.read()).count, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads made at once share one copy, read-only, and a change is seen by the next read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-ledger-'));
    try {
      const l = ledger(dir);
      await l.update(never, (d) => void (d.count = 5));
      const [a, b] = await Promise.all([l.read(), l.read()]);
      assert.equal(a, b, 'one parse for reads made at once');
      assert.throws(() => {
        a.seen.push(1);
      }, TypeError);
      assert.equal(await l.read(), a, 'the file did not change: the same copy');
      await l.update(never, (d) => void (d.count = 6));
      assert.equal((await l.read()).count, 6);
      // A write by another process (another ledger object on the directory) is seen too.
      await ledger(dir).update(never, (d) => void (d.count = 7));
      assert.equal((await l.read()).count, 7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
