import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { runSky, showRun, spawnSky, type CliResult } from '../helpers/sky-cli.js';

/*
 * End to end: `sky jobs` of the built CLI against a real daemon with the local driver. A
 * pipeline of two `echo` tasks runs to SUCCEEDED (its log, its rows in the queue), and a
 * `sleep` job followed by `sky jobs launch` is cancelled: the launch and `sky jobs logs` then
 * exit 103. stdin is not a terminal, so launches and cancels pass -y.
 */

const HEADERS = ['ID', 'TASK', 'NAME', 'RESOURCES', 'SUBMITTED', 'TOT. DURATION', 'JOB DURATION', '#RECOVERIES', 'STATUS'];
const HEADERS_ALL_USERS = ['ID', 'TASK', 'NAME', 'USER', 'RESOURCES', 'SUBMITTED', 'TOT. DURATION', 'JOB DURATION', '#RECOVERIES', 'STATUS'];

interface QueueJson {
  jobs: Array<{ id: number; name: string | null; status: string; tasks: Array<{ index: number; name: string | null; status: string }> }>;
}

let daemon: DaemonHandle;
let dir: string;

const sky = (args: readonly string[]): Promise<CliResult> => runSky(args, { home: daemon.home, endpoint: daemon.url, cwd: dir });

async function expectCode(args: readonly string[], code: number): Promise<CliResult> {
  const r = await sky(args);
  assert.equal(r.code, code, showRun(args, r));
  return r;
}

function managedJobIdOf(r: CliResult): number {
  const id = /^Managed job ID: (\d+)/m.exec(r.stderr)?.[1] ?? assert.fail(`no managed job ID in:\n${r.stderr}`);
  return Number(id);
}

async function queueJson(): Promise<QueueJson> {
  return JSON.parse((await expectCode(['jobs', 'queue', '-o', 'json'], 0)).stdout) as QueueJson;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

const cells = (line: string): string[] => line.trim().split(/\s{2,}/);

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  daemon = await startDaemon({ config: 'drivers:\n  local: {}\n' });
  dir = await mkdtemp(join(daemon.home, 'tasks-'));
});

after(async () => {
  await sky(['jobs', 'cancel', '-a', '-y']).catch(() => undefined);
  await daemon?.stop();
  await killAllDaemons();
  if (daemon) removeHome(daemon.home);
});

describe('sky jobs on the local driver', { timeout: 240_000 }, () => {
  let pipelineId = 0;

  it('refuses bad input before anything runs: no selection, a bad ID, a bad pipeline document', async () => {
    assert.match((await expectCode(['jobs', 'cancel', '-y'], 2)).stderr, /nothing to cancel: give managed job IDs, -n NAME or -a/);
    assert.match((await expectCode(['jobs', 'logs', 'x1'], 2)).stderr, /invalid managed job ID 'x1'/);
    assert.match((await expectCode(['jobs', 'frob'], 2)).stderr, /unknown action 'frob' for sky jobs/);
    await writeFile(join(dir, 'bad.yaml'), 'run: echo a\n---\nrun: echo b\nnum_nodes: two\n');
    assert.match((await expectCode(['jobs', 'launch', '-y', 'bad.yaml'], 1)).stderr, /bad\.yaml:4:\d+: document 2: num_nodes: /);
    assert.match((await expectCode(['jobs', 'queue'], 0)).stdout, /^No managed jobs found\.$/m);
  });

  it('sky jobs launch runs a pipeline of two tasks in order, streams both logs and exits 0', async () => {
    await writeFile(join(dir, 'pipe.yaml'), 'name: pipe\n---\nname: first\nrun: echo first-task-ran\n---\nname: second\nrun: echo second-task-ran\n');
    // sky launch takes one task, and says what runs a pipeline.
    assert.match((await expectCode(['launch', '--dryrun', 'pipe.yaml'], 1)).stderr, /hint: A pipeline \(several tasks in one file\) runs as a managed job: sky jobs launch pipe\.yaml/);
    const r = await expectCode(['jobs', 'launch', '-y', 'pipe.yaml'], 0);
    pipelineId = managedJobIdOf(r);
    const first = r.stdout.indexOf('first-task-ran');
    const second = r.stdout.indexOf('second-task-ran');
    assert.ok(first >= 0 && second > first, `both tasks' lines, in order:\n${r.stdout}`);
    assert.match(r.stderr, new RegExp(`sky jobs logs ${pipelineId}`));
  });

  it('sky jobs queue shows the job row and a ↳ row per task; -u adds USER', async () => {
    const out = (await expectCode(['jobs', 'queue'], 0)).stdout.split('\n');
    const header = out.findIndex((l) => l.startsWith('ID  '));
    assert.deepEqual(cells(out[header]!), HEADERS);
    const jobRow = out.find((l) => cells(l)[0] === String(pipelineId)) ?? assert.fail(out.join('\n'));
    assert.deepEqual([cells(jobRow)[1], cells(jobRow)[2], cells(jobRow).at(-1)], ['-', 'pipe', 'SUCCEEDED']);
    const taskRows = out.slice(out.indexOf(jobRow) + 1, out.indexOf(jobRow) + 3).map(cells);
    assert.deepEqual(
      taskRows.map((c) => [c[0], c[1], c[2], c.at(-1)]),
      [
        ['↳', '0', 'first', 'SUCCEEDED'],
        ['↳', '1', 'second', 'SUCCEEDED'],
      ],
    );
    const all = (await expectCode(['jobs', 'queue', '-u'], 0)).stdout.split('\n');
    assert.deepEqual(cells(all.find((l) => l.startsWith('ID  '))!), HEADERS_ALL_USERS);
    const json = await queueJson();
    const mine = json.jobs.find((j) => j.id === pipelineId) ?? assert.fail(JSON.stringify(json));
    assert.deepEqual(mine.tasks.map((t) => [t.index, t.name, t.status]), [
      [0, 'first', 'SUCCEEDED'],
      [1, 'second', 'SUCCEEDED'],
    ]);
  });

  it('sky jobs logs prints the lines of the finished pipeline and exits 0; the controller log too', async () => {
    const r = await expectCode(['jobs', 'logs', String(pipelineId)], 0);
    assert.match(r.stdout, /first-task-ran/);
    assert.match(r.stdout, /second-task-ran/);
    // Without an ID: the caller's newest managed job, this one.
    assert.match((await expectCode(['jobs', 'logs', '--no-follow'], 0)).stdout, /second-task-ran/);
    const controller = await expectCode(['jobs', 'logs', '--controller', String(pipelineId)], 0);
    assert.notEqual(controller.stdout.trim(), '', 'the controller log says what was done');
  });

  it('a followed sleep job cancelled by sky jobs cancel ends CANCELLED: the launch and sky jobs logs exit 103', async () => {
    const launch = spawnSky(['jobs', 'launch', '-y', '-n', 'sleeper', 'sleep 300'], { home: daemon.home, endpoint: daemon.url, cwd: dir });
    try {
      const id = await waitFor('the sleeper to be RUNNING', async () => {
        const job = (await queueJson()).jobs.find((j) => j.name === 'sleeper');
        return job?.status === 'RUNNING' ? job.id : undefined;
      });
      const cancel = await expectCode(['jobs', 'cancel', '-y', String(id)], 0);
      assert.match(cancel.stdout, new RegExp(`^Cancelled managed job: ${id}$`, 'm'));
      const ended = await launch.done;
      assert.equal(ended.code, 103, showRun(['jobs', 'launch', '-y', '-n', 'sleeper', 'sleep 300'], ended));
      assert.match(ended.stderr, new RegExp(`managed job ${id} ended CANCELLED`));
      assert.equal((await queueJson()).jobs.find((j) => j.id === id)?.status, 'CANCELLED');
      await expectCode(['jobs', 'logs', String(id)], 103);
      const again = await expectCode(['jobs', 'cancel', '-y', String(id)], 0);
      assert.match(again.stdout, new RegExp(`^Already finished: ${id}$`, 'm'));
    } finally {
      if (launch.child.exitCode === null) launch.child.kill('SIGKILL');
    }
  });

  it('sky jobs logs of a managed job that does not exist exits 102', async () => {
    assert.match((await expectCode(['jobs', 'logs', '999999'], 102)).stderr, /999999|managed job/);
  });
});
