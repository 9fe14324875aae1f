import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cachedIndexer, facetValues, filterRows, indexRow, nextSort, sortRows } from '../../dashboard-static/src/logic/table.js';
import { clusterIndexer, type ClusterRow } from '../../dashboard-static/src/logic/views.js';

function cluster(name: string, user: string, extra: Partial<ClusterRow> = {}): ClusterRow {
  return { name, owner: `id-${user}`, ownerName: user, workspace: 'default', infra: 'local', status: 'UP', numNodes: 1, resources: '1x local(cpus=1, mem=1GB)', launchedAt: 1000, lastActiveAt: 1000, ...extra };
}

const rows = [
  cluster('train-a', 'alice', { numNodes: 4, launchedAt: 3000, infra: 'ssh/gpu-a' }),
  cluster('Train-B', 'bob', { status: 'STOPPED', launchedAt: 1000, workspace: 'research' }),
  cluster('eval', 'alice', { status: 'INIT', statusReason: 'provisioning node 2', numNodes: 2, launchedAt: 2000 }),
].map((c) => indexRow(c, clusterIndexer));

describe('dashboard tables: filter', () => {
  it('matches every word of the text, case-insensitively, in any of the row texts', () => {
    assert.deepEqual(filterRows(rows, { text: 'TRAIN', facets: {} }).map((r) => r.key), ['train-a', 'Train-B']);
    assert.deepEqual(filterRows(rows, { text: 'train bob', facets: {} }).map((r) => r.key), ['Train-B']);
    assert.deepEqual(filterRows(rows, { text: 'provisioning', facets: {} }).map((r) => r.key), ['eval']);
    assert.deepEqual(filterRows(rows, { text: 'nobody', facets: {} }), []);
  });

  it('does not match across the boundary of two fields', () => {
    // "train-a" then "alice": a search for "aalice" must not join them.
    assert.deepEqual(filterRows(rows, { text: 'aalice', facets: {} }), []);
  });

  it('applies each chosen select; an empty choice means any', () => {
    assert.deepEqual(filterRows(rows, { text: '', facets: { user: 'alice', status: '' } }).map((r) => r.key), ['train-a', 'eval']);
    assert.deepEqual(filterRows(rows, { text: '', facets: { user: 'alice', status: 'INIT' } }).map((r) => r.key), ['eval']);
    assert.deepEqual(filterRows(rows, { text: '', facets: { workspace: 'research' } }).map((r) => r.key), ['Train-B']);
    assert.deepEqual(filterRows(rows, { text: '', facets: { infra: 'ssh/gpu-a' } }).map((r) => r.key), ['train-a']);
  });

  it('lists the distinct values of a facet, sorted, for its select', () => {
    assert.deepEqual(facetValues(rows, 'user'), ['alice', 'bob']);
    assert.deepEqual(facetValues(rows, 'status'), ['INIT', 'STOPPED', 'UP']);
  });
});

describe('dashboard tables: sort', () => {
  it('sorts names without regard to case, and numbers as numbers', () => {
    assert.deepEqual(sortRows(rows, 'name', 'asc').map((r) => r.key), ['eval', 'train-a', 'Train-B']);
    assert.deepEqual(sortRows(rows, 'name', 'desc').map((r) => r.key), ['Train-B', 'train-a', 'eval']);
    assert.deepEqual(sortRows(rows, 'nodes', 'asc').map((r) => r.key), ['Train-B', 'eval', 'train-a']);
    assert.deepEqual(sortRows(rows, 'launched', 'desc').map((r) => r.key), ['train-a', 'eval', 'Train-B']);
  });

  it('keeps rows with equal keys in key order, whatever the direction', () => {
    assert.deepEqual(sortRows(rows, 'user', 'asc').map((r) => r.key), ['eval', 'train-a', 'Train-B']);
    const byUserDesc = sortRows(rows, 'user', 'desc').map((r) => r.key);
    assert.equal(byUserDesc[0], 'Train-B');
    assert.deepEqual(byUserDesc.slice(1), ['eval', 'train-a']);
  });

  it('does not change the list it was given', () => {
    const before = rows.map((r) => r.key);
    sortRows(rows, 'name', 'desc');
    assert.deepEqual(rows.map((r) => r.key), before);
  });

  it('flips the direction on a second click of the same column and starts ascending on another', () => {
    assert.deepEqual(nextSort({ column: 'name', dir: 'asc' }, 'name'), { column: 'name', dir: 'desc' });
    assert.deepEqual(nextSort({ column: 'name', dir: 'desc' }, 'name'), { column: 'name', dir: 'asc' });
    assert.deepEqual(nextSort({ column: 'name', dir: 'desc' }, 'user'), { column: 'user', dir: 'asc' });
  });

  it('filters and sorts 10,000 clusters of 100 users', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => indexRow(cluster(`c-${i}`, `user-${i % 100}`, { numNodes: (i * 7) % 13, status: i % 3 === 0 ? 'STOPPED' : 'UP' }), clusterIndexer));
    const sorted = sortRows(many, 'nodes', 'desc');
    const filtered = filterRows(sorted, { text: 'c-99', facets: { status: 'UP' } });
    // Every match is a c-99* cluster that is UP, in descending node order.
    assert.ok(filtered.length > 0);
    for (const r of filtered) {
      assert.ok(r.key.startsWith('c-99'));
      assert.equal(r.row.status, 'UP');
    }
    for (let i = 1; i < filtered.length; i++) assert.ok(filtered[i - 1]!.row.numNodes >= filtered[i]!.row.numNodes);
    assert.equal(filterRows(many, { text: '', facets: { user: 'user-7' } }).length, 100);
  });
});

describe('dashboard tables: index cache', () => {
  it('indexes a row object once, and a replaced row again', () => {
    let calls = 0;
    const counting = { ...clusterIndexer, key: (c: ClusterRow) => (calls++, c.name) };
    const index = cachedIndexer(counting);
    const a = cluster('a', 'alice');
    assert.equal(index(a), index(a));
    assert.equal(calls, 1);
    const a2 = { ...a, status: 'STOPPED' };
    assert.equal(index(a2).facets.status, 'STOPPED');
    assert.equal(calls, 2);
  });
});
