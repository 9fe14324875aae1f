import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, SKY_BIN, killAllDaemons, removeHome, shareLocalToken, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';

/*
 * End to end: the built `sky` binary against a real daemon with the local driver. Each
 * describe block has its own daemon and HOME; every daemon is stopped afterwards. stdin is
 * not a terminal here, so commands that ask for confirmation need -y (and say so without it).
 */

const CONFIG = 'drivers:\n  local: {}\n';
const QUEUE_HEADERS = ['ID', 'NAME', 'USER', 'SUBMITTED', 'STARTED', 'DURATION', 'RESOURCES', 'STATUS', 'LOG'];
const STATUS_HEADERS = ['NAME', 'LAUNCHED', 'RESOURCES', 'STATUS', 'AUTOSTOP', 'COMMAND'];
const STATUS_HEADERS_ALL_USERS = ['NAME', 'USER', 'LAUNCHED', 'RESOURCES', 'STATUS', 'AUTOSTOP', 'COMMAND'];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface As {
  home: string;
  url: string;
  cwd?: string;
  env?: Record<string, string>;
}

const homes: string[] = [];

function envOf(as: As): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: as.home, SKYPILOT_API_SERVER_ENDPOINT: as.url, ...as.env };
  delete env.SKY_DEBUG;
  delete env.NODE_OPTIONS;
  return env;
}

interface Running {
  child: ChildProcess;
  /** Output so far. */
  out: () => Result;
  done: Promise<Result>;
}

function run(as: As, command: string, args: readonly string[]): Running {
  const child = spawn(command, args, { cwd: as.cwd ?? REPO_ROOT, env: envOf(as), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, out: () => ({ code: child.exitCode, stdout, stderr }), done };
}

/** The built binary, as a user runs it: `node --` as its shebang does, so --env-file reaches sky rather than node. */
function start(as: As, args: readonly string[]): Running {
  const running = run(as, process.execPath, ['--', SKY_BIN, ...args]);
  running.child.stdin!.end();
  return running;
}

function sky(as: As, args: readonly string[]): Promise<Result> {
  return start(as, args).done;
}

function show(args: readonly string[], r: Result): string {
  return `sky ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

async function ok(as: As, args: readonly string[]): Promise<Result> {
  const r = await sky(as, args);
  assert.equal(r.code, 0, show(args, r));
  return r;
}

async function fails(as: As, args: readonly string[], code: number): Promise<Result> {
  const r = await sky(as, args);
  assert.equal(r.code, code, show(args, r));
  return r;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

/** The row of a table whose first cell is `first`, split into cells. */
function row(stdout: string, first: string): string[] | undefined {
  const line = stdout.split('\n').find((l) => l.split(/\s{2,}/)[0] === first);
  return line?.split(/\s{2,}/);
}

function headerOf(stdout: string, firstHeader: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${firstHeader}  `)) ?? assert.fail(`no table header in:\n${stdout}`);
  return line.split(/\s{2,}/);
}

function jobIdOf(r: Result): number {
  const id = /^Job ID: (\d+)$/m.exec(r.stderr)?.[1] ?? assert.fail(`no job ID in:\n${r.stderr}`);
  return Number(id);
}

before(() => {
  assert.equal(spawnSync('script', ['--version']).status, 0, 'script(1) from util-linux is needed for the terminal tests');
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
});

after(async () => {
  await killAllDaemons();
  for (const home of homes) removeHome(home);
});

async function daemonWithLocalDriver(): Promise<{ daemon: DaemonHandle; as: As }> {
  const daemon = await startDaemon({ config: CONFIG });
  homes.push(daemon.home);
  return { daemon, as: { home: daemon.home, url: daemon.url } };
}

describe('a 2-node cluster through its whole life: launch → exec → queue → logs → cancel → stop → start → autostop → down', () => {
  let daemon: DaemonHandle;
  let as: As;
  let sleeper = 0;

  before(async () => {
    ({ daemon, as } = await daemonWithLocalDriver());
  });

  after(async () => {
    await sky(as, ['down', '-a', '-y']);
    await daemon.stop();
  });

  it('sky launch without -y and without a terminal refuses, and creates nothing', async () => {
    const r = await fails(as, ['launch', '-c', 'life', 'examples/two-node.yaml'], 2);
    assert.equal(
      r.stderr,
      "YAML to run: examples/two-node.yaml\nsky: sky launch would create the new cluster 'life'; pass -y to confirm (stdin is not a terminal). Run 'sky launch --help'.\n",
    );
    assert.match((await ok(as, ['status'])).stdout, /^No existing clusters\.$/m);
  });

  it('sky launch --dryrun shows the plan and launches nothing', async () => {
    const r = await ok(as, ['launch', '--dryrun', '-c', 'life', 'examples/two-node.yaml']);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], "Plan for new cluster 'life' (2 nodes):");
    assert.deepEqual(lines[1]?.split(/\s{2,}/), ['INFRA', 'DRIVER', 'NODES', 'RESOURCES']);
    assert.deepEqual(lines[2]?.split(/\s{2,}/).slice(0, 3), ['local', 'local', '2']);
    assert.match((await ok(as, ['status'])).stdout, /^No existing clusters\.$/m);
  });

  it('a SkyPilot task: the dry run and the launch print the same warnings and refuse the same fields', async () => {
    const dir = await mkdtemp(join(as.home, 'compat-'));
    const warned = join(dir, 'warned.yaml');
    await writeFile(warned, 'service:\n  readiness_probe: /\n  replicas: 2\n  ports: 8080\nresources:\n  disk_tier: best\n  autostop: {idle_minutes: 30, down: true}\nrun: echo compat-ran\n');
    const refused = join(dir, 'refused.yaml');
    await writeFile(refused, 'resources:\n  image_id: docker:ubuntu:22.04\nrun: echo never\n');
    const warnings = [
      /^Warning: service: ignored by sky launch; a service is started with sky serve up$/m,
      /^Warning: resources\.disk_tier: has no meaning on the local driver \(its nodes are existing machines\); ignored$/m,
    ];
    const dry = await ok(as, ['launch', '--dryrun', '-c', 'compat', warned]);
    for (const w of warnings) assert.match(dry.stderr, w, dry.stderr);
    const launched = await ok(as, ['launch', '-y', '-c', 'compat', warned]);
    for (const w of warnings) assert.match(launched.stderr, w, launched.stderr);
    assert.match(launched.stdout, /compat-ran/);
    // resources.autostop is the cluster's autostop.
    assert.match((await ok(as, ['status', 'compat'])).stdout, /^compat\s.*\b30m \(down\)/m);
    await ok(as, ['down', '-y', 'compat']);
    const refusal = /local cannot run the task in a container image \(image_id: docker:ubuntu:22\.04\)/;
    for (const args of [['launch', '--dryrun', '-c', 'compat2', refused], ['launch', '-y', '-c', 'compat2', refused]]) {
      const r = await sky(as, args);
      assert.notEqual(r.code, 0, show(args, r));
      assert.match(r.stderr, refusal, show(args, r));
    }
    assert.doesNotMatch((await ok(as, ['status'])).stdout, /compat/);
  });

  it('sky launch -y provisions 2 nodes, shows progress, then both ranks’ output, and the hints', async () => {
    const r = await ok(as, ['launch', '-y', '-c', 'life', 'examples/two-node.yaml']);
    const out = r.stdout.split('\n');
    for (const rank of [0, 1]) {
      const label = rank === 0 ? /^\(head, rank=0, ip=\S+\) / : /^\(worker1, rank=1, ip=\S+\) /;
      const mine = out.filter((l) => label.test(l)).map((l) => l.replace(label, ''));
      assert.equal(mine[0], `rank ${rank} of 2 nodes`, r.stdout);
      assert.equal(mine[mine.length - 1], rank === 0 ? `I am the head node (${mine[2]})` : `worker 1; the head node is ${mine[2]}`, r.stdout);
    }
    assert.ok(out.every((l) => l === '' || /^\((head|worker1), rank=[01], ip=\S+\) /.test(l)), `only job output on stdout:\n${r.stdout}`);
    assert.match(r.stderr, /^YAML to run: examples\/two-node\.yaml\nRequest ID: \S+\n/);
    assert.match(r.stderr, /Job 1 submitted to cluster life\./);
    assert.match(r.stderr, /^Job ID: 1$/m);
    assert.match(r.stderr, /sky logs life 1$/m);
    assert.match(r.stderr, /sky down life$/m);
  });

  it('sky status shows the cluster in SkyPilot’s columns, with the enabled infra; -u adds USER', async () => {
    const r = await ok(as, ['status']);
    const lines = r.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['Enabled Infra: local', '', 'Clusters']);
    assert.deepEqual(lines[3]?.split(/\s{2,}/), STATUS_HEADERS);
    const life = row(r.stdout, 'life') ?? assert.fail(r.stdout);
    assert.match(life[1] ?? '', /^(just now|\d+s ago)$/);
    assert.match(life[2] ?? '', /^2x /);
    assert.deepEqual(life.slice(3, 5), ['UP', '-']);
    const all = await ok(as, ['status', '-u']);
    assert.deepEqual(headerOf(all.stdout, 'NAME'), STATUS_HEADERS_ALL_USERS);
    const me = /└── User: (.+) \(\S+\)$/m.exec((await ok(as, ['api', 'info'])).stdout)?.[1] ?? assert.fail('no user in sky api info');
    assert.equal(row(all.stdout, 'life')?.[1], me);
    const json = JSON.parse((await ok(as, ['status', 'life', '-o', 'json'])).stdout) as { clusters: Array<{ name: string; numNodes: number; nodeIps: string[] }>; enabledInfra: string[] };
    assert.deepEqual(json.enabledInfra, ['local']);
    assert.deepEqual(json.clusters.map((c) => [c.name, c.numNodes, c.nodeIps.length]), [['life', 2, 2]]);
    const refreshed = await ok(as, ['status', '-r', 'life']);
    assert.equal(row(refreshed.stdout, 'life')?.[3], 'UP', 'the driver reports it UP');
    const missing = await ok(as, ['status', 'life', 'nope']);
    assert.match(missing.stdout, /^Cluster\(s\) not found: nope\.$/m);
  });

  it('sky exec runs a command and a task with overrides on the cluster, streaming their output', async () => {
    const one = await ok(as, ['exec', 'life', '--env', 'GREETING=hey', 'echo "$GREETING from node $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES"']);
    assert.equal(one.stdout, 'hey from node 0 of 1\n');
    assert.equal(jobIdOf(one), 2);
    const both = await ok(as, ['exec', 'life', '--num-nodes', '2', '--', 'echo', 'rank', '$SKYPILOT_NODE_RANK']);
    assert.deepEqual(
      both.stdout.trimEnd().split('\n').map((l) => l.replace(/, ip=\S+\)/, ')')).sort(),
      ['(head, rank=0) rank 0', '(worker1, rank=1) rank 1'],
    );
    // SkyPilot's JobExitCode: 100 for a job that FAILED (whatever its own exit code).
    const failed = await fails(as, ['exec', 'life', 'echo before; exit 3'], 100);
    assert.equal(failed.stdout, 'before\n');
    assert.match(failed.stderr, /^sky: job 4 on cluster life ended FAILED: exit code 3\n {2}hint: see the whole log with: sky logs life 4$/m);
  });

  it('sky exec -d returns once the job is queued; sky queue lists the jobs in SkyPilot’s columns', async () => {
    const r = await ok(as, ['exec', 'life', '-d', '--', 'sleep', '300']);
    assert.equal(r.stdout, '');
    sleeper = jobIdOf(r);
    const queue = await ok(as, ['queue', 'life']);
    const lines = queue.stdout.split('\n');
    assert.equal(lines[0], 'Job queue of current user on cluster life');
    assert.deepEqual(lines[1]?.split(/\s{2,}/), QUEUE_HEADERS);
    const first = row(queue.stdout, '1') ?? assert.fail(queue.stdout);
    assert.deepEqual([first[1], first[7], first[8]], ['two-node', 'SUCCEEDED', 'sky logs life 1']);
    assert.match(first[6] ?? '', /^2x\[CPU:[\d.]+\]$/);
    const sleeping = row(queue.stdout, String(sleeper)) ?? assert.fail(queue.stdout);
    assert.equal(sleeping[1], 'sky-cmd');
    assert.match(sleeping[7] ?? '', /^(PENDING|SETTING_UP|RUNNING)$/);
    const unfinished = await ok(as, ['queue', '-s']);
    assert.equal(row(unfinished.stdout, '1'), undefined, 'finished jobs are hidden with -s');
    assert.ok(row(unfinished.stdout, String(sleeper)) !== undefined, unfinished.stdout);
    assert.match((await ok(as, ['queue', '-u', 'life'])).stdout, /^Job queue of all users on cluster life$/m);
  });

  it('sky logs replays a finished job, prefixed per rank; --status exits as SkyPilot does', async () => {
    const replay = await ok(as, ['logs', 'life', '1', '--no-follow']);
    assert.match(replay.stdout, /^\(head, rank=0, ip=\S+\) rank 0 of 2 nodes$/m);
    assert.match(replay.stdout, /^\(worker1, rank=1, ip=\S+\) rank 1 of 2 nodes$/m);
    assert.equal(replay.stderr, "Tailing logs of job 1 on cluster 'life'...\n");
    assert.deepEqual((await ok(as, ['logs', 'life', '2'])).stdout, 'hey from node 0 of 1\n');
    assert.equal((await ok(as, ['logs', 'life', '1', '--status'])).stdout, 'Job 1: SUCCEEDED\n');
    assert.equal((await fails(as, ['logs', 'life', '4', '--status'], 100)).stdout, 'Job 4: FAILED\n');
    assert.match((await fails(as, ['logs', 'life', String(sleeper), '--status'], 101)).stdout, new RegExp(`^Job ${sleeper}: (PENDING|SETTING_UP|RUNNING)\n$`));
    assert.equal((await fails(as, ['logs', 'life', '99', '--status'], 102)).stdout, "Job 99 not found on cluster 'life'.\n");
    const missing = await fails(as, ['logs', 'life', '99'], 102);
    assert.equal(missing.stderr, 'sky: cluster life has no job 99\n  hint: List its jobs with: sky queue life\n');
    const failed = await fails(as, ['logs', 'life', '4'], 100);
    assert.match(failed.stderr, /^sky: job 4 on cluster life ended FAILED: exit code 3$/m);
    const noCluster = await fails(as, ['logs', 'nosuchcluster', '1'], 102);
    assert.match(noCluster.stderr, /^sky: cluster nosuchcluster does not exist\n/);
    assert.equal((await fails(as, ['logs', 'nosuchcluster', '1', '--status'], 102)).stdout, '');
  });

  it('sky cancel wants -y without a terminal, then cancels the running job', async () => {
    const refused = await fails(as, ['cancel', 'life', String(sleeper)], 2);
    assert.equal(refused.stderr, `sky: sky cancel would cancel job ${sleeper} on cluster life; pass -y to confirm (stdin is not a terminal). Run 'sky cancel --help'.\n`);
    await waitFor('the sleeper to run', async () => ((await sky(as, ['logs', 'life', String(sleeper), '--status'])).stdout.includes('RUNNING') ? true : undefined));
    const r = await ok(as, ['cancel', '-y', 'life', String(sleeper)]);
    assert.equal(r.stdout, `Cancelled job on cluster life: ${sleeper}\n`);
    assert.equal((await fails(as, ['logs', 'life', String(sleeper), '--status'], 103)).stdout, `Job ${sleeper}: CANCELLED\n`);
    assert.match((await fails(as, ['logs', 'life', String(sleeper)], 103)).stderr, new RegExp(`^sky: job ${sleeper} on cluster life ended CANCELLED(: .*)?$`, 'm'));
    assert.equal((await ok(as, ['cancel', '-y', 'life', String(sleeper)])).stdout, `Already finished: ${sleeper}\n`);
    assert.equal((await ok(as, ['cancel', '-y', 'life'])).stdout, 'No unfinished job of yours on cluster life.\n');
  });

  it('sky stop stops it (after -y); exec on a stopped cluster says how to start it', async () => {
    const refused = await fails(as, ['stop', 'life'], 2);
    assert.equal(refused.stderr, "sky: sky stop would stop 1 cluster: life; pass -y to confirm (stdin is not a terminal). Run 'sky stop --help'.\n");
    const r = await ok(as, ['stop', '-y', 'life']);
    assert.equal(r.stdout, 'Stopping cluster life...done.\n  To restart the cluster, run: sky start life\n');
    assert.equal(row((await ok(as, ['status'])).stdout, 'life')?.[3], 'STOPPED');
    const exec = await fails(as, ['exec', 'life', 'echo hi'], 1);
    assert.match(exec.stderr, /^sky: cluster life is STOPPED/m);
    assert.match(exec.stderr, /hint: .*sky start life/);
  });

  it('sky start brings it back UP and jobs run again', async () => {
    const r = await ok(as, ['start', '-y', 'life']);
    assert.equal(r.stdout, 'Restarting cluster life...done.\n');
    assert.equal(row((await ok(as, ['status'])).stdout, 'life')?.[3], 'UP');
    assert.equal((await ok(as, ['exec', 'life', 'echo back'])).stdout, 'back\n');
    assert.equal((await ok(as, ['start', '-a'])).stdout, 'Cluster life already has status UP.\n');
  });

  it('sky autostop sets and cancels the idle timer; at 0 minutes the daemon stops the idle cluster', async () => {
    const set = await ok(as, ['autostop', 'life', '-i', '10', '--down']);
    assert.equal(
      set.stdout,
      'Scheduling autodown on cluster life...done.\n  The cluster will be autodowned after 10 minutes of idleness.\n  To cancel the autodown, run: sky autostop life --cancel\n',
    );
    const status = await ok(as, ['status']);
    assert.equal(row(status.stdout, 'life')?.[4], '10m (down)');
    assert.match(status.stdout, /^\* 1 cluster has auto\{stop,down\} scheduled\. Refresh statuses with: sky status --refresh$/m);
    assert.equal((await ok(as, ['autostop', 'life', '--cancel'])).stdout, 'Cancelling auto{stop,down} on cluster life...done.\n');
    assert.equal(row((await ok(as, ['status'])).stdout, 'life')?.[4], '-');
    await ok(as, ['autostop', 'life', '-i', '0']);
    await waitFor('autostop to stop the idle cluster', async () => (row((await ok(as, ['status', 'life'])).stdout, 'life')?.[3] === 'STOPPED' ? true : undefined));
  });

  it('sky down tears it down and the cluster is gone', async () => {
    assert.equal((await ok(as, ['down', '-y', 'life'])).stdout, 'Terminating cluster life...done.\n');
    assert.match((await ok(as, ['status'])).stdout, /^No existing clusters\.$/m);
    const again = await fails(as, ['down', '-y', 'life'], 1);
    assert.match(again.stderr, /^Terminating cluster life\.\.\.failed\.\n {2}Reason: cluster life does not exist/m);
  });
});

describe('launch options and other users', () => {
  let daemon: DaemonHandle;
  let as: As;
  let other: As;

  before(async () => {
    ({ daemon, as } = await daemonWithLocalDriver());
    const home = tempHome();
    homes.push(home);
    // Another sky identity of the daemon's owner: the same OS account, so it may read the local token.
    shareLocalToken(daemon.home, home);
    other = { home, url: daemon.url };
  });

  after(async () => {
    await sky(as, ['down', '-a', '-y']);
    await sky(other, ['down', '-a', '-y']);
    await daemon.stop();
  });

  it('a plain command, SkyPilot’s `--` form, env files and secrets all reach the task', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sky-task-'));
    homes.push(dir);
    await writeFile(join(dir, 'vars.env'), '# comment\nFROM_FILE="file value"\nexport OVERRIDDEN=file\n');
    const r = await ok({ ...as, cwd: dir, env: { MY_TOKEN: 't0ken' } }, [
      'launch', '-y', '-c', 'opts', '--env-file', 'vars.env', '--env', 'OVERRIDDEN=flag', '--secret', 'MY_TOKEN',
      '--', 'echo', '"$FROM_FILE/$OVERRIDDEN/$MY_TOKEN"',
    ]);
    assert.equal(r.stdout, 'file value/flag/t0ken\n');
    assert.match(r.stderr, /^Command to run: echo "\$FROM_FILE\/\$OVERRIDDEN\/\$MY_TOKEN"$/m);
    assert.equal((await ok(as, ['launch', '-y', '-c', 'opts', 'echo $((6 * 7))'])).stdout, '42\n');
  });

  it('workdir is synced from the directory sky runs in; the exit code is the job’s', async () => {
    const r = await ok(as, ['launch', '-y', '-c', 'opts', 'examples/setup-and-run.yaml']);
    assert.match(r.stdout, /^setup finished at /m);
    const failed = await fails(as, ['launch', '-y', '-c', 'opts', 'nosuchcommand-xyz'], 100);
    assert.match(failed.stderr, /ended FAILED: exit code 127 \(command not found\)/);
  });

  it('setup that fails ends FAILED_SETUP with the tail of its log shown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sky-task-'));
    homes.push(dir);
    await writeFile(join(dir, 'setup-fails.yaml'), 'setup: |\n  echo installing deps\n  exit 7\nrun: echo never runs\n');
    const r = await fails({ ...as, cwd: dir }, ['launch', '-y', '-c', 'opts', 'setup-fails.yaml'], 100);
    assert.equal(r.stdout, 'installing deps\n');
    assert.match(r.stderr, /^sky: job \d+ on cluster opts ended FAILED_SETUP: exit code 7$/m);
  });

  it('-d returns after submitting; --async returns the request id at once', async () => {
    const detached = await ok(as, ['launch', '-y', '-d', '-c', 'opts', 'echo detached']);
    assert.equal(detached.stdout, '');
    const id = jobIdOf(detached);
    await waitFor('the detached job', async () => ((await sky(as, ['logs', 'opts', String(id), '--status'])).code === 0 ? true : undefined));
    assert.equal((await ok(as, ['logs', 'opts', String(id)])).stdout, 'detached\n');
    const submitted = await ok(as, ['launch', '-y', '--async', '-c', 'opts', 'echo async']);
    const requestId = submitted.stdout.trim();
    assert.match(requestId, /^\S+$/);
    assert.match(submitted.stderr, new RegExp(`Follow it with: sky api logs ${requestId}`));
    await ok(as, ['api', 'logs', requestId]);
  });

  it('a name another user holds is refused; each user sees only their clusters unless -u', async () => {
    const taken = await fails(other, ['launch', '-y', '-c', 'opts', 'echo hi'], 1);
    assert.match(
      taken.stderr,
      /^Command to run: echo hi\nRequest ID: \S+\nsky: cluster name opts is used by .+\n {2}hint: Choose another cluster name with -c\.\n$/,
    );
    assert.match((await ok(other, ['status'])).stdout, /^No existing clusters\.$/m);
    assert.ok(row((await ok(other, ['status', '-u'])).stdout, 'opts') !== undefined);
  });

  it('Ctrl-C while the job log streams detaches: the job keeps running', async () => {
    const running = start(as, ['launch', '-y', '-c', 'opts', 'echo started; sleep 60']);
    await waitFor('the job to print', async () => (running.out().stdout.includes('started') ? true : undefined));
    running.child.kill('SIGINT');
    const r = await running.done;
    assert.equal(r.code, 130, show(['launch'], r));
    const id = /Job (\d+) submitted to cluster opts/.exec(r.stderr)?.[1] ?? assert.fail(r.stderr);
    assert.match(r.stderr, new RegExp(`Detached from the log of job ${id} on cluster opts; the job keeps running\\. Re-attach with: sky logs opts ${id}\\n$`));
    // Still going (the daemon may not have seen setup end yet).
    assert.match((await fails(as, ['logs', 'opts', id, '--status'], 101)).stdout, new RegExp(`^Job ${id}: (SETTING_UP|RUNNING)\n$`));
    await ok(as, ['cancel', '-y', 'opts', id]);
  });

  it('a job cancelled while sky exec follows it: exec exits 103, as SkyPilot', async () => {
    const running = start(as, ['exec', 'opts', 'echo started; sleep 300']);
    await waitFor('the job to print', async () => (running.out().stdout.includes('started') ? true : undefined));
    const id = /Job (\d+) submitted to cluster opts/.exec(running.out().stderr)?.[1] ?? assert.fail(running.out().stderr);
    await ok(as, ['cancel', '-y', 'opts', id]);
    const r = await running.done;
    assert.equal(r.code, 103, show(['exec'], r));
    assert.match(r.stderr, new RegExp(`^sky: job ${id} on cluster opts ended CANCELLED(: .*)?$`, 'm'));
  });

  it('on a terminal, launch asks before creating a cluster: no aborts, yes (the default) launches', async () => {
    // script(1) gives sky a pseudo-terminal, as a user at a shell has.
    const inTerminal = (args: string): Running => run(as, 'script', ['-qec', `${process.execPath} -- ${SKY_BIN} ${args}`, '/dev/null']);
    const no = inTerminal("launch -c asked 'echo hi'");
    await waitFor('the question', async () => (no.out().stdout.includes('Proceed? [Y/n]') ? true : undefined));
    assert.match(no.out().stdout, /Plan for new cluster 'asked' \(1 node\):/);
    no.child.stdin!.write('n\r');
    const refused = await no.done;
    assert.match(refused.stdout, /Launching a new cluster 'asked'\. Proceed\? \[Y\/n\]: .*\n?.*Aborted\./s);
    assert.equal(row((await ok(as, ['status'])).stdout, 'asked'), undefined);
    assert.equal(refused.code, 1);
    const yes = inTerminal("launch -c asked 'echo yes please'");
    await waitFor('the question', async () => (yes.out().stdout.includes('Proceed? [Y/n]') ? true : undefined));
    yes.child.stdin!.write('\r');
    const launched = await yes.done;
    assert.equal(launched.code, 0, launched.stdout);
    assert.match(launched.stdout, /^yes please\r?$/m);
    // An UP cluster is used without asking, as in SkyPilot.
    const again = inTerminal("launch -c asked 'echo again'");
    const ran = await again.done;
    assert.equal(ran.code, 0, ran.stdout);
    assert.match(ran.stdout, /^again\r?$/m);
    assert.doesNotMatch(ran.stdout, /Proceed\?/);
    await ok(as, ['down', '-y', 'asked']);
  });

  it('launch -i 0 --down tears the cluster down once it is idle', async () => {
    await ok(as, ['down', '-y', 'opts']);
    const r = await ok(as, ['launch', '-y', '-c', 'brief', '-i', '0', '--down', 'echo short-lived']);
    assert.equal(r.stdout, 'short-lived\n');
    await waitFor('autodown', async () => ((await ok(as, ['status'])).stdout.includes('No existing clusters.') ? true : undefined));
  });
});

describe('bad input through sky launch: each gets its exact error and a non-zero exit, and nothing is launched', () => {
  let daemon: DaemonHandle;
  let as: As;
  let dir: string;

  const FILES: Record<string, string> = {
    'syntax.yaml': 'run: [echo\n',
    'types.yaml': 'num_nodes: two\nresources:\n  cpus: lots\nrun: echo hi\n',
    'zero-nodes.yaml': 'num_nodes: 0\nrun: echo hi\n',
    'accelerator.yaml': 'resources:\n  accelerators: H100:x\nrun: echo hi\n',
    'unknown.yaml': 'run: echo hi\nnum_node: 2\n',
    'unsupported.yaml': 'run: echo hi\nevent_callback: echo done\n',
    'empty.yaml': '',
    'workdir.yaml': 'workdir: ./missing-dir\nrun: ls\n',
    'needs-env.yaml': 'envs:\n  MODEL: null\nrun: echo $MODEL\n',
    'bad.env': 'A=1\nnot a pair\n',
  };

  const DOCS = 'https://docs.skypilot.co/en/latest/reference/yaml-spec.html';
  const FIX_FIELDS = `  hint: Fix the fields named above; the task format is SkyPilot's (${DOCS}).\n`;
  const FIX_FLAGS = `  hint: Fix the flags named above; they take the same values as the task YAML (${DOCS}).\n`;

  const CASES: Array<{ args: string[]; code: number; stderr: string }> = [
    {
      args: ['missing.yaml'],
      code: 1,
      stderr: 'sky: task file not found: missing.yaml\n  hint: Check the path; relative paths are read from the current directory (<dir>).\n',
    },
    {
      args: ['syntax.yaml'],
      code: 1,
      stderr: `sky: syntax.yaml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]\n${FIX_FIELDS}`,
    },
    {
      args: ['types.yaml'],
      code: 1,
      stderr:
        'sky: types.yaml:1:12: num_nodes: must be a whole number of at least 1, got "two"\n' +
        `types.yaml:3:9: resources.cpus: expected a CPU count like 4, or 4+ for at least 4, got "lots"\n${FIX_FIELDS}`,
    },
    {
      args: ['zero-nodes.yaml'],
      code: 1,
      stderr: `sky: zero-nodes.yaml:1:12: num_nodes: must be a whole number of at least 1, got 0\n${FIX_FIELDS}`,
    },
    {
      args: ['accelerator.yaml'],
      code: 1,
      stderr: `sky: accelerator.yaml:2:17: resources.accelerators: "H100:x": count "x" is not a number\n${FIX_FIELDS}`,
    },
    { args: ['unknown.yaml'], code: 1, stderr: `sky: unknown.yaml:2:1: num_node: unknown field; did you mean num_nodes?\n${FIX_FIELDS}` },
    {
      args: ['unsupported.yaml'],
      code: 1,
      stderr:
        'sky: unsupported.yaml:2:1: not supported yet: event_callback (a command run when the task changes state)\n' +
        '  hint: sky does not run these SkyPilot features yet; remove them to run the task without them.\n',
    },
    {
      args: ['empty.yaml'],
      code: 1,
      stderr: `sky: empty.yaml:1:1: the task file is empty; write at least a run command (see the SkyPilot task format)\n${FIX_FIELDS}`,
    },
    { args: ['adir.yaml'], code: 1, stderr: 'sky: adir.yaml is a directory, not a task YAML file\n  hint: Give the path of the task YAML file.\n' },
    {
      args: ['workdir.yaml'],
      code: 1,
      stderr:
        'sky: workdir.yaml: workdir: ./missing-dir does not exist (<dir>/missing-dir)\n' +
        '  hint: Local paths in a task are read from the current directory; create them or fix the paths.\n',
    },
    {
      args: ['needs-env.yaml'],
      code: 1,
      stderr:
        'sky: <command line>: envs.MODEL: has no value; pass --env MODEL=VALUE or set it under envs\n' +
        '  hint: Give every env and secret left empty in the task a value on the command line.\n',
    },
    {
      args: ['-c', '1st', 'echo hi'],
      code: 1,
      stderr:
        'sky: invalid cluster name "1st": must start with a letter\n' +
        "  hint: A cluster name starts with a letter, has only letters, digits, '-', '_' and '.', ends with a letter or digit, and is at most 63 characters.\n",
    },
    { args: ['--cpus', 'many', 'echo hi'], code: 1, stderr: `sky: --cpus: expected a CPU count like 4, or 4+ for at least 4, got "many"\n${FIX_FLAGS}` },
    { args: ['--num-nodes', '0', 'echo hi'], code: 1, stderr: `sky: --num-nodes: must be a whole number of at least 1, got 0\n${FIX_FLAGS}` },
    { args: ['--gpus', 'H100:x', 'echo hi'], code: 1, stderr: `sky: --gpus: "H100:x": count "x" is not a number\n${FIX_FLAGS}` },
    { args: ['--env', '1X=y', 'echo hi'], code: 1, stderr: `sky: --env 1X=y: "1X" is not a valid variable name: use letters, digits and '_', not starting with a digit\n${FIX_FLAGS}` },
    {
      args: ['--secret', 'SKY_E2E_UNSET_SECRET', 'echo hi'],
      code: 1,
      stderr:
        'sky: --secret SKY_E2E_UNSET_SECRET: no value given and SKY_E2E_UNSET_SECRET is not set in your environment; use --secret SKY_E2E_UNSET_SECRET=VALUE\n' +
        FIX_FLAGS,
    },
    {
      args: ['--env-file', 'bad.env', 'echo hi'],
      code: 1,
      stderr: 'sky: bad.env:2: expected NAME=VALUE, got "not a pair"\n  hint: An env file has one NAME=VALUE per line; # starts a comment; values may be quoted with \' or ".\n',
    },
    { args: ['--env-file', 'none.env', 'echo hi'], code: 1, stderr: 'sky: --env-file: cannot read none.env\n  hint: Check the path of the env file.\n' },
    { args: ['--bogus', 'echo hi'], code: 2, stderr: "sky: unknown option --bogus. Run 'sky launch --help'.\n" },
    { args: ['--refresh', 'echo hi'], code: 2, stderr: "sky: option --refresh is not valid for 'sky launch'. Run 'sky launch --help'.\n" },
    { args: ['-i', 'soon', 'echo hi'], code: 2, stderr: "sky: --idle-minutes-to-autostop must be an integer from 0 to 525600, got 'soon'. Run 'sky launch --help'.\n" },
    { args: ['--dryrun', '--async', 'echo hi'], code: 2, stderr: "sky: --dryrun only shows the plan; it does not go with --async. Run 'sky launch --help'.\n" },
  ];

  before(async () => {
    ({ daemon, as } = await daemonWithLocalDriver());
    dir = await mkdtemp(join(tmpdir(), 'sky-bad-'));
    homes.push(dir);
    for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, name), text);
    await mkdir(join(dir, 'adir.yaml'));
  });

  after(async () => {
    await daemon.stop();
  });

  for (const { args, code, stderr } of CASES) {
    it(`sky launch ${args.join(' ')}`, async () => {
      const r = await sky({ ...as, cwd: dir }, ['launch', ...args]);
      assert.equal(r.code, code, show(args, r));
      assert.equal(r.stderr, stderr.replaceAll('<dir>', dir));
      assert.equal(r.stdout, '');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  it('exec on a cluster that does not exist', async () => {
    const r = await fails(as, ['exec', 'nope', 'echo hi'], 1);
    assert.equal(r.stderr, 'Command to run: echo hi\nsky: cluster nope does not exist\n  hint: List clusters with: sky status -u\n');
    assert.equal(r.stdout, '');
  });

  it('a task no enabled infra could ever fit: the dry run and the launch refuse it alike, naming what the infra has, and leave no cluster behind', async () => {
    const r = await fails(as, ['launch', '-y', '-c', 'huge', '--cpus', '4096', 'echo hi'], 1);
    const refusal =
      /\nsky: no enabled infra could ever run 1 node\(s\) of this task:\n {2}local: local driver: 1 node × 4096 CPUs is more than this machine hands out \d+ CPUs?, [\d.]+ GB memory[^\n]*\n {2}hint: Ask for resources a node of the infra has \(sky show-gpus, sky check\), fewer nodes, or another --infra\.\n$/;
    assert.match(r.stderr, refusal);
    assert.equal(r.stdout, '');
    const dry = await fails(as, ['launch', '--dryrun', '-c', 'huge', '--cpus', '4096', 'echo hi'], 1);
    assert.match(dry.stderr, refusal);
    assert.equal(dry.stderr.slice(dry.stderr.indexOf('\nsky: ')), r.stderr.slice(r.stderr.indexOf('\nsky: ')), 'the same words from the dry run and the launch');
    assert.equal(row((await ok(as, ['status', '-u'])).stdout, 'huge'), undefined, 'no half-created cluster');
  });

  it('nothing was launched by any of them', async () => {
    assert.match((await ok(as, ['status', '-u'])).stdout, /^No existing clusters\.$/m);
  });
});
