// The zod schema of SkyPilot's task format. Every level is strict: an unknown field is an error
// with a suggestion, an unsupported one is TASK_UNSUPPORTED (see unsupported.ts), and the scalar
// formats (cpus, memory, accelerators, ports, infra, …) are read by the checks in their own files.
import { z } from 'zod';
import { parseAccelerators } from './accelerators.js';
import { checkFileMounts, checkImageId, checkLabels, checkName, checkNumNodes, envMap, script, text, type FieldCheck } from './fields.js';
import { legacyInfraText, parseInfra } from './infra.js';
import { parsePorts } from './ports.js';
import { envNameProblem } from './names.js';
import { describeValue, formatTaskPath, isPlainObject, type FieldPath, type ReportOptions, type TaskProblem } from './problems.js';
import { parseCpus, parseDiskSize, parseMemory } from './quantity.js';
import { unknownFieldMessage } from './suggest.js';
import type { GitWorkdir, Resources, ResourceFields, Task } from './types.js';
import { checkJobRecovery } from './job-recovery.js';
import { checkService, resolveServicePort } from './service.js';
import { unsupportedMessage, type UnsupportedFieldName } from './unsupported.js';
import {
  anyValue,
  checkAcceleratorArgs,
  checkAutostop,
  checkDataEstimate,
  checkPriority,
  checkTier,
  ignoredMessage,
  type IgnoredField,
} from './compat-fields.js';

/** A field read by a plain check; its problems become zod issues at their sub-paths. */
function checked<T>(check: FieldCheck<T>) {
  return z
    .unknown()
    .transform((value, ctx): T => {
      let failed = false;
      const result = check(value, (message, path = [], options: ReportOptions = {}) => {
        failed = true;
        ctx.addIssue({ code: 'custom', message, path: [...path], input: value, params: { ...options } });
      });
      if (failed || result === undefined) {
        if (!failed) ctx.addIssue({ code: 'custom', message: `invalid value ${describeValue(value)}`, input: value });
        return z.NEVER;
      }
      return result;
    })
    .optional();
}

/** A SkyPilot field sky does not implement yet: present at all → TASK_UNSUPPORTED. */
function unsupported(field: UnsupportedFieldName) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      ctx.addIssue({ code: 'custom', message: field, input: value, params: { unsupported: field, at: 'key' } });
    })
    .optional();
}

function forbidden(message: string) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      ctx.addIssue({ code: 'custom', message, input: value, params: { at: 'key' } });
    })
    .optional();
}

/** A strict mapping: unknown keys are reported one by one, with a suggestion from `known`. */
function fields<S extends z.core.$ZodLooseShape>(shape: S, what: string, known: readonly string[]) {
  return z
    .object(shape, { error: (issue) => (issue.code === 'invalid_type' ? `expected ${what}, got ${describeValue(issue.input)}` : undefined) })
    .catchall(
      z.unknown().superRefine((value, ctx) => {
        ctx.addIssue({ code: 'custom', message: 'unknown field', input: value, params: { unknownAmong: known, at: 'key' } });
      }),
    );
}

const checkBool: FieldCheck<boolean> = (value, report) => {
  if (typeof value === 'boolean') return value;
  report(`expected true or false, got ${describeValue(value)}`);
  return undefined;
};

const localWorkdir = text('a local directory path');

const GIT_WORKDIR_KEYS = ['url', 'ref'];

/** workdir: a local directory, or SkyPilot's git form {url, ref} (cloned by the client). */
const checkWorkdir: FieldCheck<string | GitWorkdir> = (value, report) => {
  if (!isPlainObject(value)) return localWorkdir(value, report);
  let ok = true;
  for (const key of Object.keys(value)) {
    if (!GIT_WORKDIR_KEYS.includes(key)) {
      report('unknown field', [key], { unknownAmong: GIT_WORKDIR_KEYS, at: 'key' });
      ok = false;
    }
  }
  const url = value.url === undefined ? undefined : text('a git repository URL')(value.url, (message) => report(message, ['url']));
  if (value.url === undefined) report('missing url: the git repository to clone (with ref: the branch, tag or commit)');
  if (url !== undefined && url.startsWith('-')) {
    report(`${JSON.stringify(url)} is not a repository URL`, ['url']);
    ok = false;
  }
  let ref: string | undefined;
  if (value.ref !== undefined && value.ref !== null) {
    ref = text('a branch, tag or commit')(value.ref, (message) => report(message, ['ref']));
    if (ref !== undefined && (ref.startsWith('-') || /[\s\x00-\x1f\x7f]/.test(ref))) {
      report(`${JSON.stringify(ref)} is not a branch, tag or commit name`, ['ref']);
      ok = false;
    }
    if (ref === undefined) ok = false;
  }
  if (url === undefined || !ok) return undefined;
  return ref === undefined ? { url } : { url, ref };
};

interface SecretsInput {
  values: Record<string, string | null>;
  fromEnvironment?: string[];
}

const secretMap = envMap('secrets');

/** secrets: NAME → value, or (as in SkyPilot) a list of names whose values come from the client's environment. */
const secretsField: FieldCheck<SecretsInput> = (value, report) => {
  if (!Array.isArray(value)) {
    const values = secretMap(value, report);
    return values === undefined ? undefined : { values };
  }
  const names: string[] = [];
  let ok = true;
  value.forEach((name: unknown, i) => {
    const bad = typeof name === 'string' ? envNameProblem(name) : `expected a secret name, got ${describeValue(name)}`;
    if (bad !== undefined) {
      report(bad, [i]);
      ok = false;
    } else names.push(name as string);
  });
  return ok ? { values: Object.fromEntries(names.map((n) => [n, null])), fromEnvironment: names } : undefined;
};

const legacyCloud = text('a cloud name like aws', (v) => (v === '*' || /^[a-z][a-z0-9_-]*$/i.test(v) ? undefined : `${JSON.stringify(v)} is not a cloud name`));
const legacyPlace = text('a region or zone name', (v) => (/[\s\u0000-\u001f\u007f]/.test(v) ? `${JSON.stringify(v)} must not contain spaces` : undefined));

const RESOURCE_FIELDS = {
  infra: checked(parseInfra),
  cpus: checked(parseCpus),
  memory: checked(parseMemory),
  accelerators: checked(parseAccelerators),
  instance_type: checked(text('an instance type like p3.8xlarge')),
  use_spot: checked(checkBool),
  disk_size: checked(parseDiskSize),
  image_id: checked(checkImageId),
  ports: checked(parsePorts),
  labels: checked(checkLabels),
  // Accepted as in SkyPilot: `gpus` is another name for accelerators; cloud/region/zone are the older infra.
  gpus: checked(parseAccelerators),
  cloud: checked(legacyCloud),
  region: checked(legacyPlace),
  zone: checked(legacyPlace),
  // SkyPilot's older name for disk_size.
  ephemeral_storage: checked(parseDiskSize),
  disk_tier: checked(checkTier('disk')),
  network_tier: checked(checkTier('network')),
  local_disk: checked(text('instance-local disks like nvme:2 or ssd:1')),
  accelerator_args: checked(checkAcceleratorArgs),
  priority_class: checked(text('a Kubernetes priority class name')),
  autostop: checked(checkAutostop),
  priority: checked(checkPriority),
  job_recovery: checked(checkJobRecovery),
};

const RESOURCE_UNSUPPORTED = {
  volumes: unsupported('resources.volumes'),
  max_hourly_cost: unsupported('resources.max_hourly_cost'),
  _no_missing_accel_warnings: unsupported('resources._internal'),
  _docker_login_config: unsupported('resources._internal'),
  _is_image_managed: unsupported('resources._internal'),
  _requires_fuse: unsupported('resources._internal'),
  _cluster_config_overrides: unsupported('resources._internal'),
};

const RESOURCE_KNOWN = Object.keys(RESOURCE_FIELDS);

const CandidateSchema = fields(
  {
    ...RESOURCE_FIELDS,
    ...RESOURCE_UNSUPPORTED,
    any_of: forbidden('any_of cannot be nested inside a candidate'),
    ordered: forbidden('ordered cannot be nested inside a candidate'),
  },
  'a mapping of resource fields',
  RESOURCE_KNOWN,
);

const candidates = z
  .array(CandidateSchema, { error: (issue) => (issue.code === 'invalid_type' ? `expected a list of resource candidates, got ${describeValue(issue.input)}` : undefined) })
  .min(1, { error: 'must list at least one candidate' })
  .optional();

const ResourcesInput = fields(
  { ...RESOURCE_FIELDS, ...RESOURCE_UNSUPPORTED, any_of: candidates, ordered: candidates },
  'a mapping of resource fields',
  [...RESOURCE_KNOWN, 'any_of', 'ordered'],
)
  .nullable()
  .optional();

const TASK_FIELDS = {
  name: checked(checkName),
  workdir: checked(checkWorkdir),
  num_nodes: checked(checkNumNodes),
  resources: ResourcesInput,
  envs: checked(envMap('envs')),
  secrets: checked(secretsField),
  file_mounts: checked(checkFileMounts),
  setup: checked(script('setup')),
  run: checked(script('run')),
  service: checked(checkService),
  pool: checked(anyValue),
  inputs: checked(checkDataEstimate),
  outputs: checked(checkDataEstimate),
};

const TaskInput = fields(
  {
    ...TASK_FIELDS,
    config: unsupported('config'),
    experimental: unsupported('experimental'),
    volumes: unsupported('volumes'),
    volume_mounts: unsupported('volume_mounts'),
    event_callback: unsupported('event_callback'),
    managed_secrets: unsupported('managed_secrets'),
    file_mounts_mapping: unsupported('file_mounts_mapping'),
    api_server_access: unsupported('api_server_access'),
    _metadata: unsupported('_metadata'),
  },
  'a mapping of task fields (name, resources, setup, run, …)',
  Object.keys(TASK_FIELDS),
);

type RawFields = z.output<typeof CandidateSchema>;
type RawTask = z.output<typeof TaskInput>;

interface IssueParams {
  unsupported?: UnsupportedFieldName;
  unknownAmong?: readonly string[];
  at?: 'key' | 'value';
}

function toProblem(issue: z.core.$ZodIssue): TaskProblem {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const params = (issue.code === 'custom' ? issue.params : undefined) as IssueParams | undefined;
  if (params?.unknownAmong !== undefined) {
    return { path, message: unknownFieldMessage(String(path[path.length - 1]), params.unknownAmong), at: 'key' };
  }
  if (params?.unsupported !== undefined) {
    return { path, message: unsupportedMessage(params.unsupported, formatTaskPath(path)), unsupported: true, at: params.at ?? 'key' };
  }
  return { path, message: issue.message, at: params?.at ?? 'value' };
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(obj, key);
}

function resourceConflicts(r: Record<string, unknown>, path: FieldPath, out: TaskProblem[]): void {
  if (has(r, 'infra')) {
    for (const key of ['cloud', 'region', 'zone']) {
      if (has(r, key)) out.push({ path: [...path, key], message: `give infra or the older ${key} field, not both (infra: <cloud>/<region>/<zone>)`, at: 'key' });
    }
  }
  if (has(r, 'ephemeral_storage') && has(r, 'disk_size')) {
    out.push({ path: [...path, 'ephemeral_storage'], message: 'ephemeral_storage is the older name of disk_size; give only disk_size', at: 'key' });
  }
  if (has(r, 'gpus') && has(r, 'accelerators')) {
    out.push({ path: [...path, 'gpus'], message: 'gpus is another name for accelerators; give only one', at: 'key' });
  }
}

/** Problems that involve two fields; found on the raw input so they are reported with all others. */
function crossFieldProblems(input: Record<string, unknown>): TaskProblem[] {
  const out: TaskProblem[] = [];
  const resources = input.resources;
  if (isPlainObject(resources)) {
    resourceConflicts(resources, ['resources'], out);
    if (has(resources, 'any_of') && has(resources, 'ordered')) {
      out.push({ path: ['resources', 'ordered'], message: 'use either any_of or ordered, not both', at: 'key' });
    }
    for (const key of ['any_of', 'ordered']) {
      const list = resources[key];
      if (Array.isArray(list)) list.forEach((c, i) => isPlainObject(c) && resourceConflicts(c, ['resources', key, i], out));
    }
  }
  const { envs, secrets } = input;
  const secretNames = Array.isArray(secrets) ? secrets.filter((s): s is string => typeof s === 'string') : isPlainObject(secrets) ? Object.keys(secrets) : [];
  if (isPlainObject(envs)) {
    for (const key of secretNames) {
      if (has(envs, key)) out.push({ path: ['secrets', key], message: `${key} is also set under envs; a name is either an env or a secret`, at: 'key' });
    }
  }
  return out;
}

function buildFields(raw: RawFields, path: FieldPath, problems: TaskProblem[]): ResourceFields {
  const out: ResourceFields = {};
  let infra = raw.infra;
  if (raw.cloud !== undefined || raw.region !== undefined || raw.zone !== undefined) {
    const key = raw.cloud !== undefined ? 'cloud' : raw.region !== undefined ? 'region' : 'zone';
    infra = parseInfra(legacyInfraText(raw.cloud, raw.region, raw.zone), (message) => problems.push({ path: [...path, key], message }));
  }
  if (infra !== undefined && Object.keys(infra).length > 0) out.infra = infra;
  if (raw.cpus !== undefined) out.cpus = raw.cpus;
  if (raw.memory !== undefined) out.memory = raw.memory;
  const accelerators = raw.accelerators ?? raw.gpus;
  if (accelerators !== undefined) out.accelerators = accelerators;
  if (raw.instance_type !== undefined) out.instance_type = raw.instance_type;
  if (raw.use_spot !== undefined) out.use_spot = raw.use_spot;
  const disk = raw.disk_size ?? raw.ephemeral_storage;
  if (disk !== undefined) out.disk_size = disk;
  if (raw.image_id !== undefined && raw.image_id !== null) out.image_id = raw.image_id;
  if (raw.disk_tier !== undefined) out.disk_tier = raw.disk_tier;
  if (raw.network_tier !== undefined) out.network_tier = raw.network_tier;
  if (raw.local_disk !== undefined) out.local_disk = raw.local_disk;
  if (raw.accelerator_args !== undefined) out.accelerator_args = raw.accelerator_args;
  if (raw.priority_class !== undefined) out.priority_class = raw.priority_class;
  if (raw.autostop !== undefined) out.autostop = raw.autostop;
  if (raw.job_recovery !== undefined) out.job_recovery = raw.job_recovery;
  if (raw.ports !== undefined) out.ports = raw.ports;
  if (raw.labels !== undefined && Object.keys(raw.labels).length > 0) out.labels = raw.labels;
  return out;
}

function buildTask(raw: RawTask, problems: TaskProblem[]): Task {
  const resources: Resources = {};
  if (raw.resources) {
    Object.assign(resources, buildFields(raw.resources, ['resources'], problems));
    for (const key of ['any_of', 'ordered'] as const) {
      const list = raw.resources[key];
      if (list !== undefined) resources[key] = list.map((c, i) => buildFields(c, ['resources', key, i], problems));
    }
  }
  const task: Task = {
    num_nodes: raw.num_nodes ?? 1,
    resources,
    envs: raw.envs ?? {},
    secrets: raw.secrets?.values ?? {},
    file_mounts: raw.file_mounts ?? {},
  };
  if (raw.secrets?.fromEnvironment !== undefined) task.secretsFromEnvironment = raw.secrets.fromEnvironment;
  const ignored = ignoredFields(raw);
  if (ignored.length > 0) task.ignored = ignored;
  if (raw.name !== undefined) task.name = raw.name;
  if (typeof raw.workdir === 'string') task.workdir = raw.workdir;
  else if (raw.workdir !== undefined) task.workdirGit = raw.workdir;
  if (raw.setup !== undefined) task.setup = raw.setup;
  if (raw.run !== undefined) task.run = raw.run;
  if (raw.service !== undefined) {
    const service = resolveServicePort(raw.service, resources.ports, problems);
    if (service !== undefined) task.service = service;
    if (raw.service.warnings.length > 0) task.ignored = [...(task.ignored ?? []), ...raw.service.warnings];
  }
  return task;
}

/** One warning per field SkyPilot accepts that sky launch ignores. */
function ignoredFields(raw: RawTask): string[] {
  const out: string[] = [];
  for (const field of ['service', 'pool', 'inputs', 'outputs'] as const) {
    if (raw[field] !== undefined) out.push(ignoredMessage(field));
  }
  const priority = (path: string, r: { priority?: number | undefined } | undefined) => {
    if (r?.priority !== undefined) out.push(ignoredMessage('resources.priority' satisfies IgnoredField, path));
  };
  priority('resources.priority', raw.resources ?? undefined);
  for (const key of ['any_of', 'ordered'] as const) raw.resources?.[key]?.forEach((c, i) => priority(`resources.${key}[${i}].priority`, c));
  return out;
}

export type TaskValidation = { ok: true; task: Task } | { ok: false; problems: TaskProblem[] };

/** Validate a task in SkyPilot's shape (parsed YAML or JSON) and normalize it, or list every problem. */
export function validateTask(input: unknown): TaskValidation {
  if (input === null || input === undefined) {
    return { ok: false, problems: [{ path: [], message: 'the task is empty; write at least a run command (see the SkyPilot task format)' }] };
  }
  if (!isPlainObject(input)) {
    return { ok: false, problems: [{ path: [], message: `expected a mapping of task fields (name, resources, setup, run, …), got ${describeValue(input)}` }] };
  }
  const problems = crossFieldProblems(input);
  const result = TaskInput.safeParse(input);
  if (!result.success) problems.push(...result.error.issues.map(toProblem));
  if (!result.success || problems.length > 0) return { ok: false, problems };
  const task = buildTask(result.data, problems);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, task };
}

/**
 * The task as the daemon receives it (JSON in SkyPilot's YAML shape), normalized to a Task.
 * Same rules as the YAML parser; problems are zod issues with paths, each message final.
 */
export const TaskSchema = z
  .unknown()
  .transform((input, ctx): Task => {
    const result = validateTask(input);
    if (result.ok) return result.task;
    for (const p of result.problems) {
      ctx.addIssue({ code: 'custom', message: p.message, path: [...p.path], input, params: { unsupported: p.unsupported === true } });
    }
    return z.NEVER;
  })
  .meta({ description: "A task in SkyPilot's task YAML shape (name, workdir, num_nodes, resources, envs, secrets, file_mounts, setup, run)." });
