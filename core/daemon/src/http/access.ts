import type { Context, Next } from 'koa';
import type { RouteSpec } from '@sky/protocol';
import type { AccessPolicy, DenialContext } from '../auth/policy.js';
import { callerOf } from './identity.js';

interface PolicyState {
  policy?: AccessPolicy;
}

/** Make the access policy available to every route (bindRoute enforces the route table's access with it). */
export function policyMiddleware(policy: AccessPolicy) {
  return async (ctx: Context, next: Next): Promise<void> => {
    (ctx.state as PolicyState).policy = policy;
    await next();
  };
}

export function policyOf(ctx: Context): AccessPolicy {
  const policy = (ctx.state as PolicyState).policy;
  if (policy === undefined) throw new Error('no access policy on this koa application (buildApp installs it)');
  return policy;
}

/** Audit action names of routes whose changes were audited under these names before the route table carried access. */
const AUDIT_ACTIONS: Readonly<Record<string, string>> = {
  createUser: 'user.create',
  importUsers: 'user.import',
  deleteUser: 'user.delete',
  setRole: 'user.role',
  resetPassword: 'user.password',
  createToken: 'token.create',
  revokeToken: 'token.revoke',
  rotateToken: 'token.rotate',
  cancelRequests: 'request.cancel',
  createWorkspace: 'workspace.create',
  updateWorkspace: 'workspace.update',
  deleteWorkspace: 'workspace.delete',
  listAudit: 'audit.read',
  serverLogs: 'server.logs',
  exportState: 'state.export',
  installPlugins: 'plugin.install',
};

/** The audit action of a route: its operation, or the name of what it changes. */
export function auditAction(route: RouteSpec): string {
  return route.operation ?? AUDIT_ACTIONS[route.id] ?? route.id;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value.slice(0, 200) : undefined;
}

/** What a route call is about, for the audit log: a path parameter, or the cluster or name in the body. */
export function auditTarget(params: unknown, body: unknown): string | undefined {
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  return text(p.name) ?? text(p.id) ?? text(b.cluster) ?? text(b.name);
}

/** The route table's access for one call: admin routes before the body is read, admin-only bodies after. */
export async function enforceRouteAccess(ctx: Context, route: RouteSpec, stage: 'route' | 'body', params: unknown, body?: unknown): Promise<void> {
  if (route.access === 'public') return;
  const where: DenialContext = { action: auditAction(route) };
  const target = auditTarget(params, body);
  if (target !== undefined) where.target = target;
  if (stage === 'route') await policyOf(ctx).assertRoute(callerOf(ctx), route, where);
  else await policyOf(ctx).assertOperationBody(callerOf(ctx), route, body, where);
}
