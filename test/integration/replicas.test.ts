import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RequestRecord } from '@sky/protocol';
import { freePort, http, type DaemonHandle } from '../helpers/daemon-process.js';
import { Replicas, until, waitOn as waitOnAs } from '../helpers/pg-replicas.js';
import { ownPostgres, type OwnPostgres } from '../helpers/own-postgres.js';
import { testDatabaseUrl } from './store-postgres-fixture.js';

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const LEASE_SECONDS = 4;

const replicas = new Replicas();
const servers: OwnPostgres[] = [];

after(async () => {
  await replicas.cleanup();
  await Promise.allSettled(servers.map((s) => s.destroy()));
});

/** One schema on the machine's PostgreSQL shared by the replicas of one test, and a node root for the local driver. */
async function sharedStore(shortWorkers = 8, database?: string): Promise<{ config: (replica: string) => string; marks: string }> {
  const url = database ?? (await testDatabaseUrl());
  // (A database of the test's own is removed whole; dropping its schema first does no harm.)
  const schema = replicas.schema();
  const dir = replicas.dir('sky-replicas-');
  const marks = join(dir, 'marks');
  const config = (replica: string): string =>
    `replica_id: ${replica}\nreplicas:\n  lease_seconds: ${LEASE_SECONDS}\n` +
    `store:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\n` +
    `requests:\n  cancel_grace_seconds: 2\n  short_workers: ${shortWorkers}\n` +
    // A job a killed replica claimed but never started is queued again within seconds here.
    `jobs:\n  reconcile_seconds: 2\n  start_grace_seconds: 5\n` +
    `drivers:\n  local:\n    root: ${join(dir, 'nodes')}\n    cpus: 64\n    memory_gb: 64\n`;
  return { config, marks };
}

const replica = (config: string): Promise<DaemonHandle> => replicas.start(config);

async function submit(url: string, op: string, body: unknown): Promise<string> {
  const res = await http(`${url}/api/v1/${op}`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  assert.equal(res.status, 202, res.text);
  return (res.json() as { requestId: string }).requestId;
}

async function get(url: string, id: string): Promise<RequestRecord> {
  const res = await http(`${url}/api/v1/requests/${id}`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as RequestRecord;
}

const waitOn = (url: string, id: string): Promise<RequestRecord> => waitOnAs(url, HEADERS, id);

/** The request's log lines and end status, followed over SSE until it ends. */
async function followLog(url: string, id: string): Promise<{ lines: string[]; end: string | undefined }> {
  const res = await http(`${url}/api/v1/requests/${id}/logs?follow=true`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  const lines: string[] = [];
  let end: string | undefined;
  for (const block of res.text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
    if (data === undefined) continue;
    if (block.includes('event: end')) end = (JSON.parse(data) as { status: string }).status;
    else if (block.includes('event: log')) lines.push((JSON.parse(data) as { text: string }).text);
  }
  return { lines, end };
}

/** How many times each marked task ran (each run appends one line to marks/<mark>). */
function runs(marks: string): Map<string, number> {
  const counts = new Map<string, number>();
  let names: string[] = [];
  try {
    names = readdirSync(marks);
  } catch {
    return counts;
  }
  for (const name of names) counts.set(name, readFileSync(join(marks, name), 'utf8').split('\n').filter((l) => l !== '').length);
  return counts;
}

const markRun = (marks: string, mark: string): string => `mkdir -p ${marks} && echo ran >> ${join(marks, mark)}`;

describe('several replicas on one PostgreSQL', { timeout: 600_000 }, () => {
  it('waits on, streams, cancels and shows in the event stream, from B, requests that run on A', async () => {
    const { config } = await sharedStore();
    const a = await replica(config('sky-a'));
    const b = await replica(config('sky-b'));

    const events = http(`${b.url}/api/v1/events`, { headers: HEADERS, until: (text) => text.includes('"SUCCEEDED"') && text.includes(pinged) });
    let pinged = '';
    pinged = await submit(a.url, 'ping', { sleep: 2 });
    const log = await followLog(b.url, pinged);
    assert.deepEqual(log.lines.slice(0, 1), ['ping: sleeping 2s']);
    assert.equal(log.lines.at(-1), 'pong');
    assert.equal(log.end, 'SUCCEEDED');
    const waited = await waitOn(b.url, pinged);
    assert.equal(waited.status, 'SUCCEEDED');
    assert.equal(waited.replica, 'sky-a', 'the replica that accepted it ran it');
    const stream = await events;
    assert.match(stream.text, new RegExp(pinged), 'the event stream of B shows A\'s request');

    const long = await submit(a.url, 'ping', { sleep: 60 });
    await until('the long ping to run on A', async () => (await get(b.url, long)).status === 'RUNNING');
    const cancel = await http(`${b.url}/api/v1/requests/cancel`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ ids: [long] }) });
    assert.equal(cancel.status, 200, cancel.text);
    assert.deepEqual((cancel.json() as { cancelled: string[] }).cancelled, [long]);
    const cancelled = await get(a.url, long);
    assert.equal(cancelled.status, 'CANCELLED');
    assert.equal(cancelled.replica, 'sky-a');
    assert.equal(typeof cancelled.cancelRequestedAt, 'number', 'B asked A through the store');

    const pending = await submit(a.url, 'ping', { sleep: 0 });
    const ended = await waitOn(b.url, pending);
    assert.equal(ended.status, 'SUCCEEDED');

    // A cluster launched through A after B started is listed by B (its view follows the shared
    // feed), and B stops listing it once A has taken it down.
    const listed = async (url: string): Promise<string[]> =>
      ((await http(`${url}/api/v1/clusters?all_users=true`, { headers: HEADERS })).json() as { items: Array<{ name: string }> }).items.map((c) => c.name);
    const launched = await waitOn(a.url, await submit(a.url, 'launch', { cluster: 'seen', task: { run: 'true' } }));
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    await until('B to list the cluster launched through A', async () => (await listed(b.url)).includes('seen'));
    const downed = await waitOn(a.url, await submit(a.url, 'down', { cluster: 'seen' }));
    assert.equal(downed.status, 'SUCCEEDED', JSON.stringify(downed.error));
    await until('B to drop the cluster taken down through A', async () => !(await listed(b.url)).includes('seen'));
    assert.equal(await a.stop(), 0, a.stderr());
    assert.equal(await b.stop(), 0, b.stderr());
  });

  it('takes over the requests of a replica killed with kill -9, each once, and a restarted replica takes nothing twice', async () => {
    // One short worker each: while A runs a long ping, the execs submitted to it stay PENDING.
    const { config, marks } = await sharedStore(1);
    const a = await replica(config('sky-a'));
    const b = await replica(config('sky-b'));
    const launch = await submit(a.url, 'launch', { cluster: 'c1', task: { run: markRun(marks, 'launch-c1') } });
    const launched = await waitOn(a.url, launch);
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));

    // A runs a long ping and holds PENDING requests behind it.
    const long = await submit(a.url, 'ping', { sleep: 600 });
    await until('the long ping to run on A', async () => (await get(a.url, long)).status === 'RUNNING');
    const held: string[] = [];
    for (let i = 0; i < 6; i++) held.push(await submit(a.url, 'exec', { cluster: 'c1', task: { run: markRun(marks, `exec-${i}`) } }));
    await a.kill9();

    const taken = await Promise.all([long, ...held].map((id) => waitOn(b.url, id)));
    assert.equal(taken[0]!.status, 'FAILED');
    assert.equal(taken[0]!.error?.code, 'DAEMON_RESTARTED');
    for (const rec of taken.slice(1)) {
      assert.ok(TERMINAL.has(rec.status), JSON.stringify(rec));
      assert.equal(rec.replica, 'sky-b', 'B took over what A held');
    }

    const again = await replica(config('sky-a2'));
    const late = await submit(again.url, 'ping', { sleep: 0 });
    assert.equal((await waitOn(b.url, late)).status, 'SUCCEEDED');
    const clusters = (await http(`${b.url}/api/v1/clusters?all_users=true`, { headers: HEADERS })).json() as { items: Array<{ name: string }> };
    assert.deepEqual(clusters.items.map((c) => c.name), ['c1']);
    await until('the exec jobs to run', async () => [...runs(marks).keys()].filter((k) => k.startsWith('exec-')).length === held.length, 300);
    for (const [mark, count] of runs(marks)) assert.equal(count, 1, `${mark} ran ${count} times`);
    for (const id of held) assert.ok(TERMINAL.has((await get(again.url, id)).status));
    assert.equal(await again.stop(), 0, again.stderr());
    assert.equal(await b.stop(), 0, b.stderr());
  });

  it('a burst of 1,000 mixed requests over two replicas, one killed with kill -9 mid-burst and restarted: each ends once, nothing runs twice', async () => {
    const { config, marks } = await sharedStore(16);
    const a = await replica(config('sky-a'));
    const b = await replica(config('sky-b'));
    for (let k = 0; k < 2; k++) {
      const launched = await waitOn(a.url, await submit(a.url, 'launch', { cluster: `k${k}`, task: { run: markRun(marks, `launch-k${k}`) } }));
      assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    }
    const TOTAL = 1000;
    const KILL_AT = 400;
    const submitted: Array<{ id: string; op: string; mark?: string }> = [];
    let target: Array<DaemonHandle | undefined> = [a, b];
    let killed = false;
    for (let i = 0; i < TOTAL; i++) {
      if (i === KILL_AT) {
        await a.kill9();
        killed = true;
        target = [b, b];
      }
      if (i === KILL_AT + 200) target = [await replica(config('sky-a2')), b];
      const to = target[i % 2]!;
      let op: string;
      let body: unknown;
      let mark: string | undefined;
      switch (i % 5) {
        case 0:
          op = 'launch';
          mark = `launch-b${i}`;
          body = { cluster: `b${i}`, task: { run: markRun(marks, mark) } };
          break;
        case 1:
        case 2:
          op = 'exec';
          mark = `exec-${i}`;
          body = { cluster: `k${i % 2}`, task: { run: markRun(marks, mark) } };
          break;
        case 3:
          op = 'ping';
          body = { sleep: i % 3 };
          break;
        default:
          op = 'down';
          body = { cluster: `b${i - 4}` };
      }
      submitted.push({ id: await submit(to.url, op, body), op, ...(mark === undefined ? {} : { mark }) });
    }
    assert.ok(killed);
    const ended = new Map<string, RequestRecord>();
    for (const { id } of submitted) ended.set(id, await waitOn(b.url, id));
    for (const [id, rec] of ended) assert.ok(TERMINAL.has(rec.status), `${id} ${rec.status}`);
    // A terminal request stays as it ended (it ended once).
    for (const { id } of submitted) assert.equal((await get(b.url, id)).status, ended.get(id)!.status, id);

    // Execs on k0 and k1 (never taken down) that queued their job: each job runs (launches may be taken down before theirs ran).
    const queued = submitted.filter((s) => s.op === 'exec' && ended.get(s.id)!.job !== undefined);
    try {
      await until('every queued job to run', async () => {
        const counts = runs(marks);
        return queued.every((s) => (counts.get(s.mark!) ?? 0) >= 1);
      }, 300, 200);
    } catch (err) {
      const counts = runs(marks);
      const missing = queued.filter((s) => (counts.get(s.mark!) ?? 0) === 0).map((s) => ({ ...s, replica: ended.get(s.id)!.replica, job: ended.get(s.id)!.job }));
      process.stderr.write(`jobs that never ran: ${JSON.stringify(missing)}\n`);
      throw err;
    }
    for (const [mark, count] of runs(marks)) assert.equal(count, 1, `${mark} ran ${count} times`);
    const clusters = (await http(`${b.url}/api/v1/clusters?all_users=true`, { headers: HEADERS })).json() as { items: Array<{ name: string }> };
    const names = clusters.items.map((c) => c.name);
    assert.equal(new Set(names).size, names.length, 'no duplicate clusters');
    const statuses = new Map<string, number>();
    for (const rec of ended.values()) statuses.set(`${rec.name} ${rec.status}`, (statuses.get(`${rec.name} ${rec.status}`) ?? 0) + 1);
    process.stderr.write(`burst outcomes: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
  });
  it('the database restarted mid-burst: both replicas reconnect, accepted requests survive, submissions meanwhile get 503 with Retry-After', async () => {
    // A PostgreSQL of the test's own: the machine's shared server is never restarted.
    const db = ownPostgres(await freePort());
    servers.push(db);
    await db.start();
    const { config, marks } = await sharedStore(8, db.url);
    const a = await replica(config('sky-a'));
    const b = await replica(config('sky-b'));
    const launched = await waitOn(a.url, await submit(a.url, 'launch', { cluster: 'd1', task: { run: markRun(marks, 'launch-d1') } }));
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    const accepted: string[] = [];
    for (let i = 0; i < 40; i++) accepted.push(await submit(i % 2 === 0 ? a.url : b.url, i % 4 === 0 ? 'exec' : 'ping', i % 4 === 0 ? { cluster: 'd1', task: { run: markRun(marks, `exec-d${i}`) } } : { sleep: 1 }));
    await db.stop();
    // While it is away: not ready, and a submission is refused with 503 and Retry-After (never a 202 that is then lost).
    for (const r of [a, b]) {
      await until(`${r.url} to report not ready`, async () => (await http(`${r.url}/api/health/ready`)).status === 503);
      const refused = await http(`${r.url}/api/v1/ping`, { method: 'POST', headers: HEADERS, body: '{}' });
      assert.equal(refused.status, 503, refused.text);
      assert.ok(Number(refused.headers['retry-after']) > 0, JSON.stringify(refused.headers));
    }
    await db.start();
    for (const r of [a, b]) await until(`${r.url} to be ready again`, async () => (await http(`${r.url}/api/health/ready`)).status === 200, 600);
    for (let i = 0; i < 10; i++) accepted.push(await submit(i % 2 === 0 ? a.url : b.url, 'ping', { sleep: 0 }));
    const ended = await Promise.all(accepted.map((id) => waitOn(b.url, id)));
    for (const rec of ended) assert.ok(TERMINAL.has(rec.status), JSON.stringify(rec));
    const execs = ended.filter((rec) => rec.name === 'exec' && rec.job !== undefined).length;
    await until('the queued exec jobs to run', async () => [...runs(marks).keys()].filter((k) => k.startsWith('exec-d')).length >= execs, 300, 200);
    for (const [mark, count] of runs(marks)) assert.equal(count, 1, `${mark} ran ${count} times`);
    assert.equal(await a.stop(), 0, a.stderr());
    assert.equal(await b.stop(), 0, b.stderr());
  });
});
