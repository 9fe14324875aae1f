import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, withLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';

// Two SSH hosts (network namespaces) that log in to one account with one home directory, as lab
// pools with NFS-mounted homes do: every file of a rank (its directory, log, status) and each
// node's event journal must be its own, or the second rank overwrites the first.

const ALICE = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

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
  exitCodes?: Array<number | null>;
}

let set: TestHosts;
let d: DaemonHandle;
let home: string;

async function job(cluster: string, id: number): Promise<Job | undefined> {
  const res = await http(`${d.url}/api/v1/clusters/${cluster}/jobs?all_users=true`, { headers: ALICE });
  return (res.json() as { items: Job[] }).items.find((j) => j.id === id);
}

async function untilEnded(cluster: string, id: number, ms = 60_000): Promise<Job> {
  const end = Date.now() + ms;
  for (;;) {
    const j = await job(cluster, id);
    if (j && ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(j.status)) return j;
    if (Date.now() > end) throw new Error(`job ${id} on ${cluster} is still ${j?.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
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
  set = await createHosts(2, { sharedHome: true });
  home = tempHome();
  d = await startDaemon({ home, port: await freePort(), config: sshDaemonConfig(set, { fast: true }) });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (home) removeHome(home);
});

describe('SSH hosts that share one home directory', () => {
  it('runs both ranks of a 2-node job at once, each with its own directory, log and journal', async () => {
    assert.equal(set.hosts[0]!.home, set.hosts[1]!.home, 'the two hosts log in to one home');
    // Like a DDP rendezvous: each rank waits until the other one has started too.
    const run = [
      'touch ~/ready-$SKYPILOT_NODE_RANK',
      'i=0; while [ $i -lt 300 ] && ! { [ -f ~/ready-0 ] && [ -f ~/ready-1 ]; }; do sleep 0.1; i=$((i+1)); done',
      '[ -f ~/ready-0 ] && [ -f ~/ready-1 ] || { echo "rank $SKYPILOT_NODE_RANK waited alone"; exit 3; }',
      'echo "rank $SKYPILOT_NODE_RANK met its peer"',
    ].join('\n');
    const rec = await runOperation<Rec>(d.url, 'launch', { cluster: 'nfs', task: { num_nodes: 2, resources: { infra: 'ssh/pool-a' }, run } }, ALICE);
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const id = rec.result!.jobId!;
    const ended = await untilEnded('nfs', id);
    assert.equal(ended.status, 'SUCCEEDED', JSON.stringify(ended));
    assert.deepEqual(ended.exitCodes, [0, 0]);

    const lines = (await logLines('nfs', id)).map((l) => `${l.rank}:${l.text}`).sort();
    assert.deepEqual(lines, ['0:rank 0 met its peer', '1:rank 1 met its peer']);

    const shared = set.hosts[0]!.home;
    const dirs = readdirSync(join(shared, '.sky/jobs')).filter((n) => n.endsWith(`-${id}-r0`) || n.endsWith(`-${id}-r1`));
    assert.equal(dirs.length, 2, `one directory per rank: ${dirs.join(', ')}`);
    for (const dir of dirs) {
      const rank = dir.endsWith('-r0') ? 0 : 1;
      assert.equal(readFileSync(join(shared, '.sky/jobs', dir, 'log'), 'utf8'), `rank ${rank} met its peer\n`);
    }
    const journals = readdirSync(join(shared, '.sky/events')).sort();
    assert.equal(journals.length, 2, `one journal per host: ${journals.join(', ')}`);
    journals.forEach((file) => {
      const text = readFileSync(join(shared, '.sky/events', file), 'utf8');
      const rank = text.includes(`-${id}-r0 0 `) ? 0 : 1;
      assert.match(text, new RegExp(`-${id}-r${rank} ${rank} SUCCEEDED 0\\n`), `${file}: ${text}`);
      assert.doesNotMatch(text, new RegExp(`-${id}-r${1 - rank} `), `${file} holds only its own host's rank`);
    });
  });
});
