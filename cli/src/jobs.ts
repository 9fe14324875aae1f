// Shared by sky launch, sky exec and sky logs: stream a job to its end and turn its status into an exit code.
import type { ClusterRecord, JobRecord, JobStatus } from '@sky/protocol';
import { isSkyError, type SkyClient } from '@sky/client';
import { followJob, statusExitCode, type FollowedJob } from './job-log.js';
import { note } from './output.js';
import { UsageError } from './usage.js';

/** A job ID from the command line: a positive integer. */
export function parseJobId(text: string, help: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`invalid job ID '${text}': job IDs are positive integers (see sky queue)`, help);
  }
  return Number(text);
}

/** The cluster record, or undefined when there is no cluster by that name. */
export async function findCluster(client: SkyClient, name: string): Promise<ClusterRecord | undefined> {
  try {
    return await client.getCluster(name);
  } catch (err) {
    if (isSkyError(err) && err.code === 'CLUSTER_NOT_FOUND') return undefined;
    throw err;
  }
}

/** A job of a cluster's queue (any user's: the daemon decides what the caller may see). */
export async function findJob(client: SkyClient, cluster: string, id: number): Promise<JobRecord | undefined> {
  const { items } = await client.listJobs(cluster, { all_users: true });
  return items.find((j) => j.id === id);
}

export interface StreamJobOptions {
  follow: boolean;
  tail?: number;
  numNodes: number;
  /** The cluster, when the caller already has it (for the node addresses of a multi-node job). */
  record?: ClusterRecord;
}

/** Stream a job's log, rank-prefixed for multi-node jobs with each node's address. */
export async function streamJob(client: SkyClient, cluster: string, jobId: number, options: StreamJobOptions): Promise<FollowedJob> {
  let record = options.record;
  if (record === undefined && options.numNodes > 1) record = await findCluster(client, cluster);
  const nodes = record?.nodes.map((n) => ({ rank: n.rank, address: n.address }));
  return followJob(client, cluster, jobId, { follow: options.follow, tail: options.tail, numNodes: options.numNodes, nodes });
}

/** What the shell means by some exit codes. */
const SHELL_CODES: Record<number, string> = { 126: ' (command not executable)', 127: ' (command not found)' };

/** Why a job ended as it did: the daemon's reason, else the exit codes of its ranks that failed. */
export function endReason(job: Pick<JobRecord, 'reason' | 'exitCodes'> | undefined): string | undefined {
  if (job === undefined) return undefined;
  if (job.reason !== undefined) return job.reason;
  const codes = job.exitCodes ?? [];
  if (codes.length === 1 && codes[0] !== null && codes[0] !== undefined) return `exit code ${codes[0]}${SHELL_CODES[codes[0]] ?? ''}`;
  const failed = codes.flatMap((code, rank) => (code !== null && code !== 0 ? [`rank ${rank} exited ${code}${SHELL_CODES[code] ?? ''}`] : []));
  return failed.length > 0 ? failed.join(', ') : undefined;
}

/**
 * The exit code of a streamed job: SkyPilot's JobExitCode for its status (0 SUCCEEDED, 100 any
 * failure, 103 CANCELLED, 102 gone), 130 when the user detached; anything but success is said
 * on stderr with how it ended (and why, when the daemon recorded a reason).
 */
export async function jobExitCode(client: SkyClient, cluster: string, jobId: number, followed: FollowedJob): Promise<number> {
  if (followed.detached) return 130;
  const status: JobStatus | undefined = followed.status;
  if (status === 'SUCCEEDED') return 0;
  let reason: string | undefined;
  try {
    reason = endReason(await findJob(client, cluster, jobId));
  } catch {
    reason = undefined;
  }
  note(`sky: job ${jobId} on cluster ${cluster} ended ${status ?? 'in an unknown state'}${reason === undefined ? '' : `: ${reason}`}`);
  if (status === 'FAILED_SETUP') note(`  hint: the setup commands failed; the log above ends with their output. Fix setup, then: sky launch -c ${cluster} TASK.yaml`);
  else note(`  hint: see the whole log with: sky logs ${cluster} ${jobId}`);
  return statusExitCode(status);
}

/** SkyPilot's closing hints after a job is submitted. */
export function jobHints(cluster: string, jobId: number | undefined, withCluster: boolean): string[] {
  const lines: string[] = [];
  if (jobId !== undefined) {
    lines.push(
      `Job ID: ${jobId}`,
      `├── To cancel the job:        sky cancel ${cluster} ${jobId}`,
      `├── To stream job logs:       sky logs ${cluster} ${jobId}`,
      `└── To view job queue:        sky queue ${cluster}`,
    );
  }
  if (withCluster) {
    if (lines.length > 0) lines.push('');
    lines.push(
      `Cluster name: ${cluster}`,
      `├── To submit a job:          sky exec ${cluster} TASK.yaml`,
      `├── To stop the cluster:      sky stop ${cluster}`,
      `└── To tear down the cluster: sky down ${cluster}`,
    );
  }
  return lines;
}
