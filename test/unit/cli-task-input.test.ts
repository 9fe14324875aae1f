import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SkyError, taskToConfig } from '@sky/protocol';
import { parseDotenv } from '../../cli/src/dotenv.js';
import { classifyEntrypoint, loadTask, localPath, requireLocalPaths, type Environment, type PathKind } from '../../cli/src/task-input.js';

/*
 * What sky launch / sky exec send: the entrypoint read the SkyPilot way, the flags applied
 * over the YAML, local paths made absolute. A fake file system keeps these tests hermetic.
 */

function fakeEnvironment(files: Record<string, string>, dirs: readonly string[] = [], env: Record<string, string> = {}): Environment {
  return {
    cwd: '/work',
    home: '/home/me',
    env,
    readText: (file) => {
      const text = files[file];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      return text;
    },
    kindOf: (path): PathKind => (Object.hasOwn(files, path) ? 'file' : dirs.includes(path) ? 'dir' : 'missing'),
  };
}

async function skyErrorOf(run: () => Promise<unknown>): Promise<SkyError> {
  try {
    await run();
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a SkyError');
}

function skyError(run: () => unknown): SkyError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a SkyError');
}

describe('classifyEntrypoint', () => {
  const kinds: Record<string, PathKind> = { 'task.yaml': 'file', 'run.sh': 'file', 'conf.yml': 'dir' };
  const kindOf = (p: string): PathKind => kinds[p] ?? 'missing';

  it('one word naming a YAML file is the task; anything else is a command, words joined by spaces', () => {
    assert.deepEqual(classifyEntrypoint(['task.yaml'], kindOf), { kind: 'yaml', file: 'task.yaml' });
    assert.deepEqual(classifyEntrypoint(['echo hi'], kindOf), { kind: 'command', command: 'echo hi' });
    assert.deepEqual(classifyEntrypoint(['echo', 'hi'], kindOf), { kind: 'command', command: 'echo hi' });
    assert.deepEqual(classifyEntrypoint(['run.sh'], kindOf), { kind: 'command', command: 'run.sh' });
    assert.deepEqual(classifyEntrypoint(['cat', 'task.yaml'], kindOf), { kind: 'command', command: 'cat task.yaml' });
    assert.deepEqual(classifyEntrypoint([], kindOf), { kind: 'none' });
  });

  it('a YAML path that is not a file is an error, never a command to run', () => {
    const missing = skyError(() => classifyEntrypoint(['nope.yaml'], kindOf));
    assert.equal(missing.code, 'TASK_INVALID');
    assert.equal(missing.message, 'task file not found: nope.yaml');
    assert.match(missing.hint ?? '', /relative paths are read from the current directory/);
    assert.equal(skyError(() => classifyEntrypoint(['conf.yml'], kindOf)).message, 'conf.yml is a directory, not a task YAML file');
  });
});

describe('loadTask', () => {
  it('reads the YAML relative to the current directory and applies every flag over it', async () => {
    const environment = fakeEnvironment(
      {
        '/work/t.yaml': 'name: train\nnum_nodes: 1\nresources:\n  cpus: 2\nenvs:\n  A: yaml\n  B: yaml\nsecrets:\n  TOKEN: null\nrun: python train.py\n',
        '/work/.env': 'B=file\nC="with space" # comment\n',
      },
      ['/work/code'],
      { TOKEN: 's3cret' },
    );
    const { entrypoint, task } = await loadTask(['t.yaml'], {
      name: 'tuned',
      numNodes: '2',
      cpus: '4+',
      memory: '8',
      gpus: 'H100:8',
      infra: 'local',
      workdir: 'code',
      envFile: '.env',
      env: ['A=flag'],
      secret: ['TOKEN'],
    }, environment);
    assert.deepEqual(entrypoint, { kind: 'yaml', file: 't.yaml' });
    assert.deepEqual(taskToConfig(task), {
      name: 'tuned',
      workdir: '/work/code',
      num_nodes: 2,
      resources: { infra: 'local', cpus: '4+', memory: '8', accelerators: 'H100:8' },
      envs: { A: 'flag', B: 'file', C: 'with space' },
      secrets: { TOKEN: 's3cret' },
      run: 'python train.py',
    });
  });

  it('a command is a one-node task named sky-cmd, as in SkyPilot', async () => {
    const { task } = await loadTask(['echo', 'hi'], { env: ['X=1'] }, fakeEnvironment({}));
    assert.deepEqual(taskToConfig(task), { name: 'sky-cmd', envs: { X: '1' }, run: 'echo hi' });
  });

  it('no entrypoint is an empty task (launch only provisions)', async () => {
    assert.deepEqual(taskToConfig((await loadTask([], { numNodes: '3' }, fakeEnvironment({}))).task), { num_nodes: 3 });
  });

  it('errors name the file with line and column, or the flag', async () => {
    const environment = fakeEnvironment({ '/work/bad.yaml': 'run: hi\nnum_nodes: 0\n' });
    const bad = await skyErrorOf(() => loadTask(['bad.yaml'], {}, environment));
    assert.equal(bad.code, 'TASK_INVALID');
    assert.equal(bad.message, 'bad.yaml:2:12: num_nodes: must be a whole number of at least 1, got 0');
    assert.match((await skyErrorOf(() => loadTask(['echo'], { cpus: 'many' }, environment))).message, /^--cpus: expected a CPU count/);
    assert.match((await skyErrorOf(() => loadTask(['echo'], { secret: ['NOPE'] }, environment))).message, /^--secret NOPE: no value given and NOPE is not set in your environment/);
  });

  it('a required env left empty in the YAML must come from --env', async () => {
    const environment = fakeEnvironment({ '/work/t.yaml': 'envs:\n  MODEL: null\nrun: echo $MODEL\n' });
    assert.match((await skyErrorOf(() => loadTask(['t.yaml'], {}, environment))).message, /envs\.MODEL: has no value; pass --env MODEL=VALUE/);
    assert.deepEqual((await loadTask(['t.yaml'], { env: ['MODEL=llama'] }, environment)).task.envs, { MODEL: 'llama' });
  });

  it('makes workdir and file_mounts sources absolute, and lists those that do not exist', async () => {
    const environment = fakeEnvironment({ '/work/t.yaml': 'workdir: ~/proj\nfile_mounts:\n  /data: data\n  /etc/app.conf: /abs/app.conf\nrun: ls\n', '/work/data': '', '/abs/app.conf': '' }, [
      '/home/me/proj',
    ]);
    const { task } = await loadTask(['t.yaml'], {}, environment);
    assert.equal(task.workdir, '/home/me/proj');
    assert.deepEqual(task.file_mounts, { '/data': '/work/data', '/etc/app.conf': '/abs/app.conf' });
    const gone = await loadTask(['t.yaml'], { workdir: 'gone' }, environment);
    assert.equal(gone.task.workdir, '/work/gone');
    assert.deepEqual(gone.missing, ['t.yaml: workdir: gone does not exist (/work/gone)']);
    assert.equal(skyError(() => requireLocalPaths(gone)).message, 't.yaml: workdir: gone does not exist (/work/gone)');
    const notDir = await skyErrorOf(() => loadTask(['echo'], { workdir: 't.yaml' }, environment));
    assert.equal(notDir.message, '<command line>: workdir: t.yaml is a file; workdir must be a directory');
  });

  it('localPath expands ~ and resolves relative paths from the current directory', async () => {
    const at = { cwd: '/work', home: '/home/me' };
    assert.equal(localPath('~', at), '/home/me');
    assert.equal(localPath('~/x', at), '/home/me/x');
    assert.equal(localPath('a/../b', at), '/work/b');
    assert.equal(localPath('/abs', at), '/abs');
  });
});

describe('parseDotenv', () => {
  it('reads NAME=VALUE lines, export, comments and both quotes', () => {
    const text = ['# comment', '', 'A=1', 'export B = two words ', "C='lit $x \\n'", 'D="a\\nb \\"q\\""', 'E=x # trailing', 'F=', 'G=a#b'].join('\n');
    assert.deepEqual(parseDotenv(text, '.env'), { A: '1', B: 'two words', C: 'lit $x \\n', D: 'a\nb "q"', E: 'x', F: '', G: 'a#b' });
  });

  it('a line it cannot read is an error with file and line', () => {
    const cases: Array<[string, string]> = [
      ['A=1\njust words', '.env:2: expected NAME=VALUE, got "just words"'],
      ['1A=x', `.env:1: "1A" is not a valid variable name: use letters, digits and '_', not starting with a digit`],
      ['A="open', '.env:1: the value starts with " but has no closing "'],
      ["A='x' y", ".env:1: unexpected text after the closing ': y"],
    ];
    for (const [text, message] of cases) {
      const err = skyError(() => parseDotenv(text, '.env'));
      assert.equal(err.code, 'TASK_INVALID');
      assert.equal(err.message, message);
    }
  });
});
