import type {
  AuditPage,
  CancelBody,
  CancelResult,
  ClusterColumns,
  ClusterList,
  ClusterRecord,
  ClusterSummary,
  Health,
  Identity,
  JobList,
  JobLogLine,
  JobStatus,
  ListRequestsQuery,
  LogChunk,
  OperationBody,
  OperationName,
  OperationResult,
  RequestPage,
  RequestRecord,
  RequestStatus,
  SubmitResponse,
  CreateUserBody,
  ImportUsersBody,
  ImportUsersResult,
  LoginLink,
  DeletedUser,
  DeleteUserOptions,
  NewToken,
  Role,
  TokenView,
  UserView,
  WhoAmI,
  CreateWorkspaceBody,
  UpdateWorkspaceBody,
  WorkspaceView,
  SshHostKey,
  ManagedJobDetail,
  ManagedJobList,
  ServiceDetail,
  ServiceList,
  ServiceLogLine,
  ServiceTokenResult,
  CreateWebhookBody,
  NewWebhook,
  WebhookDeliveryList,
  WebhookList,
  WebhookView,
  PluginList,
  InstallPluginsResult,
  UsageReport,
} from '@sky/protocol';
import type { ManagedJobStatus } from '@sky/protocol/wire';
import { resolveEndpoint, type Endpoint, type ResolveEndpointOptions } from './endpoint.js';
import { loadIdentity } from './identity.js';
import { requestResult } from './outcome.js';
import { readLocalToken } from './local-token.js';
import { readEvents, type SseEvent } from './sse.js';
import { followEvents, type EventFeedHandlers, type FollowEventsOptions } from './event-feed.js';
import { Transport } from './transport.js';
import { prepareUpload, sendUpload, type UploadOptions, type UploadResult } from './uploads.js';
import { uploadTaskFiles, type TaskBody, type TaskUploadProgress } from './task-uploads.js';
import { IDEMPOTENCY_KEY_HEADER, PREFER_HEADER, decodeClusterColumns, WORKSPACE_HEADER, ROUTE_PATHS, SSH_TUNNEL_PATH, SSH_TUNNEL_PROTOCOL, SkyError, fillPath, isTerminal, operationPath } from '@sky/protocol/wire';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';

export interface SkyClientOptions {
  endpoint: Endpoint;
  identity: Identity;
  connectTimeoutMs?: number;
  /** Trust exactly this certificate (SHA-256 fingerprint) on an https endpoint instead of a CA: the local daemon's, from daemon.json. */
  pinnedFingerprint256?: string;
  /** Home whose ~/.sky/api_server/local_token is sent to a loopback personal daemon (default: this account's home). */
  home?: string;
}

export interface FromEnvironmentOptions extends ResolveEndpointOptions {
  connectTimeoutMs?: number;
}

export interface SubmitOptions {
  idempotencyKey?: string;
  /** The workspace to run in (sent as x-sky-workspace); default: active_workspace of the config, else the daemon's default. */
  workspace?: string;
  signal?: AbortSignal;
  /**
   * launch and exec: upload the task's local workdir and file_mounts sources first (default
   * true; nothing is uploaded when the API server reads this caller's paths itself).
   */
  uploadFiles?: boolean;
  /** Progress of those uploads. */
  onUpload?: (progress: TaskUploadProgress) => void;
  /**
   * Ask the daemon to answer once the request has ended, waiting up to this many seconds
   * (`Prefer: wait=N`): the answer then carries its final status, its job and its error, so a
   * quick operation costs one round trip. Without it the answer comes as soon as it is stored.
   */
  waitSeconds?: number;
}

export interface StreamOptions {
  follow?: boolean;
  signal?: AbortSignal;
  /** Treat the stream as lost after this long without a byte (the daemon sends a heartbeat every 10 s). */
  idleTimeoutMs?: number;
}

export interface ServerLogsOptions extends StreamOptions {
  tail?: number;
}

export interface JobLogsOptions extends StreamOptions {
  /** Only the last N lines of each rank before following. */
  tail?: number;
}

export interface ListClustersQuery {
  /** Every user's clusters (the -u view); default the caller's. */
  all_users?: boolean;
  /** Only these clusters. */
  names?: readonly string[];
  /** Only the fields a status table shows. */
  summary?: boolean;
}

export interface ListJobsQuery {
  all_users?: boolean;
  skip_finished?: boolean;
  status?: readonly JobStatus[];
}

export interface ListManagedJobsQuery {
  /** Every user's managed jobs (the -u view); default the caller's. */
  all_users?: boolean;
  /** Only unfinished ones. */
  skip_finished?: boolean;
  /** At most this many, newest first. */
  limit?: number;
}

export interface ManagedJobLogsOptions extends StreamOptions {
  /** The controller's log (what the daemon decided and did for the job) instead of the task's. */
  controller?: boolean;
}

/** One line of a managed job's log: the rank of the node it came from (0 for the controller's) and its text. */
export interface ManagedJobLogLine {
  rank: number;
  text: string;
}

export interface ServiceLogsOptions extends StreamOptions {
  /** A replica's log (its job on its cluster). */
  replicaId?: number;
  /** The controller's log: what the daemon decided and did for the service. */
  controller?: boolean;
  /** The load balancer's log. */
  loadBalancer?: boolean;
}

export interface CreateTokenOptions {
  name: string;
  expiresInDays?: number;
  /** Create it for another user (admins). */
  user?: string;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Length of each long-poll (≤ 300 s). */
  pollSeconds?: number;
  /** Called after each long-poll with the request as it then is (e.g. to heartbeat a workflow engine). */
  onPoll?: (record: RequestRecord) => void;
}

export interface RunOptions extends SubmitOptions, Omit<WaitOptions, 'signal'> {
  /** When `signal` aborts while the request runs, cancel it on the API server (default true). */
  cancelOnAbort?: boolean;
}

const STREAM_IDLE_TIMEOUT_MS = 45_000;

/** The message of an SSE `error` event: `{message}`, `{error: {message}}`, or the raw text. */
function errorMessageOf(data: string): string {
  try {
    const parsed = JSON.parse(data) as { message?: unknown; error?: { message?: unknown } };
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.error?.message === 'string') return parsed.error.message;
  } catch {
    // not JSON: the text is the message
  }
  return data;
}

/** The TypeScript SDK: every method is one REST call to the API server (or a stream of them). */
export class SkyClient {
  readonly endpoint: Endpoint;
  readonly identity: Identity;
  private readonly transport: Transport;
  private serverPathsAnswer: Promise<boolean> | undefined;

  constructor(options: SkyClientOptions) {
    this.endpoint = options.endpoint;
    this.identity = options.identity;
    this.transport = new Transport({ ...options, localToken: () => readLocalToken(options.home) });
  }

  /** A client for the endpoint and user this environment resolves to (see resolveEndpoint). */
  static async fromEnvironment(options: FromEnvironmentOptions = {}): Promise<SkyClient> {
    const [endpoint, identity] = await Promise.all([resolveEndpoint(options), loadIdentity(options)]);
    return new SkyClient({ endpoint, identity, connectTimeoutMs: options.connectTimeoutMs, home: options.home });
  }

  close(): void {
    this.transport.close();
  }

  async health(options: { signal?: AbortSignal } = {}): Promise<Health> {
    return this.transport.json<Health>({ path: ROUTE_PATHS.health, ...options });
  }

  async openapi(): Promise<Record<string, unknown>> {
    return this.transport.json<Record<string, unknown>>({ path: ROUTE_PATHS.openapi });
  }

  /** Who the API server takes this client for (the credentials of the endpoint, or the local identity). */
  async whoami(options: { signal?: AbortSignal } = {}): Promise<WhoAmI> {
    return this.transport.json<WhoAmI>({ path: ROUTE_PATHS.whoami, ...options });
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.transport.json<{ items: UserView[] }>({ path: ROUTE_PATHS.listUsers })).items;
  }

  async createUser(body: CreateUserBody): Promise<UserView> {
    return this.transport.json<UserView>({ method: 'POST', path: ROUTE_PATHS.createUser, body });
  }

  async importUsers(body: ImportUsersBody): Promise<ImportUsersResult> {
    return this.transport.json<ImportUsersResult>({ method: 'POST', path: ROUTE_PATHS.importUsers, body });
  }

  /** Delete a user; when they own clusters, give them to `transfer_to` or tear them down (`down`). */
  async deleteUser(name: string, options: DeleteUserOptions = {}): Promise<DeletedUser> {
    return this.transport.json<DeletedUser>({ method: 'DELETE', path: fillPath(ROUTE_PATHS.deleteUser, { name }), body: options });
  }

  async setRole(name: string, role: Role): Promise<UserView> {
    return this.transport.json<UserView>({ method: 'POST', path: fillPath(ROUTE_PATHS.setRole, { name }), body: { role } });
  }

  /** Set a password: your own needs your current one; an admin sets another user's without it. */
  async resetPassword(name: string, password: string, currentPassword?: string): Promise<UserView> {
    const body = currentPassword === undefined ? { password } : { password, current_password: currentPassword };
    return this.transport.json<UserView>({ method: 'POST', path: fillPath(ROUTE_PATHS.resetPassword, { name }), body });
  }

  /** A one-time login link for a browser (what sky dashboard prints): open `endpoint.url + path` once, before it expires. */
  async createLoginLink(): Promise<LoginLink> {
    return this.transport.json<LoginLink>({ method: 'POST', path: ROUTE_PATHS.createLoginLink });
  }

  /** Your tokens, or another user's (admins). */
  async listTokens(user?: string): Promise<TokenView[]> {
    return (await this.transport.json<{ items: TokenView[] }>({ path: ROUTE_PATHS.listTokens, query: { user } })).items;
  }

  /** A new bearer token: its secret is in the answer only. */
  async createToken(options: CreateTokenOptions): Promise<NewToken> {
    const body = { name: options.name, expires_in_days: options.expiresInDays, user: options.user };
    return this.transport.json<NewToken>({ method: 'POST', path: ROUTE_PATHS.createToken, body });
  }

  /** A page of the audit log, newest first (admins). */
  async listAudit(query: { user?: string; since?: number; limit?: number; cursor?: string } = {}): Promise<AuditPage> {
    return this.transport.json<AuditPage>({ path: ROUTE_PATHS.listAudit, query: { ...query } });
  }

  async revokeToken(id: string): Promise<TokenView> {
    return this.transport.json<TokenView>({ method: 'POST', path: fillPath(ROUTE_PATHS.revokeToken, { id }) });
  }

  /** Revoke a token and create its replacement (same name and lifetime). */
  async rotateToken(id: string): Promise<NewToken> {
    return this.transport.json<NewToken>({ method: 'POST', path: fillPath(ROUTE_PATHS.rotateToken, { id }) });
  }

  /** The daemon's plugins: each configured one's state, the plugin API it provides, and packages installed but not configured. */
  async listPlugins(): Promise<PluginList> {
    return this.transport.json<PluginList>({ path: ROUTE_PATHS.listPlugins });
  }

  /** Install plugin packages (names or tarball paths on the daemon's machine) into the daemon's plugins directory (admins). */
  async installPlugins(packages: string[]): Promise<InstallPluginsResult> {
    // npm may be silent for minutes while it downloads.
    return this.transport.json<InstallPluginsResult>({ method: 'POST', path: ROUTE_PATHS.installPlugins, body: { packages }, idleTimeoutMs: 11 * 60_000 });
  }

  /** Workspaces the caller may use (admins: all). */
  async listWorkspaces(): Promise<WorkspaceView[]> {
    return (await this.transport.json<{ items: WorkspaceView[] }>({ path: ROUTE_PATHS.listWorkspaces })).items;
  }

  async createWorkspace(body: CreateWorkspaceBody): Promise<WorkspaceView> {
    return this.transport.json<WorkspaceView>({ method: 'POST', path: ROUTE_PATHS.createWorkspace, body });
  }

  async updateWorkspace(name: string, body: UpdateWorkspaceBody): Promise<WorkspaceView> {
    return this.transport.json<WorkspaceView>({ method: 'POST', path: fillPath(ROUTE_PATHS.updateWorkspace, { name }), body });
  }

  /** A workspace's webhooks, without their secrets (admins). */
  async listWebhooks(workspace: string): Promise<WebhookList> {
    return this.transport.json<WebhookList>({ path: fillPath(ROUTE_PATHS.listWebhooks, { name: workspace }) });
  }

  /** Add a webhook to a workspace (admins): the answer holds its signing secret, shown this once. */
  async createWebhook(workspace: string, body: CreateWebhookBody): Promise<NewWebhook> {
    return this.transport.json<NewWebhook>({ method: 'POST', path: fillPath(ROUTE_PATHS.createWebhook, { name: workspace }), body });
  }

  async deleteWebhook(workspace: string, id: string): Promise<WebhookView> {
    return this.transport.json<WebhookView>({ method: 'DELETE', path: fillPath(ROUTE_PATHS.deleteWebhook, { name: workspace, id }) });
  }

  /** A webhook's last deliveries, newest first. */
  async webhookDeliveries(workspace: string, id: string): Promise<WebhookDeliveryList> {
    return this.transport.json<WebhookDeliveryList>({ path: fillPath(ROUTE_PATHS.webhookDeliveries, { name: workspace, id }) });
  }

  async deleteWorkspace(name: string): Promise<WorkspaceView> {
    return this.transport.json<WorkspaceView>({ method: 'DELETE', path: fillPath(ROUTE_PATHS.deleteWorkspace, { name }) });
  }

  /**
   * Upload a directory (honouring .skyignore) or one file: only chunks the API server lacks for
   * you are sent. Resolves with the upload id to name in a launch or exec body's `uploads`.
   */
  async upload(path: string, options: UploadOptions = {}): Promise<UploadResult> {
    return sendUpload(this.transport, path, await prepareUpload(path), options);
  }

  /** Whether the API server reads this caller's own paths (its owner on the same machine), so nothing needs uploading. */
  async serverPaths(): Promise<boolean> {
    this.serverPathsAnswer ??= this.health().then((h) => h.serverPaths === true);
    return this.serverPathsAnswer;
  }

  /** A launch or exec body with its local workdir and file_mounts sources uploaded and named in `uploads`. */
  async withTaskUploads<B extends TaskBody>(body: B, options: Pick<SubmitOptions, 'onUpload' | 'signal'> = {}): Promise<B> {
    return uploadTaskFiles(body, {
      serverPaths: () => this.serverPaths(),
      upload: (path, field) => this.upload(path, { signal: options.signal, onProgress: (p) => options.onUpload?.({ ...p, field }) }),
    });
  }

  /** A jobs_launch body with each task's local workdir and file_mounts sources uploaded, task by task, as for a launch. */
  async withPipelineUploads(body: OperationBody<'jobs_launch'>, options: Pick<SubmitOptions, 'onUpload' | 'signal'> = {}): Promise<OperationBody<'jobs_launch'>> {
    const tasks: OperationBody<'jobs_launch'>['tasks'] = [];
    for (const entry of body.tasks) tasks.push(await this.withTaskUploads(entry, options));
    return { ...body, tasks };
  }

  /** Submit an operation; resolves once the daemon has stored the request. launch and exec upload their local files first. */
  async submit<N extends OperationName>(op: N, body: OperationBody<N>, options: SubmitOptions = {}): Promise<SubmitResponse> {
    if ((op === 'launch' || op === 'exec' || op === 'serve_up' || op === 'serve_update') && options.uploadFiles !== false) {
      body = (await this.withTaskUploads(body as OperationBody<'launch' | 'exec' | 'serve_up' | 'serve_update'>, options)) as OperationBody<N>;
    }
    if (op === 'jobs_launch' && options.uploadFiles !== false) {
      body = (await this.withPipelineUploads(body as OperationBody<'jobs_launch'>, options)) as OperationBody<N>;
    }
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers[IDEMPOTENCY_KEY_HEADER] = options.idempotencyKey;
    const workspace = options.workspace ?? this.endpoint.activeWorkspace;
    if (workspace !== undefined) headers[WORKSPACE_HEADER] = workspace;
    const wait = options.waitSeconds === undefined ? 0 : Math.ceil(options.waitSeconds);
    if (wait > 0) headers[PREFER_HEADER] = `wait=${wait}`;
    const call = { method: 'POST' as const, path: operationPath(op), body, headers };
    return this.transport.json<SubmitResponse>({ ...call, signal: options.signal, ...(wait > 0 ? { idleTimeoutMs: (wait + 30) * 1000 } : {}) });
  }

  async get(id: string): Promise<RequestRecord> {
    return this.transport.json<RequestRecord>({ path: fillPath(ROUTE_PATHS.getRequest, { id: id }) });
  }

  /** One long-poll: the record once the request finishes, or as it is after `timeoutSeconds`. */
  async wait(id: string, timeoutSeconds: number, signal?: AbortSignal): Promise<RequestRecord> {
    return this.transport.json<RequestRecord>({
      path: fillPath(ROUTE_PATHS.waitRequest, { id: id }),
      query: { timeout: timeoutSeconds },
      idleTimeoutMs: (timeoutSeconds + 30) * 1000,
      signal,
    });
  }

  /** Long-poll until the request is SUCCEEDED, FAILED or CANCELLED. */
  async waitUntilDone(id: string, options: WaitOptions = {}): Promise<RequestRecord> {
    const poll = Math.min(Math.max(options.pollSeconds ?? 30, 1), 300);
    for (;;) {
      const record = await this.wait(id, poll, options.signal);
      options.onPoll?.(record);
      if (isTerminal(record.status)) return record;
    }
  }

  /**
   * Submit an operation and wait for its end: resolves with its typed result, rejects with a
   * SkyError carrying the request's own error code when it FAILED, or CANCELLED when it was
   * cancelled. When `signal` aborts after the submit, the request is cancelled on the API
   * server (unless cancelOnAbort is false) before the signal's reason is thrown, so a caller
   * that gives up leaves nothing running behind it.
   */
  async run<N extends OperationName>(op: N, body: OperationBody<N>, options: RunOptions = {}): Promise<OperationResult<N>> {
    const { requestId } = await this.submit(op, body, options);
    let record: RequestRecord;
    try {
      record = await this.waitUntilDone(requestId, options);
    } catch (err) {
      if (options.signal?.aborted === true && options.cancelOnAbort !== false) await this.cancel({ ids: [requestId] });
      throw err;
    }
    return requestResult(op, record);
  }

  /** One page of requests, newest first (only the caller's unless all_users). */
  async list(query: Partial<ListRequestsQuery> = {}): Promise<RequestPage> {
    const { status, ...rest } = query;
    const call = { path: ROUTE_PATHS.listRequests, query: { ...rest, status: status?.join(',') } };
    return this.transport.json<RequestPage>(call);
  }

  async cancel(body: CancelBody): Promise<CancelResult> {
    return this.transport.json<CancelResult>({ method: 'POST', path: ROUTE_PATHS.cancelRequests, body });
  }

  /** Clusters from the daemon's status view (the caller's unless all_users) and the infra it can launch on. */
  async listClusters(query: ListClustersQuery = {}): Promise<ClusterList> {
    const names = query.names === undefined || query.names.length === 0 ? undefined : query.names.join(',');
    return this.transport.json<ClusterList>({ path: ROUTE_PATHS.listClusters, query: { all_users: query.all_users, names, summary: query.summary } });
  }

  /**
   * The same clusters as summaries, fetched in the compact columnar form (format=columns): for
   * thousands of clusters a quarter of the bytes and no object per cluster to parse. A daemon
   * that predates that form refuses the query; then the summaries are asked for as rows.
   */
  async listClusterSummaries(query: Omit<ListClustersQuery, 'summary'> = {}): Promise<{ items: ClusterSummary[]; enabledInfra: string[] }> {
    const names = query.names === undefined || query.names.length === 0 ? undefined : query.names.join(',');
    let answer: ClusterColumns;
    try {
      answer = await this.transport.json<ClusterColumns>({ path: ROUTE_PATHS.listClusters, query: { all_users: query.all_users, names, format: 'columns' } });
    } catch (err) {
      if (!(err instanceof SkyError) || err.code !== 'VALIDATION_FAILED') throw err;
      const rows = await this.listClusters({ ...query, summary: true });
      return { items: rows.items as ClusterSummary[], enabledInfra: rows.enabledInfra };
    }
    return { items: decodeClusterColumns(answer), enabledInfra: answer.enabledInfra };
  }

  /** One cluster; CLUSTER_NOT_FOUND when there is none by that name. */
  /** The API server's SSH host key (what the generated SSH config of a cluster pins). */
  async sshHostKey(): Promise<SshHostKey> {
    return this.transport.json<SshHostKey>({ path: ROUTE_PATHS.sshHostKey });
  }

  /**
   * A tunnel to one node of a cluster (rank 0 is the head): a byte stream carrying an SSH session
   * with the API server, authorized like sky exec on that cluster.
   */
  async openSshTunnel(cluster: string, rank: number): Promise<{ socket: Duplex; head: Buffer }> {
    return this.transport.upgrade({ path: fillPath(SSH_TUNNEL_PATH, { name: cluster }), query: { rank } }, SSH_TUNNEL_PROTOCOL);
  }

  async getCluster(name: string): Promise<ClusterRecord> {
    return this.transport.json<ClusterRecord>({ path: fillPath(ROUTE_PATHS.getCluster, { name }) });
  }

  /** A cluster's job queue, newest first (the caller's jobs unless all_users). */
  async listJobs(cluster: string, query: ListJobsQuery = {}): Promise<JobList> {
    const call = {
      path: fillPath(ROUTE_PATHS.listJobs, { name: cluster }),
      query: { all_users: query.all_users, skip_finished: query.skip_finished, status: query.status?.join(',') },
    };
    return this.transport.json<JobList>(call);
  }

  /**
   * Stream a job's log from its nodes, one line per call tagged with its rank; resolves with
   * the job's final status (with follow: false, the status it has now). Throws a SkyError when
   * the connection drops before the end, and the signal's reason when aborted.
   */
  async streamJobLogs(cluster: string, jobId: number, options: JobLogsOptions, onLine: (line: JobLogLine) => void): Promise<JobStatus> {
    let status: JobStatus | undefined;
    let failure: string | undefined;
    const path = fillPath(ROUTE_PATHS.jobLogs, { name: cluster, job: String(jobId) });
    const query = { follow: options.follow ?? true, tail: options.tail };
    const ended = await this.stream(path, query, options, `the log of job ${jobId} on cluster ${cluster}`, `sky logs ${cluster} ${jobId}`, (event) => {
      if (event.event === 'log') onLine(JSON.parse(event.data) as JobLogLine);
      else if (event.event === 'end') status = (JSON.parse(event.data) as { status: JobStatus }).status;
      else if (event.event === 'error') failure = errorMessageOf(event.data);
      return event.event === 'end' || event.event === 'error';
    });
    const again = `sky logs ${cluster} ${jobId}`;
    if (failure !== undefined) {
      throw new SkyError('INTERNAL', `the API server failed while streaming the log of job ${jobId} on cluster ${cluster}: ${failure}`, {
        hint: `Retry with: ${again}`,
      });
    }
    if (ended && status !== undefined) return status;
    throw new SkyError('SERVER_UNREACHABLE', `lost connection to the API server at ${this.endpoint.url} while streaming the log of job ${jobId} on cluster ${cluster}; the job keeps running`, {
      hint: `Re-attach with: ${again}`,
      details: { cluster, jobId },
    });
  }

  /** Managed jobs, newest first (the caller's unless all_users). */
  async listManagedJobs(query: ListManagedJobsQuery = {}): Promise<ManagedJobList> {
    return this.transport.json<ManagedJobList>({ path: ROUTE_PATHS.listManagedJobs, query: { ...query } });
  }

  /** One managed job with its controller log; MANAGED_JOB_NOT_FOUND when the caller may see none by that id. */
  async getManagedJob(id: number): Promise<ManagedJobDetail> {
    return this.transport.json<ManagedJobDetail>({ path: fillPath(ROUTE_PATHS.getManagedJob, { id: String(id) }) });
  }

  /**
   * Stream a managed job's log (its current task's, or with `controller` the controller's), one
   * line per call; resolves with the managed job's final status (with follow: false, the status
   * it has now). Throws a SkyError when the connection drops before the end, and the signal's
   * reason when aborted.
   */
  async streamManagedJobLogs(id: number, options: ManagedJobLogsOptions, onLine: (line: ManagedJobLogLine) => void): Promise<ManagedJobStatus> {
    let status: ManagedJobStatus | undefined;
    let failure: string | undefined;
    const path = fillPath(ROUTE_PATHS.managedJobLogs, { id: String(id) });
    const query = { follow: options.follow ?? true, controller: options.controller === true ? true : undefined };
    const again = `sky jobs logs${options.controller === true ? ' --controller' : ''} ${id}`;
    const ended = await this.stream(path, query, options, `the log of managed job ${id}`, again, (event) => {
      if (event.event === 'log') {
        const line = JSON.parse(event.data) as Partial<ManagedJobLogLine>;
        onLine({ rank: typeof line.rank === 'number' ? line.rank : 0, text: typeof line.text === 'string' ? line.text : '' });
      } else if (event.event === 'end') status = (JSON.parse(event.data) as { status: ManagedJobStatus }).status;
      else if (event.event === 'error') failure = errorMessageOf(event.data);
      return event.event === 'end' || event.event === 'error';
    });
    if (failure !== undefined) {
      throw new SkyError('INTERNAL', `the API server failed while streaming the log of managed job ${id}: ${failure}`, { hint: `Retry with: ${again}` });
    }
    if (ended && status !== undefined) return status;
    throw new SkyError('SERVER_UNREACHABLE', `lost connection to the API server at ${this.endpoint.url} while streaming the log of managed job ${id}; the job keeps running`, {
      hint: `Re-attach with: ${again}`,
      details: { managedJobId: id },
    });
  }

  /** Services by name, each with its replicas (the caller's unless all_users). */
  async listServices(query: { all_users?: boolean } = {}): Promise<ServiceList> {
    return this.transport.json<ServiceList>({ path: ROUTE_PATHS.listServices, query: { ...query } });
  }

  /** A new bearer token for the service's endpoint (in the answer only), or enable false: an open endpoint again. */
  async setServiceToken(name: string, enable: boolean): Promise<ServiceTokenResult> {
    return this.transport.json<ServiceTokenResult>({ method: 'POST', path: fillPath(ROUTE_PATHS.serviceToken, { name }), body: { enable } });
  }

  /** One service with its controller log; SERVICE_NOT_FOUND when the caller may see none by that name. */
  async getService(name: string): Promise<ServiceDetail> {
    return this.transport.json<ServiceDetail>({ path: fillPath(ROUTE_PATHS.getService, { name }) });
  }

  /**
   * Stream one log of a service (a replica's, the controller's or the load balancer's), one line
   * per call; resolves with the status the stream ended on (the replica's for a replica log, else
   * the service's). Throws a SkyError when the connection drops before the end.
   */
  async streamServiceLogs(name: string, options: ServiceLogsOptions, onLine: (line: ServiceLogLine) => void): Promise<string> {
    let status: string | undefined;
    let failure: string | undefined;
    const which = options.replicaId !== undefined ? ` ${options.replicaId}` : options.controller === true ? ' --controller' : ' --load-balancer';
    const again = `sky serve logs ${name}${which}`;
    const query = {
      follow: options.follow ?? true,
      replica_id: options.replicaId,
      controller: options.controller === true ? true : undefined,
      load_balancer: options.loadBalancer === true ? true : undefined,
    };
    const ended = await this.stream(fillPath(ROUTE_PATHS.serviceLogs, { name }), query, options, `the log of service ${name}`, again, (event) => {
      if (event.event === 'log') {
        const line = JSON.parse(event.data) as Partial<ServiceLogLine>;
        onLine({ text: typeof line.text === 'string' ? line.text : '', ...(typeof line.rank === 'number' ? { rank: line.rank } : {}) });
      } else if (event.event === 'end') status = (JSON.parse(event.data) as { status: string }).status;
      else if (event.event === 'error') failure = errorMessageOf(event.data);
      return event.event === 'end' || event.event === 'error';
    });
    if (failure !== undefined) throw new SkyError('INTERNAL', `the API server failed while streaming the log of service ${name}: ${failure}`, { hint: `Retry with: ${again}` });
    if (ended && status !== undefined) return status;
    throw new SkyError('SERVER_UNREACHABLE', `lost connection to the API server at ${this.endpoint.url} while streaming the log of service ${name}; the service keeps running`, {
      hint: `Re-attach with: ${again}`,
      details: { service: name },
    });
  }

  /**
   * GET /api/v1/admin/export (admins): the whole state as a sky-state file, as the bytes
   * arrive (gzip-compressed with `gzip`). Rejects with the server's error (FORBIDDEN, ...)
   * before any byte; a stream that breaks off later errors (or lacks the file's trailer).
   */
  exportState(options: { gzip?: boolean; signal?: AbortSignal; idleTimeoutMs?: number } = {}): Promise<IncomingMessage> {
    return this.transport.open({
      path: ROUTE_PATHS.exportState,
      query: { gzip: options.gzip },
      idleTimeoutMs: options.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  /**
   * Stream a request's log; resolves with the status the stream ended on. Throws a SkyError
   * when the connection drops before the end, and the signal's reason when aborted.
   */
  async streamLogs(id: string, options: StreamOptions, onChunk: (chunk: LogChunk) => void): Promise<RequestStatus> {
    let status: RequestStatus | undefined;
    let failure: string | undefined;
    const ended = await this.stream(fillPath(ROUTE_PATHS.requestLogs, { id: id }), { follow: options.follow ?? true }, options, `request ${id}`, `sky api logs ${id}`, (event) => {
      if (event.event === 'log') onChunk(JSON.parse(event.data) as LogChunk);
      else if (event.event === 'end') status = (JSON.parse(event.data) as { status: RequestStatus }).status;
      else if (event.event === 'error') failure = errorMessageOf(event.data);
      return event.event === 'end' || event.event === 'error';
    });
    if (failure !== undefined) {
      throw new SkyError('INTERNAL', `the API server failed while streaming the log of request ${id}: ${failure}`, {
        hint: `Retry with: sky api logs ${id}`,
      });
    }
    if (ended && status !== undefined) return status;
    throw new SkyError('SERVER_UNREACHABLE', `lost connection to the API server at ${this.endpoint.url} while streaming request ${id}; it may still be running: sky api logs ${id}`, {
      hint: `Re-attach with: sky api logs ${id}`,
      details: { requestId: id },
    });
  }

  /** Stream the daemon's own log, one line per call; resolves at the end (never, with follow, until aborted). */
  async serverLogs(options: ServerLogsOptions, onLine: (line: string) => void): Promise<void> {
    let failure: string | undefined;
    const query = { follow: options.follow ?? false, tail: options.tail };
    const ended = await this.stream(ROUTE_PATHS.serverLogs, query, options, 'its log', 'sky api logs --server-logs', (event) => {
      if (event.event === 'log') onLine((JSON.parse(event.data) as { text: string }).text);
      else if (event.event === 'error') failure = errorMessageOf(event.data);
      return event.event === 'end' || event.event === 'error';
    });
    if (failure !== undefined) throw new SkyError('INTERNAL', `the API server failed while streaming its log: ${failure}`);
    if (!ended) {
      throw new SkyError('SERVER_UNREACHABLE', `lost connection to the API server at ${this.endpoint.url} while streaming its log`, {
        hint: 'Retry with: sky api logs --server-logs',
      });
    }
  }

  /**
   * Follow the event stream (GET /api/v1/events) until `options.signal` aborts: changes of the
   * clusters, jobs, managed jobs and requests this caller may see, in order, reconnecting with
   * Last-Event-ID when the connection drops (see followEvents).
   */
  followEvents(options: FollowEventsOptions, handlers: EventFeedHandlers): Promise<void> {
    const idleTimeoutMs = options.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
    return followEvents((query, headers, signal) => this.transport.open({ path: ROUTE_PATHS.streamEvents, query, headers, idleTimeoutMs, signal }), { ...options, idleTimeoutMs }, handlers);
  }

  /**
   * Open an event stream and read it; true when `onEvent` asked to stop, false when the stream
   * dropped. A stream that carries not a byte for the idle timeout (the daemon beats every 10 s
   * however quiet the job) is SERVER_UNREACHABLE, naming `what` was streamed and how to go on.
   */
  private async stream(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    options: StreamOptions,
    what: string,
    again: string,
    onEvent: (event: SseEvent) => boolean,
  ): Promise<boolean> {
    const idleTimeoutMs = options.idleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
    const res = await this.transport.open({ path, query, headers: { accept: 'text/event-stream' }, idleTimeoutMs, signal: options.signal });
    const outcome = await readEvents(res, onEvent, options.signal, idleTimeoutMs);
    if (outcome === 'silent') {
      throw new SkyError('SERVER_UNREACHABLE', `the API server at ${this.endpoint.url} sent nothing for ${idleTimeoutMs >= 10_000 ? Math.round(idleTimeoutMs / 1000) : (idleTimeoutMs / 1000).toFixed(1)} s while streaming ${what}, not even a heartbeat: it is stuck or the connection is dead`, {
        hint: `Check it with: sky api info; then re-attach with: ${again}`,
      });
    }
    return outcome === 'stopped';
  }

  /** Node-, CPU- and GPU-hours over [since, until) (unix ms; until defaults to now): the caller's, or every user's with allUsers (admins). */
  async usage(query: { since: number; until?: number; allUsers?: boolean }): Promise<UsageReport> {
    const q: Record<string, string | number | boolean | undefined> = { since: query.since, until: query.until, all_users: query.allUsers === true ? true : undefined };
    return this.transport.json<UsageReport>({ path: ROUTE_PATHS.getUsage, query: q });
  }
}
