import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { WorkspaceService } from '../../auth/workspace-service.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

/** Workspaces: everyone lists those they may use; admins create, change and delete them. */
export function workspaceRoutes(router: Router, workspaces: WorkspaceService, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.listWorkspaces, maxBodyBytes, async (ctx) => {
    ctx.body = await workspaces.list(callerOf(ctx));
  });
  bindRoute(router, ROUTES.createWorkspace, maxBodyBytes, async (ctx, { body }) => {
    ctx.body = await workspaces.create(callerOf(ctx), body);
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.updateWorkspace, maxBodyBytes, async (ctx, { params, body }) => {
    ctx.body = await workspaces.update(callerOf(ctx), params.name, body);
  });
  bindRoute(router, ROUTES.deleteWorkspace, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await workspaces.delete(callerOf(ctx), params.name);
  });
}
