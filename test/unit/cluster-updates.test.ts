import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterRepository } from '@sky/plugin-api';
import { makeCluster, MemoryStateStore } from '@sky/plugin-api/testing';
import { ClusterUpdates } from '../../core/daemon/src/clusters/cluster-updates.js';

async function storeWith(name: string): Promise<{ store: MemoryStateStore; writes: () => number }> {
  const store = new MemoryStateStore();
  await store.open();
  await store.clusters.create(makeCluster({ name, lastCommand: '0' }));
  let writes = 0;
  store.subscribe((change) => {
    if (change.kind === 'cluster' && change.name === name) writes += 1;
  });
  return { store, writes: () => writes };
}

const clock = { now: () => 1_700_000_000_000 };
const increment = (c: { lastCommand?: string }) => ({ lastCommand: String(Number(c.lastCommand ?? '0') + 1) });

describe('cluster record writer', () => {
  it('applies 1,000 concurrent changes of one cluster, none lost, in a few merged writes', async () => {
    const { store, writes } = await storeWith('busy');
    const updates = new ClusterUpdates(store, clock);
    const results = await Promise.all(Array.from({ length: 1000 }, () => updates.update('busy', increment)));
    assert.equal((await store.clusters.get('busy'))?.lastCommand, '1000', 'every change saw the ones before it');
    assert.ok(results.every((r) => r !== undefined && Number(r.lastCommand) >= 1));
    assert.ok(writes() < 20, `${writes()} writes for 1000 changes`);
    assert.equal((await store.clusters.get('busy'))?.updatedAt, clock.now());
  });

  it('evaluates a batch again when another writer moved the record on, and keeps both changes', async () => {
    const { store } = await storeWith('moved');
    const clusters: ClusterRepository = store.clusters;
    const real = clusters.update.bind(clusters);
    let interfere = 3;
    // Another writer (an ownership transfer) wins the race three times before each of our writes.
    clusters.update = async (name, version, patch) => {
      if (interfere-- > 0) {
        const now = (await clusters.get(name))!;
        await clusters.changeOwner(name, now.version, { id: `u-${interfere}`, name: `user${interfere}` }, 1);
      }
      return real(name, version, patch);
    };
    const updates = new ClusterUpdates(store, clock);
    const done = await Promise.all(Array.from({ length: 10 }, () => updates.update('moved', increment)));
    const final = await store.clusters.get('moved');
    assert.equal(final?.lastCommand, '10');
    assert.equal(final?.owner, 'u-0', 'the other writer\'s change stays');
    assert.ok(done.every((r) => r?.owner === 'u-0'));
  });

  it('answers undefined for a missing cluster, the record unchanged for no change, and rejects only a change that throws', async () => {
    const { store, writes } = await storeWith('quiet');
    const updates = new ClusterUpdates(store, clock);
    assert.equal(await updates.update('nope', increment), undefined);
    const before = await store.clusters.get('quiet');
    assert.deepEqual(await updates.update('quiet', () => undefined), before);
    assert.equal(writes(), 0);
    const [bad, good] = await Promise.allSettled([
      updates.update('quiet', () => {
        throw new Error('bad change');
      }),
      updates.update('quiet', increment),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal(good.status === 'fulfilled' ? good.value?.lastCommand : undefined, '1');
  });

  it('removes an optional field when a later change clears it', async () => {
    const { store } = await storeWith('clear');
    const updates = new ClusterUpdates(store, clock);
    await Promise.all([
      updates.update('clear', () => ({ statusReason: 'node 10.0.0.1 unreachable' })),
      updates.update('clear', (c) => (c.statusReason?.startsWith('node 10.0.0.1') ? { statusReason: undefined } : undefined)),
    ]);
    assert.equal((await store.clusters.get('clear'))?.statusReason, undefined);
  });
});
