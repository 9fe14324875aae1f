import type { JobsCancelBody, ManagedJobRecord } from '@sky/protocol';
import { SkyError, isSkyError, type SkyClient } from '@sky/client';
import { confirmOrAbort } from '../confirm.js';
import { connect, withServer } from '../context.js';
import { JOB_EXIT_CODES, managedStatusExitCode } from '../job-log.js';
import { managedJobJson, managedJobTable } from '../managed-job-format.js';
import { followManagedJob, managedJobExitCode, nodesOfResources } from '../managed-job-log.js';
import { runOperation } from '../operation.js';
import { note, print, printJson } from '../output.js';
import { report } from '../report.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

/** `sky jobs <action>`: launch, queue, cancel, logs. */
export async function run(invocation: Invocation): Promise<number> {
  switch (invocation.action.name) {
    case 'launch':
      return (await import('./jobs-launch.js')).launch(invocation);
    case 'queue':
      return queue(invocation.options);
    case 'cancel':
      return cancel(invocation.args, invocation.options);
    case 'logs':
      return logs(invocation.args, invocation.options);
    default:
      throw new UsageError(`unknown action '${invocation.action.name}' for sky jobs`, 'sky jobs --help');
  }
}

/** A managed job ID from the command line: a positive integer. */
export function parseManagedJobId(text: string, help: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`invalid managed job ID '${text}': IDs are positive integers (see sky jobs queue)`, help);
  }
  return Number(text);
}

/** `sky jobs queue [-u] [-a] [-s] [-r] [-o json]`. */
async function queue(options: CliOptions): Promise<number> {
  const client = await connect();
  try {
    const { items } = await withServer(client, () => client.listManagedJobs({ all_users: options.allUsers, skip_finished: options.skipFinished }));
    const now = Date.now();
    if (options.output === 'json') {
      printJson({ jobs: items.map((j) => managedJobJson(j, now)) });
      return 0;
    }
    const whose = options.allUsers === true ? 'all users' : 'current user';
    print(`Managed jobs of ${whose}${options.skipFinished === true ? ' (unfinished only)' : ''}`);
    if (items.length === 0) print('No managed jobs found.');
    else print(managedJobTable(items, { showUser: options.allUsers === true, showAll: options.all === true, now }).join('\n'));
    return 0;
  } finally {
    client.close();
  }
}

/** What `sky jobs cancel` was asked to cancel, as the body and in words; a usage error when nothing or two ways were given. */
export function cancelSelection(ids: readonly number[], options: CliOptions, help: string): { body: JobsCancelBody; what: string } {
  const ways = [ids.length > 0 ? 'job IDs' : undefined, options.name !== undefined ? '-n NAME' : undefined, options.all === true ? '-a' : undefined].filter(
    (w): w is string => w !== undefined,
  );
  if (ways.length > 1) throw new UsageError(`give one of job IDs, -n NAME or -a, not ${ways.join(' and ')}`, help);
  if (ways.length === 0) {
    throw new UsageError(
      options.allUsers === true ? '-u needs -a or -n NAME: sky jobs cancel -a -u' : 'nothing to cancel: give managed job IDs, -n NAME or -a',
      help,
    );
  }
  if (ids.length > 0) {
    if (options.allUsers === true) throw new UsageError('-u goes with -a or -n NAME, not with job IDs', help);
    return { body: { job_ids: [...ids] }, what: `managed job${ids.length === 1 ? '' : 's'} ${ids.join(', ')}` };
  }
  const everyone = options.allUsers === true;
  const body: JobsCancelBody = everyone ? { all_users: true } : {};
  if (options.name !== undefined) {
    return { body: { ...body, name: options.name }, what: `${everyone ? "all users'" : 'your'} unfinished managed jobs named '${options.name}'` };
  }
  return { body: { ...body, all: true }, what: `${everyone ? "all users'" : 'all your'} unfinished managed jobs` };
}

/** `sky jobs cancel [IDS...] | -n NAME | -a [-u] [-y]`. */
async function cancel(args: readonly string[], options: CliOptions): Promise<number> {
  const help = 'sky jobs cancel --help';
  const ids = args.map((a) => parseManagedJobId(a, help));
  const { body, what } = cancelSelection(ids, options, help);
  const go = await confirmOrAbort({ question: `Cancelling ${what}. Proceed?`, yes: options.yes, action: `sky jobs cancel would cancel ${what}`, help });
  if (!go) return 1;
  const client = await connect();
  try {
    const outcome = await runOperation(client, 'jobs_cancel', body, { what: 'sky jobs cancel' });
    if (!('result' in outcome)) return outcome.exitCode;
    const { cancelled, alreadyFinished } = outcome.result;
    if (cancelled.length > 0) print(`Cancelled managed job${cancelled.length === 1 ? '' : 's'}: ${cancelled.join(', ')}`);
    if (alreadyFinished.length > 0) print(`Already finished: ${alreadyFinished.join(', ')}`);
    if (cancelled.length === 0 && alreadyFinished.length === 0) print('No unfinished managed jobs to cancel.');
    return 0;
  } finally {
    client.close();
  }
}

/** The managed job named, or the caller's newest. */
async function jobToShow(client: SkyClient, id: number | undefined): Promise<ManagedJobRecord> {
  if (id !== undefined) return (await client.getManagedJob(id)).job;
  const newest = (await client.listManagedJobs({ limit: 1 })).items[0];
  if (newest === undefined) throw new SkyError('MANAGED_JOB_NOT_FOUND', 'you have no managed jobs', { hint: 'Launch one with: sky jobs launch TASK.yaml' });
  return newest;
}

/** `sky jobs logs [ID] [--no-follow] [--controller]`: exits with the managed job's outcome (102 when there is no such job). */
async function logs(args: readonly string[], options: CliOptions): Promise<number> {
  const help = 'sky jobs logs --help';
  const id = args[0] === undefined ? undefined : parseManagedJobId(args[0], help);
  const client = await connect();
  try {
    const job = await withServer(client, () => jobToShow(client, id));
    const follow = options.follow ?? true;
    note(`Tailing ${options.controller === true ? 'controller ' : ''}logs of managed job ${job.id}${job.name === undefined ? '' : ` (${job.name})`}...`);
    const numNodes = Math.max(...job.tasks.map((t) => nodesOfResources(t.resources)));
    const followed = await followManagedJob(client, job.id, { follow, controller: options.controller, numNodes });
    if (followed.detached) return 130;
    // --no-follow on a job still running is not a failure.
    if (!follow && managedStatusExitCode(followed.status) === JOB_EXIT_CODES.NOT_FINISHED) return 0;
    return await managedJobExitCode(client, job.id, followed);
  } catch (err) {
    if (!isSkyError(err) || err.code !== 'MANAGED_JOB_NOT_FOUND') throw err;
    await report(err, help);
    return JOB_EXIT_CODES.NOT_FOUND;
  } finally {
    client.close();
  }
}
