import { setTimeout as sleep } from 'node:timers/promises';
import { SkyError, isJobTerminal, isManagedJobTerminal } from '@sky/client';
import type { ClusterResult, ExecResult, JobStatus, JobsLaunchResult, LaunchResult, ManagedJobStatus, RequestRecord, SkyClient } from '@sky/client';
import type { ActivityContext, ContextSource } from './context.js';

/** A SkyPilot task as JSON: the structure of the task YAML (run, setup, resources, envs, ...). */
export type TaskJson = Record<string, unknown>;

export interface SkyActivitiesOptions {
  /** The client every activity uses (e.g. `await SkyClient.fromEnvironment()` at worker start). */
  client: SkyClient;
  /** The context of the running activity. */
  context: ContextSource;
  /** How long each wait for a request lasts before the next heartbeat (long-poll seconds, default 10). */
  requestPollSeconds?: number;
  /** How often a job is looked at, with a heartbeat each time (seconds, default 5). */
  jobPollSeconds?: number;
}

/** Retried activities must not launch twice: pass a key derived from the workflow (its id and a step name). */
interface Idempotent {
  idempotencyKey?: string;
  /** The workspace to run in; default the client's. */
  workspace?: string;
}

export interface LaunchClusterInput extends Idempotent {
  cluster: string;
  task: TaskJson;
  idleMinutesToAutostop?: number;
  /** With autostop: tear the cluster down instead of stopping it. */
  down?: boolean;
}

export interface ExecJobInput extends Idempotent {
  cluster: string;
  task: TaskJson;
}

export interface WaitForJobInput {
  cluster: string;
  jobId: number;
}

/** How a cluster job ended; FAILED is a result, not an activity failure: the workflow decides. */
export interface JobOutcome {
  cluster: string;
  jobId: number;
  status: JobStatus;
  exitCodes?: Array<number | null>;
  reason?: string;
}

export interface DownClusterInput extends Idempotent {
  cluster: string;
}

export interface LaunchManagedJobInput extends Idempotent {
  /** One task, or a pipeline run in order, each on its own cluster. */
  tasks: TaskJson[];
  name?: string;
}

export interface WaitManagedJobInput {
  jobId: number;
}

export interface ManagedJobOutcome {
  jobId: number;
  status: ManagedJobStatus;
  reason?: string;
}

export interface SkyActivities {
  launchCluster(input: LaunchClusterInput): Promise<LaunchResult>;
  execJob(input: ExecJobInput): Promise<ExecResult>;
  waitForJob(input: WaitForJobInput): Promise<JobOutcome>;
  downCluster(input: DownClusterInput): Promise<ClusterResult>;
  launchManagedJob(input: LaunchManagedJobInput): Promise<JobsLaunchResult>;
  waitManagedJob(input: WaitManagedJobInput): Promise<ManagedJobOutcome>;
}

/**
 * The activities, bound to one client. Each request-backed activity (launch, exec, down, managed
 * launch) submits its request and long-polls it, heartbeating after every poll; when Temporal
 * cancels the activity, the sky request is cancelled before the cancellation is rethrown. The
 * two waits poll the job, heartbeating its status, and on cancellation cancel the job itself.
 */
export function createSkyActivities(options: SkyActivitiesOptions): SkyActivities {
  const { client } = options;
  const requestPoll = options.requestPollSeconds ?? 10;
  const jobPollMs = (options.jobPollSeconds ?? 5) * 1000;

  const runOptions = (ctx: ActivityContext, input: Idempotent) => ({
    signal: ctx.cancellationSignal,
    pollSeconds: requestPoll,
    onPoll: (record: RequestRecord) => ctx.heartbeat({ requestId: record.id, status: record.status }),
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    ...(input.workspace === undefined ? {} : { workspace: input.workspace }),
  });

  /**
   * Look at something until it ends, heartbeating each look. On cancellation run `stop` (its own
   * request, which must finish even though the activity's signal has fired) and rethrow the
   * signal's reason: Temporal's CancelledFailure, which marks the activity cancelled.
   */
  async function pollUntil<T>(ctx: ActivityContext, look: () => Promise<T>, ended: (value: T) => boolean, stop: () => Promise<unknown>): Promise<T> {
    const signal = ctx.cancellationSignal;
    try {
      for (;;) {
        signal.throwIfAborted();
        const value = await look();
        ctx.heartbeat(value);
        if (ended(value)) return value;
        await sleep(jobPollMs, undefined, { signal });
      }
    } catch (err) {
      if (!signal.aborted) throw err;
      await stop();
      throw signal.reason;
    }
  }

  async function jobOutcome(cluster: string, jobId: number): Promise<JobOutcome> {
    const job = (await client.listJobs(cluster)).items.find((j) => j.id === jobId);
    if (job === undefined) {
      throw new SkyError('JOB_NOT_FOUND', `no job ${jobId} of yours on cluster ${cluster}`, { hint: `See the queue with: sky queue ${cluster}`, details: { cluster, jobId } });
    }
    return {
      cluster,
      jobId,
      status: job.status,
      ...(job.exitCodes === undefined ? {} : { exitCodes: job.exitCodes }),
      ...(job.reason === undefined ? {} : { reason: job.reason }),
    };
  }

  return {
    async launchCluster(input) {
      const ctx = options.context();
      const body = {
        cluster: input.cluster,
        task: input.task,
        ...(input.idleMinutesToAutostop === undefined ? {} : { idle_minutes_to_autostop: input.idleMinutesToAutostop }),
        ...(input.down === undefined ? {} : { down: input.down }),
      };
      return client.run('launch', body, runOptions(ctx, input));
    },

    async execJob(input) {
      const ctx = options.context();
      return client.run('exec', { cluster: input.cluster, task: input.task }, runOptions(ctx, input));
    },

    async waitForJob(input) {
      const ctx = options.context();
      return pollUntil(
        ctx,
        () => jobOutcome(input.cluster, input.jobId),
        (o) => isJobTerminal(o.status),
        () => client.run('cancel', { cluster: input.cluster, job_ids: [input.jobId] }),
      );
    },

    async downCluster(input) {
      const ctx = options.context();
      return client.run('down', { cluster: input.cluster }, runOptions(ctx, input));
    },

    async launchManagedJob(input) {
      const ctx = options.context();
      const body = { tasks: input.tasks.map((task) => ({ task })), ...(input.name === undefined ? {} : { name: input.name }) };
      return client.run('jobs_launch', body, runOptions(ctx, input));
    },

    async waitManagedJob(input) {
      const ctx = options.context();
      const look = async (): Promise<ManagedJobOutcome> => {
        const { job } = await client.getManagedJob(input.jobId);
        return { jobId: job.id, status: job.status, ...(job.reason === undefined ? {} : { reason: job.reason }) };
      };
      return pollUntil(ctx, look, (o) => isManagedJobTerminal(o.status), () => client.run('jobs_cancel', { job_ids: [input.jobId] }));
    },
  };
}
