import type Router from '@koa/router';
import { ROUTES, type NewToken, type TokenView } from '@sky/protocol';
import type { UserService } from '../../auth/user-service.js';
import type { Offboarding } from '../../auth/offboarding.js';
import type { AuditLog } from '../../audit/audit-log.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

/** Audit fields of a token: its id as target, its name and owner as detail (never its secret). */
function tokenEntry(view: TokenView): { target: string; detail: string } {
  return { target: view.id, detail: `token "${view.name}" of ${view.userName}` };
}

/** Users and tokens: who am I, the team, and bearer tokens. Every change is audited (never a password or token secret). */
export function userRoutes(router: Router, users: UserService, maxBodyBytes: number, audit: AuditLog, offboarding: Offboarding): void {
  bindRoute(router, ROUTES.whoami, maxBodyBytes, async (ctx) => {
    ctx.body = users.whoami(callerOf(ctx));
  });
  bindRoute(router, ROUTES.listUsers, maxBodyBytes, async (ctx) => {
    ctx.body = await users.list();
  });
  bindRoute(router, ROUTES.createUser, maxBodyBytes, async (ctx, { body }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'user.create', body.name, () => users.create(body), (user) => ({ detail: `role ${user.role}` }));
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.importUsers, maxBodyBytes, async (ctx, { body }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'user.import', undefined, () => users.import(body), (result) => ({
      detail: `created ${result.created.length}${result.created.length > 0 ? ` (${result.created.slice(0, 20).join(', ')}${result.created.length > 20 ? ', ...' : ''})` : ''}, skipped ${result.skipped.length}`,
    }));
  });
  bindRoute(router, ROUTES.deleteUser, maxBodyBytes, async (ctx, { params, query, body }) => {
    const caller = callerOf(ctx);
    const transferTo = body.transfer_to ?? query.transfer_to;
    const down = body.down ?? query.down;
    const options = { ...(transferTo !== undefined ? { transfer_to: transferTo } : {}), ...(down !== undefined ? { down } : {}) };
    ctx.body = await audit.guard(caller, 'user.delete', params.name, () => offboarding.deleteUser(caller, params.name, options), (gone) => ({
      detail: [
        `${gone.revokedTokens} token${gone.revokedTokens === 1 ? '' : 's'} revoked`,
        `${gone.cancelledRequests.length} request${gone.cancelledRequests.length === 1 ? '' : 's'} cancelled`,
        ...(gone.transferredTo !== undefined ? [`clusters to ${gone.transferredTo}: ${gone.transferred.join(', ') || 'none'}`] : []),
        ...(gone.downRequests.length > 0 ? [`tearing down ${gone.downRequests.map((d) => d.cluster).join(', ')}`] : []),
      ].join('; ').slice(0, 500),
    }));
  });
  bindRoute(router, ROUTES.setRole, maxBodyBytes, async (ctx, { params, body }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'user.role', params.name, () => users.setRole(params.name, body.role), () => ({ detail: `role ${body.role}` }));
  });
  bindRoute(router, ROUTES.resetPassword, maxBodyBytes, async (ctx, { params, body }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'user.password', params.name, () => users.resetPassword(caller, params.name, body));
  });
  bindRoute(router, ROUTES.listTokens, maxBodyBytes, async (ctx, { query }) => {
    ctx.body = await users.listTokens(callerOf(ctx), query.user);
  });
  bindRoute(router, ROUTES.createToken, maxBodyBytes, async (ctx, { body }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'token.create', body.user ?? caller.name, () => users.createToken(caller, body), (made: NewToken) => tokenEntry(made.record));
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.revokeToken, maxBodyBytes, async (ctx, { params }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'token.revoke', params.id, () => users.revokeToken(caller, params.id), tokenEntry);
  });
  bindRoute(router, ROUTES.rotateToken, maxBodyBytes, async (ctx, { params }) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'token.rotate', params.id, () => users.rotateToken(caller, params.id), (made: NewToken) => ({
      target: params.id,
      detail: `replaced by ${made.record.id} (token "${made.record.name}" of ${made.record.userName})`,
    }));
    ctx.status = 201;
  });
}
