import type {
  AuditRecord,
  ClusterRecord,
  JobRecord,
  JobSpec,
  ManagedJobRecord,
  ManagedJobSpec,
  ServiceRecord,
  ServiceVersionSpec,
  RequestRecord,
  SessionRecord,
  TokenRecord,
  UserRecord,
  WorkspaceRecord,
} from '@sky/protocol';

let lastMs = 0;
let counter = 0;

/**
 * A request id that sorts after every id this process produced before, like the ids the
 * daemon assigns (time, then a per-process counter, both fixed width).
 */
export function nextRequestId(): string {
  lastMs = Math.max(lastMs, Date.now());
  counter += 1;
  return `req-${lastMs.toString(36).padStart(9, '0')}-${counter.toString(36).padStart(7, '0')}`;
}

/** A PENDING request with a fresh id; `overrides` replace any field. */
export function makeRequest(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: nextRequestId(),
    name: 'ping',
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    lane: 'short',
    status: 'PENDING',
    createdAt: Date.now(),
    body: {},
    attempts: 0,
    ...overrides,
  };
}

let clusterCounter = 0;

/** A fresh UP cluster (without `version`, as create takes it); `overrides` replace any field. */
export function makeCluster(overrides: Partial<Omit<ClusterRecord, 'version'>> = {}): Omit<ClusterRecord, 'version'> {
  clusterCounter += 1;
  const name = overrides.name ?? `c-${clusterCounter}`;
  const now = Date.now();
  return {
    name,
    clusterId: `cid-${now.toString(36)}-${clusterCounter}`,
    owner: 'u-alice',
    ownerName: 'alice',
    workspace: 'default',
    driver: 'local',
    infra: 'local',
    status: 'UP',
    numNodes: 1,
    nodes: [
      {
        id: 'n0',
        rank: 0,
        address: '127.0.0.1',
        reach: { kind: 'local', root: `/tmp/sky-nodes/${name}/n0` },
        resources: { cpus: 2, memoryGb: 4, accelerators: [] },
      },
    ],
    resources: '1x local(cpus=2, mem=4GB)',
    driverState: { dirs: [`/tmp/sky-nodes/${name}/n0`] },
    launchedAt: now,
    updatedAt: now,
    lastActiveAt: now,
    ...overrides,
  };
}

/** A PENDING job for `cluster` (without `id`, as create takes it); `overrides` replace any field. */
export function makeJob(
  cluster: Pick<ClusterRecord, 'name' | 'clusterId'>,
  overrides: Partial<Omit<JobRecord, 'id'>> = {},
): Omit<JobRecord, 'id'> {
  return {
    cluster: cluster.name,
    clusterId: cluster.clusterId,
    user: 'u-alice',
    userName: 'alice',
    status: 'PENDING',
    submittedAt: Date.now(),
    numNodes: 1,
    demand: { cpus: 1, memoryGb: 1, accelerators: [] },
    command: 'echo hi',
    ...overrides,
  };
}

/** A job spec with a secret in it, as the daemon keeps it until the job ends. */
export function makeSpec(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    run: 'echo hi',
    envs: { MODE: 'test' },
    secrets: { TOKEN: 's3cr3t' },
    fileMounts: {},
    ...overrides,
  };
}

let authCounter = 0;

/** A fresh `user` with a unique id and name; `overrides` replace any field. */
export function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  authCounter += 1;
  const now = Date.now();
  return {
    id: `usr-${authCounter.toString(36).padStart(6, '0')}`,
    name: `user-${authCounter}`,
    role: 'user',
    passwordHash: `scrypt$N=16384,r=8,p=1$salt${authCounter}$digest${authCounter}`,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/** A fresh token of `userId` with a unique id and hash; `overrides` replace any field. */
export function makeToken(userId: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  authCounter += 1;
  return {
    id: `tok-${authCounter.toString(36).padStart(6, '0')}`,
    userId,
    name: `token ${authCounter}`,
    hash: `sha256:${authCounter.toString(16).padStart(64, '0')}`,
    createdAt: Date.now(),
    ...overrides,
  };
}

/** A fresh session of `userId`, valid for an hour, with a unique id and hash; `overrides` replace any field. */
export function makeSession(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  authCounter += 1;
  const now = Date.now();
  return {
    id: `ses-${authCounter.toString(36).padStart(6, '0')}`,
    userId,
    userName: `user of ${userId}`,
    hash: `sha256:${(authCounter + 0x5e55).toString(16).padStart(64, '0')}`,
    createdAt: now,
    expiresAt: now + 3_600_000,
    ...overrides,
  };
}

/** A public workspace named `name`; `overrides` replace any field. */
export function makeWorkspace(name: string, overrides: Partial<WorkspaceRecord> = {}): WorkspaceRecord {
  const now = Date.now();
  return { name, private: false, allowedUsers: [], createdAt: now, updatedAt: now, ...overrides };
}

/** A SUCCEEDED audit entry whose id sorts after every earlier one, like request ids; `overrides` replace any field. */
export function makeAudit(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    id: nextRequestId().replace(/^req-/, 'aud-'),
    at: Date.now(),
    user: 'u-alice',
    userName: 'alice',
    action: 'launch',
    target: 'c-1',
    result: 'SUCCEEDED',
    ...overrides,
  };
}

/** A PENDING one-task managed job (without `id` and `version`, as create takes it); `overrides` replace any field. */
export function makeManagedJob(overrides: Partial<Omit<ManagedJobRecord, 'id' | 'version'>> = {}): Omit<ManagedJobRecord, 'id' | 'version'> {
  return {
    name: 'train',
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    requestId: nextRequestId(),
    status: 'PENDING',
    submittedAt: Date.now(),
    currentTask: 0,
    attempts: 0,
    tasks: [{ index: 0, name: 'train', resources: '1x local(cpus=1)', status: 'PENDING', runningMs: 0, recoveries: 0, restarts: 0 }],
    ...overrides,
  };
}

/** A managed job spec with a secret in it, as the daemon keeps it until the managed job ends. */
export function makeManagedJobSpec(overrides: Partial<ManagedJobSpec> = {}): ManagedJobSpec {
  return {
    tasks: [{ task: { name: 'train', run: 'python train.py', secrets: { HF_TOKEN: 'hf_s3cr3t' } } }],
    ...overrides,
  };
}

/** A service just created by `serve up` (without `revision`, as create takes it); `overrides` replace any field. */
export function makeService(overrides: Partial<Omit<ServiceRecord, 'revision'>> = {}): Omit<ServiceRecord, 'revision'> {
  const at = Date.now();
  return {
    name: 'svc',
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    status: 'CONTROLLER_INIT',
    version: 1,
    activeVersion: 0,
    updateMode: 'rolling',
    protected: false,
    replicaPolicy: { minReplicas: 1, maxReplicas: 1, upscaleDelaySeconds: 300, downscaleDelaySeconds: 1200 },
    targetReplicas: 1,
    replicas: [],
    nextReplicaId: 1,
    createdAt: at,
    updatedAt: at,
    requestId: nextRequestId(),
    ...overrides,
  };
}

/** The spec of one service version, with a task secret and a bearer token in it, as the daemon keeps it. */
export function makeServiceVersionSpec(overrides: Partial<ServiceVersionSpec> = {}): ServiceVersionSpec {
  return {
    version: 1,
    task: { name: 'svc', run: 'python -m http.server 8080', secrets: { HF_TOKEN: 'hf_s3cr3t' } },
    service: {
      readinessProbe: { path: '/health', initialDelaySeconds: 1200, timeoutSeconds: 15, headers: {} },
      replicaPolicy: { minReplicas: 1, maxReplicas: 1, upscaleDelaySeconds: 300, downscaleDelaySeconds: 1200 },
      port: 8080,
      loadBalancingPolicy: 'round_robin',
    },
    token: 'sky-svc-t0k3n',
    ...overrides,
  };
}
