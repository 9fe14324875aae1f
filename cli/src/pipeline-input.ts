// What `sky jobs launch` runs: one task (a YAML file or a command) or a pipeline (a YAML file of
// several documents separated by `---`), with the command-line overrides applied to every task
// and local paths made absolute, all checked before anything is sent.
import { applyOverrides, type Task } from '@sky/protocol/task-core';
import { baseTask, classifyEntrypoint, localPath, overridesOf, processEnvironment, readTaskFile, resolveLocalPaths, type Entrypoint, type Environment } from './task-input.js';
import type { CliOptions } from './usage.js';

export interface LoadedPipeline {
  entrypoint: Entrypoint;
  /** The pipeline's own name (a first document with only `name:`), when the file has one. */
  name?: string;
  tasks: Task[];
  /** Local paths of the tasks that do not exist on this machine, as problem lines. */
  missing: string[];
}

async function readPipeline(entrypoint: Entrypoint, environment: Environment): Promise<{ name?: string; tasks: Task[] }> {
  if (entrypoint.kind !== 'yaml') return { tasks: [await baseTask(entrypoint)] };
  const text = readTaskFile(entrypoint.file, (f) => environment.readText(localPath(f, environment)));
  // The YAML reader and the task schema are loaded only for a task file (a command needs neither).
  const { parseTaskPipelineYaml } = await import('./task-yaml.js');
  return parseTaskPipelineYaml(text, entrypoint.file);
}

/**
 * The tasks a `sky jobs launch` invocation describes, ready to send. `-n` names the managed
 * job; with one task it is also the task's name (as sky launch -n), never that of every task
 * of a pipeline. The other flags override each task.
 */
export async function loadPipeline(words: readonly string[], options: CliOptions, environment: Environment = processEnvironment()): Promise<LoadedPipeline> {
  const entrypoint = classifyEntrypoint(words, (p) => environment.kindOf(localPath(p, environment)));
  const pipeline = await readPipeline(entrypoint, environment);
  const single = pipeline.tasks.length === 1;
  const overrides = overridesOf(single ? options : { ...options, name: undefined }, environment);
  const source = entrypoint.kind === 'yaml' ? entrypoint.file : '<command line>';
  const tasks: Task[] = [];
  const missing: string[] = [];
  pipeline.tasks.forEach((task, i) => {
    const resolved = resolveLocalPaths(applyOverrides(task, overrides), single ? source : `${source} (task ${i})`, environment);
    tasks.push(resolved.task);
    missing.push(...resolved.missing);
  });
  return { entrypoint, ...(pipeline.name === undefined ? {} : { name: pipeline.name }), tasks, missing };
}
