import { z } from 'zod';
import { LaneSchema } from './requests.js';
import { TaskUploadsSchema } from './upload-routes.js';
import type { Lane } from './wire/status.js';
import { PING_USER_MAX_SLEEP_SECONDS } from './access.js';
import { JobsCancelBodySchema, JobsCancelResultSchema, JobsLaunchBodySchema, JobsLaunchResultSchema } from './managed-jobs.js';
import { ServeDownBodySchema, ServeDownResultSchema, ServeUpBodySchema, ServeUpdateBodySchema, ServeUpdateResultSchema, ServeUpResultSchema } from './services.js';

/**
 * Operations a client submits as asynchronous requests. Each has a body schema and a
 * result schema; the daemon's route table and the OpenAPI document are derived from here.
 */
export const PingBodySchema = z
  .strictObject({
    sleep: z.number().min(0).max(3600).optional().describe('Seconds to sleep, logging once a second.'),
    lane: LaneSchema.optional().describe('Lane to run in; default short.'),
    fail: z.string().min(1).max(500).optional().describe('Fail with this message after sleeping.'),
  })
  .meta({ id: 'PingBody' });
export type PingBody = z.infer<typeof PingBodySchema>;

export const PingResultSchema = z
  .object({ pong: z.literal(true), sleptMs: z.number(), daemonPid: z.number().int() })
  .meta({ id: 'PingResult' });
export type PingResult = z.infer<typeof PingResultSchema>;

/** SkyPilot's cluster-name rule (see task/names.ts): a letter first, then letters, digits, '-', '_', '.'. */
export const ClusterNameSchema = z
  .string()
  .max(63)
  .regex(/^[a-zA-Z]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?$/, 'a cluster name starts with a letter and has letters, digits, "-", "_" or "." (at most 63)')
  .describe('Cluster name.');
const TaskBodySchema = z.unknown().describe('A SkyPilot task as JSON (the structure of the task YAML); validated like the YAML.');

export const LaunchBodySchema = z
  .strictObject({
    task: TaskBodySchema,
    cluster: ClusterNameSchema.optional().describe('Cluster to launch on or create; generated when absent.'),
    idle_minutes_to_autostop: z.number().min(0).max(525600).optional(),
    down: z.boolean().optional().describe('With autostop: tear the cluster down instead of stopping it.'),
    dryrun: z.boolean().optional().describe('Only plan: which driver, nodes and resources.'),
    uploads: TaskUploadsSchema.optional(),
  })
  .meta({ id: 'LaunchBody' });
export type LaunchBody = z.infer<typeof LaunchBodySchema>;

export const LaunchPlanSchema = z.object({
  driver: z.string(),
  infra: z.string(),
  numNodes: z.number().int(),
  resources: z.string(),
  existing: z.boolean().describe('Whether the cluster already exists and is reused.'),
  warnings: z.array(z.string()).optional().describe('Task fields accepted but ignored on this driver, one line each.'),
});
export type LaunchPlan = z.infer<typeof LaunchPlanSchema>;

export const LaunchResultSchema = z
  .object({
    cluster: z.string(),
    jobId: z.number().int().optional(),
    plan: LaunchPlanSchema,
  })
  .meta({ id: 'LaunchResult' });
export type LaunchResult = z.infer<typeof LaunchResultSchema>;

export const ExecBodySchema = z.strictObject({ cluster: ClusterNameSchema, task: TaskBodySchema, uploads: TaskUploadsSchema.optional() }).meta({ id: 'ExecBody' });
export type ExecBody = z.infer<typeof ExecBodySchema>;
export const ExecResultSchema = z.object({ cluster: z.string(), jobId: z.number().int() }).meta({ id: 'ExecResult' });
export type ExecResult = z.infer<typeof ExecResultSchema>;

export const ClusterBodySchema = z.strictObject({ cluster: ClusterNameSchema }).meta({ id: 'ClusterBody' });
export type ClusterBody = z.infer<typeof ClusterBodySchema>;
export const ClusterResultSchema = z.object({ cluster: z.string(), status: z.string() }).meta({ id: 'ClusterResult' });
export type ClusterResult = z.infer<typeof ClusterResultSchema>;

export const AutostopBodySchema = z
  .strictObject({
    cluster: ClusterNameSchema,
    idle_minutes: z.number().min(0).max(525600).optional(),
    down: z.boolean().optional(),
    cancel: z.boolean().optional().describe('Turn autostop off.'),
  })
  .meta({ id: 'AutostopBody' });
export type AutostopBody = z.infer<typeof AutostopBodySchema>;

export const CancelJobsBodySchema = z
  .strictObject({
    cluster: ClusterNameSchema,
    job_ids: z.array(z.number().int().min(1)).max(1000).optional(),
    all: z.boolean().optional().describe('Every unfinished job of the caller on the cluster.'),
    all_users: z.boolean().optional().describe('With all: every user\'s jobs.'),
  })
  .meta({ id: 'CancelJobsBody' });
export type CancelJobsBody = z.infer<typeof CancelJobsBodySchema>;
export const CancelJobsResultSchema = z
  .object({ cluster: z.string(), cancelled: z.array(z.number().int()), alreadyFinished: z.array(z.number().int()) })
  .meta({ id: 'CancelJobsResult' });
export type CancelJobsResult = z.infer<typeof CancelJobsResultSchema>;

export const RefreshBodySchema = z
  .strictObject({ clusters: z.array(ClusterNameSchema).max(1000).optional(), all_users: z.boolean().optional() })
  .meta({ id: 'RefreshBody' });
export type RefreshBody = z.infer<typeof RefreshBodySchema>;
export const RefreshResultSchema = z.object({ refreshed: z.array(z.string()) }).meta({ id: 'RefreshResult' });

const InfraFilterSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._:@/-]*)?$/, 'infra is a driver id, optionally /pool or /context (e.g. ssh, ssh/gpu-a or k8s/my-context)')
  .describe('A driver id, or driver/pool (driver/context for Kubernetes).');

const HostCheckSchema = z.object({
  pool: z.string(),
  label: z.string(),
  host: z.string(),
  port: z.number().int(),
  user: z.string(),
  reachable: z.boolean(),
  authOk: z.boolean(),
  cpus: z.number(),
  memoryGb: z.number(),
  accelerators: z.array(z.object({ name: z.string(), count: z.number() })),
  error: z.string().optional(),
  heldBy: z.object({ owner: z.string(), clusterName: z.string() }).optional(),
});
export type HostCheckReport = z.infer<typeof HostCheckSchema>;

const TargetGpusSchema = z.object({ name: z.string(), total: z.number(), free: z.number() });

/** One named target of a driver (a Kubernetes context) as `sky check` and `sky show-gpus` report it. */
export const TargetCheckSchema = z
  .object({
    name: z.string().describe('The target as written after the driver id in infra (k8s/<name>).'),
    reachable: z.boolean(),
    error: z.string().optional().describe('Why it cannot be used (details for admins).'),
    endpoint: z.string().optional().describe('Its server (admins).'),
    scope: z.string().optional().describe('The namespace the driver works in there.'),
    missingPermissions: z.array(z.string()).describe('Permissions the driver needs there and lacks.'),
    warnings: z.array(z.string()).optional().describe('What works less well there without making it unusable.'),
    nodes: z.array(
      z.object({ name: z.string(), cpus: z.number(), memoryGb: z.number(), ready: z.boolean(), gpus: z.array(TargetGpusSchema) }),
    ),
  })
  .meta({ id: 'TargetCheck' });
export type TargetCheckReport = z.infer<typeof TargetCheckSchema>;

/**
 * A host pool's capacity without its hosts: what non-admins get from check and show_gpus
 * (host addresses, login users and per-host reports are for admins).
 */
export const PoolSummarySchema = z
  .object({
    pool: z.string(),
    hosts: z.number().int(),
    ready: z.number().int().describe('Hosts reachable and logged in to.'),
    free: z.number().int().describe('Ready hosts no cluster holds.'),
    cpus: z.number().describe('CPUs of the ready hosts.'),
    memoryGb: z.number().describe('Memory of the ready hosts.'),
    accelerators: z.array(z.object({ name: z.string(), count: z.number() })).describe('GPUs of the ready hosts, by type.'),
  })
  .meta({ id: 'PoolSummary' });
export type PoolSummary = z.infer<typeof PoolSummarySchema>;

export const CheckBodySchema = z.strictObject({ infra: z.array(InfraFilterSchema).max(50).optional() }).meta({ id: 'CheckBody' });
export type CheckBody = z.infer<typeof CheckBodySchema>;
export const CheckResultSchema = z
  .object({
    drivers: z.array(
      z.object({
        id: z.string(),
        ok: z.boolean(),
        infra: z.array(z.string()).describe('Infra names this driver offers, e.g. local or ssh/<pool>.'),
        detail: z.string().optional(),
        error: z.string().optional(),
        hosts: z.array(HostCheckSchema).optional().describe('Per-host reports (admins).'),
        pools: z.array(PoolSummarySchema).optional().describe('Per-pool capacity, for callers who do not see the hosts.'),
        targets: z.array(TargetCheckSchema).optional().describe('Per-target reports of drivers with named targets (Kubernetes contexts).'),
        plugin: z
          .object({ package: z.string(), version: z.string().optional(), state: z.enum(['skipped', 'failed']), code: z.string() })
          .optional()
          .describe('Set when the driver is configured but its plugin failed to load or was stopped after a fault; error says why.'),
      }),
    ),
  })
  .meta({ id: 'CheckResult' });
export type CheckResult = z.infer<typeof CheckResultSchema>;

export const PoolBodySchema = z.strictObject({ infra: InfraFilterSchema.optional().describe('ssh, or ssh/<pool> (k8s or k8s/<context> for show_gpus); default every pool.') }).meta({ id: 'PoolBody' });
export type PoolBody = z.infer<typeof PoolBodySchema>;
export const PoolHostsResultSchema = z
  .object({
    hosts: z.array(z.object({ pool: z.string(), label: z.string(), host: z.string(), ok: z.boolean(), message: z.string() })),
  })
  .meta({ id: 'PoolHostsResult' });
export type PoolHostsResult = z.infer<typeof PoolHostsResultSchema>;
export const ShowGpusResultSchema = z
  .object({
    hosts: z.array(HostCheckSchema).describe('Per-host reports (admins; empty for others).'),
    pools: z.array(PoolSummarySchema).optional().describe('Per-pool capacity, for callers who do not see the hosts.'),
    drivers: z
      .array(
        z.object({
          id: z.string(),
          gpus: z.array(z.object({ name: z.string(), total: z.number(), free: z.number() })),
          error: z.string().optional().describe('Why the driver could not say (details for admins).'),
        }),
      )
      .optional()
      .describe('Without infra: the GPUs of each enabled driver that has no host pools (e.g. local).'),
    targets: z
      .array(TargetCheckSchema.extend({ driver: z.string() }))
      .optional()
      .describe('Drivers with named targets (Kubernetes contexts): the GPUs of each node, total and free.'),
  })
  .meta({ id: 'ShowGpusResult' });
export type ShowGpusResult = z.infer<typeof ShowGpusResultSchema>;

export interface OperationSpec<B extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly summary: string;
  readonly body: B;
  readonly result: R;
  /** Lane when the body does not choose one. */
  readonly defaultLane: Lane;
  /** Whether it changes state (and so takes --async in the CLI and is audited). */
  readonly mutating: boolean;
  /** Who may submit it (enforced by the daemon from here). */
  readonly access: 'user' | 'admin';
  /** For a user operation: why this body needs the admin role all the same, or undefined when any user may send it. */
  adminWhen?(body: z.infer<B>): string | undefined;
  /** What of the result only admins get (others get a summary instead); undefined when everyone gets all of it. */
  readonly adminOnlyResult?: string;
}

function op<B extends z.ZodType, R extends z.ZodType>(spec: OperationSpec<B, R>): OperationSpec<B, R> {
  return spec;
}

export const OPERATIONS = {
  ping: op({
    name: 'ping',
    summary: 'Diagnostic request: sleeps, logs, and answers pong (or fails on demand).',
    body: PingBodySchema,
    result: PingResultSchema,
    defaultLane: 'short',
    mutating: false,
    access: 'user',
    adminWhen: (body) => ((body.sleep ?? 0) > PING_USER_MAX_SLEEP_SECONDS ? `a ping sleeping more than ${PING_USER_MAX_SLEEP_SECONDS} s` : undefined),
  }),
  launch: op({
    name: 'launch',
    summary: 'Provision a cluster (or reuse one) and submit the task as a job on it.',
    body: LaunchBodySchema,
    result: LaunchResultSchema,
    defaultLane: 'long',
    mutating: true,
    access: 'user',
  }),
  exec: op({
    name: 'exec',
    summary: "Submit a task as a job on an existing UP cluster (no setup of the cluster itself).",
    body: ExecBodySchema,
    result: ExecResultSchema,
    defaultLane: 'short',
    mutating: true,
    access: 'user',
  }),
  stop: op({ name: 'stop', summary: 'Stop a cluster: its nodes release compute, its disks stay.', body: ClusterBodySchema, result: ClusterResultSchema, defaultLane: 'long', mutating: true, access: 'user' }),
  start: op({ name: 'start', summary: 'Start a stopped cluster again.', body: ClusterBodySchema, result: ClusterResultSchema, defaultLane: 'long', mutating: true, access: 'user' }),
  down: op({ name: 'down', summary: 'Tear a cluster down: terminate its nodes and forget it.', body: ClusterBodySchema, result: ClusterResultSchema, defaultLane: 'long', mutating: true, access: 'user' }),
  autostop: op({ name: 'autostop', summary: 'Set or cancel autostop (stop or down after idle minutes).', body: AutostopBodySchema, result: ClusterResultSchema, defaultLane: 'short', mutating: true, access: 'user' }),
  cancel: op({ name: 'cancel', summary: "Cancel jobs in a cluster's queue.", body: CancelJobsBodySchema, result: CancelJobsResultSchema, defaultLane: 'short', mutating: true, access: 'user' }),
  check: op({ name: 'check', summary: 'Check every enabled driver (or the given infra): capacity and, for host pools, each host.', body: CheckBodySchema, result: CheckResultSchema, defaultLane: 'short', mutating: false, access: 'user', adminOnlyResult: 'hosts: per-host reports (addresses, login users, errors); others get pools, a capacity summary' }),
  ssh_up: op({ name: 'ssh_up', summary: 'Check every host of the SSH node pools and upload the node runtime to it.', body: PoolBodySchema, result: PoolHostsResultSchema, defaultLane: 'long', mutating: true, access: 'admin' }),
  ssh_down: op({ name: 'ssh_down', summary: 'Remove what sky put on the hosts of the SSH node pools (hosts held by clusters are left alone).', body: PoolBodySchema, result: PoolHostsResultSchema, defaultLane: 'long', mutating: true, access: 'admin' }),
  show_gpus: op({ name: 'show_gpus', summary: 'GPUs per host of the host pools (e.g. --infra ssh/<pool>).', body: PoolBodySchema, result: ShowGpusResultSchema, defaultLane: 'short', mutating: false, access: 'user', adminOnlyResult: 'hosts: per-host reports; others get pools, a capacity summary' }),
  refresh: op({
    name: 'refresh',
    summary: 'Ask the drivers for the real state of clusters and record it.',
    body: RefreshBodySchema,
    result: RefreshResultSchema,
    defaultLane: 'short',
    mutating: false,
    access: 'user',
    adminWhen: (body) => (body.all_users === true ? "refreshing every user's clusters" : undefined),
  }),
  jobs_launch: op({
    name: 'jobs_launch',
    summary: 'Submit a managed job: the daemon provisions a cluster for each task, runs it, recovers it and tears the cluster down.',
    body: JobsLaunchBodySchema,
    result: JobsLaunchResultSchema,
    defaultLane: 'short',
    mutating: true,
    access: 'user',
  }),
  jobs_cancel: op({
    name: 'jobs_cancel',
    summary: 'Cancel managed jobs: none starts once this returns; each ends CANCELLED with its cluster torn down.',
    body: JobsCancelBodySchema,
    result: JobsCancelResultSchema,
    defaultLane: 'short',
    mutating: true,
    access: 'user',
    adminWhen: (body) => (body.all_users === true ? "cancelling every user's managed jobs" : undefined),
  }),
  serve_up: op({
    name: 'serve_up',
    summary: "Start a service: the daemon launches the task's replicas, probes them, and serves them behind a load balancer; succeeds once the load balancer listens.",
    body: ServeUpBodySchema,
    result: ServeUpResultSchema,
    defaultLane: 'short',
    mutating: true,
    access: 'user',
  }),
  serve_update: op({
    name: 'serve_update',
    summary: 'Give a service a new version of its task: replicas of the new version replace the old ones (rolling, or blue_green), keeping min_replicas READY throughout.',
    body: ServeUpdateBodySchema,
    result: ServeUpdateResultSchema,
    defaultLane: 'short',
    mutating: true,
    access: 'user',
  }),
  serve_down: op({
    name: 'serve_down',
    summary: 'Tear services down: their load balancers stop, their replica clusters are torn down, and they are forgotten.',
    body: ServeDownBodySchema,
    result: ServeDownResultSchema,
    defaultLane: 'long',
    mutating: true,
    access: 'user',
    adminWhen: (body) => (body.all_users === true ? "tearing down every user's services" : undefined),
  }),
} as const;

export type OperationName = keyof typeof OPERATIONS;
export type OperationBody<N extends OperationName> = z.infer<(typeof OPERATIONS)[N]['body']>;
export type OperationResult<N extends OperationName> = z.infer<(typeof OPERATIONS)[N]['result']>;
export const OPERATION_NAMES = Object.keys(OPERATIONS) as OperationName[];
