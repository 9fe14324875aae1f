import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, SKY_BIN, http, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';

/*
 * The SkyPilot task corpus (test/fixtures/skypilot-corpus): every file goes through the built
 * `sky launch --dryrun --infra local` against one real daemon, and — where it can run on this
 * machine — through a real launch on the local driver. Both must match the outcome written in
 * the manifest, and the dry run and the launch must print the same warnings and refuse for the
 * same fields. Clusters are launched one at a time and torn down after each: the local driver
 * reserves CPUs, and a two-node task needs both of a small machine's cores.
 */

const CORPUS = join(REPO_ROOT, 'test/fixtures/skypilot-corpus');

interface Entry {
  file: string;
  label?: string;
  outcome: 'runs' | 'warns' | 'refuses';
  fields?: string[];
  real?: boolean;
  args?: string[];
  env?: Record<string, string>;
  expect?: string[];
  status?: string;
  why: string;
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command that hangs (a job that never starts) is ended and fails its test rather than the file's. */
const COMMAND_TIMEOUT_MS = 90_000;

const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { tasks: Entry[] };

let daemon: DaemonHandle;

function sky(args: readonly string[], env: Record<string, string> = {}, cwd = CORPUS): Promise<Result> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HOME: daemon.home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url, ...env };
  delete childEnv.SKY_DEBUG;
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--', SKY_BIN, ...args], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function show(args: readonly string[], r: Result): string {
  return `sky ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function warningsOf(r: Result): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('Warning: '));
}

function assertWarnings(entry: Entry, args: readonly string[], r: Result): void {
  const warnings = warningsOf(r);
  const fields = entry.outcome === 'warns' ? entry.fields ?? [] : [];
  for (const field of fields) assert.ok(warnings.some((w) => w.startsWith(`Warning: ${field}: `)), `expected a warning for ${field}\n${show(args, r)}`);
  assert.equal(warnings.length, fields.length, `expected exactly the warnings for ${fields.join(', ') || 'no field'}\n${show(args, r)}`);
}

function assertRefused(entry: Entry, args: readonly string[], r: Result): void {
  assert.notEqual(r.code, 0, show(args, r));
  assert.notEqual(r.code, null, show(args, r));
  for (const field of entry.fields ?? []) assert.ok(r.stderr.includes(field), `the refusal should name ${field}\n${show(args, r)}`);
  assert.doesNotMatch(r.stderr, /unknown field/, `a SkyPilot field is never "unknown"\n${show(args, r)}`);
}

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  daemon = await startDaemon({ config: 'drivers:\n  local: {}\n' });
});

after(async () => {
  await sky(['down', '-a', '-y']);
  await daemon.stop();
  await killAllDaemons();
  removeHome(daemon.home);
});

describe('the SkyPilot task corpus on the local driver', () => {
  it('the manifest covers 30+ task files, each with a reason', () => {
    const files = new Set(manifest.tasks.map((t) => t.file));
    assert.ok(files.size >= 30, `only ${files.size} task files`);
    for (const t of manifest.tasks) {
      assert.ok(existsSync(join(CORPUS, t.file)), `${t.file} is missing`);
      assert.ok(t.why.length > 0, `${t.file} has no reason`);
      if (t.outcome !== 'runs') assert.ok((t.fields ?? []).length > 0, `${t.file}: a ${t.outcome} outcome names its fields`);
    }
  });

  manifest.tasks.forEach((entry, index) => {
    const name = `corpus-${index}`;
    it(`${entry.label ?? entry.file} ${entry.outcome}${entry.fields ? ` (${entry.fields.join(', ')})` : ''}: ${entry.why}`, async () => {
      const common = ['-c', name, '--infra', 'local', ...(entry.args ?? []), entry.file];
      const dryArgs = ['launch', '--dryrun', ...common];
      const dry = await sky(dryArgs, entry.env);
      if (entry.outcome === 'refuses') {
        assertRefused(entry, dryArgs, dry);
        const realArgs = ['launch', '-y', ...common];
        const real = await sky(realArgs, entry.env);
        assertRefused(entry, realArgs, real);
        const status = await sky(['status', name]);
        assert.doesNotMatch(status.stdout, new RegExp(`^${name}\\s`, 'm'), `a refused launch leaves no cluster\n${show(['status'], status)}`);
        return;
      }
      assert.equal(dry.code, 0, show(dryArgs, dry));
      assert.match(dry.stdout, new RegExp(`^Plan for new cluster '${name}'`, 'm'), show(dryArgs, dry));
      assertWarnings(entry, dryArgs, dry);
      if (entry.real !== true) return;
      const realArgs = ['launch', '-y', ...common];
      const real = await sky(realArgs, entry.env);
      let checked = false;
      try {
        assert.equal(real.code, 0, show(realArgs, real));
        assert.deepEqual(warningsOf(real), warningsOf(dry), `the dry run and the launch warn alike\n${show(realArgs, real)}`);
        for (const pattern of entry.expect ?? []) assert.match(real.stdout, new RegExp(pattern, 'm'), show(realArgs, real));
        if (entry.status !== undefined) {
          const status = await sky(['status', name]);
          assert.match(status.stdout, new RegExp(`^${name}\\s.*${entry.status}`, 'm'), show(['status', name], status));
        }
        checked = true;
      } finally {
        // Torn down whatever happened, so the next task finds the machine's CPUs free.
        const down = await sky(['down', '-y', name]);
        if (checked) assert.equal(down.code, 0, show(['down', '-y', name], down));
      }
    });
  });
});

describe('a git workdir (workdir: {url, ref}) is cloned by the CLI and uploaded like any workdir', () => {
  let dir: string;
  let url: string;
  let tmp: string;
  const run = (args: readonly string[], cwd?: string) => {
    const r = spawnSync('git', ['-c', 'user.name=corpus', '-c', 'user.email=corpus@example.com', ...args], { cwd, encoding: 'utf8' });
    assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  };
  const taskFile = (name: string, workdir: string) => {
    const file = join(dir, name);
    writeFileSync(file, `workdir:\n${workdir}run: |\n  cat marker.txt\n  ls\n`);
    return file;
  };

  before(() => {
    dir = mkdtempSync(join(daemon.home, 'git-workdir-'));
    tmp = join(dir, 'tmp');
    mkdirSync(tmp);
    const src = join(dir, 'src');
    mkdirSync(src);
    run(['init', '--quiet', '--initial-branch=main', src]);
    writeFileSync(join(src, 'marker.txt'), 'from the main branch\n');
    run(['add', 'marker.txt'], src);
    run(['commit', '--quiet', '-m', 'main'], src);
    run(['checkout', '--quiet', '-b', 'feature'], src);
    writeFileSync(join(src, 'marker.txt'), 'from the feature branch\n');
    writeFileSync(join(src, 'feature-only.txt'), 'x\n');
    run(['add', '.'], src);
    run(['commit', '--quiet', '-m', 'feature'], src);
    run(['checkout', '--quiet', 'main'], src);
    run(['clone', '--quiet', '--bare', src, join(dir, 'repo.git')]);
    url = `file://${join(dir, 'repo.git')}`;
  });

  it('the dry run plans it and the launch runs the task in a clone of the ref, then removes the clone', async () => {
    const file = taskFile('git.yaml', `  url: ${url}\n  ref: feature\n`);
    const env = { TMPDIR: tmp };
    const dry = await sky(['launch', '--dryrun', '-c', 'gitwd', '--infra', 'local', file], env);
    assert.equal(dry.code, 0, show(['launch', '--dryrun'], dry));
    assert.match(dry.stdout, /^Plan for new cluster 'gitwd'/m);
    const real = await sky(['launch', '-y', '-c', 'gitwd', '--infra', 'local', file], env);
    try {
      assert.equal(real.code, 0, show(['launch', '-y'], real));
      assert.match(real.stderr, new RegExp(`^Cloned ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} at feature as the workdir\\.$`, 'm'), real.stderr);
      assert.match(real.stdout, /^from the feature branch$/m, real.stdout);
      assert.match(real.stdout, /^feature-only\.txt$/m, real.stdout);
      assert.deepEqual(readdirSync(tmp), [], 'the clone is removed after the launch');
      // The default branch when no ref is given, on the same cluster through sky exec.
      const plain = taskFile('git-main.yaml', `  url: ${url}\n`);
      const exec = await sky(['exec', 'gitwd', plain], env);
      assert.equal(exec.code, 0, show(['exec'], exec));
      assert.match(exec.stdout, /^from the main branch$/m, exec.stdout);
    } finally {
      await sky(['down', '-y', 'gitwd']);
    }
  });

  it('the API server clones nothing: a launch naming a git workdir and no upload is refused at submit', async () => {
    const body = { cluster: 'gitapi', task: { workdir: { url, ref: 'feature' }, run: 'ls' } };
    const post = (b: object) => http(`${daemon.url}/api/v1/launch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    const refused = await post(body);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /"code":"TASK_INVALID"/, refused.text);
    assert.match(refused.text, /workdir: the git repository file:\/\/\S+ is cloned by the client, not by the API server/, refused.text);
    const planned = await post({ ...body, dryrun: true });
    assert.equal(planned.status, 202, planned.text);
    assert.doesNotMatch((await sky(['status'])).stdout, /gitapi/);
  });

  it('a ref that does not exist and a repository that does not answer are refused, naming the workdir', async () => {
    const badRef = taskFile('bad-ref.yaml', `  url: ${url}\n  ref: no-such-branch\n`);
    const r = await sky(['launch', '-y', '-c', 'gitbad', '--infra', 'local', badRef]);
    assert.notEqual(r.code, 0, show(['launch'], r));
    assert.match(r.stderr, /workdir: file:\/\/.* at no-such-branch: no such branch, tag or commit/, r.stderr);
    const gone = taskFile('gone.yaml', `  url: file://${join(dir, 'missing.git')}\n`);
    for (const args of [['launch', '--dryrun', '-c', 'gitbad', '--infra', 'local', gone], ['launch', '-y', '-c', 'gitbad', '--infra', 'local', gone]]) {
      const g = await sky(args);
      assert.notEqual(g.code, 0, show(args, g));
      assert.match(g.stderr, /^sky: workdir: cannot (reach the git repository|clone) file:\/\/.*missing\.git/m, g.stderr);
    }
    const unknown = taskFile('unknown-key.yaml', `  url: ${url}\n  branch: main\n`);
    const u = await sky(['launch', '--dryrun', '-c', 'gitbad', '--infra', 'local', unknown]);
    assert.notEqual(u.code, 0);
    assert.match(u.stderr, /workdir\.branch: unknown field/, u.stderr);
    assert.doesNotMatch((await sky(['status'])).stdout, /gitbad/);
  });
});
