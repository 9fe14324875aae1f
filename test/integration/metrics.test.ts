import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { http, killAllDaemons, removeHome, startDaemon, withLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';
import { parseExposition, sampleSum, type Sample } from '../helpers/prometheus-text.js';

// GET /metrics on a personal daemon with the local driver: a launch and its job move the
// figures a dashboard shows (requests, clusters, driver calls, store writes, jobs), every series
// carries the replica id, and the caller without the local token is refused.

const REPLICA = 'metrics-replica-1';
const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Rec {
  status: string;
  result?: { jobId?: number; cluster: string };
  error?: { message: string };
}

let d: DaemonHandle;

before(async () => {
  d = await startDaemon({ config: `replica_id: ${REPLICA}\ndrivers:\n  local:\n    root: ROOT\n    cpus: 4\n    memory_gb: 8\n`.replace('ROOT', join('/tmp', `sky-metrics-nodes-${process.pid}`)) });
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
  removeHome(join('/tmp', `sky-metrics-nodes-${process.pid}`));
});

async function scrape(): Promise<{ samples: Sample[]; text: string; contentType: string }> {
  const res = await http(`${d.url}/metrics`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return { samples: parseExposition(res.text), text: res.text, contentType: String(res.headers['content-type']) };
}

async function jobEnded(cluster: string, id: number): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const res = await http(`${d.url}/api/v1/clusters/${cluster}/jobs`, { headers: HEADERS });
    const job = (res.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === id);
    if (job !== undefined && ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(job.status)) return job.status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} on ${cluster} did not end`);
}

describe('GET /metrics (personal daemon, local driver)', () => {
  it('moves with a launch and its job, every series labelled with the replica', async () => {
    const before = await scrape();
    assert.match(before.contentType, /^text\/plain; version=0\.0\.4/);
    const launched = { name: 'sky_requests_total', labels: { operation: 'launch', status: 'SUCCEEDED' } };
    const provisions = { name: 'sky_driver_call_duration_seconds_count', labels: { driver: 'local', method: 'provision', outcome: 'ok' } };
    const writes = { name: 'sky_store_write_duration_seconds_count', labels: { repository: 'requests', method: 'create' } };
    const jobsDone = { name: 'sky_jobs_ended_total', labels: { status: 'SUCCEEDED' } };
    const at = (samples: Sample[], m: { name: string; labels: Record<string, string> }): number => sampleSum(samples, m.name, m.labels);

    const rec = await runOperation<Rec>(d.url, 'launch', { cluster: 'm1', task: { run: 'echo metrics' } }, HEADERS);
    assert.equal(rec.status, 'SUCCEEDED', rec.error?.message);
    assert.equal(await jobEnded('m1', rec.result!.jobId!), 'SUCCEEDED');

    const after = await scrape();
    assert.equal(at(after.samples, launched), at(before.samples, launched) + 1, 'one more launch SUCCEEDED');
    assert.equal(sampleSum(after.samples, 'sky_clusters', { driver: 'local', status: 'UP' }), 1, 'the cluster is UP');
    assert.equal(at(after.samples, provisions), at(before.samples, provisions) + 1, 'one more provision timed');
    assert.ok(at(after.samples, writes) > at(before.samples, writes), 'the submit was a timed store write');
    assert.equal(at(after.samples, jobsDone), at(before.samples, jobsDone) + 1, 'the job ended SUCCEEDED');
    assert.ok(sampleSum(after.samples, 'sky_request_duration_seconds_count', { operation: 'launch' }) >= 1);
    assert.equal(sampleSum(after.samples, 'sky_request_queue_depth', { lane: 'long' }), 0);
    assert.ok(sampleSum(after.samples, 'process_resident_memory_bytes') > 0, 'RSS from the process metrics');
    assert.ok(after.samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), 'event-loop lag');
    const unlabelled = after.samples.filter((s) => s.labels.replica !== REPLICA);
    assert.deepEqual(unlabelled.map((s) => s.name), [], 'every series names the replica');

    const down = await runOperation<Rec>(d.url, 'down', { cluster: 'm1' }, HEADERS);
    assert.equal(down.status, 'SUCCEEDED', down.error?.message);
    const gone = await scrape();
    assert.equal(sampleSum(gone.samples, 'sky_clusters', { driver: 'local', status: 'UP' }), 0, 'the gauge follows the teardown');
    assert.equal(sampleSum(gone.samples, 'sky_driver_call_duration_seconds_count', { driver: 'local', method: 'terminate', outcome: 'ok' }), 1);
  });

  it('refuses a caller without the local token', async () => {
    const res = await http(`${d.url}/metrics`, { anonymous: true });
    assert.equal(res.status, 401, res.text);
    const wrong = await http(`${d.url}/metrics`, { headers: withLocalToken(d.url, { authorization: 'Bearer not-the-metrics-token-at-all' }), anonymous: true });
    assert.equal(wrong.status, 401, 'no metrics token is configured: a bearer token is checked as an API token');
  });
});
