// Command-line overrides of a task (sky launch / sky exec flags), checked with the same rules as
// the YAML and reported by flag: `--cpus: expected a CPU count like 4, …`.
import { SkyError } from '../wire/errors.js';
import { parseAccelerators } from './accelerators.js';
import { yamlLib } from './yaml-lib.js';
import { checkName, checkNumNodes, text } from './fields.js';
import { legacyInfraText, parseInfra } from './infra.js';
import { parsePorts } from './ports.js';
import { envNameProblem } from './names.js';
import { formatTaskPath, TASK_DOCS, type Report, type TaskIssue } from './problems.js';
import { parseCpus, parseMemory } from './quantity.js';
import type { ResourceFields, Task } from './types.js';

export interface TaskOverrides {
  /** -n / --name */
  name?: string;
  /** --env-file, already read and parsed by the caller. Applied before --env. */
  envFile?: Readonly<Record<string, string>>;
  /** --env NAME=VALUE (see parseEnvFlags). Wins over --env-file and the task's envs. */
  env?: Readonly<Record<string, string>>;
  /** --secret NAME[=VALUE], values resolved by the caller (see parseEnvFlags). */
  secrets?: Readonly<Record<string, string>>;
  cpus?: string | number;
  memory?: string | number;
  /** --gpus: `H100:8`, `H100`, or a YAML list/set like `[V100, A100:2]`. */
  gpus?: string;
  numNodes?: string | number;
  infra?: string;
  /** --cloud / --region / --zone: SkyPilot's older spelling of the parts of --infra; each replaces its part of the task's infra. */
  cloud?: string;
  region?: string;
  zone?: string;
  /** --use-spot */
  useSpot?: boolean;
  /** --instance-type */
  instanceType?: string;
  /** --image-id */
  imageId?: string;
  /** --ports, each a port or a range. */
  ports?: readonly (string | number)[];
  /** --no-setup: the task's setup commands are dropped. */
  noSetup?: boolean;
  workdir?: string;
  /** The client's environment: values of secrets the task lists by name only (`secrets: [HF_TOKEN]`). */
  environ?: Readonly<Record<string, string | undefined>>;
}

const SOURCE = '<command line>';

class FlagProblems {
  readonly issues: TaskIssue[] = [];

  reporter(flag: string): Report {
    return (message, path = []) => {
      const where = path.length > 0 ? `${flag} ${formatTaskPath(path)}` : flag;
      this.issues.push({ path: where, message });
    };
  }

  throwIfAny(): void {
    if (this.issues.length === 0) return;
    throw new SkyError('TASK_INVALID', this.issues.map((i) => `${i.path}: ${i.message}`).join('\n'), {
      hint: `Fix the flags named above; they take the same values as the task YAML (${TASK_DOCS}).`,
      details: { source: SOURCE, issues: this.issues },
    });
  }
}

function checkEnvMap(flag: string, map: Readonly<Record<string, string>> | undefined, problems: FlagProblems): Record<string, string> {
  const out: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(map ?? {})) {
    const bad = envNameProblem(key);
    if (bad !== undefined) problems.reporter(flag)(bad);
    else if (typeof value !== 'string') problems.reporter(`${flag} ${key}`)('expected a string value');
    else out.push([key, value]);
  }
  return Object.fromEntries(out);
}

/** --gpus takes what `accelerators:` takes; a value starting with [ or { is read as YAML. */
function parseGpusFlag(value: string, report: Report) {
  const trimmed = value.trim();
  if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) return parseAccelerators(value, report);
  const doc = yamlLib().parseDocument(trimmed, { prettyErrors: false });
  if (doc.errors.length > 0) {
    report(`cannot read ${JSON.stringify(value)}: ${doc.errors[0]!.message.split('\n')[0]}`);
    return undefined;
  }
  return parseAccelerators(doc.toJS() as unknown, report);
}

function parseNumNodesFlag(value: string | number, report: Report): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return checkNumNodes(n, report);
}

/** Set one resource field on the task: on the defaults, and taken out of every candidate so the flag wins. */
function setResource<K extends keyof ResourceFields>(task: Task, key: K, value: ResourceFields[K] | undefined): void {
  if (value === undefined) delete task.resources[key];
  else task.resources[key] = value;
  for (const list of ['any_of', 'ordered'] as const) {
    const candidates = task.resources[list];
    if (candidates === undefined) continue;
    const seen = new Set<string>();
    const kept: ResourceFields[] = [];
    for (const candidate of candidates) {
      delete candidate[key];
      const id = JSON.stringify(candidate);
      if (!seen.has(id)) kept.push(candidate);
      seen.add(id);
    }
    if (kept.length === 1 && Object.keys(kept[0]!).length === 0) delete task.resources[list];
    else task.resources[list] = kept;
  }
}

/**
 * Apply the launch flags to a parsed task and return the result (the input is not changed).
 * Precedence: task YAML < --env-file < --env; YAML secrets < --secret; every other flag replaces
 * the YAML value (and the same field in any_of / ordered candidates). Finally every env and
 * secret must have a value (see assertResolved).
 */
export function applyOverrides(task: Task, overrides: TaskOverrides): Task {
  const out = structuredClone(task);
  const problems = new FlagProblems();
  if (overrides.name !== undefined) {
    const name = checkName(overrides.name, problems.reporter('-n'));
    if (name !== undefined) out.name = name;
  }
  if (overrides.workdir !== undefined) {
    const workdir = text('a local directory path')(overrides.workdir, problems.reporter('--workdir'));
    if (workdir !== undefined) out.workdir = workdir;
  }
  if (overrides.numNodes !== undefined) {
    const n = parseNumNodesFlag(overrides.numNodes, problems.reporter('--num-nodes'));
    if (n !== undefined) out.num_nodes = n;
  }
  if (overrides.cpus !== undefined) {
    const cpus = parseCpus(overrides.cpus, problems.reporter('--cpus'));
    if (cpus !== undefined) setResource(out, 'cpus', cpus);
  }
  if (overrides.memory !== undefined) {
    const memory = parseMemory(overrides.memory, problems.reporter('--memory'));
    if (memory !== undefined) setResource(out, 'memory', memory);
  }
  if (overrides.gpus !== undefined) {
    const gpus = parseGpusFlag(overrides.gpus, problems.reporter('--gpus'));
    if (gpus !== undefined) setResource(out, 'accelerators', gpus);
  }
  if (overrides.infra !== undefined) {
    const infra = parseInfra(overrides.infra, problems.reporter('--infra'));
    // `--infra '*'` means anywhere: it clears the task's infra.
    if (infra !== undefined) setResource(out, 'infra', Object.keys(infra).length > 0 ? infra : undefined);
  }
  applyLegacyInfra(out, overrides, problems);
  if (overrides.useSpot === true) setResource(out, 'use_spot', true);
  if (overrides.instanceType !== undefined) {
    const type = text('an instance type like p3.8xlarge')(overrides.instanceType, problems.reporter('--instance-type'));
    if (type !== undefined) setResource(out, 'instance_type', type);
  }
  if (overrides.imageId !== undefined) {
    const image = text('an image id like docker:ubuntu:22.04')(overrides.imageId, problems.reporter('--image-id'));
    if (image !== undefined) setResource(out, 'image_id', image);
  }
  if (overrides.ports !== undefined) {
    const ports = parsePorts([...overrides.ports], problems.reporter('--ports'));
    if (ports !== undefined) setResource(out, 'ports', ports);
  }
  if (overrides.noSetup === true) delete out.setup;
  const envFile = checkEnvMap('--env-file', overrides.envFile, problems);
  const env = checkEnvMap('--env', overrides.env, problems);
  const secrets = checkEnvMap('--secret', overrides.secrets, problems);
  out.envs = Object.fromEntries([...Object.entries(out.envs), ...Object.entries(envFile), ...Object.entries(env)]);
  const listed = (out.secretsFromEnvironment ?? []).flatMap((name): Array<[string, string]> => {
    const value = overrides.environ?.[name];
    return value === undefined ? [] : [[name, value]];
  });
  delete out.secretsFromEnvironment;
  out.secrets = Object.fromEntries([...Object.entries(out.secrets), ...listed, ...Object.entries(secrets)]);
  for (const key of Object.keys(out.envs)) {
    if (!Object.hasOwn(out.secrets, key)) continue;
    if (Object.hasOwn(env, key) || Object.hasOwn(envFile, key)) {
      problems.reporter(Object.hasOwn(env, key) ? `--env ${key}` : `--env-file ${key}`)(`${key} is a secret of this task; pass it with --secret ${key}`);
    } else if (Object.hasOwn(secrets, key)) {
      problems.reporter(`--secret ${key}`)(`${key} is an env of this task; pass it with --env ${key}=VALUE`);
    }
  }
  problems.throwIfAny();
  return assertResolved(substituteEnvs(out), SOURCE);
}

/**
 * --cloud / --region / --zone replace their part of the task's infra, as SkyPilot's flags do
 * (`--region us-west-2` on a task with `infra: aws/us-east-1` is aws/us-west-2). With --infra
 * they would say the same thing twice: refused.
 */
function applyLegacyInfra(task: Task, overrides: TaskOverrides, problems: FlagProblems): void {
  const given = (['cloud', 'region', 'zone'] as const).filter((k) => overrides[k] !== undefined);
  if (given.length === 0) return;
  const flags = given.map((k) => `--${k}`).join(', ');
  if (overrides.infra !== undefined) {
    problems.reporter(flags)('give either --infra or --cloud/--region/--zone, not both (--infra CLOUD/REGION/ZONE says all three)');
    return;
  }
  const current = task.resources.infra ?? {};
  const cloud = overrides.cloud ?? current.cloud;
  const region = overrides.region ?? current.region;
  const zone = overrides.zone ?? current.zone;
  const infra = parseInfra(legacyInfraText(cloud, region, zone), problems.reporter(flags));
  if (infra !== undefined) setResource(task, 'infra', Object.keys(infra).length > 0 ? infra : undefined);
}

/**
 * Every env and secret needs a value before the task runs. A `null` in the YAML means "required":
 * it must come from --env / --secret. Returns the task, or throws TASK_INVALID naming each one.
 */
export function assertResolved(task: Task, source: string): Task {
  const issues: TaskIssue[] = [];
  for (const [key, value] of Object.entries(task.envs)) {
    if (value === null) issues.push({ path: formatTaskPath(['envs', key]), message: `has no value; pass --env ${key}=VALUE or set it under envs` });
  }
  for (const [key, value] of Object.entries(task.secrets)) {
    if (value === null) {
      issues.push({ path: formatTaskPath(['secrets', key]), message: `has no value; pass --secret ${key} (taken from your environment) or --secret ${key}=VALUE` });
    }
  }
  if (issues.length === 0) return task;
  throw new SkyError('TASK_INVALID', issues.map((i) => `${source}: ${i.path}: ${i.message}`).join('\n'), {
    hint: 'Give every env and secret left empty in the task a value on the command line.',
    details: { source, issues },
  });
}

/**
 * Read repeated `--env NAME=VALUE` / `--secret NAME[=VALUE]` flags. A bare NAME takes its value
 * from `environ` (the caller's environment), as SkyPilot does. Throws TASK_INVALID naming the flag.
 */
export function parseEnvFlags(flag: '--env' | '--secret', items: readonly string[], environ: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const problems = new FlagProblems();
  const out: Array<[string, string]> = [];
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    const bad = envNameProblem(key);
    if (bad !== undefined) {
      problems.reporter(`${flag} ${item}`)(bad);
      continue;
    }
    if (eq >= 0) {
      out.push([key, item.slice(eq + 1)]);
      continue;
    }
    const fromEnv = Object.hasOwn(environ, key) ? environ[key] : undefined;
    if (fromEnv === undefined) problems.reporter(`${flag} ${key}`)(`no value given and ${key} is not set in your environment; use ${flag} ${key}=VALUE`);
    else out.push([key, fromEnv]);
  }
  problems.throwIfAny();
  return Object.fromEntries(out);
}

const ENV_REF = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** `$NAME` / `${NAME}` replaced by the task's env values, as SkyPilot does; unknown or empty names are left as written. */
export function substituteEnvText(text: string, envs: Readonly<Record<string, string | null>>): string {
  return text.replace(ENV_REF, (whole, braced: string | undefined, bare: string | undefined) => {
    const value = envs[(braced ?? bare)!];
    return typeof value === 'string' ? value : whole;
  });
}

/** SkyPilot substitutes the task's envs into file_mounts (destinations and sources) and workdir. */
export function substituteEnvs(task: Task): Task {
  const envs = task.envs;
  if (Object.keys(envs).length === 0) return task;
  const out: Task = { ...task, file_mounts: {} };
  for (const [dst, src] of Object.entries(task.file_mounts)) out.file_mounts[substituteEnvText(dst, envs)] = substituteEnvText(src, envs);
  if (task.workdir !== undefined) out.workdir = substituteEnvText(task.workdir, envs);
  return out;
}
