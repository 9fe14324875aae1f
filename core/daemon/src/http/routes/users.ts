import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { UserService } from '../../auth/user-service.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

/** Users and tokens: who am I, the team, and bearer tokens. */
export function userRoutes(router: Router, users: UserService, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.whoami, maxBodyBytes, async (ctx) => {
    ctx.body = users.whoami(callerOf(ctx));
  });
  bindRoute(router, ROUTES.listUsers, maxBodyBytes, async (ctx) => {
    ctx.body = await users.list();
  });
  bindRoute(router, ROUTES.createUser, maxBodyBytes, async (ctx, { body }) => {
    ctx.body = await users.create(callerOf(ctx), body);
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.importUsers, maxBodyBytes, async (ctx, { body }) => {
    ctx.body = await users.import(callerOf(ctx), body);
  });
  bindRoute(router, ROUTES.deleteUser, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await users.delete(callerOf(ctx), params.name);
  });
  bindRoute(router, ROUTES.setRole, maxBodyBytes, async (ctx, { params, body }) => {
    ctx.body = await users.setRole(callerOf(ctx), params.name, body.role);
  });
  bindRoute(router, ROUTES.resetPassword, maxBodyBytes, async (ctx, { params, body }) => {
    ctx.body = await users.resetPassword(callerOf(ctx), params.name, body.password);
  });
  bindRoute(router, ROUTES.listTokens, maxBodyBytes, async (ctx, { query }) => {
    ctx.body = await users.listTokens(callerOf(ctx), query.user);
  });
  bindRoute(router, ROUTES.createToken, maxBodyBytes, async (ctx, { body }) => {
    ctx.body = await users.createToken(callerOf(ctx), body);
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.revokeToken, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await users.revokeToken(callerOf(ctx), params.id);
  });
  bindRoute(router, ROUTES.rotateToken, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await users.rotateToken(callerOf(ctx), params.id);
    ctx.status = 201;
  });
}
