import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ManagedJobRecord, ManagedTaskState } from '@sky/protocol';
import { SkyError } from '@sky/protocol';
import { cancelSelection, parseManagedJobId } from '../../cli/src/commands/jobs.js';
import { launch } from '../../cli/src/commands/jobs-launch.js';
import { managedStatusExitCode } from '../../cli/src/job-log.js';
import { jobRunningMs, managedJobHeaders, managedJobJson, managedJobTable, placeOf } from '../../cli/src/managed-job-format.js';
import { nodesOfResources } from '../../cli/src/managed-job-log.js';
import { loadPipeline } from '../../cli/src/pipeline-input.js';
import { JOBS } from '../../cli/src/spec.js';
import { loadTask, type Environment, type PathKind } from '../../cli/src/task-input.js';
import { UsageError, validate, type CliOptions } from '../../cli/src/usage.js';

/*
 * sky jobs: the queue table (durations, pipeline rows, the -u and -a columns), the checks of
 * its arguments, and the tasks `sky jobs launch` sends for a file of several YAML documents.
 */

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const MIN = 60_000;

function task(over: Partial<ManagedTaskState> = {}): ManagedTaskState {
  return { index: 0, resources: '1x local(cpus=1)', status: 'PENDING', runningMs: 0, recoveries: 0, restarts: 0, ...over };
}

function job(over: Partial<ManagedJobRecord> = {}): ManagedJobRecord {
  return {
    id: 1,
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    requestId: 'r-1',
    status: 'PENDING',
    submittedAt: NOW - 5 * MIN,
    currentTask: 0,
    attempts: 0,
    tasks: [task()],
    version: 1,
    ...over,
  };
}

const cells = (line: string): string[] => line.split(/\s{2,}/);

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a UsageError');
}

async function rejection(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof Error);
    return err;
  }
  assert.fail('expected an error');
}

describe('sky jobs queue table', () => {
  it('has the seed columns exactly, USER only with -u, and the detail columns with -a', () => {
    assert.deepEqual(managedJobHeaders(false), ['ID', 'TASK', 'NAME', 'RESOURCES', 'SUBMITTED', 'TOT. DURATION', 'JOB DURATION', '#RECOVERIES', 'STATUS']);
    const [header] = managedJobTable([job()], { showUser: true, now: NOW });
    assert.equal(header, 'ID  TASK  NAME  USER   RESOURCES         SUBMITTED  TOT. DURATION  JOB DURATION  #RECOVERIES  STATUS');
    assert.deepEqual(managedJobHeaders(false, true).slice(-3), ['WORKSPACE', 'INFRA/CLUSTER', 'DETAILS']);
  });

  it('a one-task job is one row: its task resources, submitted ago, total since submission, `-` for a job that never ran', () => {
    const lines = managedJobTable([job({ name: 'train' })], { showUser: false, now: NOW });
    assert.equal(lines.length, 2);
    assert.deepEqual(cells(lines[1]!), ['1', '-', 'train', '1x local(cpus=1)', '5m ago', '5m 0s', '-', '0', 'PENDING']);
  });

  it('JOB DURATION sums the runs of every task, the current one up to now; TOT. DURATION stops at the end', () => {
    const running = job({
      status: 'RUNNING',
      tasks: [task({ status: 'RUNNING', startedAt: NOW - 4 * MIN, runningMs: 90_000, runningSince: NOW - 30_000, recoveries: 2 })],
    });
    assert.deepEqual(cells(managedJobTable([running], { showUser: false, now: NOW })[1]!).slice(5), ['5m 0s', '2m 0s', '2', 'RUNNING']);
    assert.equal(jobRunningMs(running, NOW), 120_000);
    const ended = job({ status: 'SUCCEEDED', endedAt: NOW - 2 * MIN, tasks: [task({ status: 'SUCCEEDED', startedAt: NOW - 4 * MIN, endedAt: NOW - 2 * MIN, runningMs: 100_000 })] });
    // Ended jobs keep their durations however long ago they ended.
    assert.deepEqual(cells(managedJobTable([ended], { showUser: false, now: NOW + 60 * MIN })[1]!).slice(5), ['3m 0s', '1m 40s', '0', 'SUCCEEDED']);
  });

  it('a pipeline is a row for the job (RESOURCES -) then a ↳ row per task, TASK being its index; newest job first', () => {
    const pipeline = job({
      id: 7,
      name: 'pipe',
      status: 'RUNNING',
      currentTask: 1,
      tasks: [
        task({ index: 0, name: 'prep', status: 'SUCCEEDED', startedAt: NOW - 4 * MIN, endedAt: NOW - 3 * MIN, runningMs: 60_000 }),
        task({ index: 1, name: 'train', status: 'RUNNING', resources: '2x local(cpus=2)', startedAt: NOW - 2 * MIN, runningMs: 0, runningSince: NOW - 2 * MIN, recoveries: 1 }),
      ],
    });
    const lines = managedJobTable([job({ id: 3 }), pipeline], { showUser: true, now: NOW });
    assert.deepEqual(lines.slice(1).map(cells), [
      ['7', '-', 'pipe', 'alice', '-', '5m ago', '5m 0s', '3m 0s', '1', 'RUNNING'],
      ['↳', '0', 'prep', 'alice', '1x local(cpus=1)', '-', '1m 0s', '1m 0s', '0', 'SUCCEEDED'],
      ['↳', '1', 'train', 'alice', '2x local(cpus=2)', '-', '2m 0s', '2m 0s', '1', 'RUNNING'],
      ['3', '-', '-', 'alice', '1x local(cpus=1)', '5m ago', '5m 0s', '-', '0', 'PENDING'],
    ]);
  });

  it('-a adds the workspace, where the task runs and the whole failure reason', () => {
    const reason = 'no enabled infra can hold the task: local has 2 CPUs, the task asks for 64 on each of 1 node';
    const failed = job({
      status: 'FAILED_NO_RESOURCE',
      endedAt: NOW,
      reason,
      workspace: 'research',
      tasks: [task({ status: 'FAILED_NO_RESOURCE', infra: 'local', cluster: 'sky-jobs-1-alice' })],
    });
    const row = cells(managedJobTable([failed], { showUser: false, showAll: true, now: NOW })[1]!);
    assert.deepEqual(row.slice(-4), ['FAILED_NO_RESOURCE', 'research', 'local/sky-jobs-1-alice', reason]);
    assert.equal(placeOf({}), '-');
    assert.equal(placeOf({ cluster: 'c' }), 'c');
  });

  it('-o json: ISO times, durations in ms, null for what is not there', () => {
    const j = managedJobJson(job({ name: 'x', tasks: [task({ name: 'x' })] }), NOW);
    assert.deepEqual(j, {
      id: 1,
      name: 'x',
      user: 'alice',
      workspace: 'default',
      status: 'PENDING',
      reason: null,
      submittedAt: new Date(NOW - 5 * MIN).toISOString(),
      endedAt: null,
      totalDurationMs: 5 * MIN,
      jobDurationMs: null,
      recoveries: 0,
      tasks: [
        { index: 0, name: 'x', status: 'PENDING', resources: '1x local(cpus=1)', infra: null, cluster: null, startedAt: null, endedAt: null, jobDurationMs: null, recoveries: 0, restarts: 0 },
      ],
    });
  });
});

describe('sky jobs arguments', () => {
  const bad: Array<{ name: string; run: () => unknown; message: RegExp }> = [
    { name: 'unknown action', run: () => validate(JOBS, 'list', [], {}), message: /^unknown action 'list' for sky jobs; one of launch, queue, cancel, logs$/ },
    { name: 'missing action', run: () => validate(JOBS, undefined, [], {}), message: /^missing action: sky jobs <action>, one of launch, queue, cancel, logs$/ },
    { name: 'an option of another action', run: () => validate(JOBS, 'queue', [], { controller: true }), message: /^option --controller is not valid for 'sky jobs queue'$/ },
    { name: 'queue takes no arguments', run: () => validate(JOBS, 'queue', ['3'], {}), message: /^sky jobs queue takes no arguments, got '3'$/ },
    { name: 'logs of two jobs', run: () => validate(JOBS, 'logs', ['1', '2'], {}), message: /^sky jobs logs takes at most 1 argument/ },
    { name: 'a bad id', run: () => parseManagedJobId('abc', 'h'), message: /^invalid managed job ID 'abc': IDs are positive integers/ },
    { name: 'id 0', run: () => parseManagedJobId('0', 'h'), message: /^invalid managed job ID '0'/ },
    { name: 'a negative id', run: () => parseManagedJobId('-3', 'h'), message: /^invalid managed job ID '-3'/ },
    { name: 'ids and -n', run: () => cancelSelection([3], { name: 'train' }, 'h'), message: /^give one of job IDs, -n NAME or -a, not job IDs and -n NAME$/ },
    { name: 'ids and -a', run: () => cancelSelection([3], { all: true }, 'h'), message: /^give one of job IDs, -n NAME or -a, not job IDs and -a$/ },
    { name: '-n and -a', run: () => cancelSelection([], { name: 'x', all: true }, 'h'), message: /not -n NAME and -a$/ },
    { name: 'nothing selected', run: () => cancelSelection([], {}, 'h'), message: /^nothing to cancel: give managed job IDs, -n NAME or -a$/ },
    { name: '-u alone', run: () => cancelSelection([], { allUsers: true }, 'h'), message: /^-u needs -a or -n NAME/ },
    { name: '-u with ids', run: () => cancelSelection([1], { allUsers: true }, 'h'), message: /^-u goes with -a or -n NAME, not with job IDs$/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => assert.match(usageError(c.run).message, c.message));
  }

  it('sky jobs launch without a task is a usage error, before anything is sent', async () => {
    const err = await rejection(() => launch({ noun: JOBS, action: JOBS.actions[0]!, args: [], options: {} }));
    assert.ok(err instanceof UsageError);
    assert.equal(err.message, 'sky jobs launch needs a task YAML or a command to run: sky jobs launch TASK.yaml|COMMAND');
    assert.equal(err.helpCommand, 'sky jobs launch --help');
  });

  it('types the options: -d, -y, -n and the task flags for launch; -u -a -s -r -o for queue; --no-follow for logs', () => {
    const l = validate(JOBS, 'launch', ['t.yaml'], { d: true, detachRun: true, y: true, yes: true, n: 'train', name: 'train', cpus: 2, env: ['A=1'] });
    assert.deepEqual(l.options, { detach: true, yes: true, name: 'train', cpus: '2', env: ['A=1'] });
    const q = validate(JOBS, 'queue', [], { u: true, allUsers: true, a: true, all: true, s: true, skipFinished: true, r: true, refresh: true, o: 'json', output: 'json' });
    assert.deepEqual(q.options, { allUsers: true, all: true, skipFinished: true, refresh: true, output: 'json' });
    assert.deepEqual(validate(JOBS, 'logs', ['3'], { follow: false, controller: true }).options, { follow: false, controller: true });
  });

  it('what cancel sends: ids, a name, all of yours, or with -u everyone\'s', () => {
    assert.deepEqual(cancelSelection([3, 4], {}, 'h'), { body: { job_ids: [3, 4] }, what: 'managed jobs 3, 4' });
    assert.deepEqual(cancelSelection([], { name: 'train' }, 'h'), { body: { name: 'train' }, what: "your unfinished managed jobs named 'train'" });
    assert.deepEqual(cancelSelection([], { all: true }, 'h'), { body: { all: true }, what: 'all your unfinished managed jobs' });
    assert.deepEqual(cancelSelection([], { all: true, allUsers: true }, 'h'), { body: { all: true, all_users: true }, what: "all users' unfinished managed jobs" });
  });

  it('exit codes follow SkyPilot: 0 succeeded, 100 every failure, 103 cancelled, 101 not finished, 102 no such job', () => {
    assert.equal(managedStatusExitCode('SUCCEEDED'), 0);
    for (const s of ['FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER'] as const) assert.equal(managedStatusExitCode(s), 100, s);
    assert.equal(managedStatusExitCode('CANCELLED'), 103);
    for (const s of ['PENDING', 'STARTING', 'RUNNING', 'RECOVERING', 'CANCELLING'] as const) assert.equal(managedStatusExitCode(s), 101, s);
    assert.equal(managedStatusExitCode(undefined), 102);
  });

  it('reads the node count of a task from its resources', () => {
    assert.equal(nodesOfResources('2x local(cpus=1)'), 2);
    assert.equal(nodesOfResources('local'), 1);
    assert.equal(nodesOfResources(undefined), 1);
  });
});

function fakeEnvironment(files: Record<string, string>, dirs: readonly string[] = []): Environment {
  return {
    cwd: '/work',
    home: '/home/me',
    env: {},
    readText: (file) => {
      const text = files[file];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      return text;
    },
    kindOf: (path): PathKind => (Object.hasOwn(files, path) ? 'file' : dirs.includes(path) ? 'dir' : 'missing'),
  };
}

describe('sky jobs launch: the tasks it sends', () => {
  const PIPE = 'name: pipe\n---\nname: prep\nworkdir: ./prep\nrun: echo prep\n---\nname: train\nfile_mounts:\n  /data: ~/data\nrun: echo train\n';

  it('a pipeline file: its name, every task in order, flags applied to each, local paths made absolute', async () => {
    const env = fakeEnvironment({ '/work/p.yaml': PIPE }, ['/work/prep', '/home/me/data']);
    const options: CliOptions = { cpus: '2', env: ['MODE=fast'], name: 'renamed' };
    const loaded = await loadPipeline(['p.yaml'], options, env);
    assert.equal(loaded.name, 'pipe');
    assert.deepEqual(
      loaded.tasks.map((t) => [t.name, t.run, t.resources.cpus, t.envs.MODE]),
      [
        ['prep', 'echo prep', { min: 2, orMore: false }, 'fast'],
        ['train', 'echo train', { min: 2, orMore: false }, 'fast'],
      ],
    );
    assert.equal(loaded.tasks[0]!.workdir, '/work/prep');
    assert.equal(loaded.tasks[1]!.file_mounts['/data'], '/home/me/data');
    assert.deepEqual(loaded.missing, []);
  });

  it('-n names the task too when there is only one; a command is one task named sky-cmd', async () => {
    const one = await loadPipeline(['t.yaml'], { name: 'solo' }, fakeEnvironment({ '/work/t.yaml': 'name: t\nrun: echo t\n' }));
    assert.deepEqual([one.name, one.tasks.map((t) => t.name)], [undefined, ['solo']]);
    const cmd = await loadPipeline(['echo', 'hi'], {}, fakeEnvironment({}));
    assert.deepEqual(cmd.tasks.map((t) => [t.name, t.run]), [['sky-cmd', 'echo hi']]);
  });

  it('local paths missing here are listed per task', async () => {
    const loaded = await loadPipeline(['p.yaml'], {}, fakeEnvironment({ '/work/p.yaml': PIPE }));
    assert.deepEqual(loaded.missing, [
      'p.yaml (task 0): workdir: ./prep does not exist (/work/prep)',
      'p.yaml (task 1): file_mounts["/data"]: ~/data does not exist (/home/me/data)',
    ]);
  });

  it('a bad document is refused, naming the document and the field; a bad flag names the flag', async () => {
    const text = 'run: echo a\n---\nrun: echo b\nnum_nodes: two\n';
    const err = await rejection(() => loadPipeline(['p.yaml'], {}, fakeEnvironment({ '/work/p.yaml': text })));
    assert.ok(err instanceof SkyError);
    assert.equal(err.code, 'TASK_INVALID');
    assert.match(err.message, /^p\.yaml:4:12: document 2: num_nodes: /);
    const flag = await rejection(() => loadPipeline(['p.yaml'], { numNodes: 'x' }, fakeEnvironment({ '/work/p.yaml': PIPE })));
    assert.match(flag.message, /--num-nodes/);
    const unreadable = await rejection(() => loadPipeline(['gone.yaml'], {}, fakeEnvironment({})));
    assert.match(unreadable.message, /^task file not found: gone\.yaml/);
  });

  it('sky launch and sky exec refuse a pipeline file, pointing at sky jobs launch', async () => {
    const err = await rejection(() => loadTask(['p.yaml'], {}, fakeEnvironment({ '/work/p.yaml': PIPE })));
    assert.ok(err instanceof SkyError);
    assert.equal(err.code, 'TASK_UNSUPPORTED');
    assert.match(err.message, /^p\.yaml:3:1: not supported yet: pipelines/);
    assert.equal(err.hint, 'A pipeline (several tasks in one file) runs as a managed job: sky jobs launch p.yaml');
  });
});
