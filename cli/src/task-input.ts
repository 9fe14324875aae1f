// What `sky launch` and `sky exec` run: a task YAML or a command, with the command-line
// overrides applied and local paths made absolute. Everything here is checked before anything
// is sent, so a bad file or flag fails fast with the file, line and column.
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { SkyError } from '@sky/client';
import { applyOverrides, parseEnvFlags, taskFromCommand, type Task, type TaskOverrides } from '@sky/protocol/task-core';
import { parseDotenv } from './dotenv.js';
import type { CliOptions } from './usage.js';

export type Entrypoint = { kind: 'yaml'; file: string } | { kind: 'command'; command: string } | { kind: 'none' };

export type PathKind = 'file' | 'dir' | 'missing';

export function pathKind(path: string): PathKind {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

const YAML_FILE = /\.ya?ml$/i;

/**
 * SkyPilot's reading of `sky launch [ENTRYPOINT]...`: one word naming a YAML file is a task
 * file; anything else is a command, its words joined by spaces (`sky launch echo hi`,
 * `sky launch 'echo hi'`, `sky launch -- echo hi`). One word that looks like a YAML path
 * but is not a file is an error rather than a command to run.
 */
export function classifyEntrypoint(words: readonly string[], kindOf: (path: string) => PathKind = pathKind): Entrypoint {
  if (words.length === 0) return { kind: 'none' };
  const only = words.length === 1 ? words[0]! : undefined;
  if (only !== undefined && YAML_FILE.test(only)) {
    const kind = kindOf(only);
    if (kind === 'file') return { kind: 'yaml', file: only };
    if (kind === 'dir') {
      throw new SkyError('TASK_INVALID', `${only} is a directory, not a task YAML file`, { hint: 'Give the path of the task YAML file.' });
    }
    throw new SkyError('TASK_INVALID', `task file not found: ${only}`, {
      hint: `Check the path; relative paths are read from the current directory (${process.cwd()}).`,
      details: { source: only },
    });
  }
  return { kind: 'command', command: words.join(' ') };
}

/** An empty task: `sky launch -c NAME` alone provisions the cluster and runs nothing. */
function emptyTask(): Task {
  return { num_nodes: 1, resources: {}, envs: {}, secrets: {}, file_mounts: {} };
}

/** SkyPilot names a task given as a command `sky-cmd`. */
const COMMAND_TASK_NAME = 'sky-cmd';

export async function baseTask(entrypoint: Entrypoint, readText: (file: string) => string = (f) => readFileSync(f, 'utf8')): Promise<Task> {
  if (entrypoint.kind === 'none') return emptyTask();
  if (entrypoint.kind === 'command') return { ...taskFromCommand(entrypoint.command), name: COMMAND_TASK_NAME };
  const text = readTaskFile(entrypoint.file, readText);
  // The YAML reader and the task schema are loaded only for a task file (a command needs neither).
  const { parseTaskYaml } = await import('./task-yaml.js');
  try {
    return parseTaskYaml(text, entrypoint.file);
  } catch (err) {
    throw pipelineAdvice(err, entrypoint.file);
  }
}

/** A file of several tasks (a pipeline) given to sky launch or sky exec: the error says what runs it. */
function pipelineAdvice(err: unknown, file: string): unknown {
  if (!(err instanceof SkyError) || err.code !== 'TASK_UNSUPPORTED') return err;
  const issues = err.details?.issues;
  const onlyPipeline = Array.isArray(issues) && issues.length === 1 && /^not supported yet: pipelines\b/.test(String((issues[0] as { message?: unknown }).message));
  if (!onlyPipeline) return err;
  return new SkyError(err.code, err.message, { hint: `A pipeline (several tasks in one file) runs as a managed job: sky jobs launch ${file}`, details: err.details });
}

/** The text of a task file, or the error saying why it cannot be read. */
export function readTaskFile(file: string, readText: (file: string) => string): string {
  try {
    return readText(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new SkyError('TASK_INVALID', `cannot read task file ${file}: ${reason}`, { details: { source: file } });
  }
}

export interface Environment {
  cwd: string;
  home: string;
  env: Readonly<Record<string, string | undefined>>;
  readText: (file: string) => string;
  kindOf: (path: string) => PathKind;
}

export function processEnvironment(): Environment {
  return { cwd: process.cwd(), home: homedir(), env: process.env, readText: (f) => readFileSync(f, 'utf8'), kindOf: pathKind };
}

/** The task flags as applyOverrides takes them; --env-file is read here. */
export function overridesOf(options: CliOptions, environment: Environment): TaskOverrides {
  const overrides: TaskOverrides = {};
  if (options.name !== undefined) overrides.name = options.name;
  if (options.workdir !== undefined) overrides.workdir = options.workdir;
  if (options.cpus !== undefined) overrides.cpus = options.cpus;
  if (options.memory !== undefined) overrides.memory = options.memory;
  if (options.gpus !== undefined) overrides.gpus = options.gpus;
  if (options.numNodes !== undefined) overrides.numNodes = options.numNodes;
  if (options.infra !== undefined) overrides.infra = options.infra;
  if (options.cloud !== undefined) overrides.cloud = options.cloud;
  if (options.region !== undefined) overrides.region = options.region;
  if (options.zone !== undefined) overrides.zone = options.zone;
  if (options.useSpot === true) overrides.useSpot = true;
  if (options.instanceType !== undefined) overrides.instanceType = options.instanceType;
  if (options.imageId !== undefined) overrides.imageId = options.imageId;
  if (options.ports !== undefined) overrides.ports = options.ports;
  if (options.noSetup === true) overrides.noSetup = true;
  if (options.envFile !== undefined) {
    let text: string;
    try {
      text = environment.readText(localPath(options.envFile, environment));
    } catch {
      throw new SkyError('TASK_INVALID', `--env-file: cannot read ${options.envFile}`, { hint: 'Check the path of the env file.' });
    }
    overrides.envFile = parseDotenv(text, options.envFile);
  }
  if (options.env !== undefined) overrides.env = parseEnvFlags('--env', options.env, environment.env);
  if (options.secret !== undefined) overrides.secrets = parseEnvFlags('--secret', options.secret, environment.env);
  overrides.environ = environment.env;
  return overrides;
}

/** A local path as the user wrote it, made absolute: `~/x` from the home directory, `x` from the current one. */
export function localPath(path: string, environment: Pick<Environment, 'cwd' | 'home'>): string {
  if (path === '~') return environment.home;
  if (path.startsWith('~/')) return resolve(environment.home, path.slice(2));
  return isAbsolute(path) ? path : resolve(environment.cwd, path);
}

/**
 * Local paths in a task are made absolute here (relative to where sky runs, as in SkyPilot);
 * a workdir that is a file is an error at once. Paths that do not exist here are listed in
 * `missing`: an error when the API server shares this machine (see requireLocalPaths), else
 * left for the server to judge (an admin may allow some of its own paths). Those that exist
 * are uploaded when the task is sent (@sky/client uploadTaskFiles).
 */
export function resolveLocalPaths(task: Task, source: string, environment: Environment): { task: Task; missing: string[] } {
  const out: Task = { ...task, file_mounts: { ...task.file_mounts } };
  const problems: string[] = [];
  const missing: string[] = [];
  if (task.workdir !== undefined) {
    const abs = localPath(task.workdir, environment);
    const kind = environment.kindOf(abs);
    if (kind === 'missing') missing.push(`${source}: workdir: ${task.workdir} does not exist${abs === task.workdir ? '' : ` (${abs})`}`);
    else if (kind === 'file') problems.push(`${source}: workdir: ${task.workdir} is a file; workdir must be a directory`);
    out.workdir = abs;
  }
  for (const [target, from] of Object.entries(task.file_mounts)) {
    const abs = localPath(from, environment);
    if (environment.kindOf(abs) === 'missing') missing.push(`${source}: file_mounts[${JSON.stringify(target)}]: ${from} does not exist${abs === from ? '' : ` (${abs})`}`);
    out.file_mounts[target] = abs;
  }
  if (problems.length > 0) throw new SkyError('TASK_INVALID', problems.join('\n'), { hint: 'Local paths in a task are read from the current directory; fix the paths.', details: { source } });
  return { task: out, missing };
}

/** Refuse a task whose local paths do not exist (when the API server is on this machine, nothing could provide them). */
export function requireLocalPaths(loaded: LoadedTask): void {
  if (loaded.missing.length === 0) return;
  throw new SkyError('TASK_INVALID', loaded.missing.join('\n'), {
    hint: 'Local paths in a task are read from the current directory; create them or fix the paths.',
  });
}

export interface LoadedTask {
  entrypoint: Entrypoint;
  task: Task;
  /** Local paths of the task that do not exist on this machine, as problem lines. */
  missing: string[];
}

/** The task a `sky launch` / `sky exec` invocation describes, ready to send. */
export async function loadTask(words: readonly string[], options: CliOptions, environment: Environment = processEnvironment()): Promise<LoadedTask> {
  const entrypoint = classifyEntrypoint(words, (p) => environment.kindOf(localPath(p, environment)));
  const base = await baseTask(entrypoint, (f) => environment.readText(localPath(f, environment)));
  const task = applyOverrides(base, overridesOf(options, environment));
  const source = entrypoint.kind === 'yaml' ? entrypoint.file : '<command line>';
  return { entrypoint, ...resolveLocalPaths(task, source, environment) };
}
