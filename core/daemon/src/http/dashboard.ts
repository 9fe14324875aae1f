import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import type { Context, Next } from 'koa';
import { SkyError } from '@sky/protocol';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers of every dashboard answer: the app runs only its own scripts and cannot be framed. */
export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

/** A file name carrying a content hash (`app-3f9a0c1d.js`, `app.3f9a0c1d.css`): it never changes, so browsers may keep it. */
const HASHED_NAME = /[.-][0-9a-fA-F]{8,}\.[A-Za-z0-9]+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface Found {
  file: string;
  size: number;
}

/**
 * The relative path a dashboard URL names, as segments, or undefined when it is not a clean
 * one: not decodable, or with an empty, `.` or `..` segment, a backslash or a control character.
 */
function segmentsOf(path: string): string[] | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(path.slice('/dashboard/'.length));
  } catch {
    return undefined;
  }
  if (rel === '') return [];
  if (/[\x00-\x1f\x7f\\]/.test(rel)) return undefined;
  const parts = rel.endsWith('/') ? rel.slice(0, -1).split('/') : rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return parts;
}

/**
 * Serve the built dashboard (`root`, i.e. dashboard-static/dist) at /dashboard/ (GET and HEAD).
 * A path without a file extension is a page of the app (a deep link such as
 * /dashboard/clusters/dev) and answers index.html, which routes on the client. Files are never
 * served from outside the root, whether by `..`, encoded separators or a symlink. A file with a
 * gzipped copy next to it (`app.js.gz`) is sent compressed to browsers that accept gzip.
 */
export function dashboardMiddleware(root: string) {
  let realRoot: string | undefined;
  const rootOf = async (): Promise<string | undefined> => {
    if (realRoot === undefined) {
      try {
        realRoot = await realpath(root);
      } catch {
        return undefined;
      }
    }
    return realRoot;
  };
  /** The file at `rel` if it is a regular file inside the root (symlinks resolved). */
  const find = async (base: string, rel: string): Promise<Found | undefined> => {
    const wanted = join(base, rel);
    try {
      const file = await realpath(wanted);
      if (!file.startsWith(base + sep)) return undefined;
      const info = await stat(file);
      return info.isFile() ? { file, size: info.size } : undefined;
    } catch {
      return undefined;
    }
  };

  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== '/dashboard' && !ctx.path.startsWith('/dashboard/')) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/dashboard') {
      ctx.redirect('/dashboard/');
      return;
    }
    const segments = segmentsOf(ctx.path);
    if (segments === undefined) return next();
    const last = segments[segments.length - 1];
    const page = last === undefined || extname(last) === '';
    const rel = page ? 'index.html' : segments.join('/');
    const base = await rootOf();
    const found = base === undefined ? undefined : await find(base, rel);
    if (found === undefined) {
      if (!page) return next();
      throw new SkyError('ROUTE_NOT_FOUND', 'the dashboard is not built on this API server', {
        hint: 'Build it with npm run build (it writes dashboard-static/dist/), then reload.',
      });
    }
    for (const [name, value] of Object.entries(DASHBOARD_SECURITY_HEADERS)) ctx.set(name, value);
    ctx.set('cache-control', !page && HASHED_NAME.test(rel) ? IMMUTABLE : 'no-cache');
    ctx.type = TYPES[extname(found.file)] ?? 'application/octet-stream';
    const gz = await find(base!, `${rel}.gz`);
    let send = found;
    if (gz !== undefined) {
      ctx.vary('accept-encoding');
      // Only when asked for: a client that sends no Accept-Encoding gets the plain file.
      if (/\bgzip\b/i.test(ctx.get('accept-encoding')) && ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
        ctx.set('content-encoding', 'gzip');
        send = gz;
      }
    }
    ctx.body = createReadStream(send.file);
    ctx.length = send.size;
  };
}
