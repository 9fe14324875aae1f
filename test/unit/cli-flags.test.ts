// How the CLI names a bad flag: as the user typed it (cac camelCases and folds --no-x into x=false),
// run through the real entry point so cac's parsing is part of what is tested.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { applyOverrides, decideFields, SkyError, type Task } from '@sky/protocol';
import { main } from '../../cli/src/index.js';
import { redirectOutput } from '../../cli/src/output.js';
import { overridesOf, processEnvironment } from '../../cli/src/task-input.js';
import { camelCaseFlags, typedFlags } from '../../cli/src/typed-flags.js';
import type { CliOptions } from '../../cli/src/usage.js';

async function run(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stdout = '';
  let stderr = '';
  const restore = redirectOutput({ out: (t) => (stdout += t), err: (t) => (stderr += t) });
  try {
    return { code: await main(['node', 'sky', ...args]), stdout, stderr };
  } finally {
    restore();
  }
}

describe('flag errors name the flag as typed', () => {
  // Each of these fails before any API server is contacted.
  const cases: Array<[string[], string]> = [
    [['launch', '--use-spt', 'x'], "sky: unknown option --use-spt. Run 'sky launch --help'."],
    [['launch', '--useSpot', 'x'], "sky: unknown option --useSpot. Run 'sky launch --help'."],
    [['launch', '--idleMinutesToAutostop', '5'], "sky: unknown option --idleMinutesToAutostop. Run 'sky launch --help'."],
    [['launch', '--setup', 'x'], "sky: unknown option --setup. Run 'sky launch --help'."],
    [['launch', '--no-fast', 'x'], "sky: unknown option --no-fast. Run 'sky launch --help'."],
    [['launch', '--no-dryrun', 'x'], "sky: unknown option --no-dryrun. Run 'sky launch --help'."],
    [['launch', '--dry-run', 'x'], "sky: unknown option --dry-run. Run 'sky launch --help'."],
    [['exec', 'dev', '--no-setup', 'echo'], "sky: option --no-setup is not valid for 'sky exec'. Run 'sky exec --help'."],
    [['exec', 'dev', '--fast', 'echo'], "sky: option --fast is not valid for 'sky exec'. Run 'sky exec --help'."],
    [['logs', 'dev', '--no-tail'], "sky: unknown option --no-tail. Run 'sky logs --help'."],
    [['logs', 'dev', '--tail'], "sky: --tail needs a value. Run 'sky logs --help'."],
    [['logs', 'dev', '--sync-down', '--no-follow', '--bogus-flag'], "sky: unknown option --bogus-flag. Run 'sky logs --help'."],
    [['status', '--allUsers'], "sky: unknown option --allUsers. Run 'sky status --help'."],
    [['status', '--all-user'], "sky: unknown option --all-user. Run 'sky status --help'."],
    [['stop', 'dev', '-i', '5'], "sky: option --idle-minutes-to-autostop is not valid for 'sky stop'. Run 'sky stop --help'."],
    [['stop', 'dev', '--down'], "sky: option --down is not valid for 'sky stop'. Run 'sky stop --help'."],
    [['launch', '-Z', 'x'], "sky: unknown option -Z. Run 'sky launch --help'."],
    [['--use-spot'], "sky: unknown option --use-spot. Run 'sky --help'."],
    [['api', 'info', '--no-output'], "sky: unknown option --no-output. Run 'sky api info --help'."],
    [['launch', '--ports'], "sky: --ports needs a value. Run 'sky launch --help'."],
    [['launch', '--use-spot=maybe', 'echo'], "sky: option --use-spot takes no value (got --use-spot=maybe). Run 'sky launch --help'."],
    [['launch', '--no-setup=1', 'echo'], "sky: option --no-setup takes no value (got --no-setup=1). Run 'sky launch --help'."],
    [['start', 'dev', '-i', 'soon'], "sky: --idle-minutes-to-autostop must be an integer from 0 to 525600, got 'soon'. Run 'sky start --help'."],
  ];
  for (const [args, message] of cases) {
    it(`sky ${args.join(' ')}`, async () => {
      const { code, stderr, stdout } = await run(args);
      assert.equal(code, 2);
      assert.equal(stderr.trim(), message);
      assert.equal(stdout, '');
    });
  }

  it('a boolean flag with dashes does not swallow the next word (cac only knows its camelCased name)', () => {
    assert.deepEqual(camelCaseFlags(['--use-spot', 'task.yaml', '--no-setup', '--env-file=a.env', '--', '--use-spot']), [
      '--useSpot',
      'task.yaml',
      '--no-setup',
      '--envFile=a.env',
      '--',
      '--use-spot',
    ]);
  });

  it('typedFlags keys each spelling as cac does', () => {
    const typed = typedFlags(['-yd', '--use-spot', '--no-setup', '--env-file=x', '-i5', '--', '--after']);
    assert.deepEqual(Object.fromEntries(typed), { y: '-y', d: '-d', useSpot: '--use-spot', setup: '--no-setup', envFile: '--env-file', i: '-i' });
  });
});

describe('launch flags map to the task fields the YAML has', () => {
  const base: Task = { num_nodes: 1, resources: { infra: { cloud: 'aws', region: 'us-east-1' } }, envs: {}, secrets: {}, file_mounts: {}, setup: 'pip install x', run: 'echo hi' };
  const apply = (options: CliOptions): Task => applyOverrides(base, overridesOf(options, { ...processEnvironment(), env: {} }));

  it('--use-spot, --instance-type, --image-id, --ports and --no-setup', () => {
    const task = apply({ useSpot: true, instanceType: 'p3.2xlarge', imageId: 'docker:ubuntu:22.04', ports: ['8080', '9000-9002'], noSetup: true });
    assert.equal(task.resources.use_spot, true);
    assert.equal(task.resources.instance_type, 'p3.2xlarge');
    assert.equal(task.resources.image_id, 'docker:ubuntu:22.04');
    assert.deepEqual(task.resources.ports, [
      { from: 8080, to: 8080 },
      { from: 9000, to: 9002 },
    ]);
    assert.equal(task.setup, undefined);
    assert.equal(task.run, 'echo hi');
  });

  it('--cloud/--region/--zone replace their part of the infra, and refuse to go with --infra', () => {
    assert.deepEqual(apply({ region: 'us-west-2' }).resources.infra, { cloud: 'aws', region: 'us-west-2' });
    assert.deepEqual(apply({ cloud: 'ssh', region: 'gpu-a' }).resources.infra, { cloud: 'ssh', region: 'gpu-a' });
    assert.deepEqual(apply({ zone: 'us-east-1a' }).resources.infra, { cloud: 'aws', region: 'us-east-1', zone: 'us-east-1a' });
    assert.throws(() => apply({ infra: 'local', cloud: 'aws' }), (err: unknown) => err instanceof SkyError && err.code === 'TASK_INVALID' && /--cloud: give either --infra or --cloud/.test(err.message));
    assert.throws(() => apply({ region: 'bad region' }), /--region: .*must not contain spaces/);
  });

  it('bad values are refused naming the flag', () => {
    assert.throws(() => apply({ ports: ['80-70'] }), /--ports \[0\]: range "80-70" starts above its end|--ports.*starts above its end/);
    assert.throws(() => apply({ ports: ['http'] }), /--ports.*expected a port like 8080/);
  });

  it('the same refusals apply as to the YAML fields on machines that already exist', () => {
    const task = apply({ useSpot: true, instanceType: 'p3.2xlarge', imageId: 'docker:ubuntu:22.04', infra: 'local' });
    const { refusals } = decideFields(task.resources, 'local');
    assert.equal(refusals.length, 3);
    assert.match(refusals.join('\n'), /instance_type: p3\.2xlarge/);
    assert.match(refusals.join('\n'), /container image \(image_id: docker:ubuntu:22\.04\)/);
    assert.match(refusals.join('\n'), /spot capacity \(use_spot: true\)/);
  });
});
