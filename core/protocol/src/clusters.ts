import { z } from 'zod';
import { JOB_STATUSES } from './wire/status.js';

/** Cluster lifecycle, as in SkyPilot. */
export const CLUSTER_STATUSES = ['INIT', 'UP', 'STOPPED'] as const;
export const ClusterStatusSchema = z.enum(CLUSTER_STATUSES);
export type ClusterStatus = z.infer<typeof ClusterStatusSchema>;

// Job statuses and isJobTerminal live in the zod-free wire/status.ts (clients use them).
export const JobStatusSchema = z.enum(JOB_STATUSES);

const AcceleratorSchema = z.object({ name: z.string(), count: z.number() });

/** What one node has (CPUs, memory in GB, accelerators). */
export const NodeResourcesSchema = z.object({
  cpus: z.number(),
  memoryGb: z.number(),
  accelerators: z.array(AcceleratorSchema),
});
export type NodeResources = z.infer<typeof NodeResourcesSchema>;

/** How the daemon reaches a node: a directory on this machine, or an SSH target. */
export const NodeReachSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('local'),
    root: z.string(),
    gpuIndices: z.array(z.number().int()).optional(),
    /** The OS account jobs on this node run as, through sky-node-helper (team servers); absent: the daemon's own. */
    account: z.string().optional(),
  }),
  z.object({
    kind: z.literal('ssh'),
    host: z.string(),
    port: z.number().int(),
    user: z.string(),
    identityFile: z.string().optional(),
    proxyJump: z.string().optional(),
    /** Host keys the driver pinned for this node (OpenSSH public key lines); known_hosts is not consulted for it. */
    hostKeys: z.array(z.string()).optional(),
    /**
     * Reached through its driver (plugin API 1.6 TunnelExtension): `driver` is the daemon's id of
     * the driver that made the node, `id` the driver's opaque tunnel id; no TCP to host:port.
     */
    tunnel: z.object({ driver: z.string(), id: z.string() }).optional(),
    /**
     * The private key is a sealed document of the driver that made the node (plugin API 1.8), in
     * the state store every replica reads: `driver` is its daemon id, `name` the document's.
     */
    identityDocument: z.object({ driver: z.string(), name: z.string() }).optional(),
  }),
]);
export type NodeReach = z.infer<typeof NodeReachSchema>;

export const NodeRecordSchema = z.object({
  id: z.string(),
  rank: z.number().int(),
  address: z.string(),
  reach: NodeReachSchema,
  resources: NodeResourcesSchema,
});
export type NodeRecord = z.infer<typeof NodeRecordSchema>;

export const AutostopSchema = z.object({ idleMinutes: z.number().min(0), down: z.boolean() });
export type Autostop = z.infer<typeof AutostopSchema>;

/** A cluster as the daemon records it. Name is unique across the team. */
export const ClusterRecordSchema = z
  .object({
    name: z.string(),
    /** Unique per incarnation: a cluster downed and launched again gets a new one. */
    clusterId: z.string(),
    owner: z.string().describe('User id of the owner.'),
    ownerName: z.string(),
    workspace: z.string(),
    driver: z.string().describe('Id of the driver plugin that provisioned it.'),
    infra: z.string().describe('Display form, e.g. "local" or "ssh/pool-a".'),
    status: ClusterStatusSchema,
    statusReason: z.string().optional(),
    numNodes: z.number().int(),
    nodes: z.array(NodeRecordSchema),
    /** Per-node resources as provisioned, e.g. "1x local(cpus=2, mem=4GB)". */
    resources: z.string(),
    /** Opaque driver state, handed back to the driver on stop/start/terminate. */
    driverState: z.unknown(),
    launchedAt: z.number().int(),
    updatedAt: z.number().int(),
    /** When the last job ended or was submitted; autostop counts idle time from here. */
    lastActiveAt: z.number().int(),
    lastCommand: z.string().optional(),
    /** The ports the task that created the cluster asked for (resources.ports), as written: "8080", "9000-9002". */
    ports: z.array(z.string()).optional(),
    autostop: AutostopSchema.optional(),
    replica: z
      .string()
      .optional()
      .describe('On a state store shared by several daemon replicas: the replica that owns the cluster (runs the requests on it, starts its jobs, holds the SSH connections to its nodes); the one that launched it, or took it over when that one died.'),
    /** Incremented on every update; updates are compare-and-set on it. */
    version: z.number().int(),
  })
  .meta({ id: 'Cluster' });
export type ClusterRecord = z.infer<typeof ClusterRecordSchema>;

/** A job in a cluster's queue. Ids count up from 1 per cluster. */
export const JobRecordSchema = z
  .object({
    cluster: z.string(),
    clusterId: z.string(),
    id: z.number().int().min(1),
    name: z.string().optional(),
    user: z.string(),
    userName: z.string(),
    status: JobStatusSchema,
    submittedAt: z.number().int(),
    startedAt: z.number().int().optional(),
    endedAt: z.number().int().optional(),
    numNodes: z.number().int(),
    /** Per-node demand used for FIFO-with-fit scheduling. */
    demand: NodeResourcesSchema,
    /** First line of the run command, for listings. */
    command: z.string().optional(),
    exitCodes: z.array(z.number().int().nullable()).optional(),
    /** Host GPU indices each rank was given (its CUDA_VISIBLE_DEVICES), on nodes that pin GPUs. */
    gpuIndices: z.array(z.array(z.number().int())).optional(),
    reason: z.string().optional(),
    requestId: z.string().optional(),
    /** The node runtime version that started the job's ranks (absent: 1, or not started yet). */
    runtime: z.number().int().min(1).optional(),
  })
  .meta({ id: 'Job' });
export type JobRecord = z.infer<typeof JobRecordSchema>;

/**
 * What the daemon needs to start a job on its nodes, kept with the job until it ends
 * (it may wait in the queue across a daemon restart). Holds secrets: never served by the API.
 */
export interface JobSpec {
  setup?: string;
  run?: string;
  envs: Record<string, string>;
  secrets: Record<string, string>;
  workdir?: string;
  fileMounts: Record<string, string>;
}
