import type Router from '@koa/router';
import { API_VERSION, buildOpenApi, ROUTE_LIST, ROUTES, type Health } from '@sky/protocol';
import type { BuildInfo } from '../../tokens.js';
import { bindRoute } from '../bind.js';
import { callerOf, identityOf } from '../identity.js';

export interface HealthDeps {
  build: BuildInfo;
  startedAt: number;
  maxBodyBytes: number;
  isDraining: () => boolean;
  /** Whether a caller authenticated this way may name paths of the daemon's host in a task. */
  serverPaths: (via: string) => boolean;
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
      serverPaths: deps.serverPaths(callerOf(ctx).via),
    };
    ctx.body = body;
  });
  bindRoute(router, ROUTES.openapi, deps.maxBodyBytes, async (ctx) => {
    openapi ??= buildOpenApi(ROUTE_LIST, deps.build.version);
    ctx.body = openapi;
  });
}
