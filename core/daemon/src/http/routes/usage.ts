import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { UsageService } from '../../usage/usage-service.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

/** GET /api/v1/usage: node-, CPU- and GPU-hours over a window, the caller's own or (admins, all_users) everyone's. */
export function usageRoutes(router: Router, usage: UsageService, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.getUsage, maxBodyBytes, async (ctx, { query }) => {
    ctx.body = await usage.report(callerOf(ctx), query);
  });
}
