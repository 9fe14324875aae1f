import { API_PREFIX } from './version.js';

/** Path templates of every fixed route (koa style, `:param`). The route table and the client both use these. */
export const ROUTE_PATHS = {
  health: '/api/health',
  healthReady: '/api/health/ready',
  openapi: `${API_PREFIX}/openapi.json`,
  listRequests: `${API_PREFIX}/requests`,
  cancelRequests: `${API_PREFIX}/requests/cancel`,
  getRequest: `${API_PREFIX}/requests/:id`,
  waitRequest: `${API_PREFIX}/requests/:id/wait`,
  requestLogs: `${API_PREFIX}/requests/:id/logs`,
  serverLogs: `${API_PREFIX}/server/logs`,
  exportState: `${API_PREFIX}/admin/export`,
  listPlugins: `${API_PREFIX}/plugins`,
  installPlugins: `${API_PREFIX}/plugins/install`,
  listClusters: `${API_PREFIX}/clusters`,
  getCluster: `${API_PREFIX}/clusters/:name`,
  listJobs: `${API_PREFIX}/clusters/:name/jobs`,
  jobLogs: `${API_PREFIX}/clusters/:name/jobs/:job/logs`,
  whoami: `${API_PREFIX}/users/me`,
  listUsers: `${API_PREFIX}/users`,
  createUser: `${API_PREFIX}/users`,
  importUsers: `${API_PREFIX}/users/import`,
  deleteUser: `${API_PREFIX}/users/:name`,
  setRole: `${API_PREFIX}/users/:name/role`,
  resetPassword: `${API_PREFIX}/users/:name/password`,
  listTokens: `${API_PREFIX}/tokens`,
  createToken: `${API_PREFIX}/tokens`,
  revokeToken: `${API_PREFIX}/tokens/:id/revoke`,
  rotateToken: `${API_PREFIX}/tokens/:id/rotate`,
  listWorkspaces: `${API_PREFIX}/workspaces`,
  createWorkspace: `${API_PREFIX}/workspaces`,
  updateWorkspace: `${API_PREFIX}/workspaces/:name`,
  deleteWorkspace: `${API_PREFIX}/workspaces/:name`,
  listAudit: `${API_PREFIX}/audit`,
  createUpload: `${API_PREFIX}/uploads`,
  getUpload: `${API_PREFIX}/uploads/:id`,
  putChunk: `${API_PREFIX}/uploads/chunks/:hash`,
  createLoginLink: `${API_PREFIX}/auth/login-links`,
  openSession: `${API_PREFIX}/auth/session`,
  closeSession: `${API_PREFIX}/auth/session`,
  authMethods: `${API_PREFIX}/auth/methods`,
  passwordSession: `${API_PREFIX}/auth/password-session`,
  sshHostKey: `${API_PREFIX}/ssh/host-key`,
  listManagedJobs: `${API_PREFIX}/managed-jobs`,
  getManagedJob: `${API_PREFIX}/managed-jobs/:id`,
  managedJobLogs: `${API_PREFIX}/managed-jobs/:id/logs`,
  streamEvents: `${API_PREFIX}/events`,
  listServices: `${API_PREFIX}/services`,
  getService: `${API_PREFIX}/services/:name`,
  serviceLogs: `${API_PREFIX}/services/:name/logs`,
  serviceToken: `${API_PREFIX}/services/:name/token`,
  listWebhooks: `${API_PREFIX}/workspaces/:name/webhooks`,
  createWebhook: `${API_PREFIX}/workspaces/:name/webhooks`,
  deleteWebhook: `${API_PREFIX}/workspaces/:name/webhooks/:id`,
  webhookDeliveries: `${API_PREFIX}/workspaces/:name/webhooks/:id/deliveries`,
  /** Prometheus' conventional path, outside the versioned API: scrapers are configured with it. */
  metrics: '/metrics',
  getUsage: `${API_PREFIX}/usage`,
} as const;

/**
 * The SSH tunnel to one node of a cluster: a GET that upgrades the connection (Upgrade: sky-ssh)
 * to a raw byte stream carrying an SSH session with the API server. Not a JSON route, so it is
 * kept out of the route table (and the OpenAPI document); its access is that of `sky exec`.
 */
export const SSH_TUNNEL_PATH = `${API_PREFIX}/clusters/:name/ssh`;
/** The Upgrade protocol name of the SSH tunnel. */
export const SSH_TUNNEL_PROTOCOL = 'sky-ssh';

/** Path of an operation's submit route: POST /api/v1/<name>. */
export function operationPath(name: string): string {
  return `${API_PREFIX}/${name}`;
}

/** Fill a path template's `:params`, URL-encoding each value. */
export function fillPath(template: string, params: Record<string, string> = {}): string {
  return template.replace(/:([A-Za-z_]+)/g, (_m, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`missing path parameter ${key} for ${template}`);
    return encodeURIComponent(value);
  });
}
