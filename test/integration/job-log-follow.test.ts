import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { http, killAllDaemons, removeHome, startDaemon, withLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';
import { waitFor } from '../helpers/processes.js';

// Following a job's log on the local driver and on an SSH pool: lines reach the reader while
// the job runs (streamed from the nodes, not read at the end), the last line is there even
// without a newline, and whichever way the stream ends — the job ended, or the reader left —
// no follower process stays on the nodes.

const ALICE = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

let set: TestHosts;
let d: DaemonHandle;

interface Rec {
  status: string;
  result?: { jobId?: number };
  error?: { message: string };
}

interface Follow {
  lines: Array<{ rank: number; text: string }>;
  end: Promise<string | undefined>;
  req: ClientRequest;
}

function follow(cluster: string, id: number): Follow {
  const lines: Follow['lines'] = [];
  let req!: ClientRequest;
  const end = new Promise<string | undefined>((resolve, reject) => {
    req = request(`${d.url}/api/v1/clusters/${cluster}/jobs/${id}/logs?follow=true`, { headers: withLocalToken(d.url, ALICE) }, (res) => {
      let buf = '';
      let status: string | undefined;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        const blocks = buf.split('\n\n');
        buf = blocks.pop() ?? '';
        for (const b of blocks) {
          const data = b.split('data: ')[1];
          if (b.startsWith('event: log')) lines.push(JSON.parse(data!) as { rank: number; text: string });
          if (b.startsWith('event: end')) status = (JSON.parse(data!) as { status: string }).status;
        }
      });
      res.on('end', () => resolve(status));
      res.on('close', () => resolve(status));
    });
    req.on('error', reject);
    req.end();
  });
  return { lines, end, req };
}

/** tail followers of this job's log running on this machine (the namespace hosts share its process table). */
async function followers(clusterId: string, id: number): Promise<number> {
  const pattern = new RegExp(`^tail\\x00-c\\x00\\+\\d+\\x00-f\\x00[^\\x00]*${clusterId}-${id}-r\\d+/log\\x00$`);
  let n = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (pattern.test(text)) n += 1;
  }
  return n;
}

async function clusterId(name: string): Promise<string> {
  return ((await http(`${d.url}/api/v1/clusters/${name}`, { headers: ALICE })).json() as { clusterId: string }).clusterId;
}

before(async () => {
  set = await createHosts(2);
  d = await startDaemon({ config: sshDaemonConfig(set, { local: true }) });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (d) removeHome(d.home);
});

for (const [driver, infra] of [
  ['local', 'local'],
  ['ssh', 'ssh/pool-a'],
] as const) {
  describe(`following a job's log on the ${driver} driver`, () => {
    const cluster = `follow-${driver}`;
    const gate = `/tmp/sky-follow-gate-${process.pid}-${driver}`;

    after(async () => {
      await rm(gate, { force: true });
      await runOperation<Rec>(d.url, 'down', { cluster }, ALICE).catch(() => undefined);
    });

    it('streams lines while the job runs, keeps a last line without newline, and leaves no follower behind', async () => {
      const run = `echo "start $SKYPILOT_NODE_RANK"; while [ ! -e ${gate} ]; do sleep 0.05; done; echo middle; printf "last of $SKYPILOT_NODE_RANK"`;
      const rec = await runOperation<Rec>(d.url, 'launch', { cluster, task: { num_nodes: 2, resources: { infra }, run } }, ALICE);
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
      const id = rec.result!.jobId!;
      const cid = await clusterId(cluster);
      const f = follow(cluster, id);
      await waitFor(() => f.lines.filter((l) => l.text.startsWith('start')).length === 2, 30_000, 'both ranks\' first line while the job waits');
      assert.equal(existsSync(gate), false, 'the job is still waiting: these lines were streamed, not read at its end');
      assert.equal(await followers(cid, id), 2, 'one tail -f per rank while the job runs');
      await writeFile(gate, '');
      assert.equal(await f.end, 'SUCCEEDED');
      for (const rank of [0, 1]) {
        assert.deepEqual(
          f.lines.filter((l) => l.rank === rank).map((l) => l.text),
          [`start ${rank}`, 'middle', `last of ${rank}`],
        );
      }
      await waitFor(async () => (await followers(cid, id)) === 0, 10_000, 'the followers to end with the job');
      // Replayed with tail=2: the last two lines of each rank.
      const replay = await http(`${d.url}/api/v1/clusters/${cluster}/jobs/${id}/logs?follow=false&tail=2`, { headers: ALICE });
      const texts = replay.text
        .split('\n\n')
        .filter((b) => b.startsWith('event: log'))
        .map((b) => JSON.parse(b.split('data: ')[1]!) as { rank: number; text: string });
      assert.deepEqual(texts, [
        { rank: 0, text: 'middle' },
        { rank: 0, text: 'last of 0' },
        { rank: 1, text: 'middle' },
        { rank: 1, text: 'last of 1' },
      ]);
    });

    it('a large log, written while followed, arrives whole and in order', async () => {
      await rm(gate, { force: true });
      const run = `while [ ! -e ${gate} ]; do sleep 0.05; done; seq 1 100000`;
      const rec = await runOperation<Rec>(d.url, 'exec', { cluster, task: { num_nodes: 1, resources: { infra }, run } }, ALICE);
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
      const id = rec.result!.jobId!;
      const cid = await clusterId(cluster);
      const f = follow(cluster, id);
      await waitFor(async () => (await followers(cid, id)) === 1, 30_000, 'the follower to start');
      await writeFile(gate, '');
      assert.equal(await f.end, 'SUCCEEDED');
      assert.equal(f.lines.length, 100_000);
      assert.ok(f.lines.every((l, i) => l.text === String(i + 1)), 'every line once, in order');
    });

    it('a reader that leaves mid-follow ends the followers on the nodes; the job runs on', async () => {
      await rm(gate, { force: true });
      const run = `echo waiting; while [ ! -e ${gate} ]; do sleep 0.05; done; echo released`;
      const rec = await runOperation<Rec>(d.url, 'exec', { cluster, task: { num_nodes: 2, resources: { infra }, run } }, ALICE);
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
      const id = rec.result!.jobId!;
      const cid = await clusterId(cluster);
      const f = follow(cluster, id);
      await waitFor(() => f.lines.length === 2, 30_000, 'the first lines');
      await waitFor(async () => (await followers(cid, id)) === 2, 10_000, 'the followers to start');
      f.req.destroy();
      await waitFor(async () => (await followers(cid, id)) === 0, 10_000, 'the followers to end once the reader left');
      await writeFile(gate, '');
      const again = follow(cluster, id);
      assert.equal(await again.end, 'SUCCEEDED');
      assert.deepEqual(again.lines.map((l) => l.text).sort(), ['released', 'released', 'waiting', 'waiting']);
    });
  });
}
