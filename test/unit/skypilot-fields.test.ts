// Every field of SkyPilot's task schema gets one answer from sky launch: honoured, warned and
// ignored, or refused with a precise message — never "unknown field". The table lives in
// skypilot-fields.table.ts; the answer is what the parser and the shared driver decision
// (decideFields, used by both --dryrun and the launch) say.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { applyOverrides, decideFields, parseTaskYaml, resourceCandidates, SkyError, type Task } from '@sky/protocol';
import { RESOURCE_FIELD_ROWS, TASK_FIELD_ROWS, type Answer, type FieldRow } from './skypilot-fields.table.js';

/** Field names of SkyPilot's get_task_schema and get_resources_schema (sky/utils/schemas.py). */
const SKYPILOT_TASK_FIELDS = [
  'name', 'workdir', 'event_callback', 'num_nodes', 'resources', 'file_mounts', 'service', 'pool', 'setup', 'run', 'envs', 'secrets',
  'managed_secrets', 'inputs', 'outputs', 'file_mounts_mapping', 'config', 'volumes', 'volume_mounts', 'api_server_access', '_metadata',
];
const SKYPILOT_RESOURCE_FIELDS = [
  'cloud', 'region', 'zone', 'infra', 'cpus', 'memory', 'accelerators', 'instance_type', 'use_spot', 'job_recovery', 'volumes', 'disk_size',
  'ephemeral_storage', 'disk_tier', 'network_tier', 'local_disk', 'max_hourly_cost', 'ports', 'labels', 'accelerator_args',
  '_no_missing_accel_warnings', 'image_id', 'autostop', 'priority', 'priority_class', '_docker_login_config', '_is_image_managed',
  '_requires_fuse', '_cluster_config_overrides', 'any_of', 'ordered',
];

interface Outcome {
  answer: Answer;
  lines: string[];
}

/** What sky launch answers for a task on a driver. */
function answerFor(yaml: string, driver: string): Outcome {
  let task: Task;
  try {
    task = parseTaskYaml(yaml, 't.yaml');
  } catch (err) {
    if (!(err instanceof SkyError)) throw err;
    return { answer: 'refused', lines: err.message.split('\n') };
  }
  const warnings = [...(task.ignored ?? [])];
  const refusals: string[] = [];
  for (const fields of resourceCandidates(task.resources).candidates) {
    const decision = decideFields(fields, driver);
    warnings.push(...decision.warnings);
    refusals.push(...decision.refusals);
  }
  if (refusals.length > 0) return { answer: 'refused', lines: refusals };
  if (warnings.length > 0) return { answer: 'warned', lines: warnings };
  return { answer: 'honoured', lines: [] };
}

function check(row: FieldRow): void {
  const outcome = answerFor(row.yaml, row.driver ?? 'local');
  assert.equal(outcome.answer, row.answer, `${row.field}: ${outcome.lines.join(' | ')}`);
  for (const line of outcome.lines) assert.doesNotMatch(line, /unknown field/, row.field);
  if (row.pattern !== undefined) assert.ok(outcome.lines.some((l) => row.pattern!.test(l)), `${row.field}: ${outcome.lines.join(' | ')} !~ ${String(row.pattern)}`);
}

describe('SkyPilot task fields: sky launch answers each one', () => {
  it('the table covers every field of the schema', () => {
    const base = (f: string) => f.split(' ')[0]!.replace(/:$/, '');
    const task = new Set(TASK_FIELD_ROWS.map((r) => base(r.field)));
    const resources = new Set(RESOURCE_FIELD_ROWS.map((r) => base(r.field)));
    assert.deepStrictEqual(SKYPILOT_TASK_FIELDS.filter((f) => !task.has(f)), []);
    assert.deepStrictEqual(SKYPILOT_RESOURCE_FIELDS.filter((f) => !resources.has(f)), []);
  });
  describe('task level', () => {
    for (const row of TASK_FIELD_ROWS) it(row.field, () => check(row));
  });
  describe('resources level', () => {
    for (const row of RESOURCE_FIELD_ROWS) it(`resources.${row.field}`, () => check(row));
  });
});

describe('SkyPilot field semantics', () => {
  it('secrets given as a list take their values from the client environment', () => {
    const task = parseTaskYaml('secrets: [HF_TOKEN]\nrun: echo hi\n', 't.yaml');
    assert.deepStrictEqual(task.secrets, { HF_TOKEN: null });
    const resolved = applyOverrides(task, { environ: { HF_TOKEN: 'hf_x' } });
    assert.deepStrictEqual(resolved.secrets, { HF_TOKEN: 'hf_x' });
    assert.equal(resolved.secretsFromEnvironment, undefined);
    assert.throws(() => applyOverrides(task, { environ: {} }), /secrets\.HF_TOKEN: has no value/);
  });

  it('a relative file_mounts destination is under ~/sky_workdir', () => {
    const task = parseTaskYaml('file_mounts:\n  data: ./d\n  ./ckpt/last: ./c\nrun: echo\n', 't.yaml');
    assert.deepStrictEqual(task.file_mounts, { '~/sky_workdir/data': './d', '~/sky_workdir/ckpt/last': './c' });
    assert.throws(() => parseTaskYaml('file_mounts:\n  ../etc: ./d\n', 't.yaml'), /has a "\.\." segment/);
  });

  it('envs are substituted into file_mounts and workdir, --env values included', () => {
    const yaml = 'envs:\n  MODEL: llama\n  DIR: null\nworkdir: ./${DIR}\nfile_mounts:\n  /models/${MODEL}.txt: ./$MODEL/weights\n  /keep/$UNSET: ./x\nrun: echo\n';
    const task = applyOverrides(parseTaskYaml(yaml, 't.yaml'), { env: { DIR: 'src' } });
    assert.equal(task.workdir, './src');
    assert.deepStrictEqual(task.file_mounts, { '/models/llama.txt': './llama/weights', '/keep/$UNSET': './x' });
  });

  it('resources.autostop is read as the cluster autostop', () => {
    const at = (v: string) => parseTaskYaml(`resources:\n  autostop: ${v}\n`, 't.yaml').resources.autostop;
    assert.deepStrictEqual(at('true'), { idleMinutes: 5, down: false });
    assert.equal(at('false'), false);
    assert.deepStrictEqual(at('30'), { idleMinutes: 30, down: false });
    assert.deepStrictEqual(at('2h'), { idleMinutes: 120, down: false });
    assert.deepStrictEqual(at('{idle_minutes: 7, down: true}'), { idleMinutes: 7, down: true });
    assert.throws(() => at('{idle_minutes: 7, wait_for: none}'), /not supported yet: resources\.autostop\.wait_for/);
    assert.throws(() => at('soon'), /resources\.autostop: expected true, false, idle minutes/);
  });

  it('ephemeral_storage is disk_size under its older name; both at once is refused', () => {
    assert.equal(parseTaskYaml('resources:\n  ephemeral_storage: 64\n', 't.yaml').resources.disk_size, 64);
    assert.throws(() => parseTaskYaml('resources:\n  ephemeral_storage: 64\n  disk_size: 32\n', 't.yaml'), /older name of disk_size/);
  });

  it('an ignored field in a candidate is named by its path', () => {
    const task = parseTaskYaml('resources:\n  any_of:\n    - priority: 3\n', 't.yaml');
    assert.deepStrictEqual(task.ignored, ['resources.any_of[0].priority: ignored by sky launch; SkyPilot uses it to order managed jobs (sky jobs launch)']);
  });
});
