import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { UsageReport } from '@sky/protocol';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asAdmin, asUser, errorOf, runOperation, startTeamDaemon, type TeamDaemonHandle } from '../helpers/team.js';

const ALICE = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Rec {
  status: string;
  result?: { jobId?: number };
  error?: { code: string; message: string };
}

async function usage(url: string, query: string, headers: Record<string, string>): Promise<UsageReport> {
  const res = await http(`${url}/api/v1/usage?${query}`, { headers });
  assert.equal(res.status, 200, res.text);
  return res.json() as UsageReport;
}

async function jobEnded(url: string, cluster: string, id: number, headers: Record<string, string>): Promise<string> {
  const end = Date.now() + 60_000;
  for (;;) {
    const res = await http(`${url}/api/v1/clusters/${cluster}/jobs`, { headers });
    const job = (res.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === id);
    if (job && ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(job.status)) return job.status;
    if (Date.now() > end) throw new Error(`job ${id} on ${cluster} still ${job?.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('usage on the local driver', () => {
  let d: DaemonHandle;
  let home: string;

  before(async () => {
    home = tempHome();
    d = await startDaemon({ home, port: await freePort(), config: `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n` });
  });

  after(async () => {
    await d.stop();
    await killAllDaemons();
    removeHome(home);
  });

  it('counts a 2-CPU cluster from launch to down, with its job, by user and workspace; kept after the down', async () => {
    const before = Date.now();
    const op = (name: string, body: unknown): Promise<Rec> => runOperation<Rec>(d.url, name, body, ALICE);
    const launched = await op('launch', { cluster: 'meter', task: { resources: { cpus: 2 }, run: 'sleep 1' } });
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    assert.equal(await jobEnded(d.url, 'meter', launched.result!.jobId!, ALICE), 'SUCCEEDED');

    // While UP, the open interval counts up to the query.
    const running = await usage(d.url, `since=${before}`, ALICE);
    assert.equal(running.rows.length, 1);
    assert.ok(running.rows[0]!.nodeHours > 0, JSON.stringify(running));

    assert.equal((await op('stop', { cluster: 'meter' })).status, 'SUCCEEDED');
    assert.equal((await op('start', { cluster: 'meter' })).status, 'SUCCEEDED');
    assert.equal((await op('down', { cluster: 'meter' })).status, 'SUCCEEDED');

    const report = await usage(d.url, `since=${before}`, ALICE);
    assert.equal(report.rows.length, 1, JSON.stringify(report));
    const row = report.rows[0]!;
    assert.deepEqual([row.user, row.userName, row.workspace], ['u-alice', 'alice', 'default']);
    assert.ok(row.nodeHours > 0 && row.cpuHours > 0, JSON.stringify(row));
    assert.ok(Math.abs(row.cpuHours - 2 * row.nodeHours) <= 2e-6, `CPU-hours ${row.cpuHours} are not twice the node-hours ${row.nodeHours}`);
    assert.equal(row.gpuHours, 0);
    assert.equal(row.jobs, 1);
    assert.ok(row.jobCpuHours > 0 && row.jobCpuHours <= row.cpuHours, JSON.stringify(row));
    assert.deepEqual(report.total.nodeHours, row.nodeHours);
    assert.deepEqual(report.workspaces.map((w) => w.workspace), ['default']);

    // The cluster is gone: the figures no longer move (its intervals are closed).
    const again = await usage(d.url, `since=${before}`, ALICE);
    assert.equal(again.rows[0]!.nodeHours, row.nodeHours);

    // A window that ends before the launch has nothing.
    const earlier = await usage(d.url, `since=${before - 7_200_000}&until=${before - 1}`, ALICE);
    assert.deepEqual(earlier.rows, []);
    assert.equal(earlier.total.cpuHours, 0);

    // ISO dates are taken too; a window that ends before it starts is refused.
    const iso = await usage(d.url, `since=${new Date(before).toISOString()}`, ALICE);
    assert.equal(iso.rows[0]!.cpuHours, row.cpuHours);
    const backwards = await http(`${d.url}/api/v1/usage?since=${before}&until=${before - 1000}`, { headers: ALICE });
    assert.equal(backwards.status, 400);
    assert.equal(errorOf(backwards.text).code, 'VALIDATION_FAILED');
  });

  it('keeps the ledger across a restart of the daemon', async () => {
    const before = Date.now();
    const launched = await runOperation<Rec>(d.url, 'launch', { cluster: 'kept', task: { resources: { cpus: 2 }, run: 'true' } }, ALICE);
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    const port = Number(new URL(d.url).port);
    await d.stop();
    d = await startDaemon({ home, port, config: `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n` });
    assert.equal((await runOperation<Rec>(d.url, 'down', { cluster: 'kept' }, ALICE)).status, 'SUCCEEDED');
    const row = (await usage(d.url, `since=${before}`, ALICE)).rows[0];
    assert.ok(row !== undefined && row.nodeHours > 0, 'the interval opened before the restart is counted');
    assert.ok(Math.abs(row.cpuHours - 2 * row.nodeHours) <= 2e-6);
  });
});

describe('usage on a team server', () => {
  let d: TeamDaemonHandle;

  before(async () => {
    d = await startTeamDaemon(['alice', 'bob']);
  });

  after(async () => {
    await d.stop();
    await killAllDaemons();
  });

  it("another user sees only their own usage; every user's is for admins", async () => {
    const before = Date.now();
    const launched = await runOperation<Rec>(d.url, 'launch', { cluster: 'alice-usage', task: { resources: { cpus: 1 }, run: 'true' } }, asUser('alice'));
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    assert.equal((await runOperation<Rec>(d.url, 'down', { cluster: 'alice-usage' }, asUser('alice'))).status, 'SUCCEEDED');

    const alice = await usage(d.url, `since=${before}`, asUser('alice'));
    assert.deepEqual(alice.rows.map((r) => r.userName), ['alice']);
    assert.ok(alice.rows[0]!.cpuHours > 0);

    const bob = await usage(d.url, `since=${before}`, asUser('bob'));
    assert.deepEqual(bob.rows, [], "alice's usage is not in bob's report");
    assert.equal(bob.total.cpuHours, 0, 'nor in its totals');

    const refused = await http(`${d.url}/api/v1/usage?since=${before}&all_users=true`, { headers: asUser('bob') });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(errorOf(refused.text).code, 'FORBIDDEN');
    const audit = await http(`${d.url}/api/v1/audit?user=bob&limit=20`, { headers: asAdmin() });
    const entries = (audit.json() as { items: Array<{ action: string; result: string }> }).items;
    assert.ok(entries.some((e) => e.action === 'usage.read' && e.result === 'DENIED'), JSON.stringify(entries));

    const admin = await usage(d.url, `since=${before}&all_users=true`, asAdmin());
    const row = admin.rows.find((r) => r.userName === 'alice');
    assert.ok(row !== undefined, JSON.stringify(admin));
    assert.equal(row.workspace, 'default');
    assert.equal(row.cpuHours, alice.rows[0]!.cpuHours);
  });
});
