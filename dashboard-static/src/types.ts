/** Shapes of the API's answers the dashboard reads (see core/protocol for the full schemas). */

export interface WhoAmI {
  id: string;
  name: string;
  role: 'admin' | 'user';
  via: 'none' | 'local' | 'basic' | 'token' | 'proxy' | 'session';
  expiresAt?: number;
}

export interface AuthMethods {
  mode: 'none' | 'basic' | 'token' | 'proxy';
  passwordLogin: boolean;
}

export interface Autostop {
  idleMinutes: number;
  down: boolean;
}

export interface ClusterSummary {
  name: string;
  owner: string;
  ownerName: string;
  workspace: string;
  infra: string;
  status: string;
  statusReason?: string;
  numNodes: number;
  resources: string;
  launchedAt: number;
  lastActiveAt: number;
  lastCommand?: string;
  autostop?: Autostop;
  /** Only on whole records (from the event stream or GET /clusters/:name). */
  version?: number;
}

export interface ClusterNode {
  id: string;
  rank: number;
  address: string;
  resources: { cpus: number; memoryGb: number; accelerators: { name: string; count: number }[] };
}

export interface ClusterRecord extends ClusterSummary {
  clusterId: string;
  driver: string;
  nodes: ClusterNode[];
  updatedAt: number;
  ports?: string[];
  version: number;
}

export interface JobRecord {
  cluster: string;
  id: number;
  name?: string;
  user: string;
  userName: string;
  status: string;
  submittedAt: number;
  startedAt?: number;
  endedAt?: number;
  numNodes: number;
  command?: string;
  exitCodes?: (number | null)[];
  reason?: string;
  requestId?: string;
}

export interface ManagedTask {
  index: number;
  name?: string;
  resources: string;
  status: string;
  cluster?: string;
  clusterJobId?: number;
  infra?: string;
  startedAt?: number;
  endedAt?: number;
  runningMs: number;
  runningSince?: number;
  recoveries: number;
  restarts: number;
}

export interface ManagedJob {
  id: number;
  name?: string;
  user: string;
  userName: string;
  workspace: string;
  requestId: string;
  status: string;
  reason?: string;
  submittedAt: number;
  endedAt?: number;
  currentTask: number;
  tasks: ManagedTask[];
  version: number;
}

export interface ServiceReplica {
  id: number;
  version: number;
  status: string;
  cluster: string;
  endpoint?: string;
  jobId?: number;
  resources?: string;
  launchedAt: number;
  readySince?: number;
  failedProbes: number;
  reason?: string;
}

export interface ServiceRecord {
  name: string;
  user: string;
  userName: string;
  workspace: string;
  status: string;
  version: number;
  activeVersion: number;
  updateMode: string;
  endpoint?: string;
  protected: boolean;
  replicaPolicy: { minReplicas: number; maxReplicas: number; targetQpsPerReplica?: number; upscaleDelaySeconds: number; downscaleDelaySeconds: number };
  targetReplicas: number;
  replicas: ServiceReplica[];
  createdAt: number;
  updatedAt: number;
  reason?: string;
  requestId: string;
  revision: number;
}

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string;
}

export interface RequestRecord {
  id: string;
  name: string;
  user: string;
  userName: string;
  workspace: string;
  lane: string;
  status: string;
  cluster?: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  body?: unknown;
  result?: unknown;
  error?: ErrorInfo;
  attempts: number;
}

export interface PluginState {
  id: string;
  kind: 'driver' | 'store';
  package: string;
  state: 'loaded' | 'skipped' | 'failed';
  version?: string;
  error?: { code: string; message: string };
}

export interface UserView {
  id: string;
  name: string;
  role: 'admin' | 'user';
  createdAt: number;
  disabled?: boolean;
}

export interface TokenView {
  id: string;
  name: string;
  userId: string;
  userName: string;
  createdAt: number;
  expiresAt?: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

export interface WorkspaceView {
  name: string;
  private: boolean;
  allowedUsers: string[];
  allowedUserNames: string[];
  allowedInfra?: string[];
  createdAt: number;
  updatedAt: number;
}

export interface AuditRecord {
  id: string;
  at: number;
  user: string;
  userName: string;
  action: string;
  target?: string;
  result: string;
  requestId?: string;
  detail?: string;
}

export interface Accelerator {
  name: string;
  count: number;
}

export interface HostCheck {
  pool: string;
  label: string;
  host: string;
  port: number;
  user: string;
  reachable: boolean;
  authOk: boolean;
  cpus: number;
  memoryGb: number;
  accelerators: Accelerator[];
  error?: string;
  heldBy?: { owner: string; clusterName: string };
}

export interface PoolSummary {
  pool: string;
  hosts: number;
  ready: number;
  free: number;
  cpus: number;
  memoryGb: number;
  accelerators: Accelerator[];
}

/** A named target of a driver (a Kubernetes context), as `sky check` reports it. */
export interface TargetCheck {
  name: string;
  reachable: boolean;
  error?: string;
  endpoint?: string;
  scope?: string;
  missingPermissions: string[];
  warnings?: string[];
  nodes: { name: string; cpus: number; memoryGb: number; ready: boolean; gpus: { name: string; total: number; free: number }[] }[];
}

export interface CheckResult {
  drivers: {
    id: string;
    ok: boolean;
    infra: string[];
    detail?: string;
    error?: string;
    hosts?: HostCheck[];
    pools?: PoolSummary[];
    targets?: TargetCheck[];
  }[];
}

export const TERMINAL_REQUEST = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
export const TERMINAL_JOB = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'];
export const TERMINAL_MANAGED = ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'FAILED_CONTROLLER', 'CANCELLED'];
