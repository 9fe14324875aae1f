import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { ROUTES } from '@sky/protocol';
import type { DaemonMetrics } from '../../metrics/daemon-metrics.js';
import { bindRoute } from '../bind.js';

async function answer(ctx: Context, metrics: DaemonMetrics): Promise<void> {
  const { contentType, text } = await metrics.render();
  ctx.status = 200;
  ctx.set('content-type', contentType);
  ctx.set('cache-control', 'no-store');
  ctx.body = text;
}

/** GET /metrics for admins (the route table says so, and bindRoute enforces it). */
export function metricsRoutes(router: Router, metrics: DaemonMetrics, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.metrics, maxBodyBytes, (ctx) => answer(ctx, metrics));
}

function isMetricsCall(ctx: Context): boolean {
  return (ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.path.replace(/\/$/, '') === ROUTES.metrics.path;
}

/**
 * A Prometheus scraper with the metrics token (metrics.token in the daemon config) is answered
 * here, before the caller is identified: the token names no user and opens this route only, so
 * it never becomes an identity the other routes could see. Any other credential on /metrics
 * goes on to the usual identification (a wrong bearer token is refused there with 401).
 */
export function metricsScraperMiddleware(metrics: DaemonMetrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (isMetricsCall(ctx) && metrics.isScraper(ctx.get('authorization'))) await answer(ctx, metrics);
    else await next();
  };
}
