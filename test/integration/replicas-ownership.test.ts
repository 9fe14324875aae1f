import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ClusterRecord, JobRecord, RequestRecord } from '@sky/protocol';
import { http, useLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { Replicas, until } from '../helpers/pg-replicas.js';
import { runOperation } from '../helpers/team.js';
import { runSky, showRun } from '../helpers/sky-cli.js';
import { testDatabaseUrl } from './store-postgres-fixture.js';

// Two replicas on one PostgreSQL: a cluster belongs to the replica that launched it. Requests on
// it accepted by the other replica are stored as the owner's and run there (so its jobs start,
// and its nodes are followed, by one replica); when the owner dies, the survivor takes the
// cluster over and its queued work runs.

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const LEASE_SECONDS = 3;

type Rec = RequestRecord & { result?: { jobId?: number } };

const replicas = new Replicas();
after(() => replicas.cleanup());

async function sharedStore(): Promise<{ config: (replica: string) => string; dir: string }> {
  const url = await testDatabaseUrl();
  const schema = replicas.schema();
  const dir = replicas.dir('sky-owners-');
  const config = (replica: string): string =>
    `replica_id: ${replica}\nreplicas:\n  lease_seconds: ${LEASE_SECONDS}\n` +
    `store:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\n` +
    `jobs:\n  reconcile_seconds: 2\n` +
    `drivers:\n  local:\n    root: ${join(dir, 'nodes')}\n    cpus: 64\n    memory_gb: 64\n`;
  return { config, dir };
}

async function cluster(url: string, name: string): Promise<ClusterRecord | undefined> {
  const res = await http(`${url}/api/v1/clusters/${name}`, { headers: HEADERS });
  if (res.status === 404) return undefined;
  assert.equal(res.status, 200, res.text);
  return res.json() as ClusterRecord;
}

async function jobStatuses(url: string, name: string): Promise<string[]> {
  const res = await http(`${url}/api/v1/clusters/${name}/jobs?all_users=true`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return (res.json() as { items: JobRecord[] }).items.map((j) => j.status);
}

function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

async function submit(url: string, op: string, body: unknown): Promise<string> {
  const res = await http(`${url}/api/v1/${op}`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  assert.equal(res.status, 202, res.text);
  return (res.json() as { requestId: string }).requestId;
}

async function request(url: string, id: string): Promise<Rec> {
  const res = await http(`${url}/api/v1/requests/${id}/wait?timeout=30`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as Rec;
}

async function ended(url: string, id: string): Promise<Rec> {
  for (let i = 0; i < 20; i++) {
    const rec = await request(url, id);
    if (!['PENDING', 'RUNNING'].includes(rec.status)) return rec;
  }
  throw new Error(`request ${id} did not end`);
}

describe('clusters are owned by one replica', { timeout: 300_000 }, () => {
  it('requests on a cluster run on its owner wherever they are sent; after kill -9 of the owner the survivor takes the cluster and its queued work over', async () => {
    const { config, dir } = await sharedStore();
    const a: DaemonHandle = await replicas.start(config('own-a'));
    const b: DaemonHandle = await replicas.start(config('own-b'));
    const mark = join(dir, 'ran');

    // Launched through A: A owns it, as both replicas' listings say.
    const launched = await runOperation<Rec>(a.url, 'launch', { cluster: 'web', task: { run: `echo launch >> ${mark}` } }, HEADERS);
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    assert.equal((await cluster(a.url, 'web'))?.replica, 'own-a');
    await until('B to see the cluster', async () => (await cluster(b.url, 'web'))?.replica === 'own-a');

    // A burst of execs spread over both replicas: every one runs on A, and every job runs once.
    const ids: Array<{ via: string; id: string }> = [];
    for (let i = 0; i < 16; i++) {
      const via = i % 2 === 0 ? a.url : b.url;
      ids.push({ via, id: await submit(via, 'exec', { cluster: 'web', task: { run: `echo exec-${i} >> ${mark}` } }) });
    }
    for (const { via, id } of ids) {
      const rec = await ended(via, id);
      assert.equal(rec.status, 'SUCCEEDED', `${id}: ${JSON.stringify(rec.error)}`);
      assert.equal(rec.replica, 'own-a', `request ${id} sent to ${via} ran on its cluster's owner`);
      assert.equal(rec.cluster, 'web');
    }
    await until('every exec job to have run', async () => lines(mark).filter((l) => l.startsWith('exec-')).length === 16);
    assert.equal(new Set(lines(mark)).size, lines(mark).length, 'no job ran twice');

    // A launch of a new cluster through B: B owns that one.
    const other = await runOperation<Rec>(b.url, 'launch', { cluster: 'api', task: { run: 'true' } }, HEADERS);
    assert.equal(other.status, 'SUCCEEDED', JSON.stringify(other.error));
    assert.equal((await cluster(b.url, 'api'))?.replica, 'own-b');

    // The owner dies with a job running and one queued behind it on its cluster (1 CPU each on a 1-CPU demand: queued in order).
    const running = await submit(a.url, 'exec', { cluster: 'web', task: { run: `echo long >> ${mark}; sleep 2; echo long-done >> ${mark}` } });
    assert.equal((await ended(a.url, running)).status, 'SUCCEEDED');
    await until('the long job to start', async () => lines(mark).includes('long'));
    await a.kill9();

    // Sent to B while A's lease has not lapsed yet: stored as A's, then taken over with the cluster.
    const after = await submit(b.url, 'exec', { cluster: 'web', task: { run: `echo after >> ${mark}` } });
    const done = await ended(b.url, after);
    assert.equal(done.status, 'SUCCEEDED', JSON.stringify(done.error));
    assert.equal(done.replica, 'own-b');
    await until('the cluster to be B\'s', async () => (await cluster(b.url, 'web'))?.replica === 'own-b', 200);
    await until('the queued job to run on the new owner', async () => lines(mark).includes('after'), 300);
    await until('the job running when A died to be followed to its end', async () => lines(mark).includes('long-done'), 300);
    assert.equal(lines(mark).filter((l) => l === 'long').length, 1, 'the running job was not started again');
    await until('every job to be recorded SUCCEEDED by the new owner', async () => (await jobStatuses(b.url, 'web')).every((s) => s === 'SUCCEEDED'), 300);
    assert.equal((await jobStatuses(b.url, 'web')).length, 19, 'launch, 16 execs, the long one and the one after');

    // Every replica must load the same plugins: one that loads another set is told, and so are the others.
    const same = (await http(`${b.url}/api/v1/plugins`, { headers: HEADERS })).json() as { replicaDifferences?: string[] };
    assert.equal(same.replicaDifferences, undefined);
    const c = await replicas.start(config('own-c').replace('drivers:\n', 'drivers:\n  ssh: {}\n'));
    const fromC = (await http(`${c.url}/api/v1/plugins`, { headers: HEADERS })).json() as { replicaDifferences?: string[] };
    assert.deepEqual(fromC.replicaDifferences?.map((l) => l.replace(/@[0-9.]+/, '@V')), ['replica own-b has no plugin ssh (this replica: ssh sky-driver-ssh@V loaded)']);
    await until('B to be told as well', async () => {
      const fromB = (await http(`${b.url}/api/v1/plugins`, { headers: HEADERS })).json() as { replicaDifferences?: string[] };
      return fromB.replicaDifferences?.some((l) => l.startsWith('replica own-c has ssh sky-driver-ssh@')) === true;
    }, 100);
    useLocalToken(c.url, c.home);
    const listed = await runSky(['plugins', 'list'], { home: c.home, endpoint: c.url });
    assert.match(listed.stdout, /other replicas of this API server load other plugins/, showRun(['plugins', 'list'], listed));
    assert.equal(await c.stop(), 0, c.stderr());

    const down = await runOperation<Rec>(b.url, 'down', { cluster: 'web' }, HEADERS);
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down.error));
    assert.equal(await b.stop(), 0, b.stderr());
  });
});
