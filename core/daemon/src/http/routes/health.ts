import type Router from '@koa/router';
import { API_VERSION, buildOpenApi, ROUTE_LIST, ROUTES, type Health } from '@sky/protocol';
import type { BuildInfo } from '../../tokens.js';
import { bindRoute } from '../bind.js';
import { identityOf } from '../identity.js';

export interface HealthDeps {
  build: BuildInfo;
  startedAt: number;
  maxBodyBytes: number;
  isDraining: () => boolean;
}

/** Liveness + identity, and the OpenAPI document (built once from the route table). */
export function healthRoutes(router: Router, deps: HealthDeps): void {
  let openapi: unknown;
  bindRoute(router, ROUTES.health, deps.maxBodyBytes, async (ctx) => {
    const body: Health = {
      status: deps.isDraining() ? 'draining' : 'healthy',
      version: deps.build.version,
      commit: deps.build.commit,
      apiVersion: API_VERSION,
      pid: process.pid,
      startedAt: deps.startedAt,
      user: identityOf(ctx),
    };
    ctx.body = body;
  });
  bindRoute(router, ROUTES.openapi, deps.maxBodyBytes, async (ctx) => {
    openapi ??= buildOpenApi(ROUTE_LIST, deps.build.version);
    ctx.body = openapi;
  });
}
