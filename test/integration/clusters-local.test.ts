import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, withLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Rec {
  id: string;
  status: string;
  result?: { jobId?: number; cluster: string };
  error?: { code: string; message: string };
}
interface Job {
  id: number;
  status: string;
  exitCodes?: Array<number | null>;
  reason?: string;
}
interface Cluster {
  name: string;
  status: string;
  nodes: Array<{ rank: number; address: string; reach: { root: string } }>;
  owner: string;
  infra: string;
  autostop?: { idleMinutes: number };
}

let d: DaemonHandle;
let home: string;
let port: number;
const config = (root: string): string => `drivers:\n  local:\n    root: ${root}\n    cpus: 8\n    memory_gb: 16\n`;

const op = (name: string, body: unknown, headers = HEADERS): Promise<Rec> => runOperation<Rec>(d.url, name, body, headers);

async function jobs(cluster: string): Promise<Job[]> {
  const res = await http(`${d.url}/api/v1/clusters/${cluster}/jobs?all_users=true`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return (res.json() as { items: Job[] }).items;
}

async function jobDone(cluster: string, id: number, ms = 30_000): Promise<Job> {
  const end = Date.now() + ms;
  for (;;) {
    const job = (await jobs(cluster)).find((j) => j.id === id);
    if (job && ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(job.status)) return job;
    if (Date.now() > end) throw new Error(`job ${id} on ${cluster} still ${job?.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function cluster(name: string): Promise<Cluster | undefined> {
  const res = await http(`${d.url}/api/v1/clusters/${name}`, { headers: HEADERS });
  return res.status === 200 ? (res.json() as Cluster) : undefined;
}

function jobLog(name: string, job: number): Promise<{ lines: Array<{ rank: number; text: string }>; end?: string }> {
  return new Promise((resolve, reject) => {
    request(`${d.url}/api/v1/clusters/${name}/jobs/${job}/logs?follow=true`, { headers: withLocalToken(d.url, HEADERS) }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (buf += c));
      res.on('end', () => {
        const lines: Array<{ rank: number; text: string }> = [];
        let end: string | undefined;
        for (const block of buf.split('\n\n')) {
          const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
          if (block.startsWith('event: log') && data) lines.push(JSON.parse(data) as { rank: number; text: string });
          if (block.startsWith('event: end') && data) end = (JSON.parse(data) as { status: string }).status;
        }
        resolve({ lines, ...(end ? { end } : {}) });
      });
    })
      .on('error', reject)
      .end();
  });
}

before(async () => {
  home = tempHome();
  port = await freePort();
  d = await startDaemon({ home, port, config: config(join(home, 'nodes')) });
});

after(async () => {
  await d.stop();
  await killAllDaemons();
  removeHome(home);
});

describe('driver fail-over', () => {
  it('tries the next enabled driver when one has no capacity, and names every refusal when none has', async () => {
    const h = tempHome();
    const fixtures = join(process.env.SKY_REPO_ROOT ?? process.cwd(), 'test/fixtures/plugins');
    const other = await startDaemon({ home: h, config: `plugins:\n  dirs: [${fixtures}]\ndrivers:\n  full: {}\n  local:\n    root: ${join(h, 'nodes')}\n    cpus: 2\n    memory_gb: 4\n` });
    const saved = d;
    d = other;
    try {
      const rec = await op('launch', { cluster: 'fo', task: { run: 'true' } });
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
      assert.equal((await cluster('fo'))?.infra, 'local');
      const log = await http(`${d.url}/api/v1/requests/${rec.id}/logs?follow=false`, { headers: HEADERS });
      assert.match(log.text, /full driver cannot fit fo/);
      const none = await op('launch', { cluster: 'toobig', task: { resources: { cpus: 64 }, run: 'true' } });
      assert.equal(none.error?.code, 'NO_CAPACITY');
      assert.match(none.error!.message, /full driver cannot fit/);
      assert.match(none.error!.message, /local: local driver: 1 node × 64 CPUs is more than this machine hands out 2 CPUs/, 'a driver that could never fit it says so too');
      const pinned = await op('launch', { cluster: 'pinned', task: { resources: { infra: 'full' }, run: 'true' } });
      assert.equal(pinned.error?.code, 'NO_CAPACITY', 'infra: full never falls over to local');
      assert.equal((await op('down', { cluster: 'fo' })).status, 'SUCCEEDED');
    } finally {
      d = saved;
      await other.stop();
      removeHome(h);
    }
  });
});

describe('clusters on the local driver', () => {
  it('launches a 2-node task: both ranks run with the SkyPilot variables, the log comes from both nodes', async () => {
    const rec = await op('launch', {
      cluster: 'c1',
      task: { num_nodes: 2, envs: { GREETING: 'hi there' }, run: 'echo "rank=$SKYPILOT_NODE_RANK n=$SKYPILOT_NUM_NODES ips=$(printf %s "$SKYPILOT_NODE_IPS" | tr "\\n" ,) $GREETING"' },
    });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal(rec.result?.jobId, 1);
    const c = await cluster('c1');
    assert.equal(c?.status, 'UP');
    assert.equal(c?.nodes.length, 2);
    const job = await jobDone('c1', 1);
    assert.equal(job.status, 'SUCCEEDED');
    assert.deepEqual(job.exitCodes, [0, 0]);
    const log = await jobLog('c1', 1);
    assert.equal(log.end, 'SUCCEEDED');
    const texts = log.lines.map((l) => `${l.rank}:${l.text}`).sort();
    assert.deepEqual(texts, ['0:rank=0 n=2 ips=127.0.0.1,127.0.0.1 hi there', '1:rank=1 n=2 ips=127.0.0.1,127.0.0.1 hi there']);
  });

  it('never shows task secrets in request listings or records, even to their owner', async () => {
    const rec = await op('launch', { cluster: 'c1', task: { secrets: { HF_TOKEN: 'hf_very_secret' }, run: 'test "$(printf %s "$HF_TOKEN" | wc -c)" -eq 14' } });
    assert.equal(rec.status, 'SUCCEEDED');
    assert.equal((await jobDone('c1', rec.result!.jobId!)).status, 'SUCCEEDED', 'the job still gets the secret');
    const one = await http(`${d.url}/api/v1/requests/${rec.id}`, { headers: HEADERS });
    const list = await http(`${d.url}/api/v1/requests?limit=50`, { headers: HEADERS });
    for (const text of [one.text, list.text]) {
      assert.doesNotMatch(text, /hf_very_secret/);
      assert.match(text, /"HF_TOKEN":"\*\*\*"/);
    }
  });

  it('rejects a bad task at submit time with the field named', async () => {
    const res = await http(`${d.url}/api/v1/launch`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ task: { num_nodes: 0, run: 'x' } }) });
    assert.equal(res.status, 400);
    const error = (res.json() as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'TASK_INVALID');
    assert.match(error.message, /num_nodes/);
  });

  it('exec queues jobs; setup failures end FAILED_SETUP; a missing command ends FAILED with 127', async () => {
    const bad = await op('launch', { cluster: 'c1', task: { setup: 'echo preparing; exit 3', run: 'echo never' } });
    assert.equal(bad.status, 'SUCCEEDED');
    const setupJob = await jobDone('c1', bad.result!.jobId!);
    assert.equal(setupJob.status, 'FAILED_SETUP');
    const missing = await op('exec', { cluster: 'c1', task: { run: 'no-such-command-sky' } });
    const job = await jobDone('c1', missing.result!.jobId!);
    assert.equal(job.status, 'FAILED');
    assert.deepEqual(job.exitCodes?.[0], 127);
  });

  it('a job keeps running through a daemon kill -9 and the restarted daemon records its end and keeps its log', async () => {
    const rec = await op('exec', { cluster: 'c1', task: { run: 'echo before; sleep 3; echo after' } });
    const id = rec.result!.jobId!;
    const end = Date.now() + 10_000;
    while ((await jobs('c1')).find((j) => j.id === id)?.status !== 'RUNNING' && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await d.kill9();
    d = await startDaemon({ home, port, config: config(join(home, 'nodes')) });
    const job = await jobDone('c1', id);
    assert.equal(job.status, 'SUCCEEDED');
    const log = await jobLog('c1', id);
    assert.deepEqual(log.lines.map((l) => l.text), ['before', 'after']);
  });

  // Who may change whose cluster is a team server's matter (auth on): test/security/route-walk.test.ts.
  it('cancels a running job', async () => {
    const rec = await op('exec', { cluster: 'c1', task: { run: 'sleep 60' } });
    const id = rec.result!.jobId!;
    const cancel = await op('cancel', { cluster: 'c1', job_ids: [id] });
    assert.equal(cancel.status, 'SUCCEEDED', JSON.stringify(cancel.error));
    assert.equal((await jobDone('c1', id)).status, 'CANCELLED');
  });

  it('stop, exec refused while stopped, start, then down removes the nodes', async () => {
    const root = (await cluster('c1'))!.nodes[0]!.reach.root;
    assert.equal((await op('stop', { cluster: 'c1' })).status, 'SUCCEEDED');
    assert.equal((await cluster('c1'))?.status, 'STOPPED');
    const refused = await op('exec', { cluster: 'c1', task: { run: 'echo hi' } });
    assert.equal(refused.error?.code, 'CLUSTER_NOT_UP');
    assert.equal((await op('start', { cluster: 'c1' })).status, 'SUCCEEDED');
    assert.equal((await cluster('c1'))?.status, 'UP');
    const again = await op('exec', { cluster: 'c1', task: { run: 'echo back' } });
    assert.equal((await jobDone('c1', again.result!.jobId!)).status, 'SUCCEEDED');
    assert.equal((await op('down', { cluster: 'c1' })).status, 'SUCCEEDED');
    assert.equal(await cluster('c1'), undefined);
    assert.equal(existsSync(root), false, 'node directories removed');
  });

  it('refuses a task that could never fit, naming what the driver has, and leaves no cluster behind', async () => {
    const rec = await op('launch', { cluster: 'huge', task: { num_nodes: 2, resources: { cpus: 6 }, run: 'true' } });
    assert.equal(rec.status, 'FAILED');
    assert.equal(rec.error?.code, 'RESOURCES_UNAVAILABLE');
    assert.match(rec.error!.message, /2 nodes × 6 CPUs is more than this machine hands out/);
    assert.equal(await cluster('huge'), undefined);
  });

  it('autostop stops an idle cluster', async () => {
    const rec = await op('launch', { cluster: 'idle', idle_minutes_to_autostop: 0, task: { run: 'true' } });
    assert.equal(rec.status, 'SUCCEEDED');
    await jobDone('idle', 1);
    const end = Date.now() + 20_000;
    while ((await cluster('idle'))?.status !== 'STOPPED' && Date.now() < end) await new Promise((r) => setTimeout(r, 250));
    assert.equal((await cluster('idle'))?.status, 'STOPPED');
    assert.equal((await op('down', { cluster: 'idle' })).status, 'SUCCEEDED');
  });
});
