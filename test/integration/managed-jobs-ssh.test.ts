import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';

// A managed job on an SSH node pool of two namespace hosts loses its host (the host's link is
// cut mid-job): the daemon notices, records RECOVERING, relaunches the task on the other host
// and the job succeeds there. With the pool's only spare host gone too, it waits in RECOVERING
// and ends FAILED_NO_RESOURCE after managed_jobs.recovery_wait_seconds.

const ALICE = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const TERMINAL = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER', 'CANCELLED'];

interface ManagedJob {
  id: number;
  status: string;
  reason?: string;
  tasks: Array<{ cluster?: string; infra?: string; recoveries: number; restarts: number }>;
}

let set: TestHosts;
let d: DaemonHandle;
let home: string;

async function get(id: number): Promise<{ job: ManagedJob; events: Array<{ text: string }> }> {
  const res = await http(`${d.url}/api/v1/managed-jobs/${id}`, { headers: ALICE });
  assert.equal(res.status, 200, res.text);
  return res.json() as { job: ManagedJob; events: Array<{ text: string }> };
}

async function until(id: number, want: (j: ManagedJob) => boolean, ms = 90_000): Promise<ManagedJob> {
  const end = Date.now() + ms;
  for (;;) {
    const { job, events } = await get(id);
    if (want(job)) return job;
    if (Date.now() > end) throw new Error(`managed job ${id} is ${job.status}: ${events.map((e) => e.text).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function hostOf(cluster: string): Promise<string> {
  const res = await http(`${d.url}/api/v1/clusters/${cluster}`, { headers: ALICE });
  assert.equal(res.status, 200, res.text);
  return (res.json() as { nodes: Array<{ address: string }> }).nodes[0]!.address;
}

before(async () => {
  set = await createHosts(2);
  home = tempHome();
  const config = sshDaemonConfig(set, { fast: true }) + 'managed_jobs:\n  retry_seconds: 1\n  recovery_wait_seconds: 6\n';
  d = await startDaemon({ home, port: await freePort(), config });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (home) removeHome(home);
});

describe('managed jobs on an SSH node pool', () => {
  it('a host cut off mid-job: RECOVERING, relaunched on the other host, SUCCEEDED there', async () => {
    // The hosts share this machine's file system (only their network is their own): the marker tells the relaunch apart.
    const marker = `/tmp/sky-mj-ssh-${process.pid}-${Date.now()}`;
    const task = { resources: { infra: 'ssh/pool-a' }, run: `if [ -e ${marker} ]; then echo second; else touch ${marker}; sleep 600; fi` };
    const rec = await runOperation<{ status: string; result?: { jobId: number }; error?: unknown }>(d.url, 'jobs_launch', { tasks: [{ task }] }, ALICE);
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const id = rec.result!.jobId;
    const running = await until(id, (j) => j.status === 'RUNNING');
    const address = await hostOf(running.tasks[0]!.cluster!);
    const lost = set.hosts.findIndex((h) => h.ip === address);
    assert.ok(lost >= 0, `the job runs on one of the pool's hosts (${address})`);
    await set.cutLink(lost);
    try {
      await until(id, (j) => j.status === 'RECOVERING' || TERMINAL.includes(j.status));
      const done = await until(id, (j) => TERMINAL.includes(j.status));
      assert.equal(done.status, 'SUCCEEDED', done.reason);
      assert.equal(done.tasks[0]!.recoveries, 1);
      const { events } = await get(id);
      assert.ok(events.some((e) => /recovering/.test(e.text)), events.map((e) => e.text).join('\n'));
    } finally {
      await set.restoreLink(lost);
      rmSync(marker, { force: true });
    }
  });

  it('with no host to relaunch on, it waits in RECOVERING, then ends FAILED_NO_RESOURCE', async () => {
    const task = { resources: { infra: 'ssh/pool-a' }, run: 'sleep 600' };
    const rec = await runOperation<{ status: string; result?: { jobId: number } }>(d.url, 'jobs_launch', { tasks: [{ task }] }, ALICE);
    const id = rec.result!.jobId;
    await until(id, (j) => j.status === 'RUNNING');
    await set.cutLink(0);
    await set.cutLink(1);
    try {
      await until(id, (j) => j.status === 'RECOVERING');
      const done = await until(id, (j) => TERMINAL.includes(j.status));
      assert.equal(done.status, 'FAILED_NO_RESOURCE', done.reason);
      assert.match(done.reason ?? '', /no capacity to relaunch/);
    } finally {
      await set.restoreLink(0);
      await set.restoreLink(1);
    }
    const left = (await http(`${d.url}/api/v1/clusters?all_users=true`, { headers: ALICE })).json() as { items: Array<{ name: string }> };
    assert.deepEqual(left.items.filter((c) => c.name.startsWith('sky-jobs-')), []);
  });
});
