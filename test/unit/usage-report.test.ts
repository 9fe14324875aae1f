import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ClusterRecord, JobRecord, UsageRecord } from '@sky/protocol';
import { overlapMs, usageReport } from '../../core/daemon/src/usage/usage-report.js';
import { clusterInterval, jobEntry } from '../../core/daemon/src/usage/usage-figures.js';

const H = 3_600_000;

function interval(over: Partial<UsageRecord>): UsageRecord {
  return { kind: 'cluster', clusterId: 'k', cluster: 'c', user: 'u-alice', userName: 'alice', workspace: 'default', driver: 'local', infra: 'local', nodes: 1, cpus: 2, memoryGb: 4, gpus: 0, start: 0, ...over };
}

describe('usage report', () => {
  it('clips entries to the window; open ones run to now', () => {
    assert.equal(overlapMs({ start: 0, end: 10 * H }, 2 * H, 5 * H, 20 * H), 3 * H);
    assert.equal(overlapMs({ start: 6 * H, end: 10 * H }, 2 * H, 5 * H, 20 * H), 0);
    assert.equal(overlapMs({ start: 1 * H }, 0, 10 * H, 4 * H), 3 * H);
  });

  it('sums node-, CPU- and GPU-hours per user and workspace, by GPU type, with jobs apart', () => {
    const entries: UsageRecord[] = [
      interval({ clusterId: 'a', start: 0, end: 2 * H, nodes: 2, cpus: 8 }),
      interval({ clusterId: 'b', start: H, end: 3 * H, gpus: 4, gpuType: 'A100' }),
      interval({ clusterId: 'c', start: 0, end: H, user: 'u-bob', userName: 'bob', workspace: 'ml', gpus: 1, gpuType: 'T4' }),
      { ...interval({ clusterId: 'a', start: 0, end: H, cpus: 2 }), kind: 'job', jobId: 1 },
      { ...interval({ clusterId: 'a', start: 10 * H, end: 11 * H }), kind: 'job', jobId: 2 },
    ];
    const report = usageReport(entries, { since: 0, until: 4 * H, now: 5 * H, allUsers: true });
    assert.deepEqual(report.rows.map((r) => [r.userName, r.workspace, r.nodeHours, r.cpuHours, r.gpuHours, r.jobs, r.jobCpuHours]), [
      ['alice', 'default', 6, 20, 8, 1, 2],
      ['bob', 'ml', 1, 2, 1, 0, 0],
    ]);
    assert.deepEqual(report.rows[0]?.gpuHoursByType, [{ type: 'A100', hours: 8 }]);
    assert.deepEqual(report.total.gpuHoursByType, [{ type: 'A100', hours: 8 }, { type: 'T4', hours: 1 }]);
    assert.deepEqual(report.workspaces.map((w) => [w.workspace, w.cpuHours]), [['default', 20], ['ml', 2]]);
    assert.equal(report.total.cpuHours, 22);
    assert.equal(report.total.jobs, 1);
  });

  it('is empty for a window before everything', () => {
    const report = usageReport([interval({ start: 10 * H, end: 11 * H })], { since: 0, until: H, now: 20 * H, allUsers: false });
    assert.deepEqual(report.rows, []);
    assert.equal(report.total.nodeHours, 0);
  });
});

describe('usage entries of clusters and jobs', () => {
  const node = (cpus: number, gpus: number): ClusterRecord['nodes'][number] => ({
    id: 'n',
    rank: 0,
    address: '127.0.0.1',
    reach: { kind: 'local', root: '/tmp' },
    resources: { cpus, memoryGb: 8, accelerators: gpus > 0 ? [{ name: 'A100', count: gpus }] : [] },
  });

  it('a cluster interval totals its nodes', () => {
    const cluster = { name: 'c', clusterId: 'k', owner: 'u', ownerName: 'alice', workspace: 'ml', driver: 'local', infra: 'local', nodes: [node(4, 2), node(4, 2)] } as unknown as ClusterRecord;
    const entry = clusterInterval(cluster, 5);
    assert.deepEqual([entry.nodes, entry.cpus, entry.memoryGb, entry.gpus, entry.gpuType, entry.start, entry.end], [2, 8, 16, 4, 'A100', 5, undefined]);
  });

  it('a job entry multiplies its demand by its nodes; a job that never started is none', () => {
    const job = { cluster: 'c', clusterId: 'k', id: 3, user: 'u', userName: 'alice', status: 'SUCCEEDED', submittedAt: 1, startedAt: 10, endedAt: 40, numNodes: 2, demand: { cpus: 1.5, memoryGb: 2, accelerators: [{ name: 'T4', count: 1 }] } } as JobRecord;
    const facts = { workspace: 'ml', driver: 'local', infra: 'local' };
    const entry = jobEntry(job, facts, 99);
    assert.deepEqual([entry?.kind, entry?.jobId, entry?.cpus, entry?.gpus, entry?.gpuType, entry?.start, entry?.end, entry?.workspace], ['job', 3, 3, 2, 'T4', 10, 40, 'ml']);
    const { startedAt: _never, ...queued } = job;
    assert.equal(jobEntry({ ...queued, status: 'CANCELLED' } as JobRecord, facts, 99), undefined);
  });
});
