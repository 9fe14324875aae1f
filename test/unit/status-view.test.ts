import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import type { ClusterRecord } from '@sky/protocol';
import { StatusView } from '../../core/daemon/src/clusters/status-view.js';

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
