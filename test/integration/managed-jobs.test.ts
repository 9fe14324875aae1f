import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, withLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';

// Managed jobs on the local driver, through a real daemon: each task gets its own cluster, is
// followed through the change feed, relaunched after a lost node or its own failure as
// job_recovery asks, and its cluster is torn down; kill -9 of the daemon changes none of that.

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };
const TERMINAL = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER', 'CANCELLED'];

interface Task {
  index: number;
  status: string;
  cluster?: string;
  clusterJobId?: number;
  recoveries: number;
  restarts: number;
  runningMs: number;
  exitCodes?: Array<number | null>;
}
interface ManagedJob {
  id: number;
  name?: string;
  status: string;
  reason?: string;
  currentTask: number;
  tasks: Task[];
  endedAt?: number;
}
interface Rec {
  id: string;
  status: string;
  result?: { jobId: number; cancelled?: number[]; alreadyFinished?: number[] };
  error?: { code: string; message: string };
}

let d: DaemonHandle;
let home: string;
let port: number;
let scratch: string;
const config = (): string =>
  `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 64\n    memory_gb: 256\n` +
  `jobs:\n  reconcile_seconds: 1\n  unreachable_grace_seconds: 1\n` +
  `managed_jobs:\n  retry_seconds: 1\n  recovery_wait_seconds: 4\n  max_exit_code_restarts: 2\n`;

const op = (name: string, body: unknown): Promise<Rec> => runOperation<Rec>(d.url, name, body, HEADERS);
const submit = async (tasks: unknown[], name?: string): Promise<number> => {
  const rec = await op('jobs_launch', { tasks: tasks.map((task) => ({ task })), ...(name ? { name } : {}) });
  assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
  return rec.result!.jobId;
};

async function get(id: number): Promise<{ job: ManagedJob; events: Array<{ text: string }> }> {
  const res = await http(`${d.url}/api/v1/managed-jobs/${id}`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as { job: ManagedJob; events: Array<{ text: string }> };
}

async function until(id: number, want: (j: ManagedJob) => boolean, ms = 60_000): Promise<ManagedJob> {
  const end = Date.now() + ms;
  for (;;) {
    const { job, events } = await get(id);
    if (want(job)) return job;
    if (Date.now() > end) throw new Error(`managed job ${id} is ${job.status}: ${events.map((e) => e.text).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const ended = (id: number, ms?: number): Promise<ManagedJob> => until(id, (j) => TERMINAL.includes(j.status), ms);

async function clusters(): Promise<string[]> {
  const res = await http(`${d.url}/api/v1/clusters?all_users=true`, { headers: HEADERS });
  return (res.json() as { items: Array<{ name: string }> }).items.map((c) => c.name);
}

function logs(id: number, query = 'follow=true'): Promise<{ lines: string[]; end?: string }> {
  return new Promise((resolve, reject) => {
    request(`${d.url}/api/v1/managed-jobs/${id}/logs?${query}`, { headers: withLocalToken(d.url, HEADERS) }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (buf += c));
      res.on('end', () => {
        const lines: string[] = [];
        let end: string | undefined;
        for (const block of buf.split('\n\n')) {
          const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
          if (block.startsWith('event: log') && data) lines.push((JSON.parse(data) as { text: string }).text);
          if (block.startsWith('event: end') && data) end = (JSON.parse(data) as { status: string }).status;
        }
        resolve({ lines, ...(end ? { end } : {}) });
      });
    })
      .on('error', reject)
      .end();
  });
}

/** The cluster of a managed job is torn down right after its end is recorded: wait for that. */
async function noClusterOf(id: number): Promise<void> {
  const end = Date.now() + 30_000;
  while ((await clusters()).some((c) => c.startsWith(`sky-jobs-${id}-`))) {
    if (Date.now() > end) throw new Error(`the cluster of managed job ${id} is still there`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose command line holds `marker`. */
function running(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

before(async () => {
  home = tempHome();
  port = await freePort();
  scratch = mkdtempSync(join(tmpdir(), 'sky-mj-'));
  d = await startDaemon({ home, port, config: config() });
});

after(async () => {
  // Jobs outlive their daemon by design: whatever a failed test left running is cancelled.
  await op('jobs_cancel', { all: true }).catch(() => undefined);
  await d.stop();
  await killAllDaemons();
  removeHome(home);
  rmSync(scratch, { recursive: true, force: true });
});

describe('managed jobs on the local driver', () => {
  it('runs a task on its own cluster, keeps its log and tears the cluster down', async () => {
    const id = await submit([{ name: 'hello', run: 'echo "hello from $SKYPILOT_TASK_ID"; echo second line' }]);
    const job = await ended(id);
    assert.equal(job.status, 'SUCCEEDED', job.reason);
    assert.equal(job.name, 'hello');
    assert.equal(job.tasks[0]!.recoveries, 0);
    await noClusterOf(id);
    const log = await logs(id);
    assert.equal(log.end, 'SUCCEEDED');
    assert.equal(log.lines.length, 2, log.lines.join('\n'));
    assert.match(log.lines[0]!, /^hello from /);
    const controller = await logs(id, 'follow=false&controller=true');
    assert.ok(controller.lines.some((l) => /launching on cluster sky-jobs-\d+-alice/.test(l)), controller.lines.join('\n'));
    assert.ok(controller.lines.some((l) => /tearing down/.test(l)));
  });

  it('runs a pipeline in order, each task on a fresh cluster', async () => {
    const file = join(scratch, 'pipeline');
    const id = await submit([
      { name: 'prep', run: `echo prep >> ${file}` },
      { name: 'train', run: `echo train >> ${file}; test "$(head -1 ${file})" = prep` },
    ], 'pipe');
    const job = await ended(id);
    assert.equal(job.status, 'SUCCEEDED', job.reason);
    assert.deepEqual(job.tasks.map((t) => t.status), ['SUCCEEDED', 'SUCCEEDED']);
    assert.equal(job.currentTask, 1);
    assert.deepEqual(readFileSync(file, 'utf8').trim().split('\n'), ['prep', 'train']);
    assert.deepEqual((await logs(id)).lines, []);
  });

  it('restarts the task after its own failure as max_restarts_on_errors allows, and not beyond', async () => {
    const counter = join(scratch, 'count-a');
    const flaky = `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; echo "attempt $n"; [ "$n" -ge 2 ]`;
    const id = await submit([{ run: flaky, resources: { job_recovery: { max_restarts_on_errors: 2 } } }]);
    const job = await ended(id);
    assert.equal(job.status, 'SUCCEEDED', job.reason);
    assert.equal(job.tasks[0]!.restarts, 2);
    assert.equal(job.tasks[0]!.recoveries, 0);
    assert.deepEqual((await logs(id)).lines, ['attempt 0', 'attempt 1', 'attempt 2'], 'every attempt\'s log is kept, in order');

    const never = await submit([{ run: 'exit 3', resources: { job_recovery: { max_restarts_on_errors: 1 } } }]);
    const failed = await ended(never);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.tasks[0]!.restarts, 1);
    assert.match(failed.reason ?? '', /exit code 3/);
  });

  it('retries listed exit codes whatever max_restarts_on_errors says, under the daemon ceiling', async () => {
    const id = await submit([{ run: 'exit 29', resources: { job_recovery: { recover_on_exit_codes: [29] } } }]);
    const job = await ended(id);
    assert.equal(job.status, 'FAILED');
    assert.equal(job.tasks[0]!.restarts, 2, 'managed_jobs.max_exit_code_restarts is 2 here');
  });

  it('a job killed by a signal is its own failure (128+n), restarted only as asked; setup failures are never restarted', async () => {
    const killed = await ended(await submit([{ run: 'kill -9 $$' }]));
    assert.equal(killed.status, 'FAILED');
    assert.deepEqual(killed.tasks[0]!.exitCodes, [137]);
    assert.equal(killed.tasks[0]!.recoveries, 0);
    const again = await ended(await submit([{ run: 'kill -9 $$', resources: { job_recovery: { max_restarts_on_errors: 1 } } }]));
    assert.equal(again.tasks[0]!.restarts, 1);
    const setup = await ended(await submit([{ setup: 'exit 4', run: 'echo never', resources: { job_recovery: { max_restarts_on_errors: 3, recover_on_exit_codes: [4] } } }]));
    assert.equal(setup.status, 'FAILED_SETUP');
    assert.equal(setup.tasks[0]!.restarts, 0);
  });

  it('recovers from a lost node: the driver reports it gone, the task is relaunched on a new cluster', async () => {
    const counter = join(scratch, 'count-lost');
    const marker = `sky-mj-lost-${Date.now()}`;
    const id = await submit([{ run: `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; if [ "$n" = 0 ]; then exec -a ${marker} sleep 600; fi; echo recovered` }]);
    const job = await until(id, (j) => j.status === 'RUNNING');
    const name = job.tasks[0]!.cluster!;
    const res = await http(`${d.url}/api/v1/clusters/${name}`, { headers: HEADERS });
    const root = (res.json() as { nodes: Array<{ reach: { root: string } }> }).nodes[0]!.reach.root;
    // The machine is gone: its directory, then its processes (so whenever the end is noticed, the driver already reports the node gone).
    await until(id, () => running(marker).length > 0, 10_000);
    rmSync(root, { recursive: true, force: true });
    spawnSync('pkill', ['-9', '-f', root]);
    spawnSync('pkill', ['-9', '-f', marker]);
    const done = await ended(id);
    assert.equal(done.status, 'SUCCEEDED', done.reason);
    assert.equal(done.tasks[0]!.recoveries, 1);
    assert.equal(done.tasks[0]!.restarts, 0);
    assert.deepEqual(running(marker), []);
    assert.ok((await logs(id)).lines.includes('recovered'));
  });

  it('cancels a running job: CANCELLED, its processes gone, its cluster torn down', async () => {
    const marker = `sky-mj-cancel-${Date.now()}`;
    const id = await submit([{ run: `exec -a ${marker} sleep 600` }]);
    await until(id, (j) => j.status === 'RUNNING');
    await until(id, () => running(marker).length > 0, 10_000);
    const rec = await op('jobs_cancel', { job_ids: [id] });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.deepEqual(rec.result?.cancelled, [id]);
    assert.equal((await get(id)).job.status, 'CANCELLED', 'CANCELLED is recorded before the cancel returns');
    assert.deepEqual(running(marker), []);
    await noClusterOf(id);
  });

  it('cancel -a after a burst of async submits: every one is cancelled, none starts its task after the cancel returns', async () => {
    const ran = join(scratch, 'burst-ran');
    const requests: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      const res = await http(`${d.url}/api/v1/jobs_launch`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ tasks: [{ task: { name: `burst-${i}`, run: `touch ${ran}-${i}; sleep 600` } }] }) });
      assert.equal(res.status, 202, res.text);
      requests.push((res.json() as { requestId: string }).requestId);
    }
    const rec = await op('jobs_cancel', { all: true });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const made: number[] = [];
    for (const id of requests) {
      const r = (await http(`${d.url}/api/v1/requests/${id}`, { headers: HEADERS })).json() as Rec;
      assert.ok(r.status === 'CANCELLED' || r.status === 'SUCCEEDED', `submit ${id} is ${r.status}`);
      if (r.status === 'SUCCEEDED') made.push(r.result!.jobId);
    }
    for (const id of made) assert.equal((await get(id)).job.status, 'CANCELLED', `managed job ${id}`);
    const started = (): number => requests.filter((_, i) => existsSync(`${ran}-${i}`)).length;
    const before = started();
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(started(), before, 'no task started after the cancel returned');
    const active = (await http(`${d.url}/api/v1/managed-jobs?skip_finished=true`, { headers: HEADERS })).json() as { items: ManagedJob[] };
    assert.deepEqual(active.items.map((j) => j.id), []);
    assert.deepEqual((await clusters()).filter((c) => c.startsWith('sky-jobs-')), []);
  });

  it('continues every job from its stored state after kill -9 of the daemon: nothing provisioned twice, nothing leaked', async () => {
    const counter = join(scratch, 'count-restart');
    const running1 = await submit([{ run: `echo x >> ${counter}; sleep 3; echo done` }]);
    await until(running1, (j) => j.status === 'RUNNING');
    const starting = await submit([{ run: 'echo started' }]);
    await d.kill9();
    d = await startDaemon({ home, port, config: config() });
    const a = await ended(running1);
    assert.equal(a.status, 'SUCCEEDED', a.reason);
    assert.equal(readFileSync(counter, 'utf8'), 'x\n', 'the running task was not started again');
    const b = await ended(starting);
    assert.equal(b.status, 'SUCCEEDED', b.reason);
    // Torn down right after the end is recorded, and only once: nothing is left once that is done.
    await noClusterOf(running1);
    await noClusterOf(starting);
    assert.deepEqual((await clusters()).filter((c) => c.startsWith('sky-jobs-')), [], 'no cluster of a managed job is left');
  });

  it('kill -9 while STARTING (its setup running): the job goes on where it was, its cluster provisioned once', async () => {
    const setupCount = join(scratch, 'count-setup');
    const id = await submit([{ setup: `echo s >> ${setupCount}; sleep 3`, run: 'echo ran after setup' }]);
    await until(id, (j) => j.status === 'STARTING' && existsSync(setupCount), 30_000);
    await d.kill9();
    d = await startDaemon({ home, port, config: config() });
    const done = await ended(id);
    assert.equal(done.status, 'SUCCEEDED', done.reason);
    assert.equal(readFileSync(setupCount, 'utf8'), 's\n', 'the setup ran once: the restart followed the queued job instead of launching again');
    const { job, events } = await get(id);
    assert.equal(events.filter((e) => /launching on cluster/.test(e.text)).length, 1, events.map((e) => e.text).join(' | '));
    assert.equal(job.tasks[0]!.recoveries, 0);
    assert.ok((await logs(id)).lines.includes('ran after setup'));
    await noClusterOf(id);
  });

  it('kill -9 while RECOVERING (no capacity to relaunch): it keeps waiting, then relaunches once capacity is back', async () => {
    const counter = join(scratch, 'count-recovering');
    const marker = `sky-mj-recovering-${Date.now()}`;
    const id = await submit([
      { run: `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; if [ "$n" = 0 ]; then exec -a ${marker} sleep 600; fi; echo recovered`, resources: { cpus: 8 } },
    ]);
    const job = await until(id, (j) => j.status === 'RUNNING');
    await until(id, () => running(marker).length > 0, 10_000);
    const res = await http(`${d.url}/api/v1/clusters/${job.tasks[0]!.cluster!}`, { headers: HEADERS });
    const root = (res.json() as { nodes: Array<{ reach: { root: string } }> }).nodes[0]!.reach.root;
    // The node is lost while the daemon is down, and the daemon comes back on a machine too small to relaunch it.
    await d.kill9();
    rmSync(root, { recursive: true, force: true });
    spawnSync('pkill', ['-9', '-f', root]);
    spawnSync('pkill', ['-9', '-f', marker]);
    const small = config().replace('cpus: 64', 'cpus: 4').replace('recovery_wait_seconds: 4', 'recovery_wait_seconds: 600');
    d = await startDaemon({ home, port, config: small });
    const waiting = await until(id, (j) => j.status === 'RECOVERING' && /waiting for capacity/.test(j.reason ?? ''), 60_000);
    assert.equal(waiting.tasks[0]!.recoveries, 1);
    await d.kill9();
    d = await startDaemon({ home, port, config: config() });
    const done = await ended(id);
    assert.equal(done.status, 'SUCCEEDED', done.reason);
    assert.equal(done.tasks[0]!.recoveries, 1, 'one recovery, counted once across both restarts');
    assert.equal(readFileSync(counter, 'utf8').trim(), '2', 'the task ran twice: first, and once relaunched');
    assert.ok((await logs(id)).lines.includes('recovered'));
    await noClusterOf(id);
    assert.deepEqual(running(marker), []);
  });

  it('lists the caller\'s jobs (newest first) and refuses bad selections', async () => {
    const res = await http(`${d.url}/api/v1/managed-jobs`, { headers: HEADERS });
    const items = (res.json() as { items: ManagedJob[] }).items;
    assert.ok(items.length >= 8);
    assert.ok(items[0]!.id > items[1]!.id);
    const active = (await http(`${d.url}/api/v1/managed-jobs?skip_finished=true`, { headers: HEADERS })).json() as { items: ManagedJob[] };
    assert.deepEqual(active.items, []);
    assert.equal((await http(`${d.url}/api/v1/managed-jobs/99999`, { headers: HEADERS })).status, 404);
    const none = await op('jobs_cancel', { job_ids: [99999] });
    assert.equal(none.error?.code, 'MANAGED_JOB_NOT_FOUND');
    const two = await http(`${d.url}/api/v1/jobs_cancel`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ all: true, name: 'x' }) });
    assert.equal(two.status, 400, two.text);
    const reserved = await http(`${d.url}/api/v1/launch`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ cluster: 'sky-jobs-1-alice', task: { run: 'true' } }) });
    assert.equal(reserved.status, 400, 'the names of managed jobs\' clusters are the daemon\'s');
    assert.match(reserved.text, /reserved/);
    const bad = await http(`${d.url}/api/v1/jobs_launch`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ tasks: [{ task: { run: 'x' } }, { task: { num_nodes: 0 } }] }) });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /tasks\[1\]\.task: num_nodes/);
  });
});
