import type { ClusterRecord, ExecBody, ExecResult, LaunchBody, LaunchPlan, LaunchResult } from '@sky/protocol';
import { setUpClusterSsh } from '../ssh-config.js';
import { taskToConfig, validateClusterName, type Task } from '@sky/protocol/task-core';
import { isTerminal, type SkyClient, type SubmitOptions } from '@sky/client';
import { ask, confirmation } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { followRequest, requestError, toStderr } from '../follow.js';
import { table } from '../format.js';
import { findCluster, jobExitCode, jobHints, streamJob } from '../jobs.js';
import { note, print } from '../output.js';
import { loadTask, requireLocalPaths, type Entrypoint } from '../task-input.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';
import { uploadLine } from '../upload-progress.js';
import { retryUntilUp } from '../retry.js';

/** `sky launch` and `sky exec`: the task is read and checked here first, so bad input never reaches the daemon. */
export async function run({ action, args, options }: Invocation): Promise<number> {
  const exec = action.name === 'exec';
  const help = `sky ${action.name} --help`;
  if (!exec && options.dryrun === true && options.async === true) {
    throw new UsageError('--dryrun only shows the plan; it does not go with --async', help);
  }
  if (!exec && options.dryrun === true && options.detach === true) {
    throw new UsageError('--dryrun only shows the plan; it does not go with -d', help);
  }
  const cluster = exec ? args[0] : options.cluster;
  const words = exec ? args.slice(1) : args;
  if (exec && words.length === 0) {
    throw new UsageError('sky exec needs a task YAML or a command to run: sky exec CLUSTER TASK.yaml|COMMAND', help);
  }
  if (cluster !== undefined) validateClusterName(cluster);
  const loaded = await loadTask(words, options);
  const { entrypoint, task } = loaded;
  const client = await connect();
  // A local API server shares this file system: a missing path is missing for it too.
  if (client.endpoint.local && loaded.missing.length > 0) {
    client.close();
    requireLocalPaths(loaded);
  }
  describe(entrypoint);
  warn(task.ignored);
  try {
    return exec ? await execTask(client, cluster!, task, options) : await launch(client, cluster, task, options, help);
  } finally {
    client.close();
  }
}

/** --workspace, when given, goes with the submit (else active_workspace of the config, else default). */
export function submitOptions(options: CliOptions): SubmitOptions {
  return options.workspace === undefined ? {} : { workspace: options.workspace };
}

/** The submit of the launch or exec itself: its task's local files are uploaded first, with a line of progress each. */
function runOptions(options: CliOptions): SubmitOptions {
  return {
    ...submitOptions(options),
    onUpload: (progress) => {
      const line = uploadLine(progress);
      if (line !== undefined) note(line);
    },
  };
}

/** Task fields accepted but ignored, on stderr: never silently. */
function warn(lines: readonly string[] | undefined): void {
  for (const line of lines ?? []) note(`Warning: ${line}`);
}

function describe(entrypoint: Entrypoint): void {
  if (entrypoint.kind === 'yaml') note(`YAML to run: ${entrypoint.file}`);
  else if (entrypoint.kind === 'command') note(`Command to run: ${entrypoint.command}`);
}

/** The plan as a table: where the cluster goes and what it gets. */
export function planLines(cluster: string, plan: LaunchPlan): string[] {
  const nodes = `${plan.numNodes} node${plan.numNodes === 1 ? '' : 's'}`;
  const what = plan.existing ? `existing cluster '${cluster}'` : `new cluster '${cluster}'`;
  return [`Plan for ${what} (${nodes}):`, ...table(['INFRA', 'DRIVER', 'NODES', 'RESOURCES'], [[plan.infra, plan.driver, String(plan.numNodes), plan.resources]])];
}

async function dryrun(client: SkyClient, body: LaunchBody, submit: SubmitOptions): Promise<LaunchResult> {
  const { requestId } = await withServer(client, () => client.submit('launch', { ...body, dryrun: true }, submit));
  const record = await client.waitUntilDone(requestId);
  if (record.status !== 'SUCCEEDED') throw requestError(record);
  return record.result as LaunchResult;
}

/**
 * SkyPilot asks before creating or restarting a cluster, not before running on one that is UP.
 * Resolves with the body to submit (naming the cluster the user agreed to), or undefined when
 * the user said no.
 */
async function confirmLaunch(client: SkyClient, body: LaunchBody, options: CliOptions, help: string): Promise<LaunchBody | undefined> {
  if (options.yes === true) return body;
  const existing: ClusterRecord | undefined = body.cluster === undefined ? undefined : await withServer(client, () => findCluster(client, body.cluster!));
  if (existing?.status === 'UP') return body;
  const named = body.cluster === undefined ? '' : ` '${body.cluster}'`;
  const what = existing === undefined ? `create the new cluster${named}` : `restart the ${existing.status} cluster${named}`;
  if (confirmation(options.yes, process.stdin.isTTY === true) === 'refuse') {
    throw new UsageError(`sky launch would ${what}; pass -y to confirm (stdin is not a terminal)`, help);
  }
  const planned = await dryrun(client, body, submitOptions(options));
  for (const line of planLines(planned.cluster, planned.plan)) note(line);
  const question = existing === undefined ? `Launching a new cluster '${planned.cluster}'. Proceed?` : `Restarting the ${existing.status} cluster '${planned.cluster}'. Proceed?`;
  if (!(await ask(question, true))) {
    note('Aborted.');
    return undefined;
  }
  // The same name as the plan, also when the daemon generated it.
  return { ...body, cluster: planned.cluster };
}

/**
 * SkyPilot's --fast: on a cluster that is already UP, the workdir is synced and the task run, but
 * file_mounts and setup are skipped. On a new or stopped cluster it changes nothing.
 */
async function fastTask(client: SkyClient, cluster: string | undefined, task: Task, options: CliOptions): Promise<Task> {
  if (options.fast !== true || cluster === undefined) return task;
  const existing = await withServer(client, () => findCluster(client, cluster));
  if (existing?.status !== 'UP') return task;
  note(`--fast: cluster '${cluster}' is UP; skipping setup and file_mounts.`);
  const { setup: _setup, ...rest } = task;
  return { ...rest, file_mounts: {} };
}

/** The launch request, submitted and followed to its end; its error (e.g. NO_CAPACITY) is thrown. */
async function submitLaunch(client: SkyClient, body: LaunchBody, options: CliOptions): Promise<{ result: LaunchResult } | { exitCode: number }> {
  const { requestId } = await withServer(client, () => client.submit('launch', body, runOptions(options)));
  if (options.async === true) {
    print(requestId);
    note(`Submitted launch request ${requestId}. Follow it with: sky api logs ${requestId}`);
    return { exitCode: 0 };
  }
  note(`Request ID: ${requestId}`);
  const followed = await followRequest(client, requestId, true, toStderr);
  if (followed.detached) return { exitCode: 130 };
  if (followed.status !== 'SUCCEEDED' || followed.record === undefined) throw requestError(followed.record ?? (await client.get(requestId)));
  return { result: followed.record.result as LaunchResult };
}

async function launch(client: SkyClient, cluster: string | undefined, given: Task, options: CliOptions, help: string): Promise<number> {
  if (options.retryUntilUp === true && options.async === true) throw new UsageError('--retry-until-up waits for capacity; it does not go with --async', help);
  const task = await fastTask(client, cluster, given, options);
  let body: LaunchBody = { task: taskToConfig(task) };
  if (cluster !== undefined) body.cluster = cluster;
  // SkyPilot: --down alone tears the cluster down as soon as it is idle.
  const idle = options.idleMinutesToAutostop ?? (options.down === true ? 0 : undefined);
  if (idle !== undefined) body.idle_minutes_to_autostop = idle;
  if (options.down === true) body.down = true;
  if (options.dryrun === true) {
    const planned = await dryrun(client, body, submitOptions(options));
    for (const line of planLines(planned.cluster, planned.plan)) print(line);
    warn(planned.plan.warnings);
    return 0;
  }
  const confirmed = await confirmLaunch(client, body, options, help);
  if (confirmed === undefined) return 1;
  body = confirmed;
  const submitted = options.retryUntilUp === true ? await retryUntilUp(() => submitLaunch(client, body, options)) : { value: await submitLaunch(client, body, options) };
  if (!('value' in submitted)) return 130;
  if ('exitCode' in submitted.value) return submitted.value.exitCode;
  const { result } = submitted.value;
  await setUpClusterSsh(client, result.cluster);
  warn(result.plan.warnings);
  if (result.jobId === undefined) {
    note(`Cluster ${result.cluster} is UP; the task has no setup or run, so no job was submitted.`);
    for (const line of jobHints(result.cluster, undefined, true)) note(line);
    return 0;
  }
  return finish(client, result.cluster, result.jobId, task, options, true);
}

/**
 * How long `sky exec` lets the API server hold its answer until the job is queued: an exec on an
 * idle cluster is queued within milliseconds, so submit and outcome take one round trip.
 */
const EXEC_WAIT_SECONDS = 3;

async function execTask(client: SkyClient, cluster: string, task: Task, options: CliOptions): Promise<number> {
  const body: ExecBody = { cluster, task: taskToConfig(task) };
  // Files to sync report their progress in the request's log: that is followed instead.
  const quick = options.async !== true && task.workdir === undefined && Object.keys(task.file_mounts).length === 0;
  const submit = { ...runOptions(options), ...(quick ? { waitSeconds: EXEC_WAIT_SECONDS } : {}) };
  const submitted = await withServer(client, () => client.submit('exec', body, submit));
  const { requestId } = submitted;
  if (options.async === true) {
    print(requestId);
    note(`Submitted exec request ${requestId}. Follow it with: sky api logs ${requestId}`);
    return 0;
  }
  if (submitted.status === 'SUCCEEDED' && submitted.job !== undefined) {
    note(`Job ${submitted.job.id} submitted to cluster ${submitted.job.cluster}.`);
    return finish(client, submitted.job.cluster, submitted.job.id, task, options, false);
  }
  if (isTerminal(submitted.status)) throw requestError({ id: requestId, name: 'exec', status: submitted.status, error: submitted.error });
  const followed = await followRequest(client, requestId, true, toStderr);
  if (followed.detached) return 130;
  if (followed.status !== 'SUCCEEDED' || followed.record === undefined) throw requestError(followed.record ?? (await client.get(requestId)));
  const result = followed.record.result as ExecResult;
  return finish(client, result.cluster, result.jobId, task, options, false);
}

/** Stream the job unless -d, then print the hints; the exit code is the job's outcome. */
async function finish(client: SkyClient, cluster: string, jobId: number, task: Task, options: CliOptions, withCluster: boolean): Promise<number> {
  let code = 0;
  if (options.detach !== true) {
    const followed = await streamJob(client, cluster, jobId, { follow: true, numNodes: task.num_nodes });
    if (followed.detached) return 130;
    code = await jobExitCode(client, cluster, jobId, followed);
  }
  note('');
  for (const line of jobHints(cluster, jobId, withCluster)) note(line);
  return code;
}
