import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryDocumentRepository } from '@sky/plugin-api/testing';
import { Ledger, LEDGER_FILE, MOVED_SUFFIX, type LedgerData } from 'sky-driver-ssh';
import { StoreDocuments } from '../../core/daemon/src/plugins/store-documents.js';

// Plugins' documents in the state store (PluginContext.documents) and the SSH driver's ledger
// kept there: compare-and-set with retries, what a bad document or name says, and a ledger
// file of an earlier daemon moved in once.

const open = { empty: (): { n: number; by: string[] } => ({ n: 0, by: [] }), parse: (v: unknown) => (typeof v === 'object' && v !== null && 'n' in v ? (v as { n: number; by: string[] }) : undefined) };
const never = new AbortController().signal;
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function repository(): MemoryDocumentRepository {
  return new MemoryDocumentRepository(() => undefined);
}

describe('plugin documents in the state store', () => {
  it('reads the empty form until written, then what update left', async () => {
    const doc = new StoreDocuments(repository(), 'ssh').open('counter', open);
    assert.deepEqual(await doc.read(), { n: 0, by: [] });
    const answer = await doc.update(never, (d) => {
      d.n += 1;
      return 'changed';
    });
    assert.equal(answer, 'changed');
    assert.deepEqual(await doc.read(), { n: 1, by: [] });
  });

  it('two writers (two replicas) changing at once lose nothing: the loser runs its change again on the newer document', async () => {
    const shared = repository();
    const a = new StoreDocuments(shared, 'ssh').open('counter', open);
    const b = new StoreDocuments(shared, 'ssh').open('counter', open);
    let runs = 0;
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? a : b).update(never, async (d) => {
          runs += 1;
          const seen = d.n;
          await new Promise((resolve) => setImmediate(resolve));
          d.n = seen + 1;
          d.by.push(i % 2 === 0 ? 'a' : 'b');
        }),
      ),
    );
    const final = await a.read();
    assert.equal(final.n, 30);
    assert.equal(final.by.length, 30);
    assert.ok(runs > 30, 'some changes ran again after losing');
    assert.equal((await shared.get('ssh', 'counter'))?.revision, 30);
  });

  it('a change that throws saves nothing', async () => {
    const shared = repository();
    const doc = new StoreDocuments(shared, 'ssh').open('counter', open);
    await assert.rejects(
      doc.update(never, (d) => {
        d.n = 99;
        throw new Error('no room');
      }),
      /no room/,
    );
    assert.equal(await shared.get('ssh', 'counter'), undefined);
  });

  it('a document in a form the plugin does not know is a clear error naming plugin and document', async () => {
    const shared = repository();
    await shared.put('ssh', 'counter', ['not', 'this'], 0);
    const doc = new StoreDocuments(shared, 'ssh').open('counter', { ...open, unknownFormatHint: 'Run the same plugin version on every replica.' });
    await assert.rejects(doc.read(), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'DRIVER_FAILED');
      assert.match(err.message, /drivers\.ssh: its document "counter" .* not in a form/);
      assert.equal(err.hint, 'Run the same plugin version on every replica.');
      return true;
    });
  });

  it('refuses a document name no store key may hold, and stops retrying when aborted', async () => {
    const docs = new StoreDocuments(repository(), 'ssh');
    for (const bad of ['', '../escape', 'a/b', 'x'.repeat(129), '.hidden']) {
      assert.throws(() => docs.open(bad, open), (err: Error & { code?: string }) => err.code === 'VALIDATION_FAILED', bad);
    }
    const stop = new AbortController();
    stop.abort();
    await assert.rejects(docs.open('counter', open).update(stop.signal, () => undefined), (err: Error & { code?: string }) => err.code === 'CANCELLED');
  });
});

describe('the SSH driver ledger kept in the state store', () => {
  const ledgerWith = (clusterId: string): LedgerData => ({
    version: 1,
    clusters: { [clusterId]: { clusterId, clusterName: 'web', owner: 'alice', pool: 'pool-a', createdAt: '2026-12-01T00:00:00.000Z', nodes: [] } },
    probes: {},
  });

  it('moves a ledger file of an earlier daemon into the store once, and renames the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sky-ledger-docs-'));
    dirs.push(dir);
    await writeFile(join(dir, LEDGER_FILE), JSON.stringify(ledgerWith('web-1')));
    const shared = repository();
    const ledger = new Ledger(dir, {}, new StoreDocuments(shared, 'ssh'));
    assert.equal(ledger.kept, 'state store');
    assert.deepEqual(Object.keys((await ledger.read()).clusters), ['web-1']);
    assert.ok(!existsSync(join(dir, LEDGER_FILE)) && existsSync(join(dir, LEDGER_FILE + MOVED_SUFFIX)));
    // Another replica (its own data directory, the same store) sees the host held.
    const other = new Ledger(await mkdtemp(join(tmpdir(), 'sky-ledger-docs-')), {}, new StoreDocuments(shared, 'ssh'));
    dirs.push(other.dir);
    assert.deepEqual(Object.keys((await other.read()).clusters), ['web-1']);
  });

  it('does not move a stale file over a store ledger that records clusters already', async () => {
    const shared = repository();
    const first = await mkdtemp(join(tmpdir(), 'sky-ledger-docs-'));
    const second = await mkdtemp(join(tmpdir(), 'sky-ledger-docs-'));
    dirs.push(first, second);
    await writeFile(join(first, LEDGER_FILE), JSON.stringify(ledgerWith('api-1')));
    await writeFile(join(second, LEDGER_FILE), JSON.stringify(ledgerWith('stale-1')));
    await new Ledger(first, {}, new StoreDocuments(shared, 'ssh')).read();
    const data = await new Ledger(second, {}, new StoreDocuments(shared, 'ssh')).read();
    assert.deepEqual(Object.keys(data.clusters), ['api-1']);
  });
});
