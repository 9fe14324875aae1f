import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { PluginDocumentRepository } from '../../documents.js';
import type { StateItem } from '../../state-transfer.js';
import type { StateStore } from '../../store.js';
import { requireReopen, type StoreHarness } from './harness.js';

/** The store's documents, or skip the test when it keeps none (they are optional, plugin API 1.8). */
function documentsOf(store: StateStore, t: TestContext): PluginDocumentRepository | undefined {
  if (store.pluginDocuments === undefined) t.skip(`store "${store.kind}" keeps no plugin documents`);
  return store.pluginDocuments;
}

/** Plugin documents (optional): compare-and-set on revisions, copies in and out, durability, export. */
export function describeDocuments(h: StoreHarness): void {
  describe('plugin documents', () => {
    it('a document is created at revision 1, changed only from the revision it was read at', async (t) => {
      const docs = documentsOf(h.store, t);
      if (docs === undefined) return;
      assert.equal(await docs.get('ssh', 'ledger'), undefined);
      assert.equal(await docs.put('ssh', 'ledger', { hosts: ['a'] }, 0), 1);
      assert.equal(await docs.put('ssh', 'ledger', { hosts: ['b'] }, 0), undefined, 'created twice');
      assert.deepEqual(await docs.get('ssh', 'ledger'), { value: { hosts: ['a'] }, revision: 1 });
      assert.equal(await docs.put('ssh', 'ledger', { hosts: ['a', 'c'] }, 1), 2);
      assert.equal(await docs.put('ssh', 'ledger', { hosts: ['stale'] }, 1), undefined, 'a write from an old revision');
      assert.equal(await docs.put('ssh', 'ledger', { hosts: ['ahead'] }, 7), undefined, 'a write from a revision never stored');
      assert.deepEqual(await docs.get('ssh', 'ledger'), { value: { hosts: ['a', 'c'] }, revision: 2 });
    });

    it('documents of different plugins and names are apart; values are copies', async (t) => {
      const docs = documentsOf(h.store, t);
      if (docs === undefined) return;
      const value = { n: 1, nested: { list: [1, 2] } };
      assert.equal(await docs.put('k8s', 'keys', value, 0), 1);
      value.nested.list.push(3);
      assert.equal(await docs.put('ssh', 'keys', 'other', 0), 1);
      assert.equal(await docs.put('k8s', 'keys.v2', null, 0), 1);
      const read = await docs.get('k8s', 'keys');
      assert.deepEqual(read, { value: { n: 1, nested: { list: [1, 2] } }, revision: 1 });
      (read!.value as { n: number }).n = 99;
      assert.deepEqual((await docs.get('k8s', 'keys'))?.value, { n: 1, nested: { list: [1, 2] } });
      assert.deepEqual(await docs.get('k8s', 'keys.v2'), { value: null, revision: 1 });
      assert.deepEqual(
        (await docs.list()).map((d) => `${d.plugin}/${d.name}@${d.revision}`),
        ['k8s/keys@1', 'k8s/keys.v2@1', 'ssh/keys@1'],
      );
    });

    it('concurrent read-change-write loops lose no change', async (t) => {
      const docs = documentsOf(h.store, t);
      if (docs === undefined) return;
      const increment = async (): Promise<void> => {
        for (;;) {
          const current = await docs.get('counter', 'n');
          const revision = current?.revision ?? 0;
          const n = (current?.value as number | undefined) ?? 0;
          if ((await docs.put('counter', 'n', n + 1, revision)) !== undefined) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, () => increment()));
      assert.deepEqual(await docs.get('counter', 'n'), { value: 20, revision: 20 });
    });

    it('documents survive a restart of the store', async (t) => {
      if (documentsOf(h.store, t) === undefined || !requireReopen(h, t)) return;
      assert.equal(await h.store.pluginDocuments!.put('ssh', 'ledger', { kept: true }, 0), 1);
      const reopened = await h.reopen();
      assert.deepEqual(await reopened.pluginDocuments!.get('ssh', 'ledger'), { value: { kept: true }, revision: 1 });
    });

    it('an export carries the documents and an import restores them with their revisions', async (t) => {
      const docs = documentsOf(h.store, t);
      if (docs === undefined || h.store.exportState === undefined) return;
      await docs.put('ssh', 'ledger', { clusters: { c1: ['h1'] } }, 0);
      await docs.put('ssh', 'ledger', { clusters: { c1: ['h1'], c2: ['h2'] } }, 1);
      const items: StateItem[] = [];
      for await (const item of h.store.exportState()) items.push(item);
      const exported = items.filter((i) => i.type === 'pluginDocument');
      assert.deepEqual(exported, [{ type: 'pluginDocument', plugin: 'ssh', name: 'ledger', value: { clusters: { c1: ['h1'], c2: ['h2'] } }, revision: 2 }]);
      const target = await h.fresh();
      assert.ok(target.importState !== undefined && target.pluginDocuments !== undefined);
      const summary = await target.importState((async function* () {
        yield* items;
      })());
      assert.equal(summary.pluginDocument, 1);
      assert.deepEqual(await target.pluginDocuments.get('ssh', 'ledger'), { value: { clusters: { c1: ['h1'], c2: ['h2'] } }, revision: 2 });
      assert.equal(await target.pluginDocuments.put('ssh', 'ledger', {}, 1), undefined, 'the revision came along');
    });
  });
}
