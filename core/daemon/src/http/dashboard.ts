import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Context, Next } from 'koa';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
};

/** Serve dashboard-static/ at /dashboard (GET/HEAD only, no path escapes). */
export function dashboardMiddleware(root: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== '/dashboard' && !ctx.path.startsWith('/dashboard/')) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/dashboard') {
      ctx.redirect('/dashboard/');
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(ctx.path.slice('/dashboard/'.length)) || 'index.html';
    } catch {
      return next();
    }
    const file = normalize(join(root, rel));
    if (!file.startsWith(root + sep) || rel.includes('\0')) return next();
    try {
      ctx.body = await readFile(file);
      ctx.type = TYPES[extname(file)] ?? 'application/octet-stream';
      ctx.set('cache-control', 'no-cache');
    } catch {
      return next();
    }
  };
}
