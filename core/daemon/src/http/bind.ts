import type Router from '@koa/router';
import type { Context } from 'koa';
import type { z } from 'zod';
import { parseOrThrow, type RouteSpec } from '@sky/protocol';
import { readJsonBody } from './body.js';
import { enforceRouteAccess } from './access.js';

type Infer<S> = S extends z.ZodType ? z.infer<S> : undefined;

export interface RouteInput<R extends RouteSpec> {
  params: Infer<R['params']>;
  query: Infer<R['query']>;
  body: Infer<R['body']>;
}

export type RouteHandler<R extends RouteSpec> = (ctx: Context, input: RouteInput<R>) => Promise<void>;

function queryObject(ctx: Context): Record<string, unknown> {
  // No prototype: a "__proto__" key must land as an own key, so the strict schema reports it instead of it vanishing.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(ctx.query)) out[key] = Array.isArray(value) ? value.join(',') : value;
  return out;
}

/**
 * Register one route of the protocol's table: its access (from the table, through the access
 * policy: admin routes are refused before the body is read, admin-only bodies once it is
 * valid), then path, query and body validated with its schemas, then the handler.
 */
export function bindRoute<R extends RouteSpec>(router: Router, spec: R, maxBodyBytes: number, handler: RouteHandler<R>): void {
  router[spec.method](spec.id, spec.path, async (ctx: Context) => {
    await enforceRouteAccess(ctx, spec, 'route', ctx.params);
    const params = spec.params ? parseOrThrow(spec.params, ctx.params, 'path') : undefined;
    const query = spec.query ? parseOrThrow(spec.query, queryObject(ctx), 'query') : undefined;
    const body = spec.body ? parseOrThrow(spec.body, await readJsonBody(ctx, maxBodyBytes), 'body') : undefined;
    await enforceRouteAccess(ctx, spec, 'body', params, body);
    await handler(ctx, { params, query, body } as RouteInput<R>);
  });
}
