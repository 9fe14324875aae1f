// Shared by sky jobs launch and sky jobs logs: stream a managed job's log to its end and turn
// its final status into an exit code.
import type { ManagedJobStatus } from '@sky/protocol/wire';
import type { SkyClient } from '@sky/client';
import { toStdout, type Writer } from './follow.js';
import { formatJobLine, managedStatusExitCode, rankLabels } from './job-log.js';
import { note } from './output.js';

export interface FollowedManagedJob {
  /** The managed job's status when the stream ended (its final one when followed to the end). */
  status: ManagedJobStatus | undefined;
  /** The user pressed Ctrl-C: the managed job keeps running. */
  detached: boolean;
}

export interface FollowManagedJobOptions {
  follow: boolean;
  controller?: boolean;
  /** Nodes of the task: above 1, each line gets its rank's label as in sky logs. */
  numNodes?: number;
  write?: Writer;
}

/** The node count a RESOURCES text starts with (`2x local(cpus=1)`), else 1. */
export function nodesOfResources(resources: string | undefined): number {
  const n = /^(\d+)x/.exec(resources ?? '')?.[1];
  return n === undefined ? 1 : Number(n);
}

/** Stream a managed job's log to stdout. Ctrl-C detaches; the managed job keeps running. */
export async function followManagedJob(client: SkyClient, id: number, options: FollowManagedJobOptions): Promise<FollowedManagedJob> {
  const labels = options.controller === true ? undefined : rankLabels(options.numNodes ?? 1);
  const write = options.write ?? toStdout;
  const controller = new AbortController();
  const detach = (): void => controller.abort();
  process.once('SIGINT', detach);
  try {
    const status = await client.streamManagedJobLogs(id, { follow: options.follow, controller: options.controller, signal: controller.signal }, (line) =>
      write(formatJobLine(line, labels)),
    );
    return { status, detached: false };
  } catch (err) {
    if (!controller.signal.aborted) throw err;
    note(`\nDetached from the log of managed job ${id}; it keeps running. Re-attach with: sky jobs logs ${id}`);
    return { status: undefined, detached: true };
  } finally {
    process.off('SIGINT', detach);
  }
}

/**
 * The exit code of a followed managed job (0 SUCCEEDED, 100 any failure, 103 CANCELLED, 130
 * detached); anything but success is said on stderr with how it ended and why, when the daemon
 * recorded a reason.
 */
export async function managedJobExitCode(client: SkyClient, id: number, followed: FollowedManagedJob): Promise<number> {
  if (followed.detached) return 130;
  const { status } = followed;
  if (status === 'SUCCEEDED') return 0;
  let reason: string | undefined;
  try {
    reason = (await client.getManagedJob(id)).job.reason;
  } catch {
    reason = undefined;
  }
  note(`sky: managed job ${id} ended ${status ?? 'in an unknown state'}${reason === undefined ? '' : `: ${reason}`}`);
  note(`  hint: see what sky did for it with: sky jobs logs --controller ${id}`);
  return managedStatusExitCode(status);
}

/** What to do next with a submitted managed job. */
export function managedJobHints(id: number): string[] {
  return [
    `Managed job ${id}`,
    `├── To cancel the job:          sky jobs cancel ${id}`,
    `├── To stream job logs:         sky jobs logs ${id}`,
    `├── To stream controller logs:  sky jobs logs --controller ${id}`,
    `└── To view all managed jobs:   sky jobs queue`,
  ];
}
