import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { ROUTE_PATHS, SkyError } from '@sky/protocol';
import type { AuthService } from '../auth/auth-service.js';
import { ANONYMOUS, type Caller } from '../auth/caller.js';
import { NOT_READY_RETRY_SECONDS, type Readiness } from '../readiness.js';
import type { IdentityState } from './identity.js';

export interface ReadinessGateParts {
  readiness: Readiness;
  auth: AuthService;
  clientAddress: (req: IncomingMessage) => string;
  /** Where the state lives (no password), named to admins in the refusal. */
  storeLocation: string | undefined;
}

const HEALTH_PATHS: ReadonlySet<string> = new Set([ROUTE_PATHS.health, ROUTE_PATHS.healthReady]);

function isHealth(ctx: Context): boolean {
  return (ctx.method === 'GET' || ctx.method === 'HEAD') && HEALTH_PATHS.has(ctx.path.replace(/\/$/, ''));
}

/** Identify the caller without the store (only the personal daemon's local token works before it opens); anonymous otherwise. */
async function callerWithoutStore(ctx: Context, parts: ReadinessGateParts): Promise<Caller> {
  try {
    return await parts.auth.identify({ header: (name) => ctx.get(name), remoteAddress: parts.clientAddress(ctx.req), peerAddress: ctx.req.socket.remoteAddress }, true);
  } catch {
    return ANONYMOUS;
  }
}

/**
 * Answer with a not-ready refusal (503, Retry-After, the error body) without going through the
 * error path: an expected state, not a failure to log at every probe.
 */
export function answerNotReady(ctx: Context, refusal: SkyError): void {
  ctx.status = refusal.status;
  const retryAfter = refusal.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') ctx.set('retry-after', String(retryAfter));
  ctx.body = refusal.toBody();
}

/**
 * Until the state store is open, only the health routes answer (as anonymous callers); every
 * other route answers 503 STATE_UNAVAILABLE with Retry-After. Admins (the personal daemon's
 * owner) are told where the store is and why it is not open.
 */
export function readinessGateMiddleware(parts: ReadinessGateParts) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (parts.readiness.started) {
      await next();
      return;
    }
    const caller = await callerWithoutStore(ctx, parts);
    if (isHealth(ctx)) {
      (ctx.state as IdentityState).identity = caller;
      await next();
      return;
    }
    const admin = caller.role === 'admin';
    const why = parts.readiness.error;
    const where = admin && parts.storeLocation !== undefined ? ` at ${parts.storeLocation}` : '';
    answerNotReady(ctx, new SkyError('STATE_UNAVAILABLE', `the API server is starting: its state store${where} is not reachable yet${admin && why !== undefined ? ` (${why.message})` : ''}`, {
      hint: 'It retries by itself and serves once the database answers; retry after the Retry-After seconds. GET /api/health/ready says when it is ready.',
      details: { retryAfterSeconds: NOT_READY_RETRY_SECONDS, ready: false },
    }));
  };
}
