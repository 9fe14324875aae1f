import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { SkyError } from '@sky/protocol';
import type { Refusals } from '../auth/refusals.js';
import { callerOf } from './identity.js';

/** 127.0.0.0/8, localhost and ::1 — the names a personal daemon answers to. */
export function isLoopbackName(hostname: string): boolean {
  const bare = hostname.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]:port`). */
function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/** `scheme://host[:port]` of an Origin header, or undefined when it is not one (e.g. "null"). */
function originUrl(origin: string): URL | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The personal daemon answers loopback names only: a Host header that is not 127.0.0.0/8,
 * localhost or [::1] is a DNS-rebinding page talking to it under its own name, and an Origin
 * header, when present, must be a loopback page too. Refusals are logged and audited.
 */
export function loopbackOnlyMiddleware(refusals: Refusals, clientAddress: (req: IncomingMessage) => string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const host = ctx.get('host');
    if (host !== '' && !isLoopbackName(hostnameOf(host))) {
      refusals.record({ action: 'auth.host', reason: 'Host is not a loopback name', from: clientAddress(ctx.req), target: host });
      throw new SkyError('HOST_NOT_ALLOWED', `this personal API server answers only to loopback names (127.0.0.1, localhost, [::1]), not to "${host.slice(0, 100)}"`, {
        hint: 'Use http://127.0.0.1:PORT. (A web page that renamed itself to reach this server is refused: DNS rebinding.)',
      });
    }
    const origin = ctx.get('origin');
    if (origin !== '') {
      const url = originUrl(origin);
      if (url === undefined || !isLoopbackName(url.hostname)) {
        refusals.record({ action: 'auth.origin', reason: 'Origin is not a loopback page', from: clientAddress(ctx.req), target: origin });
        throw new SkyError('ORIGIN_NOT_ALLOWED', `requests from web pages of other sites (${origin.slice(0, 100)}) are refused`, {
          hint: 'Open the dashboard from this machine (sky dashboard) instead.',
        });
      }
    }
    await next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Cross-site request forgery: a browser sends the session cookie by itself, so a request
 * authenticated by the cookie that changes anything must come from a page of this very
 * server — its Origin header present and naming the Host it was sent to. Runs after
 * identification; refusals are logged and audited as the session's user.
 */
export function sameOriginMiddleware(refusals: Refusals, clientAddress: (req: IncomingMessage) => string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const caller = callerOf(ctx);
    if (caller.via === 'session' && !SAFE_METHODS.has(ctx.method)) {
      const origin = ctx.get('origin');
      const url = origin === '' ? undefined : originUrl(origin);
      if (url === undefined || url.host.toLowerCase() !== ctx.get('host').toLowerCase()) {
        refusals.record({
          action: 'auth.csrf',
          reason: origin === '' ? 'a cookie-authenticated change without an Origin header' : 'a cookie-authenticated change from another origin',
          from: clientAddress(ctx.req),
          user: { id: caller.id, name: caller.name },
          target: `${ctx.method} ${ctx.path}`,
        });
        throw new SkyError('ORIGIN_NOT_ALLOWED', `a change made with the browser session must come from this server's own pages (Origin ${origin === '' ? 'missing' : origin.slice(0, 100)})`, {
          hint: 'Use the dashboard served by this API server, or the CLI.',
        });
      }
    }
    await next();
  };
}
