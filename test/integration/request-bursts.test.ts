/**
 * No false failures: bursts of exec requests to one cluster through the REST API of a real
 * daemon (LevelDB on disk, the local driver), and kill -9 of the daemon between the 202s and the
 * runs. Every request must end with its job, exactly one job per request, and none may end
 * INTERNAL or FAILED. Each test waits only until every request has an outcome and every job is
 * queued (or already finished): how fast the jobs run is the job path's, measured in bench/.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json' };
const ACTIVE = ['PENDING', 'RUNNING'];

interface Rec {
  id: string;
  name: string;
  status: string;
  attempts: number;
  result?: { cluster: string; jobId?: number };
  error?: { code: string; message: string };
  job?: { cluster: string; id: number };
}
interface Job {
  id: number;
  status: string;
  requestId?: string;
}
interface Submitted {
  status: number;
  requestId?: string;
  created?: boolean;
  text: string;
}

const homes: string[] = [];
after(async () => {
  await killAllDaemons();
  homes.forEach(removeHome);
});

function newHome(): string {
  const home = tempHome();
  homes.push(home);
  return home;
}

const daemonConfig = (home: string): string => `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 16\n    memory_gb: 32\n`;

async function post(url: string, path: string, body: unknown, key?: string): Promise<Submitted> {
  const res = await http(`${url}/api/v1/${path}`, { method: 'POST', headers: key === undefined ? HEADERS : { ...HEADERS, 'idempotency-key': key }, body: JSON.stringify(body) });
  if (res.status !== 202) return { status: res.status, text: res.text };
  const answer = res.json() as { requestId: string; created: boolean };
  return { status: res.status, requestId: answer.requestId, created: answer.created, text: res.text };
}

const exec = (cluster: string): unknown => ({ cluster, task: { run: 'true' } });

async function launchCluster(d: DaemonHandle, name: string): Promise<void> {
  const rec = await runOperation<Rec>(d.url, 'launch', { cluster: name, task: { resources: { cpus: 2 } } }, HEADERS);
  assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
}

/** Every request of an operation (only those in `status` when given), by id; the list is paged, 1,000 at a time. */
async function requestsNamed(url: string, name: string, status?: string): Promise<Map<string, Rec>> {
  const out = new Map<string, Rec>();
  let cursor: string | undefined;
  do {
    const res = await http(`${url}/api/v1/requests?name=${name}&limit=1000${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: HEADERS });
    assert.equal(res.status, 200, res.text);
    const page = res.json() as { items: Rec[]; nextCursor?: string };
    for (const r of page.items) out.set(r.id, r);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return out;
}

/** Poll until every one of `ids` has ended; fails (naming what is left) at the deadline. */
async function outcomes(url: string, names: readonly string[], ids: readonly string[], ms = 60_000): Promise<Map<string, Rec>> {
  const deadline = Date.now() + ms;
  for (;;) {
    // Only the active ones while waiting (a cheap listing); everything once none of ours is.
    const active = new Map<string, Rec>();
    for (const name of names) for (const [id, r] of await requestsNamed(url, name, ACTIVE.join(','))) active.set(id, r);
    const open = ids.filter((id) => active.has(id));
    if (open.length === 0) {
      const all = new Map<string, Rec>();
      for (const name of names) for (const [id, r] of await requestsNamed(url, name)) all.set(id, r);
      const missing = ids.filter((id) => !all.has(id) || ACTIVE.includes(all.get(id)!.status));
      if (missing.length === 0) return all;
    }
    if (Date.now() > deadline) throw new Error(`${open.length} of ${ids.length} requests still not ended, e.g. ${open.slice(0, 3).map((id) => `${id}: ${active.get(id)?.status}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function jobsOf(url: string, cluster: string): Promise<Job[]> {
  const res = await http(`${url}/api/v1/clusters/${cluster}/jobs?all_users=true`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return (res.json() as { items: Job[] }).items;
}

/** The first check of every burst: no request may end INTERNAL (that is a bug, whatever else happened). */
function assertNoInternal(records: Iterable<Rec>): void {
  const internal = [...records].filter((r) => r.error?.code === 'INTERNAL');
  assert.deepEqual(internal.map((r) => `${r.name} ${r.id}: ${r.error?.message}`), [], 'requests ended INTERNAL');
}

/**
 * Every request in `ids` SUCCEEDED with a job of `cluster`, and the cluster's jobs of these
 * requests are exactly those: one each, the one the request reports.
 */
async function assertOneJobEach(url: string, cluster: string, ids: readonly string[], records: Map<string, Rec>): Promise<Job[]> {
  const mine = ids.map((id) => records.get(id)!);
  assertNoInternal(mine);
  const notOk = mine.filter((r) => r.status !== 'SUCCEEDED');
  assert.deepEqual(notOk.map((r) => `${r.id}: ${r.status} ${r.error?.code ?? ''} ${r.error?.message ?? ''}`), [], 'requests that did not succeed');
  const jobs = (await jobsOf(url, cluster)).filter((j) => j.requestId !== undefined && ids.includes(j.requestId));
  assert.equal(jobs.length, ids.length, `${jobs.length} jobs for ${ids.length} requests`);
  const byRequest = new Map(jobs.map((j) => [j.requestId!, j]));
  assert.equal(byRequest.size, ids.length, 'a request has two jobs');
  for (const r of mine) {
    assert.equal(r.result?.jobId, byRequest.get(r.id)?.id, `request ${r.id} reports another job than its own`);
    assert.deepEqual(r.job, { cluster, id: r.result?.jobId });
  }
  return jobs;
}

/** Send `count` bodies from `clients` concurrent clients; each gets its 202 before its next. */
async function burst(count: number, clients: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) await send(i);
    }),
  );
}

describe('request bursts on one cluster', () => {
  let d: DaemonHandle;

  it('1,000 exec requests from one client: 1,000 jobs queued, none FAILED, none INTERNAL', { timeout: 120_000 }, async (t) => {
    const home = newHome();
    d = await startDaemon({ home, config: daemonConfig(home) });
    await launchCluster(d, 'one');
    const ids: string[] = [];
    const started = Date.now();
    await burst(1000, 1, async () => {
      const answer = await post(d.url, 'exec', exec('one'));
      assert.equal(answer.status, 202, answer.text);
      ids.push(answer.requestId!);
    });
    const records = await outcomes(d.url, ['exec'], ids);
    t.diagnostic(`1 client: 1,000 requests ended in ${Date.now() - started} ms`);
    await assertOneJobEach(d.url, 'one', ids, records);
  });

  it('1,000 exec requests from 8 clients: 1,000 jobs queued, none FAILED, none INTERNAL', { timeout: 120_000 }, async (t) => {
    await launchCluster(d, 'eight');
    const ids: string[] = [];
    const started = Date.now();
    await burst(1000, 8, async () => {
      const answer = await post(d.url, 'exec', exec('eight'));
      assert.equal(answer.status, 202, answer.text);
      ids.push(answer.requestId!);
    });
    const records = await outcomes(d.url, ['exec'], ids);
    t.diagnostic(`8 clients: 1,000 requests ended in ${Date.now() - started} ms`);
    await assertOneJobEach(d.url, 'eight', ids, records);
  });

  it('a mixed burst of execs, job cancels and request cancels: no request fails, a cancelled request has no job', { timeout: 120_000 }, async (t) => {
    await launchCluster(d, 'mixed');
    const execs: string[] = [];
    const cancels: string[] = [];
    const askedToCancel = new Set<string>();
    const lastExec = new Map<number, string>();
    await burst(600, 8, async (i) => {
      const client = i % 8;
      if (i % 10 === 3) {
        const answer = await post(d.url, 'cancel', { cluster: 'mixed', all: true });
        assert.equal(answer.status, 202, answer.text);
        cancels.push(answer.requestId!);
      } else if (i % 10 === 6 && lastExec.has(client)) {
        const id = lastExec.get(client)!;
        const res = await http(`${d.url}/api/v1/requests/cancel`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ ids: [id] }) });
        assert.equal(res.status, 200, res.text);
        const answer = res.json() as { cancelled: string[]; alreadyFinished: string[] };
        assert.deepEqual([...answer.cancelled, ...answer.alreadyFinished], [id]);
        askedToCancel.add(id);
      } else {
        const answer = await post(d.url, 'exec', exec('mixed'));
        assert.equal(answer.status, 202, answer.text);
        execs.push(answer.requestId!);
        lastExec.set(client, answer.requestId!);
      }
    });
    const records = await outcomes(d.url, ['exec', 'cancel'], [...execs, ...cancels]);
    assertNoInternal(records.values());
    for (const id of cancels) assert.equal(records.get(id)?.status, 'SUCCEEDED', `cancel ${id}: ${JSON.stringify(records.get(id)?.error)}`);
    const cancelled = execs.filter((id) => records.get(id)!.status === 'CANCELLED');
    for (const id of cancelled) assert.ok(askedToCancel.has(id), `exec ${id} was CANCELLED without being asked`);
    const succeeded = execs.filter((id) => records.get(id)!.status === 'SUCCEEDED');
    t.diagnostic(`${execs.length} execs (${cancelled.length} cancelled of ${askedToCancel.size} asked), ${cancels.length} job cancels`);
    assert.equal(succeeded.length + cancelled.length, execs.length, 'every exec either queued its job or was cancelled before it did');
    await assertOneJobEach(d.url, 'mixed', succeeded, records);
    const jobs = await jobsOf(d.url, 'mixed');
    const orphans = jobs.filter((j) => j.requestId !== undefined && cancelled.includes(j.requestId));
    assert.deepEqual(orphans, [], 'a cancelled request queued a job');
    assert.ok(jobs.some((j) => j.status === 'CANCELLED'), 'the job cancels cancelled jobs');
  });

  it('execs racing stop, start and down take turns with them: each ends with its job or says the cluster is stopped or gone', { timeout: 120_000 }, async (t) => {
    await launchCluster(d, 'life');
    const execs: string[] = [];
    const lifecycle: string[] = [];
    await burst(300, 8, async (i) => {
      const op = i === 60 ? 'stop' : i === 150 ? 'start' : i === 250 ? 'down' : undefined;
      const answer = await post(d.url, op ?? 'exec', op === undefined ? exec('life') : { cluster: 'life' });
      assert.equal(answer.status, 202, answer.text);
      (op === undefined ? execs : lifecycle).push(answer.requestId!);
    });
    const records = await outcomes(d.url, ['exec', 'stop', 'start', 'down'], [...execs, ...lifecycle]);
    assertNoInternal(records.values());
    for (const id of lifecycle) assert.equal(records.get(id)?.status, 'SUCCEEDED', `${records.get(id)?.name}: ${JSON.stringify(records.get(id)?.error)}`);
    const byOutcome = new Map<string, number>();
    for (const id of execs) {
      const r = records.get(id)!;
      const outcome = r.status === 'SUCCEEDED' ? 'SUCCEEDED' : `${r.status} ${r.error?.code}`;
      byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
      if (r.status === 'SUCCEEDED') assert.deepEqual(r.job, { cluster: 'life', id: r.result?.jobId });
    }
    t.diagnostic(`exec outcomes: ${[...byOutcome].map(([k, n]) => `${k} ${n}`).join(', ')}`);
    assert.deepEqual([...byOutcome.keys()].filter((k) => !['SUCCEEDED', 'FAILED CLUSTER_NOT_UP', 'FAILED CLUSTER_NOT_FOUND'].includes(k)), []);
    const jobIds = execs.map((id) => records.get(id)!.result?.jobId).filter((id) => id !== undefined);
    assert.equal(new Set(jobIds).size, jobIds.length, 'two execs report the same job');
    assert.equal(await d.stop(), 0);
  });
});

/** The server log's "recovered requests" line of the daemon that started last: how many it completed, resumed and requeued. */
function recoveryReport(home: string): string {
  const lines = readFileSync(join(home, '.sky/api_server/server.log'), 'utf8').trim().split('\n');
  const last = lines.reverse().find((l) => l.includes('recovered requests'));
  if (last === undefined) return 'no recovery line';
  const { requeued, resumed, completed, failed } = JSON.parse(last) as Record<string, number>;
  return `requeued ${requeued}, resumed ${resumed}, completed ${completed}, failed ${failed}`;
}

describe('durable once 202', () => {
  it('kill -9 right after the 202s: every request runs and ends with exactly one job; retries with the key get the same request', { timeout: 120_000 }, async (t) => {
    const home = newHome();
    const port = await freePort();
    const config = daemonConfig(home);
    const first = await startDaemon({ home, port, config });
    await launchCluster(first, 'dur');
    const sent = new Map<string, { path: string; body: unknown; id: string }>();
    await burst(310, 8, async (i) => {
      // Ten launches reusing the cluster among the execs: they queue their jobs the same way.
      const [path, body] = i % 31 === 7 ? ['launch', { cluster: 'dur', task: { run: 'true' } }] : ['exec', exec('dur')];
      const key = `dur-${i}`;
      const answer = await post(first.url, path, body, key);
      assert.equal(answer.status, 202, answer.text);
      sent.set(key, { path, body, id: answer.requestId! });
    });
    await first.kill9();

    const second = await startDaemon({ home, port, config });
    const ids = [...sent.values()].map((s) => s.id);
    const records = await outcomes(second.url, ['exec', 'launch'], ids);
    t.diagnostic(`after the restart: ${recoveryReport(home)}`);
    const restarted = ids.filter((id) => records.get(id)?.error?.code === 'DAEMON_RESTARTED');
    assert.deepEqual(restarted, [], 'requests ended DAEMON_RESTARTED');
    await assertOneJobEach(second.url, 'dur', ids, records);

    for (const [key, { path, body, id }] of sent) {
      const again = await post(second.url, path, body, key);
      assert.equal(again.status, 202, again.text);
      assert.equal(again.requestId, id, `the retry of ${key} got another request`);
      assert.equal(again.created, false);
    }
    assert.equal((await jobsOf(second.url, 'dur')).filter((j) => j.requestId !== undefined && ids.includes(j.requestId)).length, ids.length, 'a retry queued another job');
    assert.equal(await second.stop(), 0);
  });

  it('kill -9 while a launch provisions: after the restart the launch fails saying the cluster is left INIT, and down removes it', { timeout: 120_000 }, async () => {
    const home = newHome();
    const port = await freePort();
    const fixtures = join(process.env.SKY_REPO_ROOT ?? process.cwd(), 'test/fixtures/plugins');
    const config = `plugins:\n  dirs: [${fixtures}]\n${daemonConfig(home)}  slow: {}\n`;
    const first = await startDaemon({ home, port, config });
    const launch = await post(first.url, 'launch', { cluster: 'half', task: { resources: { infra: 'slow' }, run: 'true' } }, 'half-1');
    assert.equal(launch.status, 202, launch.text);
    const clusterStatus = async (url: string): Promise<string | undefined> => {
      const res = await http(`${url}/api/v1/clusters/half`, { headers: HEADERS });
      return res.status === 200 ? (res.json() as { status: string }).status : undefined;
    };
    for (let i = 0; i < 200 && (await clusterStatus(first.url)) !== 'INIT'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await clusterStatus(first.url), 'INIT');
    await first.kill9();

    const second = await startDaemon({ home, port, config });
    const [record] = [...(await outcomes(second.url, ['launch'], [launch.requestId!])).values()].filter((r) => r.id === launch.requestId);
    assert.equal(record?.status, 'FAILED');
    assert.equal(record.error?.code, 'DAEMON_RESTARTED');
    assert.match(record.error!.message, /cluster half was being provisioned on slow; the cluster is left INIT and nodes may exist; no job was queued/);
    assert.equal(await clusterStatus(second.url), 'INIT', 'what was created is still listed');
    const retry = await post(second.url, 'launch', { cluster: 'half', task: { resources: { infra: 'slow' }, run: 'true' } }, 'half-1');
    assert.equal(retry.requestId, launch.requestId, 'a retry with the key gets the failed launch, it does not provision again');
    const down = await runOperation<Rec>(second.url, 'down', { cluster: 'half' }, HEADERS);
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down.error));
    assert.equal(await clusterStatus(second.url), undefined);
    assert.equal(await second.stop(), 0);
  });

  it('kill -9 in the middle of a burst: clients that retry with their key end with exactly one job per key', { timeout: 120_000 }, async (t) => {
    const home = newHome();
    const port = await freePort();
    const config = daemonConfig(home);
    const first = await startDaemon({ home, port, config });
    await launchCluster(first, 'mid');
    const answered = new Map<string, string>();
    const unanswered: string[] = [];
    let killing: Promise<void> | undefined;
    await burst(400, 8, async (i) => {
      const key = `mid-${i}`;
      try {
        const answer = await post(first.url, 'exec', exec('mid'), key);
        if (answer.status !== 202) throw new Error(answer.text);
        answered.set(key, answer.requestId!);
        if (answered.size === 100) killing ??= first.kill9();
      } catch {
        unanswered.push(key); // the daemon died under this request, or before it
      }
    });
    await killing;
    t.diagnostic(`${answered.size} requests answered 202 before the kill, ${unanswered.length} not`);
    assert.ok(unanswered.length > 0, 'the kill came in the middle of the burst');

    const second = await startDaemon({ home, port, config });
    // What a client does after a lost answer: send the same request with the same key again.
    const final = new Map<string, string>();
    for (const key of [...answered.keys(), ...unanswered]) {
      const again = await post(second.url, 'exec', exec('mid'), key);
      assert.equal(again.status, 202, again.text);
      if (answered.has(key)) {
        assert.equal(again.requestId, answered.get(key), `the retry of ${key} got another request`);
        assert.equal(again.created, false);
      }
      final.set(key, again.requestId!);
    }
    const ids = [...final.values()];
    assert.equal(new Set(ids).size, 400, 'two keys share a request');
    const records = await outcomes(second.url, ['exec'], ids);
    t.diagnostic(`after the restart: ${recoveryReport(home)}`);
    await assertOneJobEach(second.url, 'mid', ids, records);
    assert.equal(await second.stop(), 0);
  });
});
