import type Router from '@koa/router';
import { ROUTES, type WorkspaceView } from '@sky/protocol';
import type { WorkspaceService } from '../../auth/workspace-service.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

/** What a workspace change left: who may use it and on which infra (user names, never secrets). */
function describe(ws: WorkspaceView): { detail: string } {
  const who = ws.private ? `private, users: ${ws.allowedUserNames.join(', ') || 'none'}` : 'public';
  return { detail: `${who}; infra: ${ws.allowedInfra?.join(', ') ?? 'any'}`.slice(0, 500) };
}

/** Workspaces: everyone lists those they may use; admins create, change and delete them (route table), audited. */
export function workspaceRoutes(router: Router, workspaces: WorkspaceService, maxBodyBytes: number, audit: AuditLog): void {
  bindRoute(router, ROUTES.listWorkspaces, maxBodyBytes, async (ctx) => {
    ctx.body = await workspaces.list(callerOf(ctx));
  });
  bindRoute(router, ROUTES.createWorkspace, maxBodyBytes, async (ctx, { body }) => {
    ctx.body = await audit.guard(callerOf(ctx), 'workspace.create', body.name, () => workspaces.create(body), describe);
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.updateWorkspace, maxBodyBytes, async (ctx, { params, body }) => {
    ctx.body = await audit.guard(callerOf(ctx), 'workspace.update', params.name, () => workspaces.update(params.name, body), describe);
  });
  bindRoute(router, ROUTES.deleteWorkspace, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await audit.guard(callerOf(ctx), 'workspace.delete', params.name, () => workspaces.delete(params.name));
  });
}
