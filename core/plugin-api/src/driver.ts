import { SkyError } from '@sky/protocol/wire';

/**
 * The driver contract: what a driver plugin implements so the daemon can provision nodes on the
 * infrastructure it drives (this machine, SSH hosts, Slurm, Kubernetes, a cloud) and run tasks on
 * them. Published and semver-versioned with the plugin API: fields are only ever added.
 *
 * Ground rules for every operation:
 * - Every call receives {@link DriverCallOptions}: a `signal` the daemon aborts when the caller
 *   cancels or the call's deadline passes, and `log` for progress lines the user sees.
 * - Errors are {@link SkyError}s from `@sky/protocol` with a catalogue code: `NO_CAPACITY` when the
 *   request cannot fit (the daemon then fails over to the next candidate), `CANCELLED` when the
 *   signal aborted the call, `NODE_UNREACHABLE` when a node cannot be reached, `DRIVER_FAILED`
 *   when the infrastructure refused. Anything else is reported as a driver bug.
 * - A driver keeps no cluster in memory between calls: everything it needs to find a cluster
 *   again is in {@link ProvisionedCluster} (ids, addresses and the opaque `state`), which the
 *   daemon persists and hands back, possibly to a new driver instance after a restart.
 */

/** Any JSON value: what a driver may keep in {@link ProvisionedCluster.state}. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A lower bound, or an exact amount: `4` is `{min: 4, orMore: false}`, `4+` is `{min: 4, orMore: true}`. */
export interface AmountRequest {
  min: number;
  orMore: boolean;
}

/** An accelerator kind and how many of it, e.g. `{name: 'H100', count: 8}`. */
export interface AcceleratorCount {
  /** Canonical SkyPilot name (`A100`, `A100-80GB`, `H100`, `L4`, `T4`, …); drivers compare case-insensitively. */
  name: string;
  count: number;
}

/** What one node of the cluster needs. Every node of a cluster gets the same request. */
export interface ResourceRequest {
  /** vCPUs. `orMore: false` asks for exactly `min`. Absent: the driver's default node size. */
  cpus?: AmountRequest;
  /** Memory in GB (2^30 bytes). `orMore: false` asks for exactly `min`. */
  memoryGb?: AmountRequest;
  /** Alternatives: any one of them satisfies the request. Drivers try them in the order given. */
  accelerators?: AcceleratorCount[];
  /** Disk the node needs, in GB. */
  diskGb?: number;
  /** Ports the node must expose to the user. */
  ports?: number[];
  /** Spot/preemptible capacity only. A driver without spot capacity answers NO_CAPACITY. */
  useSpot?: boolean;
  /** Labels/tags to attach to whatever the driver creates. */
  labels?: Record<string, string>;
  /**
   * Plugin API 1.6: the container image to run each node in, from the task's `image_id:
   * docker:<image>` (without the `docker:` prefix). Only container drivers (Kubernetes) get it:
   * the daemon refuses the field for the others before it asks them.
   */
  image?: string;
}

/** One provisioning request: `numNodes` nodes, each satisfying `resources`. */
export interface ProvisionRequest {
  /** The user-facing cluster name (may be reused after a terminate). */
  clusterName: string;
  /**
   * Unique per incarnation of the cluster: a cluster terminated and launched again under the same
   * name gets a new id. Drivers key what they create by it, which makes provision idempotent.
   */
  clusterId: string;
  /** The user the cluster belongs to (id). */
  owner: string;
  /** The owner's display name, for messages such as who holds a host. */
  ownerName?: string;
  /** Plugin API 1.6: the workspace the cluster belongs to (drivers may place or label by it). */
  workspace?: string;
  /** Number of nodes; rank 0 is the head. At least 1. */
  numNodes: number;
  resources: ResourceRequest;
  /** What follows the driver id in the task's `infra` (`ssh/pool` → `pool`), if anything. */
  infra?: string;
}

/** Amounts of compute: a node's size, or a driver's total or free capacity. */
export interface Resources {
  cpus: number;
  memoryGb: number;
  accelerators: AcceleratorCount[];
}

/**
 * A node on this machine: a directory the daemon reaches through the local file system and
 * child processes. Such a node has no kernel of its own, so processes started on it record
 * themselves where the driver can find them: a long-running job writes its process-group id to
 * `<root>/.sky/jobs/<job>/pid` and its state to `<root>/.sky/jobs/<job>/status` (the node runtime
 * in `@sky/runtime` does this), and a driver stopping or terminating the node ends every process
 * group whose job is not finished.
 */
export interface LocalReach {
  kind: 'local';
  /** The node's own directory: its `$HOME` for tasks, holding `sky_workdir` and `.sky`. */
  root: string;
  /** Host GPU indices pinned to this node; jobs on it get `CUDA_VISIBLE_DEVICES` from these. */
  gpuIndices?: number[];
  /**
   * The OS account the node belongs to: the daemon then runs its commands and handles its files
   * as that account through sky-node-helper (PluginContext.nodeHelper), never as itself. Absent:
   * the daemon's own account (a personal server).
   */
  account?: string;
}

/** A node reached over SSH. */
export interface SshReach {
  kind: 'ssh';
  host: string;
  port: number;
  user: string;
  /** Path, on the daemon's machine, of the private key to use. */
  identityFile?: string;
  /** `user@host:port` of a jump host, as in OpenSSH's ProxyJump. */
  proxyJump?: string;
  /**
   * Plugin API 1.6: the host keys the node's sshd presents, as OpenSSH public key lines
   * (`ssh-ed25519 AAAA… [comment]`), for a driver that made them (fresh pods, fresh VMs). The
   * daemon pins them for this node: the host must present one of them, and known_hosts and trust
   * on first use are not consulted. Absent: the host is checked against the daemon's known_hosts.
   */
  hostKeys?: string[];
  /**
   * Plugin API 1.6: the node is reached through its driver, not by TCP to host:port — an opaque
   * id the driver understands (the Kubernetes driver: `<context>/<namespace>/<pod>`). The daemon
   * asks the driver that made the node for a stream (TunnelExtension.openTunnel, tunnel.ts) and
   * speaks SSH over it; `host` and `port` still name the node's sshd in messages.
   */
  tunnel?: string;
  /**
   * Plugin API 1.8: the name of one of the driver's documents (PluginContext.documents, opened
   * with `secret: true`) holding the private key as `{ privateKey: '<OpenSSH or PEM key>' }`,
   * instead of `identityFile`: every replica of a daemon on a shared store reads the key from the
   * store, so a key the driver made on one machine works on all (the Kubernetes driver's cluster
   * keys). Takes precedence over identityFile.
   */
  identityDocument?: string;
}

/** How the daemon reaches a node. */
export type NodeReach = LocalReach | SshReach;

/** One node of a provisioned cluster. */
export interface NodeHandle {
  /** Unique among all nodes of the driver; stable across stop/start. */
  id: string;
  /** 0 for the head node, then 1..numNodes-1. */
  rank: number;
  /** The address other nodes use to reach this one; listed in SKYPILOT_NODE_IPS. */
  address: string;
  reach: NodeReach;
  /** What this node actually got; satisfies the request it was provisioned for. */
  resources: Resources;
}

/** What provision and start return; the daemon persists it whole and hands it back on every later call. */
export interface ProvisionedCluster {
  /** Ordered by rank. */
  nodes: NodeHandle[];
  /** Opaque to the daemon: whatever the driver needs to find the cluster again (JSON only). */
  state: JsonValue;
}

export type NodeStatus = 'UP' | 'STOPPED' | 'TERMINATED' | 'UNREACHABLE';
export const NODE_STATUSES: readonly NodeStatus[] = ['UP', 'STOPPED', 'TERMINATED', 'UNREACHABLE'];

export interface NodeStatusReport {
  nodeId: string;
  status: NodeStatus;
  /** Why, when the status is not what the daemon last asked for (e.g. "preempted", "directory missing"). */
  reason?: string;
}

/** A driver's capacity. */
export interface DriverCapacity {
  /** Everything the driver could ever hand out. */
  total: Resources;
  /** What a provision right now could use. */
  free: Resources;
  /** One line for humans, e.g. "3 of 4 node slots free". */
  detail?: string;
}

/** Passed to every driver operation. */
export interface DriverCallOptions {
  /**
   * Aborted when the caller cancels or the daemon's deadline for the call passes. The driver stops
   * as soon as it can, undoes what it half-did, and rejects with SkyError `CANCELLED`.
   */
  signal: AbortSignal;
  /** A progress line for the user (no trailing newline), e.g. "reserved 2 nodes". */
  log(line: string): void;
}

/** The operations of a driver. The daemon calls them one cluster at a time; calls for different clusters may overlap. */
export interface DriverOperations {
  /** What the driver has in total and what is free right now. */
  capacity(opts: DriverCallOptions): Promise<DriverCapacity>;

  /**
   * Create `req.numNodes` nodes that each satisfy `req.resources`, all UP when this resolves.
   * Idempotent per `req.clusterId`: called again for a cluster that exists (the daemon restarted
   * mid-launch), it returns that cluster rather than creating another.
   * Rejects with SkyError `NO_CAPACITY` — and creates nothing — when the request cannot fit; the
   * message says what was requested and what is left (e.g. "requested 2 nodes × 4 CPUs; free:
   * 3 CPUs, 20 GB memory"). A failure or abort half-way removes what was created.
   */
  provision(req: ProvisionRequest, opts: DriverCallOptions): Promise<ProvisionedCluster>;

  /**
   * The status of each node, in rank order. A node the driver no longer has is `TERMINATED` (or
   * left out of the answer); one it has but cannot reach is `UNREACHABLE` with a reason. Never
   * rejects because the cluster is gone.
   */
  status(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<NodeStatusReport[]>;

  /**
   * Stop every node, keeping its disk: afterwards status reports `STOPPED`. Processes on the
   * nodes end. Whether stopped nodes still hold capacity is the driver's to document (clouds
   * release compute; so does the local driver). Stopping a stopped cluster is a no-op.
   */
  stop(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void>;

  /**
   * Start a stopped cluster again with the same node ids and ranks, and resolve with the
   * updated cluster (addresses may change); the daemon persists the result. Rejects with
   * `NO_CAPACITY` when the capacity released by stop is no longer available. Starting an UP
   * cluster returns it unchanged.
   */
  start(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<ProvisionedCluster>;

  /**
   * Delete every node and its disk and release all capacity. Idempotent: terminating a
   * terminated (or half-provisioned) cluster succeeds.
   */
  terminate(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void>;
}

/** The operation names, for call wrappers and shape checks. */
export const DRIVER_OPERATIONS = ['capacity', 'provision', 'status', 'stop', 'start', 'terminate'] as const;
export type DriverOperation = (typeof DRIVER_OPERATIONS)[number];

/**
 * The operations a value lacks to be a driver: `[]` for a usable driver. Lets a loader refuse
 * an init result that is not one, naming what is missing.
 */
export function missingDriverOperations(value: unknown): DriverOperation[] {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return [...DRIVER_OPERATIONS];
  const record = value as Record<string, unknown>;
  return DRIVER_OPERATIONS.filter((op) => typeof record[op] !== 'function');
}

/** Throw SkyError `CANCELLED` when `signal` is aborted; for drivers to call between steps. */
export function throwIfAborted(signal: AbortSignal, what: string): void {
  if (!signal.aborted) return;
  throw new SkyError('CANCELLED', `${what} was cancelled`, { cause: signal.reason });
}

/** Whether an accelerator name matches a requested one (case-insensitive, as SkyPilot compares them). */
export function sameAccelerator(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** Whether `amount` meets `want`: exactly `min`, or at least `min` when `orMore`. */
function meets(amount: number, want: AmountRequest | undefined): boolean {
  if (want === undefined) return true;
  return want.orMore ? amount >= want.min : Math.abs(amount - want.min) < 1e-9;
}

/**
 * Why a node's resources do not satisfy a request, or `[]` when they do: CPUs and memory
 * exactly `min` (or at least, with `orMore`), and one of the accelerator alternatives with
 * exactly its count.
 */
export function unmetResources(got: Resources, want: ResourceRequest): string[] {
  const problems: string[] = [];
  if (!meets(got.cpus, want.cpus)) problems.push(`cpus: got ${got.cpus}, requested ${describeAmount(want.cpus)}`);
  if (!meets(got.memoryGb, want.memoryGb)) problems.push(`memory: got ${got.memoryGb} GB, requested ${describeAmount(want.memoryGb)} GB`);
  const alternatives = want.accelerators ?? [];
  if (alternatives.length > 0) {
    const ok = alternatives.some((alt) => got.accelerators.some((a) => sameAccelerator(a.name, alt.name) && a.count === alt.count));
    if (!ok) {
      const have = got.accelerators.length === 0 ? 'none' : got.accelerators.map((a) => `${a.name}:${a.count}`).join(', ');
      problems.push(`accelerators: got ${have}, requested one of ${alternatives.map((a) => `${a.name}:${a.count}`).join(', ')}`);
    }
  }
  return problems;
}

function describeAmount(a: AmountRequest | undefined): string {
  return a === undefined ? 'any' : `${a.min}${a.orMore ? '+' : ''}`;
}

function plural(n: number, one: string, many: string): string {
  return `${formatNumber(n)} ${n === 1 ? one : many}`;
}

/** A number as people write it: integers plain, others with at most two decimals. */
export function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(2)));
}

/** "3 CPUs, 20 GB memory, 2× A100" — for capacity messages. */
export function describeResources(r: Resources): string {
  const parts = [plural(r.cpus, 'CPU', 'CPUs'), `${formatNumber(r.memoryGb)} GB memory`];
  for (const a of r.accelerators) parts.push(`${a.count}× ${a.name}`);
  return parts.join(', ');
}

/** One host as a driver's `check` found it: what `sky check` and `sky show-gpus` print. */
export interface HostCheck {
  /** The group the host belongs to (an SSH node pool). */
  pool: string;
  label: string;
  host: string;
  port: number;
  user: string;
  reachable: boolean;
  authOk: boolean;
  cpus: number;
  memoryGb: number;
  accelerators: AcceleratorCount[];
  /** Why the host cannot be used; absent when it can. */
  error?: string;
  heldBy?: { owner: string; clusterName: string };
}

/** A host of a pool and how to reach it (what `sky ssh up`/`down` prepare and clean). */
export interface PoolHost {
  label: string;
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  proxyJump?: string;
  usesPassword: boolean;
  heldBy?: { owner: string; clusterName: string };
}

/**
 * Optional driver extensions for drivers made of host pools (driver-ssh): the daemon calls them
 * when present, for `sky check`, `sky show-gpus`, `sky ssh up|down` and the enabled-infra line.
 */
export interface PoolDriverExtensions {
  pools(): Promise<Array<{ name: string; hosts: PoolHost[] }>>;
  check(pool: string | undefined, opts: { signal?: AbortSignal; log?: (line: string) => void }): Promise<HostCheck[]>;
}

/** Whether a driver has the pool extensions. */
export function poolExtensions(driver: object): PoolDriverExtensions | undefined {
  const d = driver as Partial<PoolDriverExtensions>;
  return typeof d.pools === 'function' && typeof d.check === 'function' ? (d as PoolDriverExtensions) : undefined;
}

/** What a feasibility question is about: a provision request without the cluster's identity. */
export type FeasibilityRequest = Pick<ProvisionRequest, 'numNodes' | 'resources' | 'infra'>;

/**
 * Optional driver extension (plugin API 1.3): why a request could never be provisioned by this
 * driver, even with all of its capacity free — an accelerator kind or count no node has, a disk
 * larger than a node's, more nodes than exist, a pool that does not exist — one line each, or
 * `[]` when it could. It books and creates nothing. The daemon asks it when it plans a launch,
 * for `sky launch --dryrun` and for the launch itself alike, so the dry run refuses what the
 * launch would; provision still answers NO_CAPACITY for what is busy right now. A driver
 * without it is planned for as if every request could fit.
 */
export interface FeasibilityExtension {
  feasible(req: FeasibilityRequest, opts: DriverCallOptions): Promise<string[]>;
}

/** Whether a driver answers feasibility questions. */
export function feasibilityExtension(driver: object): FeasibilityExtension | undefined {
  const d = driver as Partial<FeasibilityExtension>;
  return typeof d.feasible === 'function' ? (d as FeasibilityExtension) : undefined;
}

/**
 * Optional driver declaration (plugin API 1.4): terminate ends every process on the cluster's
 * nodes (its nodes are deleted, or the driver kills what runs there), so the daemon need not end
 * the cluster's jobs through the node runtime before it terminates. Drivers of machines that
 * outlive a cluster (SSH hosts) leave it unset: the daemon then ends the jobs first.
 */
export interface TerminateEndsJobs {
  readonly terminateEndsJobs: true;
}

/** Whether terminating a cluster of this driver ends its jobs' processes by itself. */
export function terminateEndsJobs(driver: object): boolean {
  return (driver as Partial<TerminateEndsJobs>).terminateEndsJobs === true;
}
