import 'reflect-metadata';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jobFiles, RUNTIME_VERSION } from '@sky/runtime';
import type { JobRecord, NodeRecord } from '@sky/protocol';
import { JobQueue } from '../../core/daemon/src/clusters/job-queue.js';
import { JobLogs } from '../../core/daemon/src/clusters/job-logs.js';
import { alice, delay, inProcess, type InProcess } from '../helpers/in-process.js';

// A node whose jobs were started by a daemon of runtime version 1 (its script, kept here as a
// fixture, at .sky/bin/sky-node.sh; one directory per job; no event journal), then a newer
// daemon: it installs its own version beside the old one on the node's next use, starts new jobs
// with it, and follows the old job to its end with the old script.

const V1_SCRIPT = fileURLToPath(new URL('../fixtures/runtime-v1/sky-node.sh', import.meta.url));

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await delay(50);
  }
}

describe('node runtime upgrades', () => {
  let p: InProcess;
  let queue: JobQueue | undefined;
  after(async () => {
    queue?.stop();
    await p?.close();
  });

  it('follows a job started by runtime 1 to SUCCEEDED with its log while new jobs use the current runtime', async () => {
    p = await inProcess();
    const root = join(p.dir, 'node0');
    mkdirSync(root, { recursive: true });
    const node: NodeRecord = { id: 'n0', rank: 0, address: '127.0.0.1', reach: { kind: 'local', root }, resources: { cpus: 4, memoryGb: 8, accelerators: [] } };
    const now = Date.now();
    const { record: cluster } = await p.store.clusters.create({
      name: 'upg', clusterId: 'upg-1', owner: alice.user, ownerName: alice.userName, workspace: 'default', driver: 'local', infra: 'local',
      status: 'UP', numNodes: 1, nodes: [node], resources: '1x local(cpus=4)', driverState: null, launchedAt: now, updatedAt: now, lastActiveAt: now,
    });
    const demand = { cpus: 1, memoryGb: 0, accelerators: [] };
    const spec = (run: string) => ({ run, envs: {}, secrets: {}, fileMounts: {} });

    // What the old daemon did: its script on the node, the job claimed (no runtime recorded) and started with it.
    const v1Text = readFileSync(V1_SCRIPT, 'utf8');
    mkdirSync(join(root, '.sky/bin'), { recursive: true });
    writeFileSync(join(root, '.sky/bin/sky-node.sh'), v1Text);
    const old = await p.store.jobs.create(
      { cluster: 'upg', clusterId: 'upg-1', user: alice.user, userName: alice.userName, status: 'PENDING', submittedAt: now, numNodes: 1, demand },
      spec('unused'),
    );
    await p.store.jobs.transition('upg', old.id, ['PENDING'], { status: 'SETTING_UP', startedAt: now });
    const oldDir = join(root, '.sky/jobs', `upg-1-${old.id}`);
    mkdirSync(oldDir, { recursive: true });
    const files = jobFiles({ jobId: `upg-1-${old.id}`, rank: 0, nodeIps: ['127.0.0.1'], taskId: 't', clusterInfo: { cluster_name: 'upg', cloud: 'local', region: null, zone: null }, home: root, run: 'echo old-start; sleep 2; echo old-done' });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(oldDir, name), text, { mode: name === 'env' ? 0o600 : 0o644 });
    const oldRunner = Number(execFileSync('/bin/sh', ['-c', `sh .sky/bin/sky-node.sh start .sky/jobs/upg-1-${old.id}`], { cwd: root, encoding: 'utf8' }).trim());
    assert.ok(oldRunner > 1);

    // The new daemon.
    queue = p.resolve(JobQueue);
    queue.start();
    const fresh = await queue.submit(cluster, { user: alice.user, userName: alice.userName, numNodes: 1, demand }, spec('echo new-job'));
    const freshEnded = await until('the new job to end', () => p.store.jobs.get('upg', fresh.id), (j) => j?.status === 'SUCCEEDED' || j?.status === 'FAILED');
    assert.equal(freshEnded?.status, 'SUCCEEDED');
    assert.equal(freshEnded?.runtime, RUNTIME_VERSION, 'a new job records the runtime that started it');
    assert.ok(existsSync(join(root, `.sky/runtime/${RUNTIME_VERSION}/sky-node.sh`)), 'the current runtime is installed at its own path');
    assert.ok(existsSync(join(root, '.sky/jobs', `upg-1-${fresh.id}-r0`)), 'new jobs use the per-rank layout');
    assert.equal(readFileSync(join(root, '.sky/bin/sky-node.sh'), 'utf8'), v1Text, 'the old script stays for the jobs it started');

    const mid = await p.store.jobs.get('upg', old.id);
    assert.ok(mid && ['SETTING_UP', 'RUNNING', 'SUCCEEDED'].includes(mid.status), `the old job is not failed by the upgrade: ${mid?.status}`);
    const oldEnded = await until('the old job to end', () => p.store.jobs.get('upg', old.id), (j: JobRecord | undefined) => j?.status === 'SUCCEEDED' || j?.status === 'FAILED');
    assert.equal(oldEnded?.status, 'SUCCEEDED', JSON.stringify(oldEnded));
    assert.deepEqual(oldEnded?.exitCodes, [0]);
    assert.equal(oldEnded?.runtime, undefined, 'the old job keeps no runtime version: it is read as version 1');

    const lines: string[] = [];
    const read = await p.resolve(JobLogs).open('upg', old.id, false, undefined);
    for await (const event of read(new AbortController().signal)) {
      if (event.type === 'log') lines.push(event.line.text);
    }
    assert.deepEqual(lines, ['old-start', 'old-done']);
    assert.equal(existsSync(dirname(join(root, '.sky/events/local.log'))), true, 'new jobs write to the node journal');
  });
});
