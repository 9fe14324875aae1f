import { isSkyError, SkyError, type SkyClient } from '@sky/client';
import type { JobRecord } from '@sky/protocol';
import { connect, withServer } from '../context.js';
import { findJob, jobExitCode, parseJobId, streamJob } from '../jobs.js';
import { JOB_EXIT_CODES, statusExitCode } from '../job-log.js';
import { syncDownJob } from '../log-sync.js';
import { note, print } from '../output.js';
import { report } from '../report.js';
import { UsageError, type Invocation } from '../usage.js';

/** The job the command is about: the one named, or the caller's newest on the cluster. */
async function jobToShow(client: SkyClient, cluster: string, id: number | undefined): Promise<JobRecord | undefined> {
  if (id !== undefined) return findJob(client, cluster, id);
  return (await client.listJobs(cluster, {})).items.sort((a, b) => b.id - a.id)[0];
}

const NOT_FOUND: readonly string[] = ['CLUSTER_NOT_FOUND', 'JOB_NOT_FOUND'];

/** --sync-down: the job's log as files under ~/sky_logs, and where they are. */
async function syncDown(client: SkyClient, cluster: string, id: number | undefined, job: JobRecord | undefined): Promise<number> {
  if (job === undefined) {
    throw new SkyError('JOB_NOT_FOUND', id === undefined ? `you have no jobs on cluster ${cluster}` : `cluster ${cluster} has no job ${id}`, {
      hint: `List its jobs with: sky queue ${cluster}`,
    });
  }
  const { dir, files } = await syncDownJob(client, cluster, job.id, job.numNodes);
  note(`Job ${job.id} logs (${files.join(', ')}):`);
  print(dir);
  return 0;
}

/** `sky logs CLUSTER [JOB_ID] [--no-follow] [--status] [--tail N] [--sync-down]`. */
export async function run({ args, options }: Invocation): Promise<number> {
  const help = 'sky logs --help';
  const cluster = args[0]!;
  const id = args[1] === undefined ? undefined : parseJobId(args[1], help);
  if (options.status === true && options.tail !== undefined) throw new UsageError('--status prints the status only; it does not go with --tail', help);
  if (options.syncDown === true && (options.status === true || options.tail !== undefined || options.follow !== undefined)) {
    throw new UsageError('--sync-down copies the whole log as it is now; it does not go with --status, --tail or --follow/--no-follow', help);
  }
  const client = await connect();
  try {
    const job = await withServer(client, () => jobToShow(client, cluster, id));
    if (options.syncDown === true) return await syncDown(client, cluster, id, job);
    if (options.status === true) {
      if (job === undefined) {
        print(id === undefined ? `No job found on cluster '${cluster}'.` : `Job ${id} not found on cluster '${cluster}'.`);
        return JOB_EXIT_CODES.NOT_FOUND;
      }
      print(`Job ${job.id}: ${job.status}`);
      return statusExitCode(job.status);
    }
    if (job === undefined) {
      if (id !== undefined) throw new SkyError('JOB_NOT_FOUND', `cluster ${cluster} has no job ${id}`, { hint: `List its jobs with: sky queue ${cluster}` });
      throw new SkyError('JOB_NOT_FOUND', `you have no jobs on cluster ${cluster}`, { hint: `Submit one with: sky exec ${cluster} TASK.yaml` });
    }
    const follow = options.follow ?? true;
    note(`Tailing logs of job ${job.id} on cluster '${cluster}'...`);
    const followed = await streamJob(client, cluster, job.id, { follow, tail: options.tail, numNodes: job.numNodes });
    if (followed.detached) return 130;
    // --no-follow on a job still running is not a failure.
    if (!follow && (followed.status === undefined || statusExitCode(followed.status) === JOB_EXIT_CODES.NOT_FINISHED)) return 0;
    return await jobExitCode(client, cluster, job.id, followed);
  } catch (err) {
    // SkyPilot's JobExitCode.NOT_FOUND for a job or cluster that is not there (or not the caller's to see).
    if (!isSkyError(err) || !NOT_FOUND.includes(err.code)) throw err;
    await report(err, help);
    return JOB_EXIT_CODES.NOT_FOUND;
  } finally {
    client.close();
  }
}
