import type { IncomingMessage } from 'node:http';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { REPLICA_HEADER, ROUTE_LIST, SkyError } from '@sky/protocol';
import { errorMiddleware } from './errors.js';
import { versionMiddleware } from './version.js';
import { identityMiddleware } from './identity.js';
import type { AuthService } from '../auth/auth-service.js';
import type { Refusals } from '../auth/refusals.js';
import { dashboardMiddleware } from './dashboard.js';
import { loopbackOnlyMiddleware, sameOriginMiddleware } from './origin-check.js';
import type { AccessPolicy } from '../auth/policy.js';
import { policyMiddleware } from './access.js';

export interface AppParts {
  logger: Logger;
  auth: AuthService;
  refusals: Refusals;
  /** A personal daemon (auth none, not opened to the network on purpose) answers loopback Host and Origin names only. */
  loopbackOnly: boolean;
  /** The client address of a request: the peer, or the client a trusted proxy forwards for. */
  clientAddress: (req: IncomingMessage) => string;
  /** Authorization: the route table's access is enforced with it for every route. */
  policy: AccessPolicy;
  dashboardRoot: string;
  /** Answers 503 to everything but the health routes until the state store is open. */
  gate?: Middleware;
  /** This process's replica id, sent on every answer (REPLICA_HEADER). */
  replica?: string;
  /** Registers every route of the protocol's table. */
  register: (router: Router) => void;
  /** Answers a Prometheus scraper that holds the metrics token, before the caller is identified. */
  scraper?: Middleware;
}

function compilePaths(): Array<{ re: RegExp; method: string }> {
  return ROUTE_LIST.map((r) => ({ re: new RegExp(`^${r.path.replace(/:[A-Za-z_]+/g, '[^/]+')}/?$`), method: r.method.toUpperCase() }));
}

/** The koa application: one error path, Host/Origin checks, version + identity checks, the route table, the dashboard. */
export function buildApp(parts: AppParts): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const router = new Router();
  parts.register(router);
  const known = compilePaths();

  const replica = parts.replica;
  if (replica !== undefined) {
    // First, so that error answers name the replica too.
    app.use(async (ctx, next) => {
      ctx.set(REPLICA_HEADER, replica);
      await next();
    });
  }
  app.use(errorMiddleware(parts.logger));
  if (parts.loopbackOnly) app.use(loopbackOnlyMiddleware(parts.refusals, parts.clientAddress));
  app.use(dashboardMiddleware(parts.dashboardRoot));
  app.use(versionMiddleware);
  if (parts.gate !== undefined) app.use(parts.gate);
  if (parts.scraper !== undefined) app.use(parts.scraper);
  app.use(identityMiddleware(parts.auth, parts.clientAddress));
  app.use(sameOriginMiddleware(parts.refusals, parts.clientAddress));
  app.use(policyMiddleware(parts.policy));
  app.use(router.routes());
  app.use(async (ctx) => {
    const allowed = known.filter((k) => k.re.test(ctx.path)).map((k) => k.method);
    if (allowed.length > 0) {
      ctx.set('allow', allowed.join(', '));
      throw new SkyError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; use ${allowed.join(' or ')}`);
    }
    throw new SkyError('ROUTE_NOT_FOUND', `no API route ${ctx.method} ${ctx.path}`, {
      hint: 'The routes are listed in /api/v1/openapi.json.',
    });
  });
  return app;
}
