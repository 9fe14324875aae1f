import type { JobLogLine } from '@sky/protocol';
import { isJobTerminal, isManagedJobTerminal, type JobStatus, type ManagedJobStatus } from '@sky/protocol/wire';
import type { SkyClient } from '@sky/client';
import { toStdout, type Writer } from './follow.js';
import { note } from './output.js';

export interface NodeAddress {
  rank: number;
  address: string;
}

/**
 * The prefix of each rank's lines in a multi-node job, as SkyPilot prints them:
 * `(head, rank=0, ip=10.0.0.1)`, `(worker1, rank=1, ip=10.0.0.2)`. A one-node job has none.
 */
export function rankLabels(numNodes: number, nodes: readonly NodeAddress[] = []): string[] | undefined {
  if (numNodes <= 1) return undefined;
  return Array.from({ length: numNodes }, (_, rank) => {
    const address = nodes.find((n) => n.rank === rank)?.address;
    const role = rank === 0 ? 'head' : `worker${rank}`;
    return `(${role}, rank=${rank}${address === undefined || address === '' ? '' : `, ip=${address}`})`;
  });
}

/** One event of the log stream as printed: each line of it behind its rank's label. */
export function formatJobLine(line: JobLogLine, labels: readonly string[] | undefined): string {
  const text = line.text.endsWith('\n') ? line.text.slice(0, -1) : line.text;
  if (labels === undefined) return `${text}\n`;
  const label = labels[line.rank] ?? `(rank=${line.rank})`;
  return `${text
    .split('\n')
    .map((part) => `${label} ${part}`)
    .join('\n')}\n`;
}

export interface FollowJobOptions {
  follow: boolean;
  tail?: number;
  numNodes: number;
  nodes?: readonly NodeAddress[];
  write?: Writer;
}

export interface FollowedJob {
  /** The job's status when the stream ended (its final one when followed to the end). */
  status: JobStatus | undefined;
  /** The user pressed Ctrl-C: the job keeps running. */
  detached: boolean;
}

/** Stream a job's log to stdout, rank-prefixed when it spans nodes. Ctrl-C detaches; the job keeps running. */
export async function followJob(client: SkyClient, cluster: string, jobId: number, options: FollowJobOptions): Promise<FollowedJob> {
  const labels = rankLabels(options.numNodes, options.nodes);
  const write = options.write ?? toStdout;
  const controller = new AbortController();
  const detach = (): void => controller.abort();
  process.once('SIGINT', detach);
  try {
    const status = await client.streamJobLogs(cluster, jobId, { follow: options.follow, tail: options.tail, signal: controller.signal }, (line) =>
      write(formatJobLine(line, labels)),
    );
    return { status, detached: false };
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    note(`\nDetached from the log of job ${jobId} on cluster ${cluster}; the job keeps running. Re-attach with: sky logs ${cluster} ${jobId}`);
    return { status: undefined, detached: true };
  } finally {
    process.off('SIGINT', detach);
  }
}

/**
 * SkyPilot's JobExitCode: what `sky launch` and `sky exec` (when they follow the job) and `sky logs`
 * (also with --status) exit with for a job's status.
 */
export const JOB_EXIT_CODES = { SUCCEEDED: 0, FAILED: 100, NOT_FINISHED: 101, NOT_FOUND: 102, CANCELLED: 103 } as const;

/** The one mapping from a job status to an exit code (undefined: no such job). Every failed ending is FAILED. */
export function statusExitCode(status: JobStatus | undefined): number {
  if (status === undefined) return JOB_EXIT_CODES.NOT_FOUND;
  if (!isJobTerminal(status)) return JOB_EXIT_CODES.NOT_FINISHED;
  if (status === 'SUCCEEDED') return JOB_EXIT_CODES.SUCCEEDED;
  if (status === 'CANCELLED') return JOB_EXIT_CODES.CANCELLED;
  return JOB_EXIT_CODES.FAILED;
}

/**
 * The same mapping for a managed job (`sky jobs launch`, `sky jobs logs`): SUCCEEDED 0, CANCELLED
 * 103, every FAILED* 100, not finished (PENDING … CANCELLING) 101, no such job 102.
 */
export function managedStatusExitCode(status: ManagedJobStatus | undefined): number {
  if (status === undefined) return JOB_EXIT_CODES.NOT_FOUND;
  if (!isManagedJobTerminal(status)) return JOB_EXIT_CODES.NOT_FINISHED;
  if (status === 'SUCCEEDED') return JOB_EXIT_CODES.SUCCEEDED;
  if (status === 'CANCELLED') return JOB_EXIT_CODES.CANCELLED;
  return JOB_EXIT_CODES.FAILED;
}
