import { z } from 'zod';
import { TaskUploadsSchema } from './upload-routes.js';

/**
 * Services (`sky serve`): a task run on several replica clusters behind an HTTP load balancer
 * the daemon runs. Each replica is a cluster of the service's owner and workspace; it enters
 * the load balancer's pool once its readiness probe answers, and is replaced when it fails
 * its probe past the timeout or loses its node. Updates roll versions over, keeping the
 * minimum number of replicas READY throughout.
 */

/** Service statuses, as SkyPilot names them. */
export const SERVICE_STATUSES = ['CONTROLLER_INIT', 'REPLICA_INIT', 'READY', 'NO_REPLICA', 'SHUTTING_DOWN', 'FAILED', 'FAILED_CLEANUP'] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];
export const ServiceStatusSchema = z.enum(SERVICE_STATUSES);

/** Replica statuses, as SkyPilot names them. */
export const REPLICA_STATUSES = ['PENDING', 'PROVISIONING', 'STARTING', 'READY', 'NOT_READY', 'SHUTTING_DOWN', 'FAILED', 'FAILED_PROBING', 'PREEMPTED'] as const;
export type ReplicaStatus = (typeof REPLICA_STATUSES)[number];
export const ReplicaStatusSchema = z.enum(REPLICA_STATUSES);

/** Replica statuses past which a replica serves no more and only waits to be removed from the record. */
export const REPLICA_GONE: readonly ReplicaStatus[] = ['FAILED', 'FAILED_PROBING', 'PREEMPTED'];

export const LOAD_BALANCING_POLICIES = ['round_robin', 'least_load'] as const;
export type LoadBalancingPolicy = (typeof LOAD_BALANCING_POLICIES)[number];

/** Service names are cluster-name-like: replica clusters are named `<service>-<replica id>`. */
export const ServiceNameSchema = z
  .string()
  .min(1)
  .max(50)
  .regex(/^[a-z]([a-z0-9-]*[a-z0-9])?$/, 'a service name starts with a lowercase letter and has lowercase letters, digits and "-" (not at the end)')
  .describe('Name of the service.');

/** The readiness probe, normalized (SkyPilot's `readiness_probe`, a path or a mapping). */
export const ReadinessProbeSchema = z.object({
  path: z.string(),
  /** When set, the probe is a POST with this JSON body; otherwise a GET. */
  postData: z.unknown().optional(),
  /** Probes failing before this many seconds after the replica started do not count. */
  initialDelaySeconds: z.number().int().min(0),
  /** Each probe's own time limit. */
  timeoutSeconds: z.number().int().min(1),
  headers: z.record(z.string(), z.string()),
});
export type ReadinessProbe = z.infer<typeof ReadinessProbeSchema>;

/** How many replicas: fixed (min = max), or autoscaled on QPS between min and max. */
export const ReplicaPolicySchema = z.object({
  minReplicas: z.number().int().min(0),
  maxReplicas: z.number().int().min(1),
  /** Autoscaling target; absent for a fixed count. */
  targetQpsPerReplica: z.number().positive().optional(),
  upscaleDelaySeconds: z.number().int().min(0),
  downscaleDelaySeconds: z.number().int().min(0),
});
export type ReplicaPolicy = z.infer<typeof ReplicaPolicySchema>;

/** The `service:` section of a task, normalized (defaults filled in). */
export const ServiceSpecSchema = z
  .object({
    readinessProbe: ReadinessProbeSchema,
    replicaPolicy: ReplicaPolicySchema,
    /** The port the replicas serve on (the task's `service.ports`, else its only `resources.ports` entry). */
    port: z.number().int().min(1).max(65535),
    loadBalancingPolicy: z.enum(LOAD_BALANCING_POLICIES),
  })
  .meta({ id: 'ServiceSpec' });
export type ServiceSpec = z.infer<typeof ServiceSpecSchema>;

/** One replica of a service. */
export const ServiceReplicaSchema = z.object({
  /** 1, 2, … within the service; never reused. */
  id: z.number().int().min(1),
  /** The service version it runs. */
  version: z.number().int().min(1),
  status: ReplicaStatusSchema,
  /** The replica's cluster (`<service>-<id>`). */
  cluster: z.string(),
  /** `http://host:port` once the cluster has a head node. */
  endpoint: z.string().optional(),
  /** The replica's job on its cluster (the task's run command). */
  jobId: z.number().int().min(1).optional(),
  /** What it asks for or was given, for listings: "1x local(cpus=1)". */
  resources: z.string().optional(),
  launchedAt: z.number().int(),
  /** When it was last READY (for the probe timeout). */
  readySince: z.number().int().optional(),
  /** Consecutive failed probes since the last success. */
  failedProbes: z.number().int().min(0),
  /** Why it is not READY (last probe error, launch failure). */
  reason: z.string().optional(),
});
export type ServiceReplica = z.infer<typeof ServiceReplicaSchema>;

export const ServiceRecordSchema = z
  .object({
    name: ServiceNameSchema,
    user: z.string().describe('User id of the owner.'),
    userName: z.string(),
    workspace: z.string(),
    status: ServiceStatusSchema,
    /** The version new replicas run (1 at `serve up`, one more per update). */
    version: z.number().int().min(1),
    /** The newest version all of whose wanted replicas are READY (traffic goes to it and, during a rolling update, to older ones). */
    activeVersion: z.number().int().min(0),
    updateMode: z.enum(['rolling', 'blue_green']),
    /** `http://host:port` of the service's load balancer. */
    endpoint: z.string().optional(),
    /** The load balancer's port (from the daemon's `serve.ports` range), kept across restarts. */
    lbPort: z.number().int().min(1).max(65535).optional(),
    /** The daemon replica whose load balancer serves it now. */
    lbReplica: z.string().optional(),
    /** Endpoints protected: requests need `Authorization: Bearer <token>` (the token itself is in the spec, never listed). */
    protected: z.boolean(),
    replicaPolicy: ReplicaPolicySchema,
    /** The autoscaler's current wish (between min and max). */
    targetReplicas: z.number().int().min(0),
    replicas: z.array(ServiceReplicaSchema),
    nextReplicaId: z.number().int().min(1),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    /** Why it FAILED, or what it waits for. */
    reason: z.string().optional(),
    /** The serve_up request that created it. */
    requestId: z.string(),
    /** Incremented on every update; updates are compare-and-set on it. */
    revision: z.number().int(),
  })
  .meta({ id: 'Service' });
export type ServiceRecord = z.infer<typeof ServiceRecordSchema>;

/**
 * What the service's controller needs to launch a replica of each version: the task as
 * submitted (with its uploads) and its normalized service section. Holds secrets (the task's
 * secrets, the bearer token): never served by the API.
 */
export interface ServiceVersionSpec {
  version: number;
  task: unknown;
  uploads?: unknown;
  service: ServiceSpec;
  /**
   * SHA-256 (hex) of the bearer token the load balancer demands (absent: open endpoint). The token
   * itself is shown once, to whoever set it, and never stored.
   */
  token?: string;
}

// ---- The API of `sky serve`: operations (async requests) and routes. ----

const boolFlag = z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean());
const TaskBodySchema = z.unknown().describe('A SkyPilot task as JSON (the structure of the task YAML) with a service section; validated like the YAML.');

export const UPDATE_MODES = ['rolling', 'blue_green'] as const;
export type UpdateMode = (typeof UPDATE_MODES)[number];

export const ServeUpBodySchema = z
  .strictObject({
    task: TaskBodySchema,
    uploads: TaskUploadsSchema.optional(),
    service_name: ServiceNameSchema.optional().describe('Name of the new service; generated when absent (sky-service-<4 hex>).'),
  })
  .meta({ id: 'ServeUpBody' });
export type ServeUpBody = z.infer<typeof ServeUpBodySchema>;

export const ServeUpResultSchema = z
  .object({
    name: z.string(),
    endpoint: z.string().optional().describe("The load balancer's http://host:port, once it listens."),
  })
  .meta({ id: 'ServeUpResult' });
export type ServeUpResult = z.infer<typeof ServeUpResultSchema>;

export const ServeUpdateBodySchema = z
  .strictObject({
    service_name: ServiceNameSchema,
    task: TaskBodySchema,
    uploads: TaskUploadsSchema.optional(),
    mode: z.enum(UPDATE_MODES).optional().describe('rolling (default): replace replicas a few at a time, old and new serving together; blue_green: switch traffic once the new version has all its replicas READY.'),
  })
  .meta({ id: 'ServeUpdateBody' });
export type ServeUpdateBody = z.infer<typeof ServeUpdateBodySchema>;

export const ServeUpdateResultSchema = z.object({ name: z.string(), version: z.number().int().min(1).describe('The new version.') }).meta({ id: 'ServeUpdateResult' });
export type ServeUpdateResult = z.infer<typeof ServeUpdateResultSchema>;

export const ServeDownBodySchema = z
  .strictObject({
    service_names: z.array(ServiceNameSchema).max(1000).optional(),
    all: z.boolean().optional().describe("Every service of the caller (every user's with all_users)."),
    all_users: z.boolean().optional().describe("With all: every user's services (admins)."),
    purge: z.boolean().optional().describe('Forget the services even when tearing a replica down fails (what is left is named in the request log).'),
  })
  .refine((b) => (b.service_names !== undefined && b.service_names.length > 0) !== (b.all === true), {
    message: 'give exactly one of service_names (non-empty) or all: true',
  })
  .meta({ id: 'ServeDownBody' });
export type ServeDownBody = z.infer<typeof ServeDownBodySchema>;

export const ServeDownResultSchema = z
  .object({
    down: z.array(z.string()).describe('Services torn down (replicas and load balancer gone, record removed).'),
    notFound: z.array(z.string()).describe('Names given that the caller has no service by.'),
  })
  .meta({ id: 'ServeDownResult' });
export type ServeDownResult = z.infer<typeof ServeDownResultSchema>;

export const ServiceQuerySchema = z.strictObject({
  all_users: boolFlag.optional().describe("Every user's services (the -u view; default the caller's)."),
});

export const ServiceListSchema = z.object({ items: z.array(ServiceRecordSchema) }).meta({ id: 'ServiceList' });
export type ServiceList = z.infer<typeof ServiceListSchema>;

export const ServiceParamsSchema = z.strictObject({ name: ServiceNameSchema });

/** One line of a service's controller log: what the daemon decided and did for it, and when. */
export const ServiceEventSchema = z.object({ at: z.number().int(), text: z.string() });
export type ServiceEvent = z.infer<typeof ServiceEventSchema>;

/** One service with its controller log (oldest first; empty for callers other than its owner and admins). */
export const ServiceDetailSchema = z.object({ service: ServiceRecordSchema, events: z.array(ServiceEventSchema) }).meta({ id: 'ServiceDetail' });
export type ServiceDetail = z.infer<typeof ServiceDetailSchema>;

/**
 * GET /api/v1/services/:name/logs: server-sent events `log` {text, rank?} then `end` {status}
 * (`error` with an error body if the server fails). Which log: a replica's job (replica_id), the
 * controller's (controller=true) or the load balancer's (load_balancer=true); at most one.
 * `end.status` is the replica's ReplicaStatus for a replica log, else the service's ServiceStatus.
 */
export const ServiceLogsQuerySchema = z
  .strictObject({
    replica_id: z.coerce.number().int().min(1).optional().describe("A replica's log (its job on its cluster)."),
    controller: boolFlag.optional().describe("The controller's log: what the daemon decided and did for the service."),
    load_balancer: boolFlag.optional().describe("The load balancer's log: requests routed and replicas added or removed."),
    follow: boolFlag.optional().describe('Keep streaming until the replica ends or the service is torn down (default true).'),
  })
  .refine((q) => [q.replica_id !== undefined, q.controller === true, q.load_balancer === true].filter(Boolean).length === 1, {
    message: 'give exactly one of replica_id, controller=true or load_balancer=true',
  });
export type ServiceLogsQuery = z.infer<typeof ServiceLogsQuerySchema>;

/** A `log` event of a service log stream. */
export interface ServiceLogLine {
  text: string;
  /** The node of the replica's cluster it came from (replica logs only). */
  rank?: number;
}

export const ServiceTokenBodySchema = z
  .strictObject({
    enable: z.boolean().describe('true: a new bearer token replaces any earlier one (returned once); false: the endpoint is open again.'),
  })
  .meta({ id: 'ServiceTokenBody' });
export type ServiceTokenBody = z.infer<typeof ServiceTokenBodySchema>;

export const ServiceTokenResultSchema = z
  .object({
    name: z.string(),
    protected: z.boolean(),
    token: z.string().optional().describe('The new token: send it as Authorization: Bearer <token>. Shown only in this answer.'),
  })
  .meta({ id: 'ServiceTokenResult' });
export type ServiceTokenResult = z.infer<typeof ServiceTokenResultSchema>;
