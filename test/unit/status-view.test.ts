import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { decodeClusterColumns, type ClusterColumn, type ClusterRecord } from '@sky/protocol';
import { StatusView, type ClusterViewer } from '../../core/daemon/src/clusters/status-view.js';

function cluster(name: string, owner: string): Omit<ClusterRecord, 'version'> {
  return {
    name,
    clusterId: `${name}-1`,
    owner,
    ownerName: owner,
    workspace: 'default',
    driver: 'local',
    infra: 'local',
    status: 'UP',
    numNodes: 1,
    nodes: [],
    resources: '1x local(cpus=1, mem=1GB)',
    driverState: null,
    launchedAt: 1,
    updatedAt: 1,
    lastActiveAt: 1,
  };
}

describe('status view', () => {
  it('is loaded from the store and then follows its change feed, per owner', async () => {
    const store = new MemoryStateStore();
    await store.open();
    await store.clusters.create(cluster('a', 'alice'));
    const view = new StatusView(store);
    await view.load();
    await store.clusters.create(cluster('b', 'bob'));
    await store.clusters.create(cluster('c', 'alice'));
    const a = (await store.clusters.get('a'))!;
    await store.clusters.update('a', a.version, { status: 'STOPPED' });
    await store.clusters.delete('c');
    assert.deepEqual(view.list(undefined).map((r) => [r.name, r.status]).sort(), [['a', 'STOPPED'], ['b', 'UP']]);
    assert.deepEqual(view.list('alice').map((r) => r.name), ['a']);
    assert.deepEqual(view.list('bob').map((r) => r.name), ['b']);
    assert.deepEqual(view.list(undefined, ['b', 'nope']).map((r) => r.name), ['b']);
    assert.deepEqual(JSON.parse(view.listJson(undefined)), view.list(undefined));
    const b = (await store.clusters.get('b'))!;
    await store.clusters.update('b', b.version, { autostop: { idleMinutes: 10, down: true } });
    const summaries = JSON.parse(view.listJson(undefined, ['b'], true)) as Array<Record<string, unknown>>;
    assert.deepEqual(summaries[0]?.autostop, { idleMinutes: 10, down: true }, 'nested fields survive the summary');
    assert.equal(summaries[0]?.nodes, undefined, 'summaries leave out nodes');
    assert.deepEqual(view.list(undefined), await store.clusters.list().then((l) => l.filter((r) => view.get(r.name))));
    view.close();
    await store.clusters.create(cluster('d', 'dave'));
    assert.equal(view.get('d'), undefined, 'no updates after close');
    await store.close();
  });
});

describe('status view as columns (format=columns)', () => {
  it('holds the same summaries as the rows, under the same viewer rules', async () => {
    const store = new MemoryStateStore();
    await store.open();
    const view = new StatusView(store);
    await view.load();
    for (let i = 0; i < 6; i++) {
      const owner = i % 2 === 0 ? 'alice' : 'bob';
      await store.clusters.create({ ...cluster(`c${i}`, owner), launchedAt: 100 + i, workspace: i === 5 ? 'secret' : 'default', lastCommand: `train --run ${i % 3}` });
    }
    const c2 = (await store.clusters.get('c2'))!;
    await store.clusters.update('c2', c2.version, { status: 'INIT', statusReason: 'waiting', autostop: { idleMinutes: 5, down: false } });
    const c0 = (await store.clusters.get('c0'))!;
    await store.clusters.update('c0', c0.version, { lastCommand: undefined });

    // Everyone's, seen whole: exactly the summary rows, fields in the same order.
    const whole = view.listColumns(undefined);
    assert.equal(whole.count, 6);
    assert.deepEqual(decodeClusterColumns(whole), JSON.parse(view.listJson(undefined, undefined, true)));
    assert.deepEqual(whole.columns.ownerName, { values: ['alice', 'bob'], index: [0, 1, 0, 1, 0, 1] }, 'repeated values travel once');
    assert.equal(whole.columns.name?.index, undefined, 'distinct values travel in order');
    assert.equal(JSON.stringify(decodeClusterColumns(whole)).includes('"nodes"'), false, 'summaries leave out nodes');

    // Bob, outside the private workspace 'secret', reading only his own command lines.
    const bob: ClusterViewer = { visible: (r) => r.owner === 'bob' || r.workspace !== 'secret', whole: (r) => r.owner === 'bob' };
    const seen = view.listColumns(undefined, undefined, bob);
    assert.deepEqual(decodeClusterColumns(seen), JSON.parse(view.listJson(undefined, undefined, true, bob)));
    const byName = new Map(decodeClusterColumns(seen).map((c) => [c.name, c]));
    assert.equal(byName.has('c5'), true, "bob's own cluster in the private workspace is listed");
    assert.deepEqual([...byName.keys()].sort(), ['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    // Alice's clusters in 'secret' are hidden from him.
    await store.clusters.create({ ...cluster('hidden', 'alice'), workspace: 'secret', lastCommand: 'top secret' });
    const again = decodeClusterColumns(view.listColumns(undefined, undefined, bob));
    assert.equal(again.some((c) => c.name === 'hidden'), false, 'a private workspace stays hidden');
    assert.equal(JSON.stringify(view.listColumns(undefined, undefined, bob)).includes('top secret'), false);
    for (const c of again) assert.equal(c.lastCommand !== undefined, c.owner === 'bob', `${c.name}: only bob's command lines are shown`);

    // The JSON answers kept between changes: per viewer verdicts, dropped at the next change.
    const asJson = (v?: ClusterViewer) => {
      const { count, json } = view.listColumnsJson(undefined, undefined, v);
      return decodeClusterColumns({ count, columns: JSON.parse(json) as Record<string, ClusterColumn> });
    };
    assert.deepEqual(asJson(bob), decodeClusterColumns(view.listColumns(undefined, undefined, bob)));
    assert.deepEqual(asJson(), decodeClusterColumns(view.listColumns(undefined)));
    assert.equal(asJson(bob).some((c) => c.name === 'hidden'), false, 'a viewer never gets an answer made for another');
    assert.equal(asJson().some((c) => c.name === 'hidden'), true);
    const c1 = (await store.clusters.get('c1'))!;
    await store.clusters.update('c1', c1.version, { status: 'STOPPED' });
    assert.equal(asJson(bob).find((c) => c.name === 'c1')?.status, 'STOPPED', 'a change is seen at once');
    await store.clusters.delete('c3');
    assert.equal(asJson().some((c) => c.name === 'c3'), false);

    // One owner, some names.
    assert.deepEqual(decodeClusterColumns(view.listColumns('alice', ['c2', 'c3', 'nope'])).map((c) => c.name), ['c2']);
    const none = view.listColumns('nobody');
    assert.equal(none.count, 0);
    assert.deepEqual(decodeClusterColumns(none), []);
    view.close();
    await store.close();
  });
});
