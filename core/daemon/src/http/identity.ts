import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { ROUTE_LIST, type Identity } from '@sky/protocol';
import type { AuthService, Caller } from '../auth/auth-service.js';

export interface IdentityState {
  identity: Caller;
}

/**
 * Routes anyone may call, from the route table (access: public): the health check, and the
 * exchange of a login link's one-time code (which is the credential).
 */
const OPEN_ROUTES = ROUTE_LIST.filter((r) => r.access === 'public').map((r) => ({ method: r.method.toUpperCase(), re: new RegExp(`^${r.path.replace(/:[A-Za-z_]+/g, '[^/]+')}/?$`) }));

function isOpenRoute(ctx: Context): boolean {
  const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
  return OPEN_ROUTES.some((r) => r.method === method && r.re.test(ctx.path));
}

/**
 * Resolve who is calling, per the auth mode (AuthService). Only the open routes may be
 * called without credentials; everything else answers 401.
 */
export function identityMiddleware(auth: AuthService, clientAddress: (req: IncomingMessage) => string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    // The readiness gate identified the caller of a health route already (the store is not open yet).
    if ((ctx.state as Partial<IdentityState>).identity !== undefined) {
      await next();
      return;
    }
    try {
      (ctx.state as IdentityState).identity = await auth.identify({ header: (name) => ctx.get(name), remoteAddress: clientAddress(ctx.req), peerAddress: ctx.req.socket.remoteAddress }, isOpenRoute(ctx));
    } catch (err) {
      // A script's fetch (the dashboard's) gets its 401 without a Basic challenge: browsers
      // answer one with their own password prompt, over the dashboard's login page.
      const fromScript = ctx.get('sec-fetch-mode') !== '' && ctx.get('sec-fetch-mode') !== 'navigate';
      if (auth.mode === 'basic' && !fromScript) ctx.set('www-authenticate', 'Basic realm="sky", charset="UTF-8"');
      else if (auth.mode !== 'none') ctx.set('www-authenticate', 'Bearer realm="sky"');
      const retry = (err as { details?: { retryAfterSeconds?: number } }).details?.retryAfterSeconds;
      if (retry !== undefined) ctx.set('retry-after', String(retry));
      throw err;
    }
    await next();
  };
}

export function callerOf(ctx: Context): Caller {
  return (ctx.state as IdentityState).identity;
}

/** The caller as the protocol's Identity (id and name). */
export function identityOf(ctx: Context): Identity {
  const { id, name } = callerOf(ctx);
  return { id, name };
}
