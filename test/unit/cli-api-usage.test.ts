import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { UsageFigures, UsageReport } from '@sky/protocol';
import { hours, parseUsageWindow, usageTable } from '../../cli/src/usage-report-format.js';
import { validate } from '../../cli/src/usage.js';
import { API } from '../../cli/src/spec.js';

const NOW = Date.UTC(2026, 0, 31, 12, 0, 0);

function figures(over: Partial<UsageFigures> = {}): UsageFigures {
  return { nodeHours: 0, cpuHours: 0, gpuHours: 0, memoryGbHours: 0, gpuHoursByType: [], jobs: 0, jobCpuHours: 0, jobGpuHours: 0, ...over };
}

describe('sky api usage --since/--until', () => {
  it('takes ages before now, ISO dates and unix milliseconds', () => {
    assert.deepEqual(parseUsageWindow('7d', undefined, NOW), { since: NOW - 7 * 86_400_000 });
    assert.deepEqual(parseUsageWindow('2026-01-01', '2026-02-01', NOW), { since: Date.UTC(2026, 0, 1), until: Date.UTC(2026, 1, 1) });
    assert.deepEqual(parseUsageWindow('24h', '1h', NOW), { since: NOW - 86_400_000, until: NOW - 3_600_000 });
    assert.deepEqual(parseUsageWindow('1769860800000', undefined, NOW), { since: 1769860800000 });
  });

  it('refuses anything else, in either bound', () => {
    for (const bad of ['', 'last week', '7 days', '2026/01/01', '-1d']) assert.equal(parseUsageWindow(bad, undefined, NOW), undefined, bad);
    assert.equal(parseUsageWindow('7d', 'tomorrow', NOW), undefined);
  });

  it('is an action of sky api with its own options', () => {
    const inv = validate(API, 'usage', [], { since: '7d', until: '2026-02-01', u: true, allUsers: true, o: 'json', output: 'json' });
    assert.deepEqual(inv.options, { since: '7d', until: '2026-02-01', allUsers: true, output: 'json' });
    assert.throws(() => validate(API, 'usage', [], { limit: 5, l: 5 }), /limit/);
  });
});

describe('sky api usage table', () => {
  it('rounds hours for reading', () => {
    assert.equal(hours(0), '0');
    assert.equal(hours(0.004), '<0.01');
    assert.equal(hours(1.234), '1.23');
    assert.equal(hours(12.345), '12.3');
  });

  it('has a row per user and workspace, GPU-hours by type, and a total when there are several rows', () => {
    const report: UsageReport = {
      since: Date.UTC(2026, 0, 24),
      until: NOW,
      allUsers: true,
      rows: [
        { user: 'u-alice', userName: 'alice', workspace: 'default', ...figures({ nodeHours: 2, cpuHours: 4, jobs: 3 }) },
        { user: 'u-bob', userName: 'bob', workspace: 'ml', ...figures({ nodeHours: 1, cpuHours: 8, gpuHours: 8, gpuHoursByType: [{ type: 'A100', hours: 8 }], jobs: 1 }) },
      ],
      workspaces: [],
      total: figures({ nodeHours: 3, cpuHours: 12, gpuHours: 8, gpuHoursByType: [{ type: 'A100', hours: 8 }], jobs: 4 }),
    };
    const lines = usageTable(report);
    assert.equal(lines[0], 'Usage from 2026-01-24 00:00Z to 2026-01-31 12:00Z (every user)');
    const cols = (line: string | undefined): string[] => (line ?? '').trim().split(/\s{2,}/);
    assert.deepEqual(cols(lines[1]), ['USER', 'WORKSPACE', 'NODE-HOURS', 'CPU-HOURS', 'GPU-HOURS', 'JOBS']);
    assert.deepEqual(cols(lines[2]), ['alice', 'default', '2.00', '4.00', '0', '3']);
    assert.deepEqual(cols(lines[3]), ['bob', 'ml', '1.00', '8.00', '8.00 (A100:8.00)', '1']);
    assert.deepEqual(cols(lines[4]), ['TOTAL', '-', '3.00', '12.0', '8.00 (A100:8.00)', '4']);
  });

  it('has no total row for one row', () => {
    const report: UsageReport = { since: 0, until: NOW, allUsers: false, rows: [{ user: 'u', userName: 'u', workspace: 'default', ...figures() }], workspaces: [], total: figures() };
    assert.equal(usageTable(report).length, 3);
  });
});
