import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Health } from '@sky/protocol';
import { http, useLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { Replicas, until } from '../helpers/pg-replicas.js';
import { runOperation } from '../helpers/team.js';
import { runSky, showRun } from '../helpers/sky-cli.js';
import { adminQuery, testDatabaseUrl } from './store-postgres-fixture.js';

// Two replicas on one PostgreSQL: only the holder of lease `leader` drives managed jobs. A job
// submitted to the other replica runs once; when the leader is killed with kill -9 the other
// takes the lead within the lease time and drives the job to its end on the same cluster; a
// cancel sent to a replica that does not lead cancels the job.

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const LEASE_SECONDS = 4;
const TERMINAL = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER', 'CANCELLED'];

interface ManagedJob {
  id: number;
  status: string;
  tasks: Array<{ cluster?: string; recoveries: number; restarts: number }>;
}
interface Rec {
  status: string;
  result?: { jobId: number; cancelled?: number[] };
  error?: { code: string; message: string };
}

const replicas = new Replicas();

after(() => replicas.cleanup());

async function sharedStore(): Promise<{ config: (replica: string) => string; dir: string; schema: string }> {
  const url = await testDatabaseUrl();
  const schema = replicas.schema();
  const dir = replicas.dir('sky-leader-');
  const config = (replica: string): string =>
    `replica_id: ${replica}\nreplicas:\n  lease_seconds: ${LEASE_SECONDS}\n` +
    `store:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\n` +
    `jobs:\n  reconcile_seconds: 1\n  unreachable_grace_seconds: 1\n` +
    `managed_jobs:\n  retry_seconds: 1\n  recovery_wait_seconds: 4\n` +
    `drivers:\n  local:\n    root: ${join(dir, 'nodes')}\n    cpus: 64\n    memory_gb: 64\n`;
  return { config, dir, schema };
}

const replica = (config: string): Promise<DaemonHandle> => replicas.start(config);

async function leads(d: DaemonHandle): Promise<boolean> {
  const res = await http(`${d.url}/api/health`, { headers: HEADERS });
  return (res.json() as Health).leader === true;
}

async function job(url: string, id: number): Promise<{ job: ManagedJob; events: Array<{ text: string }> }> {
  const res = await http(`${url}/api/v1/managed-jobs/${id}`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as { job: ManagedJob; events: Array<{ text: string }> };
}

/** The job's clusters as the shared store holds them (a replica's cluster list shows the clusters its own writes made). */
async function jobClusters(schema: string, id: number): Promise<string[]> {
  const rows = await adminQuery<{ name: string }>(`SELECT name FROM "${schema}".clusters WHERE name LIKE $1`, [`sky-jobs-${id}-%`]);
  return rows.map((r) => r.name);
}

function marks(file: string): number {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length;
  } catch {
    return 0;
  }
}

/** Watch the job's clusters until stopped: the most seen at once. */
function watchClusters(schema: string, id: number): { stop: () => Promise<number> } {
  let most = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const names = await jobClusters(schema, id).catch(() => []);
      most = Math.max(most, names.length);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return most;
    },
  };
}

describe('the leader replica drives managed jobs', { timeout: 600_000 }, () => {
  it('a job submitted to the replica that does not lead runs once; kill -9 of the leader: the other leads within the lease and ends it; a cancel sent to a follower cancels', async () => {
    const { config, dir, schema } = await sharedStore();
    const a = await replica(config('sky-a'));
    const b = await replica(config('sky-b'));
    await until('one leader', async () => (await leads(a)) !== (await leads(b)), 100);
    const [leader, follower] = (await leads(a)) ? [a, b] : [b, a];
    useLocalToken(follower.url, follower.home);
    const info = await runSky(['api', 'info'], { home: follower.home, endpoint: follower.url });
    assert.match(info.stdout, /├── Leader: no /, showRun(['api', 'info'], info));

    // Submitted to the follower: the leader launches it, once.
    const mark = join(dir, 'ran');
    const task = { name: 'sleeper', run: `echo ran >> ${mark}; sleep 12; echo done` };
    const launched = await runOperation<Rec>(follower.url, 'jobs_launch', { tasks: [{ task }] }, HEADERS);
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    const id = launched.result!.jobId;
    const watch = watchClusters(schema, id);
    try {
      await until('the job to run', async () => (await job(follower.url, id)).job.status === 'RUNNING' && marks(mark) === 1, 600);
    } catch (err) {
      await watch.stop();
      throw err;
    }
    const [cluster] = await jobClusters(schema, id);
    assert.ok(cluster !== undefined);

    // The leader dies: the follower leads within about the lease time and follows the job to its end.
    await leader.kill9();
    try {
      await until('the follower to lead', () => leads(follower), (LEASE_SECONDS + 4) * 10);
      await until('the job to end', async () => TERMINAL.includes((await job(follower.url, id)).job.status), 1200);
    } catch (err) {
      await watch.stop();
      throw err;
    }
    const { job: done, events } = await job(follower.url, id);
    assert.equal(done.status, 'SUCCEEDED', events.map((e) => e.text).join(' | '));
    await until('its cluster to be torn down', async () => (await jobClusters(schema, id)).length === 0, 300);
    assert.equal(await watch.stop(), 1, 'one cluster at any time');
    assert.equal(marks(mark), done.tasks[0]!.recoveries + done.tasks[0]!.restarts + 1, 'run once (or once more per recorded recovery)');
    const teardowns = events.filter((e) => e.text.startsWith(`tearing down ${cluster} `)).length;
    assert.ok(teardowns <= 1, `torn down ${teardowns} times: ${events.map((e) => e.text).join(' | ')}`);

    // A second replica joins (not the leader); a job cancelled through it ends CANCELLED, driven by the leader.
    const c = await replica(config('sky-c'));
    assert.equal(await leads(c), false);
    const mark2 = join(dir, 'ran2');
    const second = await runOperation<Rec>(c.url, 'jobs_launch', { tasks: [{ task: { name: 'long', run: `echo ran >> ${mark2}; sleep 300` } }] }, HEADERS);
    assert.equal(second.status, 'SUCCEEDED', JSON.stringify(second.error));
    const id2 = second.result!.jobId;
    await until('the second job to run', async () => (await job(c.url, id2)).job.status === 'RUNNING', 600);
    const cancelled = await runOperation<Rec>(c.url, 'jobs_cancel', { job_ids: [id2] }, HEADERS);
    assert.equal(cancelled.status, 'SUCCEEDED', JSON.stringify(cancelled.error));
    assert.deepEqual(cancelled.result?.cancelled, [id2]);
    assert.equal((await job(follower.url, id2)).job.status, 'CANCELLED');
    await until('its cluster to be torn down', async () => (await jobClusters(schema, id2)).length === 0, 300);
    assert.equal(marks(mark2), 1);

    assert.equal(await c.stop(), 0, c.stderr());
    assert.equal(await follower.stop(), 0, follower.stderr());
  });
});
