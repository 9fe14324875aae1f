import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, withLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { nodeScriptPath } from '@sky/runtime';
import { runOperation } from '../helpers/team.js';
import { uploadFiles } from '../helpers/uploads.js';

// Clusters on an SSH node pool of three sshd hosts in network namespaces (loopback sshd when
// namespaces are not permitted; never under CI=true): gang jobs, a pool exhausted by two users,
// a host lost mid-job, and a daemon killed while a job runs.

const ALICE = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const BOB = { 'content-type': 'application/json', 'x-sky-user-id': 'u-bob', 'x-sky-user-name': 'bob' };

interface Rec {
  id: string;
  status: string;
  result?: { jobId?: number };
  error?: { code: string; message: string };
}
interface Job {
  id: number;
  status: string;
  reason?: string;
}

let set: TestHosts;
let d: DaemonHandle;
let home: string;
let port: number;
let config: string;

const op = (name: string, body: unknown, headers = ALICE): Promise<Rec> => runOperation<Rec>(d.url, name, body, headers);

async function job(cluster: string, id: number): Promise<Job | undefined> {
  const res = await http(`${d.url}/api/v1/clusters/${cluster}/jobs?all_users=true`, { headers: ALICE });
  return (res.json() as { items: Job[] }).items.find((j) => j.id === id);
}

async function until(cluster: string, id: number, statuses: string[], ms = 45_000): Promise<Job> {
  const end = Date.now() + ms;
  for (;;) {
    const j = await job(cluster, id);
    if (j && statuses.includes(j.status)) return j;
    const finished = j !== undefined && ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(j.status);
    if (finished || Date.now() > end) throw new Error(`job ${id} on ${cluster} is ${j?.status}${j?.reason ? ` (${j.reason})` : ''}, waited for ${statuses.join('/')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function logLines(cluster: string, id: number): Promise<Array<{ rank: number; text: string }>> {
  return new Promise((resolve, reject) => {
    request(`${d.url}/api/v1/clusters/${cluster}/jobs/${id}/logs?follow=true`, { headers: withLocalToken(d.url, ALICE) }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (buf += c));
      res.on('end', () =>
        resolve(
          buf
            .split('\n\n')
            .filter((b) => b.startsWith('event: log'))
            .map((b) => JSON.parse(b.split('data: ')[1]!) as { rank: number; text: string }),
        ),
      );
    })
      .on('error', reject)
      .end();
  });
}

before(async () => {
  set = await createHosts(3);
  home = tempHome();
  port = await freePort();
  config = sshDaemonConfig(set, { fast: true });
  d = await startDaemon({ home, port, config });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (home) removeHome(home);
});

describe(`clusters on an SSH node pool`, () => {
  it('gang-starts a 3-node job across the hosts: each rank sees its rank and every host address', async () => {
    const rec = await op('launch', {
      cluster: 'ssh3',
      task: { num_nodes: 3, resources: { infra: 'ssh/pool-a' }, run: 'echo "rank=$SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES ips=$(printf %s "$SKYPILOT_NODE_IPS" | tr "\\n" ,)"' },
    });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal((await until('ssh3', rec.result!.jobId!, ['SUCCEEDED', 'FAILED'])).status, 'SUCCEEDED');
    const ips = set.hosts.map((h) => h.ip);
    const lines = (await logLines('ssh3', rec.result!.jobId!)).map((l) => `${l.rank}:${l.text}`).sort();
    assert.equal(lines.length, 3);
    lines.forEach((line, rank) => assert.match(line, new RegExp(`^${rank}:rank=${rank} of 3 ips=`)));
    const seen = lines[0]!.split('ips=')[1]!.split(',');
    assert.deepEqual([...seen].sort(), [...ips].sort(), 'SKYPILOT_NODE_IPS lists the three hosts');
  });

  it('syncs an uploaded workdir and file mounts to every host over SFTP (~/ under the home, an absolute path as is)', async () => {
    const workdir = await uploadFiles(d.url, ALICE, { 'data/x.txt': 'uploaded\n', 'run.sh': 'echo run\n' });
    const conf = await uploadFiles(d.url, ALICE, { 'c.conf': 'conf\n' }, 'file');
    const abs = await mkdtemp(join(tmpdir(), 'sky-ssh-mount-'));
    try {
      const rec = await op('exec', {
        cluster: 'ssh3',
        task: { num_nodes: 3, run: `cat data/x.txt ~/cfg/c.conf ${abs}/c.conf` },
        uploads: { workdir, file_mounts: { '~/cfg/c.conf': conf, [`${abs}/c.conf`]: conf } },
      });
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
      assert.equal((await until('ssh3', rec.result!.jobId!, ['SUCCEEDED', 'FAILED'])).status, 'SUCCEEDED');
      const lines = await logLines('ssh3', rec.result!.jobId!);
      for (let rank = 0; rank < 3; rank += 1) {
        assert.deepEqual(lines.filter((l) => l.rank === rank).map((l) => l.text), ['uploaded', 'conf', 'conf'], `rank ${rank}`);
      }
      for (const h of set.hosts) assert.ok(existsSync(join(h.home, 'sky_workdir/run.sh')), `${h.ip} has the workdir in its home`);
    } finally {
      await rm(abs, { recursive: true, force: true });
      // Later tests expect hosts without a workdir (jobs run in ~/sky_workdir when there is one).
      for (const h of set.hosts) {
        await rm(join(h.home, 'sky_workdir'), { recursive: true, force: true });
        await rm(join(h.home, 'cfg'), { recursive: true, force: true });
      }
    }
  });

  it('a pool exhausted by one user refuses another, naming who holds which host', async () => {
    const rec = await op('launch', { cluster: 'bobs', task: { resources: { infra: 'ssh/pool-a' }, run: 'true' } }, BOB);
    assert.equal(rec.status, 'FAILED');
    assert.equal(rec.error?.code, 'NO_CAPACITY');
    assert.match(rec.error!.message, /held by alice \(cluster ssh3\)/);
  });

  it('a job keeps running through a daemon kill -9; the restarted daemon reconnects and records its end and log', async () => {
    const rec = await op('exec', { cluster: 'ssh3', task: { num_nodes: 3, run: 'echo start; sleep 3; echo end' } });
    const id = rec.result!.jobId!;
    await until('ssh3', id, ['RUNNING']);
    await d.kill9();
    d = await startDaemon({ home, port, config });
    const ended = await until('ssh3', id, ['SUCCEEDED', 'FAILED']);
    assert.equal(ended.status, 'SUCCEEDED', JSON.stringify(ended));
    const texts = (await logLines('ssh3', id)).filter((l) => l.rank === 0).map((l) => l.text);
    assert.deepEqual(texts, ['start', 'end']);
  });

  it('a host lost mid-job fails the job with "node <ip> unreachable" and the cluster shows why', async () => {
    const rec = await op('exec', { cluster: 'ssh3', task: { num_nodes: 3, run: 'sleep 120' } });
    const id = rec.result!.jobId!;
    await until('ssh3', id, ['RUNNING']);
    const lost = set.hosts[1]!;
    const cutAt = Date.now();
    await set.cutLink(1);
    try {
      const failed = await until('ssh3', id, ['FAILED', 'SUCCEEDED', 'CANCELLED'], 60_000);
      assert.equal(failed.status, 'FAILED');
      assert.equal(failed.reason, `node ${lost.ip} unreachable`);
      assert.ok(Date.now() - cutAt < 60_000);
      const cluster = (await http(`${d.url}/api/v1/clusters/ssh3`, { headers: ALICE })).json() as { statusReason?: string };
      assert.match(cluster.statusReason ?? '', new RegExp(`node ${lost.ip.replaceAll('.', '\\.')} unreachable`));
    } finally {
      await set.restoreLink(1);
    }
  });

  it('down releases the hosts: another user can then launch on the pool', async () => {
    assert.equal((await op('down', { cluster: 'ssh3' })).status, 'SUCCEEDED');
    const rec = await op('launch', { cluster: 'bobs', task: { resources: { infra: 'ssh/pool-a' }, run: 'echo hi' } }, BOB);
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal((await op('down', { cluster: 'bobs' }, BOB)).status, 'SUCCEEDED');
  });

  it('check reports every host of the pool with what it has; the enabled infra lists the pool', async () => {
    const rec = await op('check', { infra: ['ssh'] });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const result = (rec as unknown as { result: { drivers: Array<{ id: string; ok: boolean; infra: string[]; hosts: Array<{ host: string; reachable: boolean; authOk: boolean; cpus: number }> }> } }).result;
    const ssh = result.drivers.find((x) => x.id === 'ssh')!;
    assert.equal(ssh.ok, true);
    assert.deepEqual(ssh.infra, ['ssh/pool-a']);
    assert.deepEqual(ssh.hosts.map((h) => h.host).sort(), set.hosts.map((h) => h.ip).sort());
    assert.ok(ssh.hosts.every((h) => h.reachable && h.authOk && h.cpus >= 1));
    const list = (await http(`${d.url}/api/v1/clusters`, { headers: ALICE })).json() as { enabledInfra: string[] };
    assert.deepEqual(list.enabledInfra, ['ssh/pool-a']);
  });

  it('ssh up uploads the runtime to every host; ssh down removes it, leaving hosts held by a cluster alone', async () => {
    const up = await op('ssh_up', { infra: 'ssh/pool-a' });
    assert.equal(up.status, 'SUCCEEDED', JSON.stringify(up.error));
    const upHosts = (up as unknown as { result: { hosts: Array<{ ok: boolean; message: string }> } }).result.hosts;
    assert.equal(upHosts.length, 3);
    assert.ok(upHosts.every((h) => h.ok), JSON.stringify(upHosts));
    for (const h of set.hosts) assert.ok(existsSync(join(h.home, nodeScriptPath())), `runtime on ${h.ip}`);
    const held = await op('launch', { cluster: 'keep', task: { resources: { infra: 'ssh/pool-a' }, run: 'true' } });
    assert.equal(held.status, 'SUCCEEDED', JSON.stringify(held.error));
    const down = await op('ssh_down', { infra: 'ssh/pool-a' });
    const downHosts = (down as unknown as { result: { hosts: Array<{ host: string; ok: boolean; message: string }> } }).result.hosts;
    assert.equal(downHosts.filter((h) => !h.ok).length, 1, JSON.stringify(downHosts));
    assert.match(downHosts.find((h) => !h.ok)!.message, /held by alice \(cluster keep\)/);
    const cleaned = set.hosts.filter((h) => downHosts.find((x) => x.host === h.ip)?.ok);
    for (const h of cleaned) assert.equal(existsSync(join(h.home, '.sky')), false, `nothing left on ${h.ip}`);
    assert.equal((await op('down', { cluster: 'keep' })).status, 'SUCCEEDED');
  });

  it('show-gpus lists each host (none have GPUs here) and refuses an unknown pool', async () => {
    const rec = await op('show_gpus', { infra: 'ssh/pool-a' });
    const hosts = (rec as unknown as { result: { hosts: Array<{ accelerators: unknown[] }> } }).result.hosts;
    assert.equal(hosts.length, 3);
    assert.ok(hosts.every((h) => h.accelerators.length === 0));
    const bad = await op('show_gpus', { infra: 'ssh/nope' });
    assert.equal(bad.status, 'FAILED');
    assert.match(bad.error!.message, /pool-a/);
  });

  it('the cluster lifecycle on SSH: queue, cancel, stop refused (hosts cannot power off), autostop --down releases the hosts', async () => {
    const rec = await op('launch', { cluster: 'life', task: { num_nodes: 2, resources: { infra: 'ssh/pool-a' }, run: 'echo one' } });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    await until('life', 1, ['SUCCEEDED']);
    const long = await op('exec', { cluster: 'life', task: { num_nodes: 2, run: 'sleep 120' } });
    await until('life', long.result!.jobId!, ['RUNNING']);
    const cancel = await op('cancel', { cluster: 'life', job_ids: [long.result!.jobId!] });
    assert.equal(cancel.status, 'SUCCEEDED', JSON.stringify(cancel.error));
    assert.equal((await until('life', long.result!.jobId!, ['CANCELLED', 'FAILED', 'SUCCEEDED'])).status, 'CANCELLED');
    const stop = await op('stop', { cluster: 'life' });
    assert.equal(stop.error?.code, 'NOT_SUPPORTED');
    assert.match(stop.error!.message, /sky down/);
    const stopRule = await op('autostop', { cluster: 'life', idle_minutes: 0 });
    assert.equal(stopRule.status, 'SUCCEEDED');
    const turnedOff = Date.now() + 30_000;
    let shown: { autostop?: unknown; statusReason?: string } = {};
    while (Date.now() < turnedOff) {
      shown = (await http(`${d.url}/api/v1/clusters/life`, { headers: ALICE })).json() as typeof shown;
      if (shown.autostop === undefined) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(shown.autostop, undefined, 'an autostop that cannot stop is turned off, not retried forever');
    assert.match(shown.statusReason ?? '', /autostop turned off: .*sky down/);
    const auto = await op('autostop', { cluster: 'life', idle_minutes: 0, down: true });
    assert.equal(auto.status, 'SUCCEEDED');
    const end = Date.now() + 30_000;
    while ((await http(`${d.url}/api/v1/clusters/life`, { headers: ALICE })).status !== 404 && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
    assert.equal((await http(`${d.url}/api/v1/clusters/life`, { headers: ALICE })).status, 404, 'autostop --down tore it down');
    const again = await op('launch', { cluster: 'again', task: { num_nodes: 3, resources: { infra: 'ssh/pool-a' }, run: 'true' } }, BOB);
    assert.equal(again.status, 'SUCCEEDED', 'all three hosts are free again');
    assert.equal((await op('down', { cluster: 'again' }, BOB)).status, 'SUCCEEDED');
  });
});
