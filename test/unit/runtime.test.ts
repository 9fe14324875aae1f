import { createHash } from 'node:crypto';
// The TypeScript half of the node runtime: the files a job needs, the command lines, and reading the answers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JOB_STATUSES, SkyError } from '@sky/protocol';
import {
  cancelCommand,
  followCommand,
  envFile,
  gcCommand,
  jobDir,
  jobEnv,
  jobFiles,
  launcherCommand,
  launcherRequest,
  NODE_JOB_STATUSES,
  NODE_SCRIPT_PATH,
  parseLauncherAnswer,
  parseStartOutput,
  parseStatus,
  parseStatusOutput,
  RUNTIME_VERSION,
  runtimeScript,
  runtimeScriptPath,
  shellQuote,
  startCommand,
  statusCommand,
  versionCommand,
  type JobSpec,
} from '@sky/runtime';

/** Every POSIX shell on this machine, as argv prefixes. */
const SHELLS: string[][] = [['/bin/sh'], ['/bin/dash'], ['/bin/bash'], ['/bin/busybox', 'sh']].filter(([path]) => path !== undefined && existsSync(path));

function spec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    jobId: 'job-7',
    rank: 1,
    nodeIps: ['10.0.0.1', '10.0.0.2'],
    taskId: 'sky-2026-01-01-00-00-00-000000_demo_7',
    clusterInfo: { cluster_name: 'demo', cloud: 'local', region: null, zone: null, num_nodes: 2 },
    run: 'echo hi',
    ...overrides,
  };
}

function code(expected: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    assert.equal(err.code, expected, err.message);
    return true;
  };
}

/** What /bin/sh makes of an env file: every variable, read back through printf. */
function sourced(shell: string[], text: string, names: string[]): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'sky-env-'));
  const file = join(dir, 'env');
  writeFileSync(file, text);
  const script = `set -a; . "$1"; set +a; for n in ${names.join(' ')}; do eval "printf '%s\\0' \\"\\$$n\\""; done`;
  const [bin = '/bin/sh', ...pre] = shell;
  const out = spawnSync(bin, [...pre, '-c', script, 'sh', file], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(out.status, 0, out.stderr);
  const values = out.stdout.split('\0');
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
}

describe('runtime: job files', () => {
  it('writes env, setup.sh and run.sh; no setup.sh without setup', () => {
    const files = jobFiles(spec({ setup: 'pip install x', run: 'python train.py' }));
    assert.deepEqual(Object.keys(files).sort(), ['env', 'run.sh', 'setup.sh']);
    assert.equal(files['setup.sh'], 'pip install x\n');
    assert.equal(files['run.sh'], 'python train.py\n');
    assert.deepEqual(Object.keys(jobFiles(spec())).sort(), ['env', 'run.sh']);
    assert.deepEqual(Object.keys(jobFiles(spec({ setup: '  \n' }))).sort(), ['env', 'run.sh']);
    assert.match(jobFiles(spec({ run: undefined }))['run.sh'] ?? '', /^# no run commands\n:\n$/);
  });

  it('exports the SkyPilot variables, with the node IPs one per line', () => {
    const env = jobEnv(spec({ home: '/nodes/c1/node-1', numGpusPerNode: 2 }));
    assert.equal(env.get('SKYPILOT_NODE_RANK'), '1');
    assert.equal(env.get('SKYPILOT_NODE_IPS'), '10.0.0.1\n10.0.0.2');
    assert.equal(env.get('SKYPILOT_NUM_NODES'), '2');
    assert.equal(env.get('SKYPILOT_TASK_ID'), 'sky-2026-01-01-00-00-00-000000_demo_7');
    assert.deepEqual(JSON.parse(env.get('SKYPILOT_CLUSTER_INFO') ?? ''), { cluster_name: 'demo', cloud: 'local', region: null, zone: null, num_nodes: 2 });
    assert.equal(env.get('SKYPILOT_SETUP_NODE_RANK'), '1');
    assert.equal(env.get('SKYPILOT_NUM_GPUS_PER_NODE'), '2');
    assert.equal(env.get('HOME'), '/nodes/c1/node-1');
    assert.equal(jobEnv(spec()).has('HOME'), false, 'HOME is left alone unless given');
    assert.equal(jobEnv(spec()).get('SKYPILOT_NUM_GPUS_PER_NODE'), '0', 'always set: 0 without GPUs');
    assert.equal(jobEnv(spec({ user: 'alice' })).get('SKYPILOT_USER'), 'alice');
    assert.equal(jobEnv(spec({ envs: { SKYPILOT_USER: 'mallory' }, user: 'alice' })).get('SKYPILOT_USER'), 'alice', 'a task cannot claim another submitter');
    assert.throws(() => jobEnv(spec({ numGpusPerNode: 1.5 })), /numGpusPerNode 1.5 is not a whole number/);
  });

  it('lets secrets win over envs, and sky variables win over both', () => {
    const env = jobEnv(
      spec({
        envs: { A: 'env', B: 'env', SKYPILOT_NODE_RANK: '99' },
        secrets: { B: 'secret', C: 'secret' },
        extraEnv: { C: 'sky', CUDA_VISIBLE_DEVICES: '2,3' },
      }),
    );
    assert.equal(env.get('A'), 'env');
    assert.equal(env.get('B'), 'secret');
    assert.equal(env.get('C'), 'sky');
    assert.equal(env.get('CUDA_VISIBLE_DEVICES'), '2,3');
    assert.equal(env.get('SKYPILOT_NODE_RANK'), '1');
    const text = envFile(env);
    assert.equal(text.match(/^B=/gm)?.length, 1, 'each variable appears once');
  });

  it('quotes values so a POSIX shell reads back spaces, quotes, newlines, $, backslashes and backticks intact', () => {
    const values: Record<string, string> = {
      SPACES: '  two  spaces  ',
      QUOTES: `it's "quoted" ''`,
      NEWLINES: 'line1\nline2\n\nline4\n',
      DOLLAR: '$HOME ${PATH} $(whoami) `id`',
      BACKSLASH: 'a\\b\\\\c\\n',
      EMPTY: '',
      UNICODE: 'naïve — 日本 🚀',
      GLOB: '* ? [a-z]',
    };
    const text = envFile(values);
    for (const shell of SHELLS) assert.deepEqual(sourced(shell, text, Object.keys(values)), values, `read back by ${shell.join(' ')}`);
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
  });

  it('refuses names a shell cannot export, NUL bytes, bad ranks and job ids that are not directory names', () => {
    assert.throws(() => jobEnv(spec({ envs: { 'BAD-NAME': 'x' } })), code('VALIDATION_FAILED'));
    assert.throws(() => jobEnv(spec({ envs: { '1X': 'x' } })), code('VALIDATION_FAILED'));
    assert.throws(() => jobEnv(spec({ secrets: { TOKEN: 'a\0b' } })), /NUL byte/);
    assert.throws(() => jobEnv(spec({ rank: 2 })), /rank 2 is not one of the 2 nodes/);
    assert.throws(() => jobEnv(spec({ nodeIps: [] })), /nodeIps is empty/);
    assert.throws(() => jobFiles(spec({ jobId: '../escape' })), code('VALIDATION_FAILED'));
    assert.throws(() => jobDir('/n', 'a/b'), code('VALIDATION_FAILED'));
    assert.throws(() => jobDir('/n', '..'), code('VALIDATION_FAILED'));
  });

  it('records the same job statuses as the protocol', () => {
    assert.deepEqual([...NODE_JOB_STATUSES], [...JOB_STATUSES]);
  });

  it('places jobs under <nodeRoot>/.sky/jobs/<jobId>', () => {
    assert.equal(jobDir('/srv/nodes/c1/node-0', 'j1'), '/srv/nodes/c1/node-0/.sky/jobs/j1');
    assert.equal(jobDir('/srv/nodes/c1/node-0/', 'j1'), '/srv/nodes/c1/node-0/.sky/jobs/j1');
    assert.equal(jobDir('', 'j1'), '.sky/jobs/j1');
    assert.equal(jobDir('.', 'j1'), '.sky/jobs/j1');
  });
});

describe('runtime: command lines', () => {
  it('builds sh command lines with every path quoted', () => {
    assert.equal(startCommand('.sky/jobs/j1', '.sky/events/n.log'), `sh '${NODE_SCRIPT_PATH}' start '.sky/jobs/j1' '.sky/events/n.log'`);
    assert.equal(startCommand("/n/it's/.sky/jobs/j1", 'j.log', { script: '/opt/sky-node.sh' }), `sh '/opt/sky-node.sh' start '/n/it'\\''s/.sky/jobs/j1' 'j.log'`);
    assert.equal(followCommand('.sky/events/n.log', 120), `sh '${NODE_SCRIPT_PATH}' follow '.sky/events/n.log' 120`);
    assert.throws(() => followCommand('j.log', -1), code('VALIDATION_FAILED'));
    assert.equal(statusCommand(['a', 'b c']), `sh '${NODE_SCRIPT_PATH}' status 'a' 'b c'`);
    assert.equal(cancelCommand('a'), `sh '${NODE_SCRIPT_PATH}' cancel 'a'`);
    assert.equal(gcCommand('/n', 7), `sh '${NODE_SCRIPT_PATH}' gc '/n' 7`);
    assert.equal(versionCommand(), `sh '${NODE_SCRIPT_PATH}' version`);
  });

  it('names another shell through SKY_NODE_SH so the detached runner uses it too', () => {
    assert.equal(startCommand('j', 'e', { shell: 'dash', script: 's.sh' }), `env SKY_NODE_SH='dash' dash 's.sh' start 'j' 'e'`);
    assert.equal(startCommand('j', 'e', { shell: 'busybox sh', script: 's.sh' }), `env SKY_NODE_SH='busybox sh' busybox sh 's.sh' start 'j' 'e'`);
    assert.throws(() => startCommand('j', 'e', { shell: 'sh; rm -rf /' }), code('VALIDATION_FAILED'));
    assert.throws(() => statusCommand([]), code('VALIDATION_FAILED'));
    assert.throws(() => gcCommand('/n', -1), code('VALIDATION_FAILED'));
  });

  it('asks the launcher for a rank in two lines of absolute paths under the node root, and reads its answers', () => {
    assert.equal(launcherCommand(), `sh '${NODE_SCRIPT_PATH}' launcher`);
    assert.equal(launcherCommand({ shell: 'dash', script: 's.sh' }), `env SKY_NODE_SH='dash' dash 's.sh' launcher`);
    assert.equal(launcherRequest('/n/', '.sky/jobs/j-r0', '.sky/events/local.log'), '/n/.sky/jobs/j-r0\n/n/.sky/events/local.log\n');
    assert.equal(launcherRequest("/it's here", 'j', '/abs/e.log'), "/it's here/j\n/abs/e.log\n");
    assert.throws(() => launcherRequest('relative', 'j', 'e'), code('VALIDATION_FAILED'));
    assert.throws(() => launcherRequest('/n', 'a\nb', 'e'), code('VALIDATION_FAILED'));
    assert.throws(() => launcherRequest('/n', 'j', 'e\r'), code('VALIDATION_FAILED'));
    assert.equal(parseLauncherAnswer('4242'), 4242);
    assert.throws(() => parseLauncherAnswer('! sky-node: no job directory /n/j'), (err: unknown) => err instanceof SkyError && err.code === 'NODE_RUNTIME_ERROR' && err.message.includes('no job directory /n/j'));
    assert.throws(() => parseLauncherAnswer('hello'), code('NODE_RUNTIME_ERROR'));
    assert.throws(() => parseLauncherAnswer('1'), code('NODE_RUNTIME_ERROR'));
  });

  it('parses status lines, and refuses what it cannot read', () => {
    assert.deepEqual(parseStatus('RUNNING -'), { status: 'RUNNING', exitCode: null });
    assert.deepEqual(parseStatus('FAILED 127\n'), { status: 'FAILED', exitCode: 127 });
    assert.deepEqual(parseStatus('SUCCEEDED 0'), { status: 'SUCCEEDED', exitCode: 0 });
    assert.deepEqual(parseStatus('CANCELLED 143'), { status: 'CANCELLED', exitCode: 143 });
    assert.deepEqual(parseStatus('MISSING -'), { status: 'MISSING', exitCode: null });
    for (const bad of ['', 'RUNNING', 'DONE 0', 'FAILED x', 'FAILED 1 extra', 'FAILED -1']) {
      assert.throws(() => parseStatus(bad), code('NODE_RUNTIME_ERROR'), JSON.stringify(bad));
    }
    assert.deepEqual(parseStatusOutput('RUNNING -\nFAILED 2\n', 2), [
      { status: 'RUNNING', exitCode: null },
      { status: 'FAILED', exitCode: 2 },
    ]);
    assert.throws(() => parseStatusOutput('RUNNING -\n', 2), code('NODE_RUNTIME_ERROR'));
  });

  it('parses the runner pid from start', () => {
    assert.equal(parseStartOutput('12345\n'), 12345);
    assert.throws(() => parseStartOutput('sky-node: no job directory x\n'), code('NODE_RUNTIME_ERROR'));
    assert.throws(() => parseStartOutput(''), code('NODE_RUNTIME_ERROR'));
  });

  it('ships the script in the package, at the version the TypeScript side speaks', async () => {
    const text = await runtimeScript();
    assert.equal(text, readFileSync(runtimeScriptPath(), 'utf8'));
    assert.match(text, /^#!\/bin\/sh\n/);
    assert.match(text, new RegExp(`^SKY_RUNTIME_VERSION=${RUNTIME_VERSION}$`, 'm'));
    const version = spawnSync('/bin/sh', [runtimeScriptPath(), 'version'], { encoding: 'utf8' });
    assert.equal(version.stdout.trim(), String(RUNTIME_VERSION));
    const usage = spawnSync('/bin/sh', [runtimeScriptPath(), 'frobnicate'], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /unknown command frobnicate/);
  });

  it('ships a new version whenever the script changes, so installed nodes get the change', async () => {
    // Nodes keep the script of a version once it is installed: an edit without a bump would
    // never reach them. Record the new version's digest here together with the bump.
    const digests: Record<number, string> = {
      3: '141580b9a76e0ad9fced52e791ffb603f4bf88bf9856de131dd41a8d6f1e85d5',
      4: '2fa314402323ac2f7381f94dc9d786bdca1f6a5737d66879c1754d04d15d83f7',
    };
    const digest = createHash('sha256').update(await runtimeScript()).digest('hex');
    assert.equal(digests[RUNTIME_VERSION], digest, `sky-node.sh differs from what version ${RUNTIME_VERSION} shipped: bump RUNTIME_VERSION and SKY_RUNTIME_VERSION, and record the digest`);
  });
});
