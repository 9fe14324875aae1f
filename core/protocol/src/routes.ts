import { z } from 'zod';
import { fillPath, operationPath, ROUTE_PATHS } from './wire/paths.js';
import {
  CancelBodySchema,
  CancelResultSchema,
  IdParamsSchema,
  ListRequestsQuerySchema,
  LogsQuerySchema,
  RequestPageSchema,
  RequestRecordSchema,
  SubmitResponseSchema,
  WaitQuerySchema,
} from './requests.js';
import { HealthSchema, ReadinessSchema, PluginListSchema, ServerLogsQuerySchema, InstallPluginsBodySchema, InstallPluginsResultSchema } from './health.js';
import { OPERATIONS, OPERATION_NAMES, type OperationName, type OperationSpec } from './ops.js';
import { ClusterColumnsSchema, ClusterListSchema, ClusterNameParamsSchema, ClusterQuerySchema, JobListSchema, JobLogParamsSchema, JobLogsQuerySchema, JobQuerySchema } from './cluster-routes.js';
import { ClusterRecordSchema } from './clusters.js';
import {
  AuthMethodsSchema,
  ClosedSessionSchema,
  PasswordLoginBodySchema,
  CreateTokenBodySchema,
  CreateUserBodySchema,
  LoginLinkSchema,
  OpenSessionQuerySchema,
  DeletedUserSchema,
  DeleteUserBodySchema,
  DeleteUserQuerySchema,
  ImportUsersBodySchema,
  ImportUsersResultSchema,
  NewTokenSchema,
  PasswordBodySchema,
  SetRoleBodySchema,
  TokenIdParamsSchema,
  TokenListSchema,
  TokenQuerySchema,
  TokenViewSchema,
  UserListSchema,
  UserNameParamsSchema,
  UserViewSchema,
  WhoAmISchema,
} from './auth-routes.js';
import { CreateWorkspaceBodySchema, UpdateWorkspaceBodySchema, WorkspaceListSchema, WorkspaceNameParamsSchema, WorkspaceViewSchema } from './workspace-routes.js';
import { AuditPageSchema, AuditQuerySchema } from './audit-routes.js';
import { ChunkParamsSchema, ChunkStoredSchema, UploadCreatedSchema, UploadIdParamsSchema, UploadManifestSchema, UploadViewSchema } from './upload-routes.js';
import { SshHostKeySchema } from './ssh-routes.js';
import { ManagedJobListSchema, ManagedJobLogsQuerySchema, ManagedJobParamsSchema, ManagedJobQuerySchema, ManagedJobDetailSchema } from './managed-jobs.js';
import { EventStreamQuerySchema } from './event-routes.js';
import { ServiceDetailSchema, ServiceListSchema, ServiceLogsQuerySchema, ServiceParamsSchema, ServiceQuerySchema, ServiceTokenBodySchema, ServiceTokenResultSchema } from './services.js';
import type { Access } from './access.js';
import { ExportStateQuerySchema } from './state-routes.js';
import { CreateWebhookBodySchema, NewWebhookSchema, WebhookDeliveryListSchema, WebhookListSchema, WebhookParamsSchema, WebhookViewSchema, WebhookWorkspaceParamsSchema } from './webhooks.js';
import { UsageQuerySchema, UsageReportSchema } from './usage.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/** What a route answers: a JSON schema per status, a stream, or a redirect (a browser navigation). */
export type RouteResponse = z.ZodType | 'event-stream' | 'openapi' | 'redirect' | 'state-file' | 'metrics-text';

export interface RouteSpec {
  readonly id: string;
  readonly method: HttpMethod;
  /** koa-style path with :params. */
  readonly path: string;
  readonly summary: string;
  /** Who may call it; the daemon enforces this centrally. Per-record rules (owner, workspace) come on top. */
  readonly access: Access;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  /** A body of raw bytes instead of JSON (read by the handler itself). */
  readonly rawBody?: { readonly contentType: string; readonly description: string };
  readonly success: { readonly status: number; readonly body: RouteResponse };
  /** Error statuses this route answers beyond the ones every route may (the OpenAPI document lists them). */
  readonly errors?: readonly number[];
  /** Whether the route is an operation submit (answers 202 with a request id). */
  readonly operation?: OperationName;
}

function opRoute<N extends OperationName>(name: N): RouteSpec {
  const spec = OPERATIONS[name];
  return {
    id: `submit.${name}`,
    method: 'post',
    path: operationPath(name),
    summary: spec.summary,
    access: spec.access,
    body: spec.body,
    success: { status: 202, body: SubmitResponseSchema },
    operation: name,
  };
}

/** Every HTTP route of the daemon. The daemon registers exactly these, and the OpenAPI document is built from them. */
export const ROUTES = {
  health: {
    id: 'health',
    method: 'get',
    path: ROUTE_PATHS.health,
    summary: 'Liveness, version and the caller\'s identity. Unversioned so any client can read it.',
    access: 'public',
    success: { status: 200, body: HealthSchema },
  },
  healthReady: {
    id: 'healthReady',
    method: 'get',
    path: ROUTE_PATHS.healthReady,
    summary: 'Readiness, for load balancers and Kubernetes probes: 200 while the state store is open and reachable, 503 with Retry-After otherwise.',
    access: 'public',
    success: { status: 200, body: ReadinessSchema },
  },
  openapi: {
    id: 'openapi',
    method: 'get',
    path: ROUTE_PATHS.openapi,
    summary: 'This API as an OpenAPI 3.1 document.',
    access: 'user',
    success: { status: 200, body: 'openapi' },
  },
  listRequests: {
    id: 'listRequests',
    method: 'get',
    path: ROUTE_PATHS.listRequests,
    summary: 'List requests, newest first, filtered and paginated.',
    access: 'user',
    query: ListRequestsQuerySchema,
    success: { status: 200, body: RequestPageSchema },
  },
  cancelRequests: {
    id: 'cancelRequests',
    method: 'post',
    path: ROUTE_PATHS.cancelRequests,
    summary: 'Cancel requests out of band: PENDING ones never start, RUNNING ones are aborted.',
    access: 'user',
    body: CancelBodySchema,
    success: { status: 200, body: CancelResultSchema },
  },
  getRequest: {
    id: 'getRequest',
    method: 'get',
    path: ROUTE_PATHS.getRequest,
    summary: 'One request.',
    access: 'user',
    params: IdParamsSchema,
    success: { status: 200, body: RequestRecordSchema },
  },
  waitRequest: {
    id: 'waitRequest',
    method: 'get',
    path: ROUTE_PATHS.waitRequest,
    summary: 'Long-poll: answers when the request finishes or the timeout passes, with its current record.',
    access: 'user',
    params: IdParamsSchema,
    query: WaitQuerySchema,
    success: { status: 200, body: RequestRecordSchema },
  },
  requestLogs: {
    id: 'requestLogs',
    method: 'get',
    path: ROUTE_PATHS.requestLogs,
    summary: 'The request\'s log as server-sent events (log, then end); with follow, until it finishes.',
    access: 'user',
    params: IdParamsSchema,
    query: LogsQuerySchema,
    success: { status: 200, body: 'event-stream' },
  },
  serverLogs: {
    id: 'serverLogs',
    method: 'get',
    path: ROUTE_PATHS.serverLogs,
    summary: 'The daemon\'s own log as server-sent events (admins).',
    access: 'admin',
    query: ServerLogsQuerySchema,
    success: { status: 200, body: 'event-stream' },
  },
  exportState: {
    id: 'exportState',
    method: 'get',
    path: ROUTE_PATHS.exportState,
    summary: 'The whole state of the store from one point in time, as a sky-state file (JSON lines, gzip with ?gzip=true), for backups and for moving to another store (admins; audited). Tokens and sessions travel as hashes.',
    access: 'admin',
    query: ExportStateQuerySchema,
    success: { status: 200, body: 'state-file' },
  },
  listPlugins: {
    id: 'listPlugins',
    method: 'get',
    path: ROUTE_PATHS.listPlugins,
    summary: 'Configured plugins and whether each loaded (package, version, declared plugin API range, load error), the plugin API version the daemon provides, and plugins installed but not configured.',
    access: 'user',
    success: { status: 200, body: PluginListSchema },
  },
  installPlugins: {
    id: 'installPlugins',
    method: 'post',
    path: ROUTE_PATHS.installPlugins,
    summary: "Install plugin packages into the daemon's plugins directory with npm (always --ignore-scripts; admins; audited). A package takes effect when the daemon starts with it configured.",
    access: 'admin',
    body: InstallPluginsBodySchema,
    success: { status: 200, body: InstallPluginsResultSchema },
    // PLUGIN_INSTALL_FAILED: npm could not install (no such package, registry unreachable).
    errors: [502],
  },
  listClusters: {
    id: 'listClusters',
    method: 'get',
    path: ROUTE_PATHS.listClusters,
    summary: "Clusters from the daemon's status view (the caller's, or everyone's with all_users) and the enabled infra.",
    access: 'user',
    query: ClusterQuerySchema,
    success: { status: 200, body: z.union([ClusterListSchema, ClusterColumnsSchema]) },
  },
  getCluster: {
    id: 'getCluster',
    method: 'get',
    path: ROUTE_PATHS.getCluster,
    summary: 'One cluster.',
    access: 'user',
    params: ClusterNameParamsSchema,
    success: { status: 200, body: ClusterRecordSchema },
  },
  listJobs: {
    id: 'listJobs',
    method: 'get',
    path: ROUTE_PATHS.listJobs,
    summary: "A cluster's job queue, newest first.",
    access: 'user',
    params: ClusterNameParamsSchema,
    query: JobQuerySchema,
    success: { status: 200, body: JobListSchema },
  },
  jobLogs: {
    id: 'jobLogs',
    method: 'get',
    path: ROUTE_PATHS.jobLogs,
    summary: "A job's log from its nodes as server-sent events (log {rank, text}, then end {status}).",
    access: 'user',
    params: JobLogParamsSchema,
    query: JobLogsQuerySchema,
    success: { status: 200, body: 'event-stream' },
  },
  listManagedJobs: {
    id: 'listManagedJobs',
    method: 'get',
    path: ROUTE_PATHS.listManagedJobs,
    summary: "Managed jobs, newest first: the caller's, or every user's with all_users (the -u view).",
    access: 'user',
    query: ManagedJobQuerySchema,
    success: { status: 200, body: ManagedJobListSchema },
  },
  getManagedJob: {
    id: 'getManagedJob',
    method: 'get',
    path: ROUTE_PATHS.getManagedJob,
    summary: 'One managed job with its controller log (the log for its owner and admins only).',
    access: 'user',
    params: ManagedJobParamsSchema,
    success: { status: 200, body: ManagedJobDetailSchema },
  },
  managedJobLogs: {
    id: 'managedJobLogs',
    method: 'get',
    path: ROUTE_PATHS.managedJobLogs,
    summary: "A managed job's log as server-sent events (log {rank, text}, then end {status}); controller=true gives the controller's log.",
    access: 'user',
    params: ManagedJobParamsSchema,
    query: ManagedJobLogsQuerySchema,
    success: { status: 200, body: 'event-stream' },
  },
  listServices: {
    id: 'listServices',
    method: 'get',
    path: ROUTE_PATHS.listServices,
    summary: "Services (sky serve), by name: the caller's, or every user's with all_users (the -u view), each with its replicas.",
    access: 'user',
    query: ServiceQuerySchema,
    success: { status: 200, body: ServiceListSchema },
  },
  getService: {
    id: 'getService',
    method: 'get',
    path: ROUTE_PATHS.getService,
    summary: 'One service with its controller log (the log for its owner and admins only).',
    access: 'user',
    params: ServiceParamsSchema,
    success: { status: 200, body: ServiceDetailSchema },
  },
  serviceLogs: {
    id: 'serviceLogs',
    method: 'get',
    path: ROUTE_PATHS.serviceLogs,
    summary: "A service's log as server-sent events (log {text, rank?}, then end {status}): a replica's (replica_id), the controller's (controller=true) or the load balancer's (load_balancer=true).",
    access: 'user',
    params: ServiceParamsSchema,
    query: ServiceLogsQuerySchema,
    success: { status: 200, body: 'event-stream' },
  },
  setServiceToken: {
    id: 'setServiceToken',
    method: 'post',
    path: ROUTE_PATHS.serviceToken,
    summary: "Protect a service's endpoint with a new bearer token (returned once; any earlier token stops working), or open it again (its owner or an admin; audited).",
    access: 'user',
    params: ServiceParamsSchema,
    body: ServiceTokenBodySchema,
    success: { status: 200, body: ServiceTokenResultSchema },
  },
  streamEvents: {
    id: 'streamEvents',
    method: 'get',
    path: ROUTE_PATHS.streamEvents,
    summary:
      'Changes of clusters, jobs, managed jobs and requests the caller may see, as server-sent events: change (id = seq), ready once live, reset when the position cannot be resumed. Resumable with Last-Event-ID across reconnects and restarts.',
    access: 'user',
    query: EventStreamQuerySchema,
    success: { status: 200, body: 'event-stream' },
  },
  whoami: { id: 'whoami', method: 'get', path: ROUTE_PATHS.whoami, access: 'user', summary: 'Who the credentials belong to (what sky api login checks).', success: { status: 200, body: WhoAmISchema } },
  listUsers: { id: 'listUsers', method: 'get', path: ROUTE_PATHS.listUsers, access: 'user', summary: 'The team: every user, without secrets.', success: { status: 200, body: UserListSchema } },
  createUser: { id: 'createUser', method: 'post', path: ROUTE_PATHS.createUser, access: 'admin', summary: 'Create a user (admins). New users are role user unless given.', body: CreateUserBodySchema, success: { status: 201, body: UserViewSchema } },
  importUsers: { id: 'importUsers', method: 'post', path: ROUTE_PATHS.importUsers, access: 'admin', summary: 'Create many users at once (admins); existing names are skipped.', body: ImportUsersBodySchema, success: { status: 200, body: ImportUsersResultSchema } },
  deleteUser: { id: 'deleteUser', method: 'delete', path: ROUTE_PATHS.deleteUser, access: 'admin', summary: 'Delete a user (admins): revoke their tokens, cancel their requests, and give their clusters to transfer_to or tear them down (down).', params: UserNameParamsSchema, query: DeleteUserQuerySchema, body: DeleteUserBodySchema, success: { status: 200, body: DeletedUserSchema } },
  setRole: { id: 'setRole', method: 'post', path: ROUTE_PATHS.setRole, access: 'admin', summary: "Change a user's role (admins).", params: UserNameParamsSchema, body: SetRoleBodySchema, success: { status: 200, body: UserViewSchema } },
  resetPassword: { id: 'resetPassword', method: 'post', path: ROUTE_PATHS.resetPassword, access: 'user', summary: 'Set a password (admins for anyone, users for themselves).', params: UserNameParamsSchema, body: PasswordBodySchema, success: { status: 200, body: UserViewSchema } },
  listTokens: { id: 'listTokens', method: 'get', path: ROUTE_PATHS.listTokens, access: 'user', summary: "Your tokens (admins: another user's with user=NAME).", query: TokenQuerySchema, success: { status: 200, body: TokenListSchema } },
  createToken: { id: 'createToken', method: 'post', path: ROUTE_PATHS.createToken, access: 'user', summary: 'Create a bearer token; its secret is in the answer only.', body: CreateTokenBodySchema, success: { status: 201, body: NewTokenSchema } },
  revokeToken: { id: 'revokeToken', method: 'post', path: ROUTE_PATHS.revokeToken, access: 'user', summary: 'Revoke a token (its owner or an admin).', params: TokenIdParamsSchema, success: { status: 200, body: TokenViewSchema } },
  rotateToken: { id: 'rotateToken', method: 'post', path: ROUTE_PATHS.rotateToken, access: 'user', summary: 'Revoke a token and create its replacement with the same name and lifetime.', params: TokenIdParamsSchema, success: { status: 201, body: NewTokenSchema } },
  listAudit: { id: 'listAudit', method: 'get', path: ROUTE_PATHS.listAudit, access: 'admin', summary: 'The audit log, newest first (admins): who did what, to which target, with which result.', query: AuditQuerySchema, success: { status: 200, body: AuditPageSchema } },
  listWorkspaces: { id: 'listWorkspaces', method: 'get', path: ROUTE_PATHS.listWorkspaces, access: 'user', summary: 'Workspaces the caller may use (admins: all).', success: { status: 200, body: WorkspaceListSchema } },
  createWorkspace: { id: 'createWorkspace', method: 'post', path: ROUTE_PATHS.createWorkspace, access: 'admin', summary: 'Create a workspace (admins).', body: CreateWorkspaceBodySchema, success: { status: 201, body: WorkspaceViewSchema } },
  updateWorkspace: { id: 'updateWorkspace', method: 'post', path: ROUTE_PATHS.updateWorkspace, access: 'admin', summary: 'Change a workspace: private, allowed users, allowed infra (admins).', params: WorkspaceNameParamsSchema, body: UpdateWorkspaceBodySchema, success: { status: 200, body: WorkspaceViewSchema } },
  createUpload: {
    id: 'createUpload',
    method: 'post',
    path: ROUTE_PATHS.createUpload,
    access: 'user',
    summary: 'Announce an upload (a manifest of files and their chunk digests); answers its id and the chunks the API server lacks for you.',
    body: UploadManifestSchema,
    success: { status: 200, body: UploadCreatedSchema },
  },
  getUpload: { id: 'getUpload', method: 'get', path: ROUTE_PATHS.getUpload, access: 'user', summary: 'One of your uploads, with the chunks it still lacks.', params: UploadIdParamsSchema, success: { status: 200, body: UploadViewSchema } },
  putChunk: {
    id: 'putChunk',
    method: 'put',
    path: ROUTE_PATHS.putChunk,
    access: 'user',
    summary: 'Store one chunk (at most 4 MiB) among your uploads; kept only when its bytes have the sha256 of the path.',
    params: ChunkParamsSchema,
    rawBody: { contentType: 'application/octet-stream', description: 'The chunk\'s bytes (at most 4 MiB).' },
    success: { status: 201, body: ChunkStoredSchema },
  },
  deleteWorkspace: { id: 'deleteWorkspace', method: 'delete', path: ROUTE_PATHS.deleteWorkspace, access: 'admin', summary: 'Delete a workspace without clusters (admins; never default).', params: WorkspaceNameParamsSchema, success: { status: 200, body: WorkspaceViewSchema } },
  createLoginLink: {
    id: 'createLoginLink',
    method: 'post',
    path: ROUTE_PATHS.createLoginLink,
    access: 'user',
    summary: 'A one-time login link for a browser (sky dashboard): short-lived, single use, opening a session as the caller.',
    success: { status: 200, body: LoginLinkSchema },
  },
  openSession: {
    id: 'openSession',
    method: 'get',
    path: ROUTE_PATHS.openSession,
    access: 'public',
    summary: 'Exchange a login link\'s one-time code for a session cookie (HttpOnly, SameSite=Strict) and redirect to the dashboard. Needs no other credentials.',
    query: OpenSessionQuerySchema,
    success: { status: 303, body: 'redirect' },
  },
  closeSession: {
    id: 'closeSession',
    method: 'delete',
    path: ROUTE_PATHS.closeSession,
    access: 'user',
    summary: 'Log this browser out: revoke its session and clear the cookie.',
    success: { status: 200, body: ClosedSessionSchema },
  },
  authMethods: {
    id: 'authMethods',
    method: 'get',
    path: ROUTE_PATHS.authMethods,
    access: 'public',
    summary: 'How a browser signs in to this API server (its auth mode, and whether a password login is offered). Needs no credentials.',
    success: { status: 200, body: AuthMethodsSchema },
  },
  passwordSession: {
    id: 'passwordSession',
    method: 'post',
    path: ROUTE_PATHS.passwordSession,
    access: 'public',
    summary: "Log a browser in with a user name and password (auth mode basic): sets the session cookie (HttpOnly, SameSite=Strict) and answers who it belongs to. Failed attempts are slowed down like basic auth's, and audited.",
    body: PasswordLoginBodySchema,
    success: { status: 200, body: WhoAmISchema },
  },
  sshHostKey: {
    id: 'sshHostKey',
    method: 'get',
    path: ROUTE_PATHS.sshHostKey,
    access: 'user',
    summary: "The API server's SSH host key: `ssh CLUSTER` reaches nodes through an SSH session with the API server, whose key the generated SSH config pins.",
    success: { status: 200, body: SshHostKeySchema },
  },
  // Webhooks are admin-only: one keeps sending every change of its workspace (all users' things) to an outside
  // address with no caller rechecked per delivery, so a member who leaves, or is disabled, would otherwise keep receiving them.
  listWebhooks: {
    id: 'listWebhooks',
    method: 'get',
    path: ROUTE_PATHS.listWebhooks,
    access: 'admin',
    summary: "A workspace's webhooks, without their secrets (admins).",
    params: WebhookWorkspaceParamsSchema,
    success: { status: 200, body: WebhookListSchema },
  },
  createWebhook: {
    id: 'createWebhook',
    method: 'post',
    path: ROUTE_PATHS.createWebhook,
    access: 'admin',
    summary:
      'Add a webhook to a workspace (admins; audited): changes of its clusters, jobs, managed jobs, services and requests are POSTed to the URL, signed with the secret (shown in this answer only). The URL must be allowed by the config key webhooks.allow.',
    params: WebhookWorkspaceParamsSchema,
    body: CreateWebhookBodySchema,
    success: { status: 201, body: NewWebhookSchema },
  },
  deleteWebhook: {
    id: 'deleteWebhook',
    method: 'delete',
    path: ROUTE_PATHS.deleteWebhook,
    access: 'admin',
    summary: 'Remove a webhook from a workspace (admins; audited); deliveries to it stop.',
    params: WebhookParamsSchema,
    success: { status: 200, body: WebhookViewSchema },
  },
  webhookDeliveries: {
    id: 'webhookDeliveries',
    method: 'get',
    path: ROUTE_PATHS.webhookDeliveries,
    access: 'admin',
    summary: "A webhook's last deliveries, newest first: event seq, URL, the receiver's status, attempts, error (admins).",
    params: WebhookParamsSchema,
    success: { status: 200, body: WebhookDeliveryListSchema },
  },
  metrics: {
    id: 'metrics',
    method: 'get',
    path: ROUTE_PATHS.metrics,
    access: 'admin',
    summary: "This replica's Prometheus metrics in the text exposition format (admins, or a scraper with the bearer token of the daemon config's metrics.token). Every series carries a replica label.",
    success: { status: 200, body: 'metrics-text' },
  },
  getUsage: {
    id: 'getUsage',
    method: 'get',
    path: ROUTE_PATHS.getUsage,
    summary: "Node-, CPU- and GPU-hours of clusters and jobs over a window, by user and workspace, from the usage ledger (kept after sky down): the caller's own, or every user's with all_users (admins only; a refusal is audited).",
    access: 'user',
    query: UsageQuerySchema,
    success: { status: 200, body: UsageReportSchema },
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteId = keyof typeof ROUTES;

/** One submit route per operation: POST /api/v1/<name>, answering 202 with the request id. */
export const OPERATION_ROUTES: readonly RouteSpec[] = OPERATION_NAMES.map((name) => opRoute(name));

export const ROUTE_LIST: readonly RouteSpec[] = [...Object.values(ROUTES), ...OPERATION_ROUTES];

/**
 * Why a call of this route with this (validated) body needs the admin role: always for an
 * admin route, and for some operations by their body (a long ping, a refresh of every user's
 * clusters). Undefined when any authenticated user may make it.
 */
export function adminReason(route: RouteSpec, body: unknown): string | undefined {
  if (route.access === 'admin') return route.operation !== undefined ? `operation ${route.operation}` : `${route.method.toUpperCase()} ${route.path}`;
  return adminBodyReason(route, body);
}

/** Why this body makes a call of a user route admin-only (an operation's adminWhen), or undefined. */
export function adminBodyReason(route: RouteSpec, body: unknown): string | undefined {
  if (route.operation === undefined) return undefined;
  const spec: OperationSpec = OPERATIONS[route.operation];
  return spec.adminWhen?.(body);
}

/** Fill a route's path with values. */
export function routePath(route: RouteSpec, params: Record<string, string> = {}): string {
  return fillPath(route.path, params);
}
