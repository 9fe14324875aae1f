import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, SKY_BIN, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';

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

function sky(args: readonly string[], env: Record<string, string> = {}): Promise<Result> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, HOME: daemon.home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url, ...env };
  delete childEnv.SKY_DEBUG;
  delete childEnv.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--', SKY_BIN, ...args], { cwd: CORPUS, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
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
