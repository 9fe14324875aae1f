import type { JobsLaunchBody, JobsLaunchResult } from '@sky/protocol';
import { taskToConfig, type Task } from '@sky/protocol/task-core';
import type { SkyClient } from '@sky/client';
import { confirmOrAbort } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { followRequest, requestError, toStderr } from '../follow.js';
import { cloneGitWorkdir } from '../git-workdir.js';
import { followManagedJob, managedJobExitCode, managedJobHints } from '../managed-job-log.js';
import { note, print } from '../output.js';
import { loadPipeline, type LoadedPipeline } from '../pipeline-input.js';
import { requireLocalPaths } from '../task-input.js';
import { uploadLine } from '../upload-progress.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

/** Task fields accepted but ignored, on stderr: never silently. */
function warn(tasks: readonly Task[]): void {
  tasks.forEach((task, i) => {
    for (const line of task.ignored ?? []) note(`Warning: ${tasks.length > 1 ? `task ${i}: ` : ''}${line}`);
  });
}

/** A git workdir is cloned here, as for sky launch, and the clone uploaded; resolves with what removes the clones. */
async function cloneGitWorkdirs(tasks: Task[]): Promise<() => Promise<void>> {
  const removers: Array<() => Promise<void>> = [];
  const removeAll = async (): Promise<void> => {
    for (const remove of removers) await remove();
  };
  try {
    for (const [i, task] of tasks.entries()) {
      if (task.workdirGit === undefined) continue;
      const clone = await cloneGitWorkdir(task.workdirGit);
      removers.push(clone.remove);
      note(`Cloned ${task.workdirGit.url}${task.workdirGit.ref === undefined ? '' : ` at ${task.workdirGit.ref}`} as the workdir${tasks.length > 1 ? ` of task ${i}` : ''}.`);
      const { workdirGit: _cloned, ...rest } = task;
      tasks[i] = { ...rest, workdir: clone.dir };
    }
  } catch (err) {
    await removeAll();
    throw err;
  }
  return removeAll;
}

/** The managed job's name as the confirmation and the body give it: -n, else the pipeline's, else the first task's. */
function jobName(loaded: LoadedPipeline, options: CliOptions): string | undefined {
  return options.name ?? loaded.name ?? loaded.tasks[0]?.name;
}

/** `sky jobs launch [-n NAME] [-y] [-d] [--async] [task flags] TASK.yaml|COMMAND`. */
export async function launch({ args, options }: Invocation): Promise<number> {
  const help = 'sky jobs launch --help';
  if (args.length === 0) throw new UsageError('sky jobs launch needs a task YAML or a command to run: sky jobs launch TASK.yaml|COMMAND', help);
  const loaded = await loadPipeline(args, options);
  const { entrypoint, tasks } = loaded;
  const client = await connect();
  let removeClones: (() => Promise<void>) | undefined;
  try {
    // A local API server shares this file system: a missing path is missing for it too.
    if (client.endpoint.local && loaded.missing.length > 0) requireLocalPaths({ entrypoint, task: tasks[0]!, missing: loaded.missing });
    if (entrypoint.kind === 'yaml') note(`YAML to run: ${entrypoint.file}`);
    else if (entrypoint.kind === 'command') note(`Command to run: ${entrypoint.command}`);
    warn(tasks);
    const name = jobName(loaded, options);
    const named = name === undefined ? 'a managed job' : `the managed job '${name}'`;
    const size = tasks.length > 1 ? ` (a pipeline of ${tasks.length} tasks: ${tasks.map((t, i) => t.name ?? `task ${i}`).join(', ')})` : '';
    const go = await confirmOrAbort({
      question: `Launching ${named}${size}. Proceed?`,
      yes: options.yes,
      action: `sky jobs launch would launch ${named}${size}`,
      help,
    });
    if (!go) return 1;
    removeClones = await cloneGitWorkdirs(tasks);
    const body: JobsLaunchBody = { tasks: tasks.map((task) => ({ task: taskToConfig(task) })) };
    const bodyName = options.name ?? loaded.name;
    if (bodyName !== undefined) body.name = bodyName;
    return await submit(client, body, tasks, options);
  } finally {
    client.close();
    await removeClones?.();
  }
}

async function submit(client: SkyClient, body: JobsLaunchBody, tasks: readonly Task[], options: CliOptions): Promise<number> {
  const submitOptions = {
    ...(options.workspace === undefined ? {} : { workspace: options.workspace }),
    onUpload: (progress: Parameters<typeof uploadLine>[0]) => {
      const line = uploadLine(progress);
      if (line !== undefined) note(line);
    },
  };
  const { requestId } = await withServer(client, () => client.submit('jobs_launch', body, submitOptions));
  if (options.async === true) {
    print(requestId);
    note(`Submitted jobs_launch request ${requestId}. Follow it with: sky api logs ${requestId}`);
    return 0;
  }
  const followed = await followRequest(client, requestId, true, toStderr);
  if (followed.detached) return 130;
  if (followed.status !== 'SUCCEEDED' || followed.record === undefined) throw requestError(followed.record ?? (await client.get(requestId)));
  const result = followed.record.result as JobsLaunchResult;
  note(`Managed job ID: ${result.jobId}${result.name === undefined ? '' : ` (${result.name})`}`);
  let code = 0;
  if (options.detach !== true) {
    const numNodes = Math.max(...tasks.map((t) => t.num_nodes));
    const streamed = await followManagedJob(client, result.jobId, { follow: true, numNodes });
    code = await managedJobExitCode(client, result.jobId, streamed);
    if (streamed.detached) return code;
  }
  note('');
  for (const line of managedJobHints(result.jobId)) note(line);
  return code;
}
