import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges, ChangeBuffer, parseChange, type ChangeEvent } from '../../dashboard-static/src/logic/changes.js';
import { clusterRules, hasShape, jobKey, jobRank, MANAGED_JOB_SHAPE, requestRank, type ClusterRow } from '../../dashboard-static/src/logic/views.js';

let seq = 0;
function change(kind: ChangeEvent['kind'], key: string, record: Record<string, unknown> | null): ChangeEvent {
  return { seq: ++seq, at: 1, kind, key, record };
}

function clusterRecord(name: string, status: string, version: number): Record<string, unknown> {
  return {
    name,
    clusterId: `${name}-1`,
    owner: 'u1',
    ownerName: 'alice',
    workspace: 'default',
    driver: 'local',
    infra: 'local',
    status,
    numNodes: 1,
    nodes: [{ id: 'n', rank: 0, address: '127.0.0.1', reach: { kind: 'local', root: '/secret/path' }, resources: { cpus: 1, memoryGb: 1, accelerators: [] } }],
    resources: '1x local',
    driverState: { token: 'x' },
    launchedAt: 1,
    updatedAt: 1,
    lastActiveAt: 1,
    version,
  };
}

describe('dashboard change feed: parsing', () => {
  it('reads a change event', () => {
    const e = parseChange('{"seq":42,"at":1765000000000,"kind":"cluster","key":"my-cluster","record":{"name":"my-cluster"}}');
    assert.deepEqual(e, { seq: 42, at: 1765000000000, kind: 'cluster', key: 'my-cluster', record: { name: 'my-cluster' } });
    assert.equal(parseChange('{"seq":43,"at":1,"kind":"job","key":"c/1","record":null}')?.record, null);
    assert.equal(parseChange('{"seq":44,"at":1,"kind":"service","key":"web","record":null}')?.kind, 'service');
  });

  it('ignores what is not one: bad JSON, unknown kinds, missing fields', () => {
    assert.equal(parseChange('not json'), undefined);
    assert.equal(parseChange('[1,2]'), undefined);
    assert.equal(parseChange('{"seq":1,"kind":"volume","key":"x","record":null}'), undefined);
    assert.equal(parseChange('{"kind":"cluster","key":"x","record":null}'), undefined);
    assert.equal(parseChange('{"seq":1,"kind":"cluster","key":"x","record":"text"}'), undefined);
  });
});

describe('dashboard change feed: merging into tables', () => {
  it('inserts, updates and deletes cluster rows by key, cut down to the summary fields', () => {
    const rows = new Map<string, ClusterRow>();
    assert.equal(applyChanges(rows, [change('cluster', 'a', clusterRecord('a', 'INIT', 1))], clusterRules), true);
    const row = rows.get('a');
    assert.equal(row?.status, 'INIT');
    // Fields the table does not show (nodes, driver state) are not kept.
    assert.equal((row as unknown as Record<string, unknown>).driverState, undefined);
    assert.equal((row as unknown as Record<string, unknown>).nodes, undefined);
    applyChanges(rows, [change('cluster', 'a', clusterRecord('a', 'UP', 2)), change('cluster', 'b', clusterRecord('b', 'UP', 1))], clusterRules);
    assert.equal(rows.get('a')?.status, 'UP');
    assert.equal(rows.size, 2);
    assert.equal(applyChanges(rows, [change('cluster', 'a', null)], clusterRules), true);
    assert.deepEqual([...rows.keys()], ['b']);
    // Deleting what is not there changes nothing.
    assert.equal(applyChanges(rows, [change('cluster', 'zzz', null)], clusterRules), false);
  });

  it('never lets an older version replace a newer row', () => {
    const rows = new Map<string, ClusterRow>();
    applyChanges(rows, [change('cluster', 'a', clusterRecord('a', 'STOPPED', 5))], clusterRules);
    assert.equal(applyChanges(rows, [change('cluster', 'a', clusterRecord('a', 'UP', 4))], clusterRules), false);
    assert.equal(rows.get('a')?.status, 'STOPPED');
    // A summary row from a list fetch has no version: the event applies.
    const listed = new Map<string, ClusterRow>([['a', { ...(rows.get('a') as ClusterRow), version: undefined }]]);
    applyChanges(listed, [change('cluster', 'a', clusterRecord('a', 'UP', 6))], clusterRules);
    assert.equal(listed.get('a')?.status, 'UP');
  });

  it('ignores other kinds and what the table does not show', () => {
    type Job = { cluster: string; id: number; status: string };
    const rows = new Map<string, Job>();
    const rules = { kind: 'job' as const, accept: (key: string) => key.startsWith('dev/'), toRow: (r: Record<string, unknown>) => r as unknown as Job, rank: jobRank };
    applyChanges(
      rows,
      [
        change('job', 'dev/1', { cluster: 'dev', id: 1, status: 'RUNNING' }),
        change('job', 'prod/1', { cluster: 'prod', id: 1, status: 'RUNNING' }),
        change('cluster', 'dev', clusterRecord('dev', 'UP', 1)),
      ],
      rules,
    );
    assert.deepEqual([...rows.keys()], ['dev/1']);
    assert.equal(jobKey({ cluster: 'dev', id: 1 }), 'dev/1');
  });

  it('keeps a finished request finished when an older RUNNING state arrives late', () => {
    type Req = { id: string; status: string };
    const rows = new Map<string, Req>([['r1', { id: 'r1', status: 'SUCCEEDED' }]]);
    const rules = { kind: 'request' as const, toRow: (r: Record<string, unknown>) => r as unknown as Req, rank: requestRank };
    assert.equal(applyChanges(rows, [change('request', 'r1', { id: 'r1', status: 'RUNNING' })], rules), false);
    assert.equal(rows.get('r1')?.status, 'SUCCEEDED');
    applyChanges(rows, [change('request', 'r2', { id: 'r2', status: 'PENDING' }), change('request', 'r2', { id: 'r2', status: 'CANCELLED' })], rules);
    assert.equal(rows.get('r2')?.status, 'CANCELLED');
  });

  it('holds the events that arrive during a list fetch and hands them over once the list is in', () => {
    const buffer = new ChangeBuffer();
    const early = change('cluster', 'a', clusterRecord('a', 'UP', 3));
    assert.equal(buffer.offer(early), false);
    const held = buffer.release();
    assert.deepEqual(held, [early]);
    // Live from here on.
    assert.equal(buffer.offer(change('cluster', 'b', clusterRecord('b', 'UP', 1))), true);
    // A refetch (after a reset) starts holding again and forgets what was held before.
    buffer.offer(change('cluster', 'c', null));
    buffer.hold();
    assert.equal(buffer.offer(change('cluster', 'd', null)), false);
    assert.deepEqual(buffer.release().map((e) => e.key), ['d']);
  });

  it('applies held events on top of the fetched list', () => {
    const buffer = new ChangeBuffer();
    buffer.hold();
    buffer.offer(change('cluster', 'new', clusterRecord('new', 'INIT', 1)));
    buffer.offer(change('cluster', 'old', null));
    const fetched = new Map<string, ClusterRow>([['old', clusterRules.toRow(clusterRecord('old', 'UP', 1), undefined)]]);
    applyChanges(fetched, buffer.release(), clusterRules);
    assert.deepEqual([...fetched.keys()], ['new']);
  });
});

describe('dashboard change feed: malformed records', () => {
  it('ignores a record without the fields the table reads, and keeps the row it had', () => {
    const rows = new Map<string, ClusterRow>();
    applyChanges(rows, [change('cluster', 'a', clusterRecord('a', 'UP', 1))], clusterRules);
    const broken = { ...clusterRecord('a', 'STOPPED', 2), name: 42 };
    assert.equal(applyChanges(rows, [change('cluster', 'a', broken), change('cluster', 'b', { name: 'b' })], clusterRules), false);
    assert.equal(rows.get('a')?.status, 'UP');
    assert.equal(rows.has('b'), false);
    // A deletion needs no fields.
    assert.equal(applyChanges(rows, [change('cluster', 'a', null)], clusterRules), true);
  });

  it('checks arrays too (a managed job without its tasks)', () => {
    assert.equal(hasShape({ id: 1, userName: 'a', status: 'RUNNING', submittedAt: 1, currentTask: 0, tasks: [] }, MANAGED_JOB_SHAPE), true);
    assert.equal(hasShape({ id: 1, userName: 'a', status: 'RUNNING', submittedAt: 1, currentTask: 0, tasks: 'x' }, MANAGED_JOB_SHAPE), false);
  });
});
