import { z } from 'zod';
import { MANAGED_JOB_STATUSES } from './wire/status.js';
import { TaskUploadsSchema } from './upload-routes.js';

/**
 * Managed jobs: jobs the daemon owns end to end. It provisions a cluster for each task
 * (`sky-jobs-<id>-<user>`), runs the task as a job there, follows it, recovers it from lost
 * nodes and retries it on errors as `resources.job_recovery` asks, and tears the cluster down.
 */
export const ManagedJobStatusSchema = z.enum(MANAGED_JOB_STATUSES);

const boolFlag = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());

/** SkyPilot's job name rule is loose; ours: printable, no control characters, at most 100. */
export const ManagedJobNameSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@:+-]*$/, 'a managed job name starts with a letter or digit and has letters, digits, ".", "_", "-", "@", ":" or "+"')
  .describe('Name of the managed job.');

/** One task of a managed job (a pipeline has several, run in order). */
export const ManagedTaskStateSchema = z.object({
  index: z.number().int().min(0),
  name: z.string().optional(),
  /** What the task asks for, for listings: "1x local(cpus=1)" until placed, then the cluster's resources. */
  resources: z.string(),
  status: ManagedJobStatusSchema,
  /** The cluster the task runs on now (absent before it is provisioned and after it is torn down). */
  cluster: z.string().optional(),
  /** The task's job in that cluster's queue. */
  clusterJobId: z.number().int().min(1).optional(),
  infra: z.string().optional(),
  /** When the task first started running. */
  startedAt: z.number().int().optional(),
  endedAt: z.number().int().optional(),
  /** Time spent RUNNING, summed over recoveries (ms), not counting the current run. */
  runningMs: z.number().int().min(0),
  /** Since when the current run has been RUNNING. */
  runningSince: z.number().int().optional(),
  exitCodes: z.array(z.number().int().nullable()).optional(),
  /** Relaunches after a lost node. */
  recoveries: z.number().int().min(0),
  /** Relaunches after the task's own failure (max_restarts_on_errors / recover_on_exit_codes). */
  restarts: z.number().int().min(0),
});
export type ManagedTaskState = z.infer<typeof ManagedTaskStateSchema>;

/** One line of a managed job's controller log: what the daemon decided and did, and when. */
export const ManagedJobEventSchema = z.object({ at: z.number().int(), text: z.string() });
export type ManagedJobEvent = z.infer<typeof ManagedJobEventSchema>;

export const ManagedJobRecordSchema = z
  .object({
    id: z.number().int().min(1),
    name: z.string().optional(),
    user: z.string().describe('User id of the owner.'),
    userName: z.string(),
    workspace: z.string(),
    /** The jobs_launch request that submitted it. */
    requestId: z.string(),
    status: ManagedJobStatusSchema,
    /** Why it failed, or what it waits for. */
    reason: z.string().optional(),
    submittedAt: z.number().int(),
    endedAt: z.number().int().optional(),
    /** Since when it has been RECOVERING (for the wait limit). */
    recoveringSince: z.number().int().optional(),
    /** The task running now (index into tasks). */
    currentTask: z.number().int().min(0),
    /** Launch attempts so far, counting every relaunch; keys the cluster job of each attempt. */
    attempts: z.number().int().min(0),
    tasks: z.array(ManagedTaskStateSchema).min(1),
    /** Incremented on every update; updates are compare-and-set on it. */
    version: z.number().int(),
  })
  .meta({ id: 'ManagedJob' });
export type ManagedJobRecord = z.infer<typeof ManagedJobRecordSchema>;

/** One managed job with its controller log (oldest line first; the store keeps the last 1,000; empty for callers other than its owner and admins). */
export const ManagedJobDetailSchema = z.object({ job: ManagedJobRecordSchema, events: z.array(ManagedJobEventSchema) }).meta({ id: 'ManagedJobDetail' });
export type ManagedJobDetail = z.infer<typeof ManagedJobDetailSchema>;

/**
 * What the controller needs to launch each task again (after a lost node, a restart of the
 * daemon): the tasks as submitted, with their uploads. Holds secrets: never served by the API.
 */
export interface ManagedJobSpec {
  tasks: Array<{ task: unknown; uploads?: z.infer<typeof TaskUploadsSchema> }>;
}

const TaskBodySchema = z.unknown().describe('A SkyPilot task as JSON (the structure of the task YAML); validated like the YAML.');

export const JobsLaunchBodySchema = z
  .strictObject({
    tasks: z
      .array(z.strictObject({ task: TaskBodySchema, uploads: TaskUploadsSchema.optional() }))
      .min(1)
      .max(100)
      .describe('The task, or a pipeline of tasks run in order, each on its own cluster.'),
    name: ManagedJobNameSchema.optional().describe('Name of the managed job; default the (first) task name.'),
  })
  .meta({ id: 'JobsLaunchBody' });
export type JobsLaunchBody = z.infer<typeof JobsLaunchBodySchema>;

export const JobsLaunchResultSchema = z
  .object({ jobId: z.number().int().min(1), name: z.string().optional(), tasks: z.number().int().min(1) })
  .meta({ id: 'JobsLaunchResult' });
export type JobsLaunchResult = z.infer<typeof JobsLaunchResultSchema>;

export const JobsCancelBodySchema = z
  .strictObject({
    job_ids: z.array(z.number().int().min(1)).max(10000).optional(),
    name: ManagedJobNameSchema.optional().describe('Every unfinished managed job of this name (the caller\'s, or everyone\'s with all_users).'),
    all: z.boolean().optional().describe('Every unfinished managed job of the caller.'),
    all_users: z.boolean().optional().describe("With all or name: every user's (admins)."),
  })
  .refine((b) => [b.job_ids !== undefined && b.job_ids.length > 0, b.name !== undefined, b.all === true].filter(Boolean).length === 1, {
    message: 'give exactly one of job_ids (non-empty), name or all: true',
  })
  .meta({ id: 'JobsCancelBody' });
export type JobsCancelBody = z.infer<typeof JobsCancelBodySchema>;

export const JobsCancelResultSchema = z
  .object({
    cancelled: z.array(z.number().int()).describe('Managed jobs now CANCELLED.'),
    alreadyFinished: z.array(z.number().int()),
  })
  .meta({ id: 'JobsCancelResult' });
export type JobsCancelResult = z.infer<typeof JobsCancelResultSchema>;

export const ManagedJobQuerySchema = z.strictObject({
  all_users: boolFlag.optional().describe("Every user's managed jobs (the -u view; default the caller's)."),
  skip_finished: boolFlag.optional().describe('Only unfinished ones.'),
  limit: z.coerce.number().int().min(1).max(100000).optional().describe('At most this many, newest first.'),
});

export const ManagedJobListSchema = z.object({ items: z.array(ManagedJobRecordSchema) }).meta({ id: 'ManagedJobList' });
export type ManagedJobList = z.infer<typeof ManagedJobListSchema>;

export const ManagedJobParamsSchema = z.strictObject({ id: z.coerce.number().int().min(1) });

export const ManagedJobLogsQuerySchema = z.strictObject({
  follow: boolFlag.optional().describe('Keep streaming until the managed job ends (default true).'),
  controller: boolFlag.optional().describe("The controller's log (what the daemon did for the job) instead of the task's."),
  format: z.enum(['events', 'text']).optional().describe('events (default): server-sent events; text: the whole log as a plain-text download (follow defaults to false).'),
});
