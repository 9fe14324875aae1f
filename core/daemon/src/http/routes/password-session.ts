import type Router from '@koa/router';
import type { Context } from 'koa';
import { ROUTES, SESSION_COOKIE, SkyError, type AuthMethods, type WhoAmI } from '@sky/protocol';
import type { AuditLog } from '../../audit/audit-log.js';
import type { AuthService, PasswordCheck } from '../../auth/auth-service.js';
import type { SessionService } from '../../auth/session-service.js';
import { sessionCookie } from '../../auth/cookies.js';
import { bindRoute } from '../bind.js';

export interface PasswordSessionDeps {
  sessions: SessionService;
  auth: AuthService;
  audit: AuditLog;
  clientAddress: (ctx: Context) => string;
}

const NO_NAME = { id: 'anonymous', name: 'anonymous' };

/** `host[:port]` of an Origin header, lowercased, or undefined when it is not an http(s) origin. */
function originHost(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The dashboard's own login: which methods this server offers, and a password login that
 * opens the same session (cookie) as the one-time link of sky dashboard. The password is
 * checked exactly as basic auth checks it (limiter, dummy hash for unknown names, one answer
 * for a wrong name and a wrong password); successes and failures are audited.
 */
export function passwordSessionRoutes(router: Router, deps: PasswordSessionDeps, maxBodyBytes: number): void {
  const { auth, sessions, audit } = deps;
  bindRoute(router, ROUTES.authMethods, maxBodyBytes, async (ctx) => {
    const body: AuthMethods = { mode: auth.mode, passwordLogin: auth.mode === 'basic' };
    ctx.set('cache-control', 'no-store');
    ctx.body = body;
  });
  bindRoute(router, ROUTES.passwordSession, maxBodyBytes, async (ctx, { body }) => {
    if (auth.mode !== 'basic') {
      const how =
        auth.mode === 'none'
          ? 'Open the link sky dashboard prints.'
          : auth.mode === 'proxy'
            ? 'Sign in through the auth proxy in front of this server; the dashboard needs no login of its own.'
            : 'Log the CLI in with a token (sky api login --token TOKEN), then open the link sky dashboard prints.';
      throw new SkyError('LOGIN_METHOD_DISABLED', `this API server (auth mode ${auth.mode}) has no password login`, { hint: how });
    }
    // Login forgery: a page of another site must not log the browser in as someone else.
    const origin = ctx.get('origin');
    if (origin !== '' && originHost(origin) !== ctx.get('host').toLowerCase()) {
      void audit.record({ user: NO_NAME.id, userName: NO_NAME.name, action: 'session.password', target: origin.slice(0, 100), result: 'DENIED', detail: 'ORIGIN_NOT_ALLOWED' });
      throw new SkyError('ORIGIN_NOT_ALLOWED', `a password login must come from this server's own login page (Origin ${origin.slice(0, 100)})`, {
        hint: 'Open the dashboard of this server and log in there.',
      });
    }
    let checked: PasswordCheck;
    try {
      checked = await auth.checkPassword(body.name, body.password, { header: (name) => ctx.get(name), remoteAddress: deps.clientAddress(ctx), peerAddress: ctx.req.socket.remoteAddress });
    } catch (err) {
      // Refused before any check (another attempt of this name is being held): 429, audited too.
      if (err instanceof SkyError && err.code === 'TOO_MANY_ATTEMPTS') {
        void audit.record({ user: NO_NAME.id, userName: NO_NAME.name, action: 'session.password', result: 'DENIED', detail: err.code });
        const retry = err.details?.retryAfterSeconds;
        if (typeof retry === 'number') ctx.set('retry-after', String(retry));
      }
      throw err;
    }
    if (!checked.ok) {
      const who = checked.user ?? NO_NAME;
      void audit.record({ user: who.id, userName: who.name, action: 'session.password', result: 'DENIED', detail: checked.error.code });
      const retry = checked.error.details?.retryAfterSeconds;
      if (typeof retry === 'number') ctx.set('retry-after', String(retry));
      if (checked.error.code !== 'UNAUTHENTICATED') throw checked.error;
      throw new SkyError('UNAUTHENTICATED', checked.error.message, { hint: 'Check the user name and password.' });
    }
    const { secret, record } = await sessions.openFor(checked.caller);
    void audit.record({ user: record.userId, userName: record.userName, action: 'session.password', target: record.id, result: 'SUCCEEDED' });
    ctx.set('set-cookie', sessionCookie(SESSION_COOKIE, secret, { maxAgeSeconds: (record.expiresAt - record.createdAt) / 1000, secure: ctx.secure }));
    ctx.set('cache-control', 'no-store');
    const me: WhoAmI = { id: checked.caller.id, name: checked.caller.name, role: checked.caller.role, via: 'session', expiresAt: record.expiresAt };
    ctx.body = me;
  });
}
