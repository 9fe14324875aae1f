import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { z } from 'zod';
import {
  applyOverrides,
  parseEnvFlags,
  parseTask,
  parseTaskYaml,
  resourceCandidates,
  SkyError,
  TaskSchema,
  taskFromCommand,
  taskToConfig,
  UNSUPPORTED_FIELDS,
  validateClusterName,
  type Task,
} from '@sky/protocol';
import { NASTY_STRINGS, Rng } from '../helpers/fuzz.js';

const ROOT = process.env.SKY_REPO_ROOT ?? resolve(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'examples');

function skyError(run: () => unknown): SkyError {
  try {
    run();
  } catch (err) {
    if (err instanceof SkyError) return err;
    assert.fail(`expected a SkyError, got ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  assert.fail('expected a SkyError, got a result');
}

function task(fields: Partial<Task>): Task {
  return { num_nodes: 1, resources: {}, envs: {}, secrets: {}, file_mounts: {}, ...fields };
}

/** Parsing the printed-back form gives the same task, as JSON and as YAML. */
function assertRoundTrip(t: Task): void {
  const config = taskToConfig(t);
  // Ignored fields are warned about where the task is read and not sent on; listed secrets are resolved then.
  const { ignored: _ignored, secretsFromEnvironment: _listed, ...sent } = t;
  assert.deepStrictEqual(TaskSchema.parse(JSON.parse(JSON.stringify(config))), sent);
  assert.deepStrictEqual(parseTaskYaml(stringify(config), 'roundtrip.yaml'), sent);
}

interface BadRow {
  name: string;
  yaml: string;
  code?: 'TASK_INVALID' | 'TASK_UNSUPPORTED';
  lines: string[];
}

const V = "expected <cloud>[/<region>[/<zone>]] like local, aws/us-east-1, k8s/my-context or ssh/my-pool";
const MEM = 'expected a size in GB like 32, or 32+ for at least 32 (units allowed: 512MB, 1TB)';
const CPU = 'expected a CPU count like 4, or 4+ for at least 4';
const ACC = 'expected an accelerator like H100:8, H100, {A100: 1} or a list of alternatives';
const PORT = 'expected a port like 8080 or a range like 8000-8010';
const ENV_VALUE = 'expected a value (a string, number, true/false or empty)';

const BAD: BadRow[] = [
  // YAML itself
  { name: 'YAML syntax error: unclosed flow list', yaml: 'run: echo hi\nresources:\n  ports: [8080, 8081\n', lines: ['t.yaml:4:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]'] },
  { name: 'YAML syntax error: bad indentation', yaml: 'run: echo hi\n  setup: x\n', lines: ['t.yaml:1:6: YAML syntax error: Nested mappings are not allowed in compact mappings'] },
  { name: 'YAML syntax error: tab indentation', yaml: 'resources:\n\tcpus: 4\n', lines: ['t.yaml:2:1: YAML syntax error: Tabs are not allowed as indentation'] },
  { name: 'YAML alias bomb', yaml: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [${'*a, '.repeat(9)}*a]\nc: &c [${'*b, '.repeat(9)}*b]\nd: &d [${'*c, '.repeat(9)}*c]\ne: [${'*d, '.repeat(9)}*d]\n`, lines: ['t.yaml:1:1: YAML error: Excessive alias count indicates a resource exhaustion attack'] },
  // the document as a whole
  { name: 'empty file', yaml: '', lines: ['t.yaml:1:1: the task file is empty; write at least a run command (see the SkyPilot task format)'] },
  { name: 'only comments', yaml: '# nothing here\n', lines: ['t.yaml:1:1: the task file is empty; write at least a run command (see the SkyPilot task format)'] },
  { name: 'a null document', yaml: '~\n', lines: ['t.yaml:1:1: the task is empty; write at least a run command (see the SkyPilot task format)'] },
  { name: 'a list at the top level', yaml: '- run: echo a\n- run: echo b\n', lines: ['t.yaml:1:1: expected a mapping of task fields (name, resources, setup, run, …), got a list'] },
  { name: 'a bare command instead of a task', yaml: 'echo hi\n', lines: ['t.yaml:1:1: expected a mapping of task fields (name, resources, setup, run, …), got "echo hi"'] },
  { name: 'two documents: a pipeline', code: 'TASK_UNSUPPORTED', yaml: 'name: a\nrun: echo a\n---\nname: b\nrun: echo b\n', lines: ['t.yaml:4:1: not supported yet: pipelines (several YAML documents separated by ---; sky launch runs one task, sky jobs launch runs a pipeline)'] },
  // num_nodes
  { name: 'num_nodes: 0', yaml: 'num_nodes: 0\nrun: echo hi\n', lines: ['t.yaml:1:12: num_nodes: must be a whole number of at least 1, got 0'] },
  { name: 'num_nodes: -1', yaml: 'num_nodes: -1\nrun: echo hi\n', lines: ['t.yaml:1:12: num_nodes: must be a whole number of at least 1, got -1'] },
  { name: 'num_nodes: 1.5', yaml: 'num_nodes: 1.5\nrun: echo hi\n', lines: ['t.yaml:1:12: num_nodes: must be a whole number of at least 1, got 1.5'] },
  { name: 'num_nodes: two', yaml: 'num_nodes: two\nrun: echo hi\n', lines: ['t.yaml:1:12: num_nodes: must be a whole number of at least 1, got "two"'] },
  { name: 'num_nodes quoted', yaml: 'num_nodes: "2"\nrun: echo hi\n', lines: ['t.yaml:1:12: num_nodes: must be a number, not a string: write num_nodes: 2 without quotes'] },
  { name: 'num_nodes beyond safe integers', yaml: 'num_nodes: 1e300\n', lines: ['t.yaml:1:12: num_nodes: must be a whole number of at least 1, got 1e+300'] },
  // name, workdir, setup, run
  { name: 'name is a list', yaml: 'name: [a, b]\nrun: echo hi\n', lines: ['t.yaml:1:7: name: expected a task name like my-task, got a list'] },
  { name: 'name with a space', yaml: 'name: my task!\nrun: echo hi\n', lines: ['t.yaml:1:7: name: "my task!" is not a valid task name: use letters, digits, \'.\', \'_\' and \'-\', start and end with a letter or digit, and no more than two \'.\', \'_\' or \'-\' in a row'] },
  { name: 'run is a number', yaml: 'run: 42\n', lines: ['t.yaml:1:6: run: expected shell commands as a string, got 42'] },
  { name: 'run is empty', yaml: 'run: ""\n', lines: ['t.yaml:1:6: run: is empty; write the shell commands to run, or remove run'] },
  { name: 'run has no value', yaml: 'name: x\nrun:\n', lines: ['t.yaml:2:5: run: has no value; write the shell commands after run: (use | for several lines), or remove run'] },
  { name: 'setup is blank', yaml: 'setup: "   "\nrun: echo hi\n', lines: ['t.yaml:1:8: setup: is empty; write the shell commands to set up the nodes, or remove setup'] },
  {
    name: 'a git workdir without url, with an option-like ref and an unknown key',
    yaml: 'workdir: {ref: -x, branch: main}\nrun: echo hi\n',
    lines: [
      't.yaml:1:10: workdir: missing url: the git repository to clone (with ref: the branch, tag or commit)',
      't.yaml:1:16: workdir.ref: "-x" is not a branch, tag or commit name',
      't.yaml:1:20: workdir.branch: unknown field; valid fields here: url, ref',
    ],
  },
  { name: 'resources is a list', yaml: 'resources: [cpus]\nrun: echo hi\n', lines: ['t.yaml:1:12: resources: expected a mapping of resource fields, got a list'] },
  // accelerators
  { name: 'accelerators H100:0', yaml: 'resources:\n  accelerators: H100:0\n', lines: ['t.yaml:2:17: resources.accelerators: "H100:0": count must be greater than 0, got 0'] },
  { name: 'accelerators H100:x', yaml: 'resources:\n  accelerators: H100:x\n', lines: ['t.yaml:2:17: resources.accelerators: "H100:x": count "x" is not a number'] },
  { name: 'accelerators :8', yaml: 'resources:\n  accelerators: ":8"\n', lines: ["t.yaml:2:17: resources.accelerators: \":8\": missing the accelerator name before ':'"] },
  { name: 'accelerators H100:', yaml: 'resources:\n  accelerators: "H100:"\n', lines: ["t.yaml:2:17: resources.accelerators: \"H100:\": missing the count after ':'"] },
  { name: 'accelerators H100:8:2', yaml: 'resources:\n  accelerators: H100:8:2\n', lines: ['t.yaml:2:17: resources.accelerators: "H100:8:2": expected NAME or NAME:COUNT'] },
  { name: 'accelerators A100:1.5', yaml: 'resources:\n  accelerators: A100:1.5\n', lines: ['t.yaml:2:17: resources.accelerators: "A100:1.5": count must be a whole number (fractions only below 1), got 1.5'] },
  { name: 'accelerators is a number', yaml: 'resources:\n  accelerators: 8\n', lines: [`t.yaml:2:17: resources.accelerators: ${ACC}, got 8`] },
  { name: 'accelerators is an empty list', yaml: 'resources:\n  accelerators: []\n', lines: [`t.yaml:2:17: resources.accelerators: ${ACC}, got an empty list`] },
  {
    name: 'accelerators list with bad items',
    yaml: 'resources:\n  accelerators: [V100, A100:0, {H100: 1}]\n',
    lines: ['t.yaml:2:24: resources.accelerators[1]: "A100:0": count must be greater than 0, got 0', 't.yaml:2:32: resources.accelerators[2]: expected an accelerator like H100:8, got a mapping'],
  },
  {
    name: 'accelerators mapping with bad counts',
    yaml: 'resources:\n  accelerators: {A100: 0, H100: two}\n',
    lines: ['t.yaml:2:24: resources.accelerators.A100: "A100": count must be greater than 0, got 0', 't.yaml:2:33: resources.accelerators.H100: "H100": expected a count, got "two"'],
  },
  { name: 'accelerators count given twice', yaml: 'resources:\n  accelerators: {"A100:2": 2}\n', lines: ['t.yaml:2:28: resources.accelerators["A100:2"]: "A100:2": the count is given twice (in the name and as the value)'] },
  { name: 'accelerators listed twice', yaml: 'resources:\n  accelerators: [A100:1, A100:1]\n', lines: ['t.yaml:2:26: resources.accelerators[1]: A100:1 is listed twice'] },
  // cpus, memory, disk_size
  { name: 'cpus 4x', yaml: 'resources:\n  cpus: 4x\n', lines: [`t.yaml:2:9: resources.cpus: ${CPU}, got "4x"`] },
  { name: 'cpus 0', yaml: 'resources:\n  cpus: 0\n', lines: ['t.yaml:2:9: resources.cpus: must be greater than 0, got 0'] },
  { name: 'cpus with a unit', yaml: 'resources:\n  cpus: 4GB\n', lines: [`t.yaml:2:9: resources.cpus: ${CPU}, got "4GB"`] },
  { name: 'cpus 4++', yaml: 'resources:\n  cpus: 4++\n', lines: [`t.yaml:2:9: resources.cpus: ${CPU}, got "4++"`] },
  { name: 'cpus true', yaml: 'resources:\n  cpus: true\n', lines: [`t.yaml:2:9: resources.cpus: ${CPU}, got true`] },
  { name: 'memory with an unknown unit', yaml: 'resources:\n  memory: 16XB\n', lines: [`t.yaml:2:11: resources.memory: ${MEM}, got "16XB"`] },
  { name: 'memory negative', yaml: 'resources:\n  memory: -16\n', lines: ['t.yaml:2:11: resources.memory: must be greater than 0, got -16'] },
  { name: 'memory below 1MB', yaml: 'resources:\n  memory: 1KB\n', lines: ['t.yaml:2:11: resources.memory: must be at least 1MB, got "1KB"'] },
  { name: 'memory with a space before the unit', yaml: 'resources:\n  memory: 16 GB\n', lines: [`t.yaml:2:11: resources.memory: ${MEM}, got "16 GB"`] },
  { name: 'disk_size 1.5', yaml: 'resources:\n  disk_size: 1.5\n', lines: ['t.yaml:2:14: resources.disk_size: must be a whole number of GB from 1 to 1000000000, got 1.5'] },
  { name: 'disk_size rounds down to 0', yaml: 'resources:\n  disk_size: 500MB\n', lines: ['t.yaml:2:14: resources.disk_size: must be at least 1GB (sizes round down to whole GB), got "500MB"'] },
  // ports
  { name: 'port 0', yaml: 'resources:\n  ports: 0\n', lines: ['t.yaml:2:10: resources.ports: a port must be a whole number from 1 to 65535, got 0'] },
  { name: 'port 70000', yaml: 'resources:\n  ports: 70000\n', lines: ['t.yaml:2:10: resources.ports: a port must be a whole number from 1 to 65535, got 70000'] },
  { name: 'port range reversed', yaml: 'resources:\n  ports: 8010-8000\n', lines: ['t.yaml:2:10: resources.ports: range "8010-8000" starts above its end'] },
  { name: 'port by name', yaml: 'resources:\n  ports: http\n', lines: [`t.yaml:2:10: resources.ports: ${PORT}, got "http"`] },
  { name: 'ports list with bad items', yaml: 'resources:\n  ports: [8080, 8000-, true]\n', lines: [`t.yaml:2:17: resources.ports[1]: ${PORT}, got "8000-"`, `t.yaml:2:24: resources.ports[2]: ${PORT}, got true`] },
  { name: 'ports empty list', yaml: 'resources:\n  ports: []\n', lines: [`t.yaml:2:10: resources.ports: ${PORT}, or a list of them, got an empty list`] },
  // other resource fields
  { name: 'use_spot: yes', yaml: 'resources:\n  use_spot: yes\n', lines: ['t.yaml:2:13: resources.use_spot: expected true or false, got "yes"'] },
  { name: 'infra with an empty part', yaml: 'resources:\n  infra: aws//us-east-1\n', lines: [`t.yaml:2:10: resources.infra: "aws//us-east-1": has an empty part; ${V}`] },
  { name: 'infra with too many parts', yaml: 'resources:\n  infra: aws/us-east-1/us-east-1a/extra\n', lines: [`t.yaml:2:10: resources.infra: "aws/us-east-1/us-east-1a/extra": too many parts; ${V}`] },
  { name: 'infra and cloud together', yaml: 'resources:\n  infra: aws\n  cloud: gcp\n', lines: ['t.yaml:3:3: resources.cloud: give infra or the older cloud field, not both (infra: <cloud>/<region>/<zone>)'] },
  { name: 'gpus and accelerators together', yaml: 'resources:\n  gpus: A100\n  accelerators: H100\n', lines: ['t.yaml:2:3: resources.gpus: gpus is another name for accelerators; give only one'] },
  { name: 'labels with a list value', yaml: 'resources:\n  labels:\n    team: [a]\n', lines: ['t.yaml:3:11: resources.labels.team: expected a label value (a string), got a list'] },
  { name: 'image_id empty', yaml: 'resources:\n  image_id: ""\n', lines: ['t.yaml:2:13: resources.image_id: is empty; expected an image id'] },
  // any_of / ordered
  { name: 'any_of and ordered together', yaml: 'resources:\n  any_of:\n    - infra: aws\n  ordered:\n    - infra: gcp\n', lines: ['t.yaml:4:3: resources.ordered: use either any_of or ordered, not both'] },
  { name: 'any_of empty', yaml: 'resources:\n  any_of: []\n', lines: ['t.yaml:2:11: resources.any_of: must list at least one candidate'] },
  { name: 'any_of not a list', yaml: 'resources:\n  any_of: {infra: aws}\n', lines: ['t.yaml:2:11: resources.any_of: expected a list of resource candidates, got a mapping'] },
  { name: 'any_of nested', yaml: 'resources:\n  any_of:\n    - infra: aws\n      any_of: [{infra: gcp}]\n', lines: ['t.yaml:4:7: resources.any_of[0].any_of: any_of cannot be nested inside a candidate'] },
  {
    name: 'ordered candidate with bad fields',
    yaml: 'resources:\n  ordered:\n    - infra: aws\n    - cpu: 4\n      memory: lots\n',
    lines: ['t.yaml:4:7: resources.ordered[1].cpu: unknown field; did you mean cpus?', `t.yaml:5:15: resources.ordered[1].memory: ${MEM}, got "lots"`],
  },
  // unknown fields
  { name: 'unknown top-level field', yaml: 'nmae: x\nrun: echo hi\n', lines: ['t.yaml:1:1: nmae: unknown field; did you mean name?'] },
  { name: 'unknown resources field', yaml: 'resources:\n  cpu: 4\n', lines: ['t.yaml:2:3: resources.cpu: unknown field; did you mean cpus?'] },
  { name: 'unknown field that is a common alias', yaml: 'command: echo hi\n', lines: ['t.yaml:1:1: command: unknown field; did you mean run?'] },
  { name: 'unknown field, nothing close', yaml: 'banana: 1\nrun: echo hi\n', lines: ['t.yaml:1:1: banana: unknown field; valid fields here: name, workdir, num_nodes, resources, envs, secrets, file_mounts, setup, run, service, pool, inputs, outputs'] },
  // unsupported fields
  { name: 'resources.max_hourly_cost', code: 'TASK_UNSUPPORTED', yaml: 'resources:\n  max_hourly_cost: 3\nrun: echo hi\n', lines: ['t.yaml:2:3: not supported yet: resources.max_hourly_cost (price cap for the optimizer)'] },
  { name: 'resources.job_recovery with a bad strategy', yaml: 'resources:\n  job_recovery: SOMETIMES\n', lines: ['t.yaml:2:17: resources.job_recovery: expected a recovery strategy (FAILOVER, EAGER_NEXT_REGION, or none), got "SOMETIMES"'] },
  {
    name: 'resources.job_recovery mapping with bad values',
    yaml: 'resources:\n  job_recovery:\n    max_restarts_on_errors: -1\n    recover_on_exit_codes: [3, 300]\n    retries: 2\n',
    lines: [
      't.yaml:3:29: resources.job_recovery.max_restarts_on_errors: expected a whole number of restarts from 0 to 1000, got -1',
      't.yaml:4:32: resources.job_recovery.recover_on_exit_codes[1]: expected an exit code (a whole number 0-255) or a list of them, got 300',
      't.yaml:5:5: resources.job_recovery.retries: unknown field; resources.job_recovery takes strategy, max_restarts_on_errors, recover_on_exit_codes',
    ],
  },
  {
    name: 'several unsupported fields',
    code: 'TASK_UNSUPPORTED',
    yaml: 'config:\n  kubernetes: {}\nvolumes: {}\nresources:\n  volumes: []\n  max_hourly_cost: 3\n',
    lines: [
      't.yaml:1:1: not supported yet: config (per-task overrides of the SkyPilot config)',
      't.yaml:3:1: not supported yet: volumes (volumes mounted into the task)',
      't.yaml:5:3: not supported yet: resources.volumes (volumes attached to the nodes)',
      't.yaml:6:3: not supported yet: resources.max_hourly_cost (price cap for the optimizer)',
    ],
  },
  {
    name: 'unsupported and invalid together are TASK_INVALID',
    yaml: 'resources:\n  max_hourly_cost: 3\nnum_nodes: 0\n',
    lines: ['t.yaml:2:3: not supported yet: resources.max_hourly_cost (price cap for the optimizer)', 't.yaml:3:12: num_nodes: must be a whole number of at least 1, got 0'],
  },
  // envs, secrets
  { name: 'envs with a nested map', yaml: 'envs:\n  A: {x: 1}\nrun: echo hi\n', lines: [`t.yaml:2:6: envs.A: ${ENV_VALUE}, got a mapping`] },
  { name: 'envs with a list value', yaml: 'envs:\n  A: [1, 2]\n', lines: [`t.yaml:2:6: envs.A: ${ENV_VALUE}, got a list`] },
  {
    name: 'envs with bad names',
    yaml: 'envs:\n  MY-VAR: 1\n  2X: y\n',
    lines: [
      't.yaml:2:3: envs.MY-VAR: "MY-VAR" is not a valid variable name: use letters, digits and \'_\', not starting with a digit',
      't.yaml:3:3: envs["2X"]: "2X" is not a valid variable name: use letters, digits and \'_\', not starting with a digit',
    ],
  },
  { name: 'envs as a list', yaml: 'envs: [A=1]\n', lines: ['t.yaml:1:7: envs: expected a mapping of NAME: value, got a list'] },
  { name: 'secrets with a non-string value', yaml: 'secrets:\n  HF_TOKEN: {value: x}\n', lines: ['t.yaml:2:13: secrets.HF_TOKEN: expected a secret value (a string, number, true/false or empty), got a mapping'] },
  { name: 'a name both env and secret', yaml: 'envs:\n  TOKEN: a\nsecrets:\n  TOKEN: b\n', lines: ['t.yaml:4:3: secrets.TOKEN: TOKEN is also set under envs; a name is either an env or a secret'] },
  // file_mounts
  { name: 'file_mounts from a bucket', code: 'TASK_UNSUPPORTED', yaml: 'file_mounts:\n  /data: s3://my-bucket/data\n', lines: ['t.yaml:2:10: not supported yet: file_mounts["/data"] (bucket URIs such as s3:// or gs:// as file mount sources)'] },
  {
    name: 'file_mounts destination under another home',
    yaml: 'file_mounts:\n  ~other/data: ./data\n',
    lines: ['t.yaml:2:3: file_mounts["~other/data"]: remote path "~other/data" must be absolute or start with ~/'],
  },
  {
    name: 'file_mounts storage mapping',
    code: 'TASK_UNSUPPORTED',
    yaml: 'file_mounts:\n  /ckpt:\n    name: my-bucket\n    store: s3\n    mode: MOUNT\n',
    lines: [
      't.yaml:3:5: not supported yet: file_mounts["/ckpt"].name (object-store buckets and volumes as file mounts)',
      't.yaml:4:5: not supported yet: file_mounts["/ckpt"].store (object-store buckets and volumes as file mounts)',
      't.yaml:5:11: not supported yet: file_mounts["/ckpt"].mode (MOUNT and MOUNT_CACHED modes; only COPY is supported)',
    ],
  },
  { name: 'file_mounts mapping without source', yaml: 'file_mounts:\n  /ckpt:\n    mode: COPY\n', lines: ['t.yaml:3:5: file_mounts["/ckpt"]: missing source: the local path to copy to the nodes'] },
  { name: 'file_mounts mapping with a typo', yaml: 'file_mounts:\n  /ckpt:\n    sourse: ./c\n', lines: ['t.yaml:3:5: file_mounts["/ckpt"].sourse: unknown field; did you mean source?'] },
  // several at once
  {
    name: 'every problem, in file order',
    yaml: 'num_nodes: 0\nresources:\n  cpus: x\n  accelerators: H100:0\nrun: 5\n',
    lines: [
      't.yaml:1:12: num_nodes: must be a whole number of at least 1, got 0',
      `t.yaml:3:9: resources.cpus: ${CPU}, got "x"`,
      't.yaml:4:17: resources.accelerators: "H100:0": count must be greater than 0, got 0',
      't.yaml:5:6: run: expected shell commands as a string, got 5',
    ],
  },
];

describe('parseTaskYaml: bad task files', () => {
  it(`has at least 30 rows (${BAD.length})`, () => assert.ok(BAD.length >= 30));
  for (const row of BAD) {
    it(row.name, () => {
      const err = skyError(() => parseTaskYaml(row.yaml, 't.yaml'));
      assert.equal(err.code, row.code ?? 'TASK_INVALID');
      assert.equal(err.message, row.lines.join('\n'));
      assert.equal(err.status, 400);
      assert.ok(err.hint !== undefined && err.hint.length > 0);
      const issues = err.details?.issues as Array<{ path: string; line: number; column: number; message: string }>;
      assert.equal(issues.length, row.lines.length);
      issues.forEach((issue, i) => {
        assert.ok(row.lines[i]!.startsWith(`t.yaml:${issue.line}:${issue.column}: `), `${row.lines[i]} vs ${JSON.stringify(issue)}`);
        assert.ok(row.lines[i]!.endsWith(issue.message));
      });
    });
  }
});

const GOOD: Array<{ name: string; yaml: string; want: Task }> = [
  { name: 'run only', yaml: 'run: echo hi\n', want: task({ run: 'echo hi' }) },
  { name: 'an empty mapping: provision only', yaml: '{}\n', want: task({}) },
  {
    name: 'every top-level field',
    yaml: 'name: train-v2\nworkdir: ~/code\nnum_nodes: 4\nsetup: |\n  pip install -r requirements.txt\n  echo done\nrun: |\n  python train.py\n  echo ok\n',
    want: task({ name: 'train-v2', workdir: '~/code', num_nodes: 4, setup: 'pip install -r requirements.txt\necho done\n', run: 'python train.py\necho ok\n' }),
  },
  {
    name: 'cpus in every form',
    yaml: 'resources:\n  any_of:\n    - cpus: 4\n    - cpus: "16"\n    - cpus: 4+\n    - cpus: "32+"\n    - cpus: 0.5\n',
    want: task({ resources: { any_of: [{ cpus: { min: 4, orMore: false } }, { cpus: { min: 16, orMore: false } }, { cpus: { min: 4, orMore: true } }, { cpus: { min: 32, orMore: true } }, { cpus: { min: 0.5, orMore: false } }] } }),
  },
  {
    name: 'memory in every form (GB)',
    yaml: 'resources:\n  ordered:\n    - memory: 16\n    - memory: 16+\n    - memory: 16GB\n    - memory: 512MB\n    - memory: 1TB+\n    - memory: 64gb\n    - memory: 2g\n    - memory: "32+"\n',
    want: task({
      resources: {
        ordered: [
          { memory: { min: 16, orMore: false } },
          { memory: { min: 16, orMore: true } },
          { memory: { min: 16, orMore: false } },
          { memory: { min: 0.5, orMore: false } },
          { memory: { min: 1024, orMore: true } },
          { memory: { min: 64, orMore: false } },
          { memory: { min: 2, orMore: false } },
          { memory: { min: 32, orMore: true } },
        ],
      },
    }),
  },
  {
    name: 'disk_size in GB or with a unit',
    yaml: 'resources:\n  any_of:\n    - disk_size: 256\n    - disk_size: 256GB\n    - disk_size: 1TB\n    - disk_size: 1500MB\n',
    want: task({ resources: { any_of: [{ disk_size: 256 }, { disk_size: 256 }, { disk_size: 1024 }, { disk_size: 1 }] } }),
  },
  { name: 'accelerators H100:8', yaml: 'resources:\n  accelerators: H100:8\n', want: task({ resources: { accelerators: [{ name: 'H100', count: 8 }] } }) },
  { name: 'accelerators H100 (count 1)', yaml: 'resources:\n  accelerators: H100\n', want: task({ resources: { accelerators: [{ name: 'H100', count: 1 }] } }) },
  { name: 'accelerators {A100: 1}', yaml: 'resources:\n  accelerators: {A100: 1}\n', want: task({ resources: { accelerators: [{ name: 'A100', count: 1 }] } }) },
  {
    name: 'accelerators as an ordered list',
    yaml: 'resources:\n  accelerators: [V100, A100:2]\n',
    want: task({ resources: { accelerators: [{ name: 'V100', count: 1 }, { name: 'A100', count: 2 }] } }),
  },
  {
    name: 'accelerators as a set {A100:1, H100:1}',
    yaml: 'resources:\n  accelerators: {A100:1, H100:1}\n',
    want: task({ resources: { accelerators: [{ name: 'A100', count: 1 }, { name: 'H100', count: 1 }] } }),
  },
  {
    name: "accelerators as a quoted set {'L4:1', 'H100:2'}",
    yaml: "resources:\n  accelerators: {'L4:1', 'H100:2'}\n",
    want: task({ resources: { accelerators: [{ name: 'L4', count: 1 }, { name: 'H100', count: 2 }] } }),
  },
  {
    name: 'accelerators: a block list and a fraction of a device',
    yaml: 'resources:\n  accelerators:\n    - T4:0.5\n    - tpu-v2-8\n',
    want: task({ resources: { accelerators: [{ name: 'T4', count: 0.5 }, { name: 'tpu-v2-8', count: 1 }] } }),
  },
  { name: 'gpus is another name for accelerators', yaml: 'resources:\n  gpus: L4:2\n', want: task({ resources: { accelerators: [{ name: 'L4', count: 2 }] } }) },
  {
    name: 'ports in every form',
    yaml: 'resources:\n  any_of:\n    - ports: 8080\n    - ports: "8081"\n    - ports: 8000-8010\n    - ports: [22, "10022-10040"]\n',
    want: task({
      resources: {
        any_of: [{ ports: [{ from: 8080, to: 8080 }] }, { ports: [{ from: 8081, to: 8081 }] }, { ports: [{ from: 8000, to: 8010 }] }, { ports: [{ from: 22, to: 22 }, { from: 10022, to: 10040 }] }],
      },
    }),
  },
  {
    name: 'infra in every form',
    yaml:
      'resources:\n  ordered:\n    - infra: local\n    - infra: ssh/mypool\n    - infra: k8s\n    - infra: kubernetes/my-ctx\n    - infra: AWS/us-east-1\n    - infra: aws/*/us-east-1a\n    - infra: k8s/arn:aws:eks:us-east-1:1:cluster/gpu\n    - infra: "*"\n',
    want: task({
      resources: {
        ordered: [
          { infra: { cloud: 'local' } },
          { infra: { cloud: 'ssh', region: 'mypool' } },
          { infra: { cloud: 'k8s' } },
          { infra: { cloud: 'k8s', region: 'my-ctx' } },
          { infra: { cloud: 'aws', region: 'us-east-1' } },
          { infra: { cloud: 'aws', zone: 'us-east-1a' } },
          { infra: { cloud: 'k8s', region: 'arn:aws:eks:us-east-1:1:cluster/gpu' } },
          {},
        ],
      },
    }),
  },
  {
    name: 'the older cloud/region/zone become infra',
    yaml: 'resources:\n  cloud: gcp\n  region: us-central1\n  zone: us-central1-a\n',
    want: task({ resources: { infra: { cloud: 'gcp', region: 'us-central1', zone: 'us-central1-a' } } }),
  },
  {
    name: 'other resource fields',
    yaml: 'resources:\n  instance_type: p3.8xlarge\n  use_spot: true\n  image_id:\n    us-east-1: ami-1\n    us-west-2: ami-2\n  labels:\n    team: ml\n    tier: 2\n',
    want: task({ resources: { instance_type: 'p3.8xlarge', use_spot: true, image_id: { 'us-east-1': 'ami-1', 'us-west-2': 'ami-2' }, labels: { team: 'ml', tier: '2' } } }),
  },
  { name: 'image_id as one string', yaml: 'resources:\n  image_id: docker:ubuntu:22.04\n', want: task({ resources: { image_id: 'docker:ubuntu:22.04' } }) },
  {
    name: 'any_of candidates with defaults outside',
    yaml: 'resources:\n  accelerators: H100\n  any_of:\n    - infra: aws/us-west-2\n    - infra: gcp/us-central1\n      accelerators: H100:8\n',
    want: task({
      resources: {
        accelerators: [{ name: 'H100', count: 1 }],
        any_of: [{ infra: { cloud: 'aws', region: 'us-west-2' } }, { infra: { cloud: 'gcp', region: 'us-central1' }, accelerators: [{ name: 'H100', count: 8 }] }],
      },
    }),
  },
  {
    name: 'YAML anchors and merge keys',
    yaml: 'resources:\n  any_of:\n    - &base\n      cpus: 8\n      infra: aws\n    - <<: *base\n      infra: local\n',
    want: task({ resources: { any_of: [{ infra: { cloud: 'aws' }, cpus: { min: 8, orMore: false } }, { infra: { cloud: 'local' }, cpus: { min: 8, orMore: false } }] } }),
  },
  {
    name: 'envs: strings, numbers and booleans as written, null as required',
    yaml: 'envs:\n  MODEL: llama\n  LR: 1.0\n  EPS: 1e-5\n  STEPS: 1000\n  DEBUG: true\n  HF_HOME:\n  EMPTY: ""\n',
    want: task({ envs: { MODEL: 'llama', LR: '1.0', EPS: '1e-5', STEPS: '1000', DEBUG: 'true', HF_HOME: null, EMPTY: '' } }),
  },
  { name: 'secrets, one required', yaml: 'secrets:\n  HF_TOKEN:\n  WANDB_API_KEY: abc\n', want: task({ secrets: { HF_TOKEN: null, WANDB_API_KEY: 'abc' } }) },
  { name: 'sections left empty (all entries commented out)', yaml: 'resources:\n  # cpus: 4\nenvs:\nfile_mounts:\nsecrets:\nrun: echo hi\n', want: task({ run: 'echo hi' }) },
  {
    name: 'file_mounts: a path, ~, and a COPY mapping',
    yaml: 'file_mounts:\n  /remote/data: ./data\n  ~/cfg: ~/.config/app\n  /ckpt:\n    source: ./ckpt\n    mode: COPY\n',
    want: task({ file_mounts: { '/remote/data': './data', '~/cfg': '~/.config/app', '/ckpt': './ckpt' } }),
  },
  { name: 'an env named __proto__ stays data', yaml: 'envs:\n  __proto__: x\n', want: task({ envs: JSON.parse('{"__proto__":"x"}') as Record<string, string> }) },
];
describe('parseTaskYaml: accepted shapes', () => {
  for (const row of GOOD) {
    it(row.name, () => {
      const got = parseTaskYaml(row.yaml, 'good.yaml');
      assert.deepStrictEqual(got, row.want);
      assertRoundTrip(got);
    });
  }
});

describe('examples/', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

  it('has the four documented examples, and they all parse', () => {
    for (const want of ['minimal.yaml', 'two-node.yaml', 'setup-and-run.yaml', 'gpu.yaml']) assert.ok(files.includes(want), want);
    for (const file of files) {
      const t = parseTaskYaml(readFileSync(join(EXAMPLES, file), 'utf8'), `examples/${file}`);
      assertRoundTrip(t);
    }
  });

  function load(file: string): Task {
    return parseTaskYaml(readFileSync(join(EXAMPLES, file), 'utf8'), `examples/${file}`);
  }

  function sh(script: string, cwd: string, env: Record<string, string>): string {
    const result = spawnSync('sh', ['-c', script], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env }, encoding: 'utf8' });
    assert.equal(result.status, 0, `script failed: ${result.stderr}`);
    return result.stdout;
  }

  it('minimal.yaml runs its command', () => {
    const t = load('minimal.yaml');
    assert.deepStrictEqual(Object.keys(taskToConfig(t)), ['run']);
    assert.match(sh(t.run!, tmpdir(), {}), /^hello from \S+\n$/);
  });

  it('two-node.yaml prints rank, node count and addresses on each node', () => {
    const t = load('two-node.yaml');
    assert.equal(t.num_nodes, 2);
    const ips = '10.0.0.1\n10.0.0.2';
    const head = sh(t.run!, tmpdir(), { SKYPILOT_NODE_RANK: '0', SKYPILOT_NUM_NODES: '2', SKYPILOT_NODE_IPS: ips });
    const worker = sh(t.run!, tmpdir(), { SKYPILOT_NODE_RANK: '1', SKYPILOT_NUM_NODES: '2', SKYPILOT_NODE_IPS: ips });
    assert.match(head, /^rank 0 of 2 nodes\nnode addresses:\n10\.0\.0\.1\n10\.0\.0\.2\nI am the head node \(10\.0\.0\.1\)\n$/);
    assert.match(worker, /^rank 1 of 2 nodes\n[\s\S]*worker 1; the head node is 10\.0\.0\.1\n$/);
  });

  it('setup-and-run.yaml: setup then run in a copy of its workdir, with its envs', () => {
    const t = load('setup-and-run.yaml');
    assert.equal(t.workdir, 'examples/workdir');
    assert.deepStrictEqual(t.envs, { GREETING: 'hello', REPEAT: '3' });
    const dir = mkdtempSync(join(tmpdir(), 'sky-workdir-'));
    try {
      cpSync(join(ROOT, t.workdir!), dir, { recursive: true });
      const envs = t.envs as Record<string, string>;
      assert.match(sh(t.setup!, dir, envs), /setting up in /);
      assert.match(sh(t.run!, dir, envs), /setup finished at .+\nhello 1\/3\nhello 2\/3\nhello 3\/3\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gpu.yaml asks for one of several GPUs', () => {
    const t = load('gpu.yaml');
    assert.deepStrictEqual(
      t.resources.accelerators?.map((a) => `${a.name}:${a.count}`),
      ['T4:1', 'L4:1', 'A10G:1', 'A100:1', 'H100:1'],
    );
  });
});

describe('every unsupported field in the table is refused', () => {
  function yamlFor(field: string): string {
    if (field === 'pipelines') return 'run: a\n---\nrun: b\n';
    if (field === 'file_mounts.*') return 'file_mounts:\n  /m: gs://bucket\n';
    if (field === 'file_mounts.*.mode') return 'file_mounts:\n  /m:\n    source: ./x\n    mode: MOUNT_CACHED\n';
    if (field === 'resources._internal') return 'resources:\n  _requires_fuse: true\n';
    // A service section is read whole: the unsupported key sits in an otherwise valid one.
    if (field === 'service.tls' || field === 'service.pool') return `service:\n  readiness_probe: /\n  ports: 8080\n  ${field === 'service.tls' ? 'tls' : 'pool'}: x\n`;
    if (field.startsWith('service.replica_policy.')) {
      const key = field.endsWith('spot_fallback') ? 'dynamic_ondemand_fallback' : 'num_overprovision';
      return `service:\n  readiness_probe: /\n  ports: 8080\n  replica_policy:\n    min_replicas: 1\n    ${key}: 1\n`;
    }
    const parts = field.split('.').map((p) => (p === '*' ? '/m' : p));
    let out = '';
    parts.forEach((p, depth) => {
      out += `${'  '.repeat(depth)}${p}:${depth === parts.length - 1 ? ' x' : ''}\n`;
    });
    return out;
  }
  for (const { field, what } of UNSUPPORTED_FIELDS) {
    it(field, () => {
      const err = skyError(() => parseTaskYaml(yamlFor(field), 'u.yaml'));
      assert.equal(err.code, 'TASK_UNSUPPORTED', err.message);
      assert.match(err.message, /^u\.yaml:\d+:\d+: not supported yet: /);
      assert.ok(err.message.includes(`(${what})`), err.message);
    });
  }
});

describe('TaskSchema and parseTask (JSON bodies)', () => {
  it('accepts the same shapes as the YAML, numbers in envs become strings', () => {
    const body = { name: 'j', num_nodes: 2, resources: { cpus: '4+', accelerators: { A100: 1 } }, envs: { N: 3, F: false, S: 's' }, run: 'echo' };
    assert.deepStrictEqual(TaskSchema.parse(body), task({ name: 'j', num_nodes: 2, resources: { cpus: { min: 4, orMore: true }, accelerators: [{ name: 'A100', count: 1 }] }, envs: { N: '3', F: 'false', S: 's' }, run: 'echo' }));
  });

  it('reports problems with paths, also inside another body', () => {
    const Body = z.object({ cluster: z.string(), task: TaskSchema });
    const result = Body.safeParse({ cluster: 'c', task: { resources: { cpu: 4, ports: [1, 0] }, service: { readiness_probe: '/', replicas: 1 } } });
    assert.equal(result.success, false);
    assert.deepStrictEqual(
      result.error!.issues.map((i) => [i.path.join('.'), i.message]),
      [
        ['task.resources.ports.1', 'a port must be a whole number from 1 to 65535, got 0'],
        ['task.resources.cpu', 'unknown field; did you mean cpus?'],
      ],
    );
  });

  it('parseTask throws TASK_INVALID / TASK_UNSUPPORTED naming each path', () => {
    const bad = skyError(() => parseTask({ num_nodes: 0, resources: { accelerators: 'H100:x' } }, 'body.task'));
    assert.equal(bad.code, 'TASK_INVALID');
    assert.equal(bad.message, 'body.task: num_nodes: must be a whole number of at least 1, got 0\nbody.task: resources.accelerators: "H100:x": count "x" is not a number');
    assert.deepStrictEqual(bad.details?.issues, [
      { path: 'num_nodes', message: 'must be a whole number of at least 1, got 0' },
      { path: 'resources.accelerators', message: '"H100:x": count "x" is not a number' },
    ]);
    const unsupported = skyError(() => parseTask({ run: 'x', resources: { max_hourly_cost: 3 } }));
    assert.equal(unsupported.code, 'TASK_UNSUPPORTED');
    assert.equal(unsupported.message, 'task: not supported yet: resources.max_hourly_cost (price cap for the optimizer)');
    assert.equal(skyError(() => parseTask([1])).message, 'task: expected a mapping of task fields (name, resources, setup, run, …), got a list');
  });

  it('never throws on junk, it reports issues', () => {
    for (const junk of [undefined, null, 0, 'x', [], [{}], { resources: [] }, { envs: { A: () => 1 } }, { resources: { any_of: [null, 1, 'x'] } }, { file_mounts: { '/x': { source: 1 } } }]) {
      const result = TaskSchema.safeParse(junk);
      assert.equal(result.success, false, JSON.stringify(junk));
    }
  });
});

describe('taskFromCommand', () => {
  it('makes a one-node task from a command string or words', () => {
    assert.deepStrictEqual(taskFromCommand('echo hi'), task({ run: 'echo hi' }));
    assert.deepStrictEqual(taskFromCommand(['echo', 'hello world']), task({ run: 'echo hello world' }));
    assertRoundTrip(taskFromCommand('for i in 1 2; do echo $i; done'));
  });

  it('refuses an empty command', () => {
    for (const empty of ['', '   ', []]) {
      const err = skyError(() => taskFromCommand(empty));
      assert.equal(err.code, 'TASK_INVALID');
      assert.equal(err.message, '<command line>: the command is empty; give a task YAML file or a command to run');
    }
  });
});

describe('applyOverrides', () => {
  const yaml = [
    'name: base',
    'workdir: ./code',
    'num_nodes: 1',
    'resources:',
    '  cpus: 2',
    '  memory: 8',
    '  accelerators: T4',
    '  any_of:',
    '    - infra: aws',
    '      cpus: 4',
    '    - infra: gcp',
    '      cpus: 8',
    'envs:',
    '  A: yaml',
    '  B: yaml',
    '  C: yaml',
    '  REQUIRED:',
    'secrets:',
    '  TOKEN:',
    '  OTHER: from-yaml',
    'run: echo $A',
  ].join('\n');

  it('flags win over the YAML: --env over --env-file over envs; --secret over secrets', () => {
    const base = parseTaskYaml(yaml, 'o.yaml');
    const before = structuredClone(base);
    const out = applyOverrides(base, {
      name: 'renamed',
      workdir: '/abs/code',
      numNodes: '3',
      cpus: '16+',
      memory: '64GB',
      gpus: 'H100:8',
      envFile: { B: 'file', C: 'file', REQUIRED: 'file' },
      env: { C: 'flag', D: 'flag' },
      secrets: { TOKEN: 'tok' },
    });
    assert.deepStrictEqual(base, before, 'the input task is not changed');
    assert.equal(out.name, 'renamed');
    assert.equal(out.workdir, '/abs/code');
    assert.equal(out.num_nodes, 3);
    assert.deepStrictEqual(out.envs, { A: 'yaml', B: 'file', C: 'flag', REQUIRED: 'file', D: 'flag' });
    assert.deepStrictEqual(out.secrets, { TOKEN: 'tok', OTHER: 'from-yaml' });
    assert.deepStrictEqual(out.resources.cpus, { min: 16, orMore: true });
    assert.deepStrictEqual(out.resources.memory, { min: 64, orMore: false });
    assert.deepStrictEqual(out.resources.accelerators, [{ name: 'H100', count: 8 }]);
    // --cpus also replaces the candidates' cpus, so the flag wins everywhere.
    assert.deepStrictEqual(out.resources.any_of, [{ infra: { cloud: 'aws' } }, { infra: { cloud: 'gcp' } }]);
    assertRoundTrip(out);
  });

  it('--infra replaces every candidate infra; candidates left identical collapse', () => {
    const base = parseTaskYaml(yaml, 'o.yaml');
    const out = applyOverrides(base, { infra: 'local', cpus: 1, env: { REQUIRED: 'x' }, secrets: { TOKEN: 't' } });
    assert.deepStrictEqual(out.resources.infra, { cloud: 'local' });
    assert.equal(out.resources.any_of, undefined);
    const anywhere = applyOverrides(parseTaskYaml('resources:\n  infra: aws\nrun: x\n', 'o.yaml'), { infra: '*' });
    assert.deepStrictEqual(anywhere.resources, {});
  });

  it('--gpus takes a YAML list or set', () => {
    const t = taskFromCommand('nvidia-smi');
    assert.deepStrictEqual(applyOverrides(t, { gpus: '[V100, A100:2]' }).resources.accelerators, [{ name: 'V100', count: 1 }, { name: 'A100', count: 2 }]);
    assert.deepStrictEqual(applyOverrides(t, { gpus: '{A100:1, H100:1}' }).resources.accelerators, [{ name: 'A100', count: 1 }, { name: 'H100', count: 1 }]);
  });

  it('an env or secret left empty needs a flag', () => {
    const err = skyError(() => applyOverrides(parseTaskYaml(yaml, 'o.yaml'), {}));
    assert.equal(err.code, 'TASK_INVALID');
    assert.equal(
      err.message,
      '<command line>: envs.REQUIRED: has no value; pass --env REQUIRED=VALUE or set it under envs\n' +
        '<command line>: secrets.TOKEN: has no value; pass --secret TOKEN (taken from your environment) or --secret TOKEN=VALUE',
    );
  });

  it('bad flag values are reported by flag, all at once', () => {
    const err = skyError(() =>
      applyOverrides(taskFromCommand('x'), { name: 'bad name', numNodes: 'two', cpus: '4x', memory: '0', gpus: 'H100:0', infra: 'aws//x', workdir: '', env: { '1A': 'x' } }),
    );
    assert.equal(err.code, 'TASK_INVALID');
    assert.equal(
      err.message,
      [
        `-n: "bad name" is not a valid task name: use letters, digits, '.', '_' and '-', start and end with a letter or digit, and no more than two '.', '_' or '-' in a row`,
        '--workdir: is empty; expected a local directory path',
        '--num-nodes: must be a whole number of at least 1, got "two"',
        `--cpus: ${CPU}, got "4x"`,
        '--memory: must be greater than 0, got "0"',
        '--gpus: "H100:0": count must be greater than 0, got 0',
        `--infra: "aws//x": has an empty part; ${V}`,
        "--env: \"1A\" is not a valid variable name: use letters, digits and '_', not starting with a digit",
      ].join('\n'),
    );
    assert.deepStrictEqual(
      (err.details?.issues as Array<{ path: string }>).map((i) => i.path),
      ['-n', '--workdir', '--num-nodes', '--cpus', '--memory', '--gpus', '--infra', '--env'],
    );
  });

  it('numbers from the CLI parser are accepted as they are', () => {
    const out = applyOverrides(taskFromCommand('x'), { numNodes: 2, cpus: 4, memory: 16 });
    assert.equal(out.num_nodes, 2);
    assert.deepStrictEqual(out.resources, { cpus: { min: 4, orMore: false }, memory: { min: 16, orMore: false } });
  });

  it('a name cannot be both an env and a secret', () => {
    const t = parseTaskYaml('secrets:\n  TOKEN: s\nenvs:\n  MODE: m\nrun: x\n', 'o.yaml');
    assert.equal(skyError(() => applyOverrides(t, { env: { TOKEN: 'x' } })).message, '--env TOKEN: TOKEN is a secret of this task; pass it with --secret TOKEN');
    assert.equal(skyError(() => applyOverrides(t, { secrets: { MODE: 'x' } })).message, '--secret MODE: MODE is an env of this task; pass it with --env MODE=VALUE');
  });
});

describe('parseEnvFlags', () => {
  it('reads NAME=VALUE, and a bare NAME from the environment', () => {
    assert.deepStrictEqual(parseEnvFlags('--env', ['A=1', 'B=x=y', 'C=', 'HOME_DIR'], { HOME_DIR: '/home/u' }), { A: '1', B: 'x=y', C: '', HOME_DIR: '/home/u' });
    assert.deepStrictEqual(parseEnvFlags('--secret', ['HF_TOKEN'], { HF_TOKEN: 'hf_123' }), { HF_TOKEN: 'hf_123' });
  });

  it('names the flag for a bad name or a missing value', () => {
    const err = skyError(() => parseEnvFlags('--secret', ['HF_TOKEN', '9X=1'], {}));
    assert.equal(
      err.message,
      '--secret HF_TOKEN: no value given and HF_TOKEN is not set in your environment; use --secret HF_TOKEN=VALUE\n' +
        "--secret 9X=1: \"9X\" is not a valid variable name: use letters, digits and '_', not starting with a digit",
    );
  });
});

describe('validateClusterName', () => {
  it('accepts SkyPilot-style names', () => {
    for (const name of ['a', 'my-cluster', 'My_Cluster.v2', 'a1', 'x'.repeat(63)]) assert.equal(validateClusterName(name), name);
  });

  it('rejects bad names saying why', () => {
    const cases: Array<[string, string]> = [
      ['', 'must not be empty'],
      ['1abc', 'must start with a letter'],
      ['-abc', 'must start with a letter'],
      ['abc-', 'must end with a letter or a digit'],
      ['a.', 'must end with a letter or a digit'],
      ['my cluster', `contains " "; only letters, digits, '-', '_' and '.' are allowed`],
      ['a/b', `contains "/"; only letters, digits, '-', '_' and '.' are allowed`],
      ['café', `contains "é"; only letters, digits, '-', '_' and '.' are allowed`],
      ['x'.repeat(64), 'is 64 characters long; the limit is 63'],
    ];
    for (const [name, why] of cases) {
      const err = skyError(() => validateClusterName(name));
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.equal(err.message, `invalid cluster name ${JSON.stringify(name)}: ${why}`);
    }
  });
});

describe('resourceCandidates', () => {
  it('merges the defaults into each candidate', () => {
    const t = parseTaskYaml('resources:\n  cpus: 4\n  accelerators: H100\n  ordered:\n    - infra: aws\n    - infra: gcp\n      cpus: 8\n', 'c.yaml');
    assert.deepStrictEqual(resourceCandidates(t.resources), {
      ordered: true,
      candidates: [
        { cpus: { min: 4, orMore: false }, accelerators: [{ name: 'H100', count: 1 }], infra: { cloud: 'aws' } },
        { cpus: { min: 8, orMore: false }, accelerators: [{ name: 'H100', count: 1 }], infra: { cloud: 'gcp' } },
      ],
    });
    assert.deepStrictEqual(resourceCandidates({ cpus: { min: 1, orMore: true } }), { ordered: false, candidates: [{ cpus: { min: 1, orMore: true } }] });
  });
});

// ---------------------------------------------------------------------------------------------
// Fuzzing: random mutations of valid tasks. The parser either returns a task that validates again
// (and prints back to the same task), or throws a SkyError TASK_INVALID / TASK_UNSUPPORTED with a
// line per problem — never any other exception.

const SEEDS = [
  readFileSync(join(EXAMPLES, 'two-node.yaml'), 'utf8'),
  readFileSync(join(EXAMPLES, 'setup-and-run.yaml'), 'utf8'),
  [
    'name: rich',
    'num_nodes: 2',
    'resources:',
    '  infra: aws/us-east-1',
    '  cpus: 4+',
    '  memory: 32GB',
    '  accelerators: {A100:1, H100:1}',
    '  ports: [8080, 9000-9010]',
    '  disk_size: 256',
    '  use_spot: false',
    '  labels: {team: ml}',
    '  any_of:',
    '    - infra: k8s/ctx',
    '    - infra: local',
    '      cpus: 2',
    'envs:',
    '  A: 1',
    '  B: x',
    'secrets:',
    '  T: s',
    'file_mounts:',
    '  /data: ./data',
    'setup: echo setup',
    'run: |',
    '  echo run',
    '',
  ].join('\n'),
];

const FIELD_WORDS = ['name', 'run', 'setup', 'num_nodes', 'resources', 'cpus', 'memory', 'accelerators', 'ports', 'infra', 'any_of', 'ordered', 'envs', 'secrets', 'file_mounts', 'service', 'config', 'job_recovery', 'cpu', 'gpus', 'cloud', 'source', 'mode', '<<'];
const SCALARS: unknown[] = [0, -1, 1, 1.5, 2, 65536, 1e300, -0.0, 'H100:0', 'H100:8', 'A100', ':8', '4+', '32+', '16GB', '8000-8010', 'aws/us-east-1', 's3://b', '', ' ', 'x', true, false, null, [], {}, ['V100', 'A100:2'], { A100: 1 }, { source: './x', mode: 'MOUNT' }, [null], [[1]], NASTY_STRINGS];

function randomValue(rng: Rng, depth = 0): unknown {
  const roll = rng.int(0, 9);
  if (roll < 5 || depth > 2) {
    const v = rng.pick(SCALARS);
    return v === NASTY_STRINGS ? rng.pick(NASTY_STRINGS) : structuredClone(v);
  }
  if (roll < 7) return Array.from({ length: rng.int(0, 3) }, () => randomValue(rng, depth + 1));
  return Object.fromEntries(Array.from({ length: rng.int(0, 3) }, () => [rng.pick([...FIELD_WORDS, rng.pick(NASTY_STRINGS)]), randomValue(rng, depth + 1)]));
}

function mutateObject(rng: Rng, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || rng.chance(0.25)) return rng.chance(0.5) ? randomValue(rng) : value;
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length > 0 && rng.chance(0.7)) {
      const i = rng.int(0, copy.length - 1);
      copy[i] = mutateObject(rng, copy[i]);
    } else copy.push(randomValue(rng));
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const action = rng.int(0, 9);
  if (action < 6 && keys.length > 0) {
    const k = rng.pick(keys);
    copy[k] = mutateObject(rng, copy[k]);
  } else if (action < 8 && keys.length > 0) {
    delete copy[rng.pick(keys)];
  } else {
    copy[rng.pick(FIELD_WORDS)] = randomValue(rng);
  }
  return copy;
}

function mutateText(rng: Rng, text: string): string {
  const lines = text.split('\n');
  const n = rng.int(1, 3);
  let out = text;
  for (let i = 0; i < n; i++) {
    const kind = rng.int(0, 5);
    const at = rng.int(0, Math.max(0, out.length - 1));
    if (kind === 0) out = out.slice(0, at) + out.slice(at + 1);
    else if (kind === 1) out = out.slice(0, at) + rng.pick([':', '-', ' ', '\n', '[', ']', '{', '}', '&a', '*a', '!', '|', '>', '#', "'", '"', '\t', '0', '+', ',', '?']) + out.slice(at);
    else if (kind === 2) out = out.slice(0, at) + rng.pick(FIELD_WORDS) + out.slice(at);
    else if (kind === 3) {
      const j = rng.int(0, lines.length - 1);
      lines.splice(j, 0, lines[rng.int(0, lines.length - 1)]!);
      out = lines.join('\n');
    } else if (kind === 4) {
      const j = rng.int(0, lines.length - 1);
      lines[j] = rng.chance(0.5) ? `  ${lines[j]}` : lines[j]!.replace(/^ {1,2}/, '');
      out = lines.join('\n');
    } else out = out.slice(0, at) + rng.pick(NASTY_STRINGS) + out.slice(at);
  }
  return out;
}

function checkOutcome(text: string, label: string): 'ok' | 'invalid' | 'unsupported' {
  let t: Task;
  try {
    t = parseTaskYaml(text, 'fuzz.yaml');
  } catch (err) {
    if (!(err instanceof SkyError) || (err.code !== 'TASK_INVALID' && err.code !== 'TASK_UNSUPPORTED')) {
      assert.fail(`${label}: unexpected ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n--- input ---\n${text}`);
    }
    assert.ok(err.message.length > 0, label);
    for (const line of err.message.split('\n')) assert.match(line, /^fuzz\.yaml:\d+:\d+: \S/, `${label}: ${line}`);
    const issues = err.details?.issues as Array<{ line: number; column: number }>;
    assert.ok(issues.length > 0 && issues.every((i) => i.line >= 1 && i.column >= 1), label);
    return err.code === 'TASK_INVALID' ? 'invalid' : 'unsupported';
  }
  try {
    assertRoundTrip(t);
  } catch (err) {
    assert.fail(`${label}: accepted task does not validate again: ${String(err)}\n--- input ---\n${text}`);
  }
  return 'ok';
}

describe('fuzz: mutated tasks', () => {
  it('parse to a task that validates again, or fail with a task error', (t) => {
    const seed = Number(process.env.SKY_FUZZ_SEED ?? 20240611);
    const rng = new Rng(seed);
    const budgetMs = 30_000;
    const started = Date.now();
    const counts = { ok: 0, invalid: 0, unsupported: 0 };
    let cases = 0;
    for (; cases < 2000 && Date.now() - started < budgetMs; cases++) {
      const seedText = rng.pick(SEEDS);
      const label = `seed ${seed} case ${cases}`;
      let text: string;
      if (rng.chance(0.5)) {
        text = mutateText(rng, seedText);
      } else {
        const value = mutateObject(rng, JSON.parse(JSON.stringify(taskToConfig(parseTaskYaml(seedText, 'seed.yaml')))) as unknown);
        // The same value goes through TaskSchema as JSON: it must answer, never throw.
        TaskSchema.safeParse(value);
        text = stringify(value);
      }
      counts[checkOutcome(text, label)]++;
    }
    assert.ok(cases >= 200, `only ${cases} cases ran in ${budgetMs} ms`);
    assert.ok(counts.ok > 0 && counts.invalid > 0, `outcomes ${JSON.stringify(counts)}`);
    t.diagnostic(`fuzz: ${cases} cases in ${Date.now() - started} ms, seed ${seed}: ${JSON.stringify(counts)}`);
  });
});

describe('file_mounts with a list of sources (SkyPilot’s source: [a, b])', () => {
  it('each listed path lands in the destination directory under its own name', () => {
    const t = parseTaskYaml('file_mounts:\n  /inputs:\n    source: [./configs/a.yaml, ../data/shards/, ~/vocab.txt]\n    mode: COPY\n  rel:\n    source: [x/b.txt]\nrun: ls\n', 'u.yaml');
    assert.deepStrictEqual(t.file_mounts, {
      '/inputs/a.yaml': './configs/a.yaml',
      '/inputs/shards': '../data/shards/',
      '/inputs/vocab.txt': '~/vocab.txt',
      '~/sky_workdir/rel/b.txt': 'x/b.txt',
    });
  });

  it('refuses two sources with the same name, a nameless one, an empty list and buckets in the list', () => {
    const cases: Array<[string, RegExp]> = [
      ['[./a/x.txt, ./b/x.txt]', /file_mounts\["\/m"\]\.source: "\.\/a\/x\.txt" and "\.\/b\/x\.txt" would both land at \/m\/x\.txt/],
      ['[.]', /"\." has no name to place it under in \/m/],
      ['[]', /expected at least one local path in the list/],
      ['[./a, s3://bucket/b]', /not supported yet: file_mounts\["\/m"\]\.source\[1\]/],
    ];
    for (const [list, pattern] of cases) {
      const err = skyError(() => parseTaskYaml(`file_mounts:\n  /m:\n    source: ${list}\nrun: ls\n`, 'u.yaml'));
      assert.match(err.message, pattern, err.message);
    }
  });
});

describe('workdir as the git mapping SkyPilot takes', () => {
  it('is read into workdirGit, and sent back in the same shape', () => {
    const t = parseTaskYaml('workdir:\n  url: https://example.com/r.git\n  ref: v1.2\nrun: ls\n', 'u.yaml');
    assert.equal(t.workdir, undefined);
    assert.deepStrictEqual(t.workdirGit, { url: 'https://example.com/r.git', ref: 'v1.2' });
    assert.deepStrictEqual(taskToConfig(t).workdir, { url: 'https://example.com/r.git', ref: 'v1.2' });
    assert.deepStrictEqual(parseTaskYaml('workdir: {url: git@host:r.git}\nrun: ls\n', 'u.yaml').workdirGit, { url: 'git@host:r.git' });
  });
});

describe('a key given twice', () => {
  it('keeps the later value, as SkyPilot does, and warns naming both lines', () => {
    const t = parseTaskYaml('envs:\n  A: one\nrun: echo a\nenvs:\n  B: two\nresources:\n  cpus: 1\n  cpus: 2\nservice: {readiness_probe: /, replicas: 1, ports: 8080}\n', 'u.yaml');
    assert.deepStrictEqual(t.envs, { B: 'two' });
    assert.equal(t.resources.cpus?.min, 2);
    assert.deepStrictEqual(t.ignored, [
      "envs: given twice (lines 1 and 4); the later one is used, as SkyPilot's YAML reader does",
      "resources.cpus: given twice (lines 7 and 8); the later one is used, as SkyPilot's YAML reader does",
      'service: ignored by sky launch; a service is started with sky serve up',
    ]);
  });
});
