import type Router from '@koa/router';
import { ROUTES, SESSION_COOKIE } from '@sky/protocol';
import { sessionCookie } from '../../auth/cookies.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { passwordSessionRoutes, type PasswordSessionDeps } from './password-session.js';

/** Where a browser lands once logged in: relative, so it stays right behind a proxy that serves sky under a path prefix. */
const DASHBOARD_FROM_SESSION_ROUTE = '../../../dashboard/';

/** Browser login: a one-time link (sky dashboard), its exchange for a session cookie, a password login, and logging out. */
export function sessionRoutes(router: Router, deps: PasswordSessionDeps, maxBodyBytes: number): void {
  const { sessions, audit } = deps;
  passwordSessionRoutes(router, deps, maxBodyBytes);
  bindRoute(router, ROUTES.createLoginLink, maxBodyBytes, async (ctx) => {
    const caller = callerOf(ctx);
    ctx.body = await audit.guard(caller, 'session.link', caller.name, async () => sessions.createLink(caller));
  });
  bindRoute(router, ROUTES.openSession, maxBodyBytes, async (ctx, { query }) => {
    const { secret, record } = await sessions.open(query.code);
    void audit.record({ user: record.userId, userName: record.userName, action: 'session.open', target: record.id, result: 'SUCCEEDED' });
    ctx.set('set-cookie', sessionCookie(SESSION_COOKIE, secret, { maxAgeSeconds: (record.expiresAt - record.createdAt) / 1000, secure: ctx.secure }));
    ctx.set('cache-control', 'no-store');
    ctx.set('referrer-policy', 'no-referrer');
    ctx.status = 303;
    ctx.redirect(DASHBOARD_FROM_SESSION_ROUTE);
  });
  bindRoute(router, ROUTES.closeSession, maxBodyBytes, async (ctx) => {
    const caller = callerOf(ctx);
    let closed = false;
    if (caller.credential?.kind === 'session') {
      const session = caller.credential.id;
      closed = await sessions.close(session);
      void audit.record({ user: caller.id, userName: caller.name, action: 'session.close', target: session, result: 'SUCCEEDED' });
    }
    ctx.set('set-cookie', sessionCookie(SESSION_COOKIE, '', { maxAgeSeconds: 0, secure: ctx.secure }));
    ctx.body = { closed };
  });
}
