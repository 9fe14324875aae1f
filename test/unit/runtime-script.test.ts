// The node runtime script, run for real: each available POSIX shell runs sky-node.sh on temp
// node directories through a small local executor (write the job files, run the command lines).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  cancelCommand,
  followCommand,
  gcCommand,
  isFinalJobStatus,
  jobDir,
  jobFiles,
  journalPath,
  launcherCommand,
  launcherRequest,
  NODE_SCRIPT_PATH,
  parseEvent,
  parseLauncherAnswer,
  parseStartOutput,
  parseStatus,
  parseStatusOutput,
  PRIVATE_JOB_FILES,
  runtimeScriptPath,
  startCommand,
  statusCommand,
  type CommandOptions,
  type JobSpec,
  type JobState,
} from '@sky/runtime';

interface Shell {
  label: string;
  /** What CommandOptions.shell gets. */
  shell: string;
}

const SHELLS: Shell[] = [{ label: '/bin/sh', shell: 'sh' }];
if (existsSync('/bin/dash') || existsSync('/usr/bin/dash')) SHELLS.push({ label: 'dash', shell: 'dash' });
if (existsSync('/bin/bash') || existsSync('/usr/bin/bash')) SHELLS.push({ label: 'bash', shell: 'bash' });
if (existsSync('/bin/busybox') || existsSync('/usr/bin/busybox')) SHELLS.push({ label: 'busybox sh', shell: 'busybox sh' });
else console.warn('runtime-script tests: busybox is not installed, so the busybox sh variant does not run on this machine');

interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The in-test executor: run a command line with /bin/sh -c in the node's root, as a daemon would. */
function exec(command: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Alive and not a zombie (orphans are not always reaped in containers). */
async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'sky-runtime-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

let counter = 0;

/** A fresh node directory with the script uploaded where the daemon puts it. */
async function makeNode(options: { workdir?: boolean } = {}): Promise<string> {
  counter += 1;
  const root = join(base, `node-${counter}`);
  await mkdir(dirname(join(root, NODE_SCRIPT_PATH)), { recursive: true });
  await copyFile(runtimeScriptPath(), join(root, NODE_SCRIPT_PATH));
  if (options.workdir === true) await mkdir(join(root, 'sky_workdir'));
  return root;
}

function jobSpec(root: string, overrides: Partial<JobSpec>): JobSpec {
  counter += 1;
  return {
    jobId: `job-${counter}`,
    rank: 0,
    nodeIps: ['127.0.0.1'],
    taskId: `sky-test_${counter}`,
    clusterInfo: { cluster_name: 'test', cloud: 'local', region: null, zone: null },
    home: root,
    ...overrides,
  };
}

/** Write a job's files the way the daemon does (env private) and return its directory. */
async function writeJob(root: string, spec: JobSpec): Promise<string> {
  const dir = jobDir(root, spec.jobId);
  await mkdir(dir, { recursive: true });
  for (const [rel, content] of Object.entries(jobFiles(spec))) {
    await writeFile(join(dir, rel), content, { mode: PRIVATE_JOB_FILES.includes(rel) ? 0o600 : 0o644 });
  }
  return dir;
}

function opts(sh: Shell): CommandOptions {
  return { shell: sh.shell };
}

/** The node's journal in these tests (relative to the node root, as the daemon passes it). */
const JOURNAL = journalPath('', 'test-node');

async function start(sh: Shell, root: string, dir: string, env: NodeJS.ProcessEnv = {}): Promise<number> {
  const out = await exec(startCommand(dir, JOURNAL, opts(sh)), root, env);
  assert.equal(out.code, 0, `start failed: ${out.stderr}`);
  return parseStartOutput(out.stdout);
}

async function status(sh: Shell, root: string, dir: string): Promise<JobState> {
  const out = await exec(statusCommand(dir, opts(sh)), root);
  assert.equal(out.code, 0, out.stderr);
  return parseStatus(out.stdout);
}

async function waitFinal(sh: Shell, root: string, dir: string, timeoutMs = 15_000): Promise<JobState> {
  let last: JobState = { status: 'PENDING', exitCode: null };
  await waitUntil(`${dir} to finish`, async () => isFinalJobStatus((last = await status(sh, root, dir)).status), timeoutMs);
  return last;
}

async function read(dir: string, file: string): Promise<string> {
  return readFile(join(dir, file), 'utf8');
}

async function waitForFile(path: string): Promise<string> {
  let text = '';
  await waitUntil(path, async () => (text = await readFile(path, 'utf8').catch(() => '')).trim() !== '');
  return text.trim();
}

let noBashPath: string | undefined;
/** A PATH with every command of /usr/bin and /bin except bash: a node that has only sh + coreutils. */
async function pathWithoutBash(): Promise<string> {
  if (noBashPath !== undefined) return noBashPath;
  const bin = join(base, 'no-bash-bin');
  await mkdir(bin, { recursive: true });
  for (const dir of ['/usr/bin', '/bin']) {
    for (const name of await readdir(dir)) {
      if (name === 'bash' || name === 'rbash' || existsSync(join(bin, name))) continue;
      await symlink(join(dir, name), join(bin, name));
    }
  }
  noBashPath = bin;
  return bin;
}

for (const sh of SHELLS) {
  describe(`sky-node.sh under ${sh.label}`, () => {
    it('runs setup then run with the task env and the SkyPilot variables: SUCCEEDED, exit 0, log in order', async () => {
      const root = await makeNode();
      const spec = jobSpec(root, {
        nodeIps: ['127.0.0.1', '127.0.0.2'],
        rank: 1,
        envs: { GREETING: 'hello world' },
        setup: 'echo "setup says $GREETING"\necho to-stderr >&2',
        run: [
          'echo "run in $(pwd)"',
          'echo "home=$HOME rank=$SKYPILOT_NODE_RANK nodes=$SKYPILOT_NUM_NODES task=$SKYPILOT_TASK_ID"',
          'printf "%s" "$SKYPILOT_NODE_IPS" > ips',
          'printf "%s" "$SKYPILOT_CLUSTER_INFO" > info',
        ].join('\n'),
      });
      const dir = await writeJob(root, spec);
      const pid = await start(sh, root, dir);
      assert.equal(Number((await read(dir, 'pid')).trim()), pid, 'start prints the pid it recorded');
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'SUCCEEDED', exitCode: 0 });
      // The runner writes the status file, then the journal line, after the final state line.
      const name = dir.split('/').at(-1)!;
      await waitUntil('the end event', async () => (await read(root, JOURNAL)).endsWith(`${name} 0 SUCCEEDED 0\n`));
      assert.equal(
        await read(dir, 'log'),
        `setup says hello world\nto-stderr\nrun in ${root}\nhome=${root} rank=1 nodes=2 task=${spec.taskId}\n`,
      );
      assert.equal(await read(root, 'ips'), '127.0.0.1\n127.0.0.2');
      assert.deepEqual(JSON.parse(await read(root, 'info')), spec.clusterInfo);
      assert.equal(await read(dir, 'state'), 'SETTING_UP\nRUNNING\nSUCCEEDED 0\n');
      assert.equal((await read(dir, 'status')).trim(), 'SUCCEEDED');
      assert.equal(await read(root, JOURNAL), `${name} 0 SETTING_UP -\n${name} 0 RUNNING -\n${name} 0 SUCCEEDED 0\n`);
    });

    it('runs in sky_workdir when the node has one', async () => {
      const root = await makeNode({ workdir: true });
      const dir = await writeJob(root, jobSpec(root, { run: 'pwd' }));
      await start(sh, root, dir);
      assert.equal((await waitFinal(sh, root, dir)).status, 'SUCCEEDED');
      assert.equal(await read(dir, 'log'), `${join(root, 'sky_workdir')}\n`);
    });

    it('keeps the exit code of a failing run: FAILED', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'echo about to fail\nexit 7' }));
      await start(sh, root, dir);
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'FAILED', exitCode: 7 });
      assert.equal(await read(dir, 'log'), 'about to fail\n');
    });

    it('stops at a failing setup: FAILED_SETUP with its exit code, run never runs', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { setup: 'echo setting up\nexit 3', run: 'touch ran\necho ran' }));
      await start(sh, root, dir);
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'FAILED_SETUP', exitCode: 3 });
      assert.equal(existsSync(join(root, 'ran')), false, 'run must not start after a failed setup');
      assert.equal(await read(dir, 'log'), 'setting up\n');
    });

    it('reports a command that does not exist: exit 127, FAILED, the log says not found', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'sky-no-such-command-xyz --flag' }));
      await start(sh, root, dir);
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'FAILED', exitCode: 127 });
      assert.match(await read(dir, 'log'), /sky-no-such-command-xyz.*not found/);
    });

    it('launcher: starts the ranks read from stdin in order, answers each, survives a bad request, exits when stdin closes while its ranks run on', async () => {
      const root = await makeNode();
      const long = await writeJob(root, jobSpec(root, { run: 'echo long started\nsleep 300' }));
      const short = await writeJob(root, jobSpec(root, { run: 'echo short ran' }));
      await exec(`chmod 700 '${long}' '${short}'`, root);
      const launcher = spawn('/bin/sh', ['-c', launcherCommand(opts(sh))], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
      let answers = '';
      launcher.stdout.setEncoding('utf8').on('data', (d: string) => (answers += d));
      const exited = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
      launcher.stdin.write(launcherRequest(root, long, JOURNAL));
      launcher.stdin.write(launcherRequest(root, join(root, '.sky/jobs/no-such-rank'), JOURNAL));
      launcher.stdin.write(launcherRequest(root, short, JOURNAL));
      launcher.stdin.write(launcherRequest(root, long, JOURNAL)); // started already: the same pid, not a second runner
      await waitUntil('four answers', async () => answers.split('\n').length > 4);
      launcher.stdin.end();
      assert.equal(await exited, 0, 'the launcher exits 0 when its stdin closes');
      const lines = answers.trim().split('\n');
      assert.equal(lines.length, 4, answers);
      const longPid = parseLauncherAnswer(lines[0]!);
      assert.throws(() => parseLauncherAnswer(lines[1]!), /no job directory .*no-such-rank/);
      const shortPid = parseLauncherAnswer(lines[2]!);
      assert.equal(parseLauncherAnswer(lines[3]!), longPid);
      assert.equal(Number((await read(long, 'pid')).trim()), longPid);
      assert.equal(Number((await read(short, 'pid')).trim()), shortPid);
      assert.deepEqual(await waitFinal(sh, root, short), { status: 'SUCCEEDED', exitCode: 0 });
      assert.equal(await read(short, 'log'), 'short ran\n');
      await waitUntil('the long rank RUNNING', async () => (await status(sh, root, long)).status === 'RUNNING');
      assert.ok(await processAlive(longPid), 'the rank runs on after its launcher exited');
      const stat = await readFile(`/proc/${longPid}/stat`, 'utf8');
      assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]), longPid, 'the runner leads a session of its own');
      assert.equal((await exec(cancelCommand(long, opts(sh)), root)).code, 0);
      assert.equal((await waitFinal(sh, root, long)).status, 'CANCELLED');
    });

    it('cancels mid-run: CANCELLED, and the job and every child it started are gone', async () => {
      const root = await makeNode();
      const dir = await writeJob(
        root,
        jobSpec(root, { run: 'sleep 300 &\necho $! > child.pid\n(sleep 301; echo never) &\necho started\nwait' }),
      );
      const runner = await start(sh, root, dir);
      const child = Number(await waitForFile(join(root, 'child.pid')));
      await waitUntil('RUNNING', async () => (await status(sh, root, dir)).status === 'RUNNING');
      assert.ok(await processAlive(child), 'the child runs before the cancel');

      const out = await exec(cancelCommand(dir, opts(sh)), root);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(parseStatusOutput(out.stdout, 1)[0]?.status, 'CANCELLED');
      await waitUntil('the child to end', async () => !(await processAlive(child)), 10_000);
      await waitUntil('the runner to end', async () => !(await processAlive(runner)), 10_000);
      assert.equal((await status(sh, root, dir)).status, 'CANCELLED');
      assert.doesNotMatch(await read(dir, 'log'), /never/);

      const again = await exec(cancelCommand(dir, opts(sh)), root);
      assert.equal(parseStatus(again.stdout).status, 'CANCELLED', 'cancelling twice is harmless');
    });

    it('does not touch a job that already finished when asked to cancel it', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'exit 0' }));
      await start(sh, root, dir);
      await waitFinal(sh, root, dir);
      const out = await exec(cancelCommand(dir, opts(sh)), root);
      assert.deepEqual(parseStatus(out.stdout), { status: 'SUCCEEDED', exitCode: 0 });
    });

    it('keeps running after the process that started it is SIGKILLed, and still records the exit code', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'sleep 1\necho finished alone\nexit 5' }));
      // The "daemon": starts the job, then lingers until it is killed with its whole process group.
      const daemon = spawn('/bin/sh', ['-c', `${startCommand(dir, JOURNAL, opts(sh))} > started; sleep 60`], {
        cwd: root,
        detached: true,
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => daemon.once('exit', resolve));
      const runner = parseStartOutput(await waitForFile(join(root, 'started')));
      assert.ok(daemon.pid !== undefined);
      process.kill(-daemon.pid, 'SIGKILL');
      await exited;
      assert.ok(await processAlive(runner), 'the runner must survive its starter');
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'FAILED', exitCode: 5 });
      assert.equal(await read(dir, 'log'), 'finished alone\n');
    });

    for (const jobShell of ['sh', 'bash']) {
      it(`passes env values with spaces, quotes, newlines and $ intact (job shell ${jobShell})`, async () => {
        const values: Record<string, string> = {
          V_SPACES: ' a  b ',
          V_QUOTES: `it's "double" and 'single'`,
          V_NEWLINES: 'one\ntwo\n\nfour\n',
          V_DOLLAR: '$HOME ${PATH} $(id) `id` \\$',
          V_EMPTY: '',
        };
        const secrets = { S_TOKEN: 'p@ss w0rd\'"$' };
        const root = await makeNode();
        const names = [...Object.keys(values), ...Object.keys(secrets)];
        const dir = await writeJob(
          root,
          jobSpec(root, { envs: values, secrets, run: names.map((n) => `printf '%s' "$${n}" > out-${n}`).join('\n') }),
        );
        await start(sh, root, dir, { SKY_JOB_SHELL: jobShell });
        assert.deepEqual(await waitFinal(sh, root, dir), { status: 'SUCCEEDED', exitCode: 0 });
        for (const [name, value] of Object.entries({ ...values, ...secrets })) {
          assert.equal(await read(root, `out-${name}`), value, name);
        }
      });
    }

    it('marks a job FAILED when its runner was killed without recording an ending (the node stopped)', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'sleep 300' }));
      const runner = await start(sh, root, dir);
      await waitUntil('RUNNING', async () => (await status(sh, root, dir)).status === 'RUNNING');
      process.kill(-runner, 'SIGKILL');
      await waitUntil('the runner to die', async () => !(await processAlive(runner)));
      assert.deepEqual(await status(sh, root, dir), { status: 'FAILED', exitCode: null });
      assert.match(await read(dir, 'log'), /ended without recording an exit code/);
    });

    it('starts once: a repeated start prints the same pid and runs nothing twice', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'echo ran >> count' }));
      const first = await start(sh, root, dir);
      const second = await start(sh, root, dir);
      assert.equal(second, first);
      await waitFinal(sh, root, dir);
      assert.equal(await read(root, 'count'), 'ran\n');
    });

    it('answers MISSING for a job directory that does not exist, one line per directory', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'exit 4' }));
      await start(sh, root, dir);
      await waitFinal(sh, root, dir);
      const out = await exec(statusCommand([dir, join(root, '.sky/jobs/nope')], opts(sh)), root);
      assert.deepEqual(parseStatusOutput(out.stdout, 2), [
        { status: 'FAILED', exitCode: 4 },
        { status: 'MISSING', exitCode: null },
      ]);
    });

    it('gc removes finished jobs older than the given days and keeps the rest', async () => {
      const root = await makeNode();
      const old = await writeJob(root, jobSpec(root, { run: 'exit 0' }));
      const recent = await writeJob(root, jobSpec(root, { run: 'exit 0' }));
      const running = await writeJob(root, jobSpec(root, { run: 'sleep 300' }));
      for (const d of [old, recent, running]) await start(sh, root, d);
      await waitFinal(sh, root, old);
      await waitFinal(sh, root, recent);
      const longAgo = new Date(Date.now() - 40 * 86_400_000);
      await utimes(join(old, 'status'), longAgo, longAgo);
      await utimes(join(running, 'status'), longAgo, longAgo);
      const out = await exec(gcCommand(root, 30, opts(sh)), root);
      assert.equal(out.stdout.trim(), 'removed 1', out.stderr);
      assert.equal(existsSync(old), false);
      assert.equal(existsSync(recent), true);
      assert.equal(existsSync(running), true, 'a running job is never collected');
      await exec(cancelCommand(running, opts(sh)), root);
    });

    it('journal: concurrent ranks append whole lines, one per phase and end, with exit codes', async () => {
      const root = await makeNode();
      const dirs: string[] = [];
      for (let i = 0; i < 12; i++) {
        dirs.push(await writeJob(root, jobSpec(root, { jobId: `many-${counter}-r${i % 3}`, rank: 0, run: `exit ${i}` })));
      }
      await Promise.all(dirs.map((d) => start(sh, root, d)));
      for (const d of dirs) await waitFinal(sh, root, d);
      const lines = (await read(root, JOURNAL)).split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 24, 'RUNNING and an end for each of 12 ranks');
      const events = lines.map((l) => parseEvent(l));
      assert.ok(events.every((e) => e !== undefined), `every line parses: ${lines.join(' | ')}`);
      dirs.forEach((d, i) => {
        const name = d.split('/').at(-1)!;
        const mine = events.filter((e) => e?.name === name);
        assert.deepEqual(
          mine.map((e) => [e?.rank, e?.status, e?.exitCode]),
          [
            [i % 3, 'RUNNING', null],
            [i % 3, i === 0 ? 'SUCCEEDED' : 'FAILED', i],
          ],
          name,
        );
      });
    });

    it('a cancel recorded before the runner ends wins; the runner still reports its end to the journal', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'sleep 300' }));
      await start(sh, root, dir);
      await waitUntil('RUNNING', async () => (await status(sh, root, dir)).status === 'RUNNING');
      const out = await exec(cancelCommand(dir, opts(sh)), root, { SKY_CANCEL_GRACE: '5' });
      assert.equal(parseStatus(out.stdout).status, 'CANCELLED');
      const name = dir.split('/').at(-1)!;
      await waitUntil('the end event', async () => (await read(root, JOURNAL)).includes(`${name} 0 CANCELLED`));
      assert.equal((await read(dir, 'status')).trim(), 'CANCELLED');
      assert.match(await read(dir, 'state'), /^RUNNING\nCANCELLED\nFAILED \d+\n$/);
    });

    it('follow prints the journal from an offset and keeps following it', async () => {
      const root = await makeNode();
      await mkdir(join(root, '.sky/events'), { recursive: true });
      await writeFile(join(root, JOURNAL), 'a 0 RUNNING -\n');
      const child = spawn('/bin/sh', ['-c', followCommand(JOURNAL, 2, opts(sh))], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let got = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (got += d));
      try {
        await waitUntil('the first bytes', async () => got === '0 RUNNING -\n');
        await writeFile(join(root, JOURNAL), 'b 1 SUCCEEDED 0\n', { flag: 'a' });
        await waitUntil('the appended line', async () => got === '0 RUNNING -\nb 1 SUCCEEDED 0\n');
      } finally {
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
    });

    it('job shell bash: ~/.bashrc that setup appended to reaches run (SkyPilot\'s env smoke test), with no job-control noise', async () => {
      const root = await makeNode();
      await writeFile(join(root, '.bashrc'), 'case $- in *i*) ;; *) return ;; esac\nexport FROM_RC=rc PINNED=rc\necho rc-warning >&2\n');
      const spec = jobSpec(root, {
        envs: { PINNED: 'task' },
        setup: 'echo "export TEST_VAR=1" >> ~/.bashrc',
        run: ['if [ -z "$TEST_VAR" ]; then echo "TEST_VAR is not set"; exit 1; fi', 'echo "TEST_VAR=$TEST_VAR FROM_RC=$FROM_RC PINNED=$PINNED"', 'read line; echo "read=$?"'].join('\n'),
      });
      const dir = await writeJob(root, spec);
      await start(sh, root, dir, { SKY_JOB_SHELL: 'bash' });
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'SUCCEEDED', exitCode: 0 });
      // The rc's own stderr stays (twice: before setup, before run); bash's tty warnings do not.
      assert.equal(await read(dir, 'log'), 'rc-warning\nrc-warning\nTEST_VAR=1 FROM_RC=rc PINNED=task\nread=1\n');
      assert.equal(existsSync(join(root, '.bash_history')), false, 'a job leaves no shell history behind');
    });

    it('job shell bash: a cancel ends the step, not only the command it was running', async () => {
      const root = await makeNode();
      const dir = await writeJob(root, jobSpec(root, { run: 'echo started > started\nsleep 300\necho after > after' }));
      const runner = await start(sh, root, dir, { SKY_JOB_SHELL: 'bash' });
      await waitForFile(join(root, 'started'));
      const out = await exec(cancelCommand(dir, opts(sh)), root, { SKY_CANCEL_GRACE: '30' });
      assert.equal(out.code, 0, out.stderr);
      await waitUntil('the runner to end', async () => !(await processAlive(runner)), 10_000);
      assert.equal((await status(sh, root, dir)).status, 'CANCELLED');
      assert.equal(existsSync(join(root, 'after')), false, 'the command after the cancelled one must not run');
    });

    it('on a node without bash the job runs with sh and reads no ~/.bashrc', { skip: sh.shell === 'bash' ? 'the runtime itself runs under bash here' : false }, async () => {
      const root = await makeNode();
      await writeFile(join(root, '.bashrc'), 'export FROM_RC=rc\n');
      const dir = await writeJob(root, jobSpec(root, { run: 'echo "FROM_RC=${FROM_RC:-unset} bash=$(command -v bash || echo none)"' }));
      await start(sh, root, dir, { PATH: await pathWithoutBash() });
      assert.deepEqual(await waitFinal(sh, root, dir), { status: 'SUCCEEDED', exitCode: 0 });
      assert.equal(await read(dir, 'log'), 'FROM_RC=unset bash=none\n');
      assert.equal(existsSync(join(dir, 'bashrc')), false);
    });

    it('refuses a start without a job directory, naming it', async () => {
      const root = await makeNode();
      const out = await exec(startCommand(join(root, '.sky/jobs/absent'), JOURNAL, opts(sh)), root);
      assert.equal(out.code, 2);
      assert.match(out.stderr, /no job directory .*absent/);
    });
  });
}
