import type { OperationBody, ServeUpdateBody, ServeUpdateResult, ServeUpBody, ServeUpResult } from '@sky/protocol';
import { taskToConfig, type Task } from '@sky/protocol/task-core';
import { SkyError, type SkyClient } from '@sky/client';
import { confirmOrAbort } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { followRequest, requestError, toStderr } from '../follow.js';
import { cloneGitWorkdir } from '../git-workdir.js';
import { note, print } from '../output.js';
import { loadTask, requireLocalPaths } from '../task-input.js';
import { uploadLine } from '../upload-progress.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';
import { serviceNameProblem } from '../serve-args.js';

/** The launch warning about the service section, which is what serve up and update run. */
const SERVICE_IGNORED = /^service: /;

/** Read the task YAML of `sky serve up` / `update`: it must have a service section. */
async function serviceTask(words: readonly string[], options: CliOptions, help: string): Promise<{ task: Task; file: string; missing: string[] }> {
  // -n names the service, not the task.
  const { name: _service, ...taskOptions } = options;
  const loaded = await loadTask(words, taskOptions);
  if (loaded.entrypoint.kind !== 'yaml') throw new UsageError(`a service is described by a task YAML with a service section, not a command: got '${words.join(' ')}'`, help);
  const file = loaded.entrypoint.file;
  if (loaded.task.service === undefined) {
    throw new SkyError('TASK_INVALID', `${file}: no service section: sky serve runs a task that has one`, {
      hint: 'Add service: with readiness_probe (a path like /health) and replicas (or replica_policy); see the SkyPilot service YAML.',
    });
  }
  return { task: loaded.task, file, missing: loaded.missing };
}

/** A git workdir is cloned here and the clone uploaded, as for sky launch; resolves with the task to send and what removes the clone. */
async function withClonedWorkdir(task: Task): Promise<{ task: Task; remove?: () => Promise<void> }> {
  if (task.workdirGit === undefined) return { task };
  const clone = await cloneGitWorkdir(task.workdirGit);
  note(`Cloned ${task.workdirGit.url}${task.workdirGit.ref === undefined ? '' : ` at ${task.workdirGit.ref}`} as the workdir.`);
  const { workdirGit: _cloned, ...rest } = task;
  return { task: { ...rest, workdir: clone.dir }, remove: clone.remove };
}

async function submitAndWait<N extends 'serve_up' | 'serve_update'>(client: SkyClient, op: N, body: OperationBody<N>, options: CliOptions): Promise<{ requestId: string; result?: unknown; exitCode?: number }> {
  const submitOptions = {
    ...(options.workspace === undefined ? {} : { workspace: options.workspace }),
    onUpload: (progress: Parameters<typeof uploadLine>[0]) => {
      const line = uploadLine(progress);
      if (line !== undefined) note(line);
    },
  };
  const { requestId } = await withServer(client, () => client.submit(op, body, submitOptions));
  if (options.async === true) {
    print(requestId);
    note(`Submitted ${op} request ${requestId}. Follow it with: sky api logs ${requestId}`);
    return { requestId, exitCode: 0 };
  }
  const followed = await followRequest(client, requestId, true, toStderr);
  if (followed.detached) return { requestId, exitCode: 130 };
  if (followed.status !== 'SUCCEEDED' || followed.record === undefined) throw requestError(followed.record ?? (await client.get(requestId)));
  return { requestId, result: followed.record.result };
}

function hints(name: string): string[] {
  return [
    `To see the service and its replicas: sky serve status ${name}`,
    `To stream a replica's log:           sky serve logs ${name} 1`,
    `To tear it down:                     sky serve down ${name}`,
  ];
}

/** `sky serve up [-n NAME] [-y] [--async] [task flags] TASK.yaml`: prints the service's name and endpoint. */
export async function up({ args, options }: Invocation): Promise<number> {
  const help = 'sky serve up --help';
  if (options.name !== undefined) {
    const bad = serviceNameProblem(options.name);
    if (bad !== undefined) throw new UsageError(`-n: ${bad}`, help);
  }
  const { task, file, missing } = await serviceTask(args, options, help);
  const client = await connect();
  let remove: (() => Promise<void>) | undefined;
  try {
    if (client.endpoint.local && missing.length > 0) requireLocalPaths({ entrypoint: { kind: 'yaml', file }, task, missing });
    note(`Service from YAML: ${file}`);
    for (const line of task.ignored ?? []) if (!SERVICE_IGNORED.test(line)) note(`Warning: ${line}`);
    const named = options.name === undefined ? 'a new service' : `the service '${options.name}'`;
    const go = await confirmOrAbort({ question: `Starting ${named}. Proceed?`, yes: options.yes, action: `sky serve up would start ${named}`, help });
    if (!go) return 1;
    const cloned = await withClonedWorkdir(task);
    remove = cloned.remove;
    const body: ServeUpBody = { task: taskToConfig(cloned.task) };
    if (options.name !== undefined) body.service_name = options.name;
    const outcome = await submitAndWait(client, 'serve_up', body, options);
    if (outcome.exitCode !== undefined) return outcome.exitCode;
    const result = outcome.result as ServeUpResult;
    print(`Service name: ${result.name}`);
    print(`Endpoint URL: ${result.endpoint ?? '(not yet known: see sky serve status)'}`);
    note('Replicas are being launched; the endpoint serves once one is READY.');
    for (const line of hints(result.name)) note(line);
    return 0;
  } finally {
    client.close();
    await remove?.();
  }
}

/** `sky serve update NAME TASK.yaml [--mode rolling|blue_green] [-y] [--async] [task flags]`. */
export async function update({ args, options }: Invocation): Promise<number> {
  const help = 'sky serve update --help';
  const [name, ...words] = args;
  const bad = serviceNameProblem(name!);
  if (bad !== undefined) throw new UsageError(bad, help);
  const { task, file, missing } = await serviceTask(words, options, help);
  const mode = options.mode ?? 'rolling';
  const client = await connect();
  let remove: (() => Promise<void>) | undefined;
  try {
    if (client.endpoint.local && missing.length > 0) requireLocalPaths({ entrypoint: { kind: 'yaml', file }, task, missing });
    for (const line of task.ignored ?? []) if (!SERVICE_IGNORED.test(line)) note(`Warning: ${line}`);
    const go = await confirmOrAbort({
      question: `Updating service '${name}' to the task in ${file} (${mode}). Proceed?`,
      yes: options.yes,
      action: `sky serve update would update the service '${name}'`,
      help,
    });
    if (!go) return 1;
    const cloned = await withClonedWorkdir(task);
    remove = cloned.remove;
    const body: ServeUpdateBody = { service_name: name!, task: taskToConfig(cloned.task), mode };
    const outcome = await submitAndWait(client, 'serve_update', body, options);
    if (outcome.exitCode !== undefined) return outcome.exitCode;
    const result = outcome.result as ServeUpdateResult;
    print(`Service '${result.name}' is updating to version ${result.version} (${mode}).`);
    note(`Follow it with: sky serve status ${result.name}`);
    return 0;
  } finally {
    client.close();
    await remove?.();
  }
}
