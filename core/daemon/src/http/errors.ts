import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { SkyError, toSkyError } from '@sky/protocol';

/** The one error path: every failure becomes `{error:{code,message,hint}}` with the catalogue's status. */
export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const found = toSkyError(err);
      const known = found !== undefined;
      const sky = found ?? new SkyError('INTERNAL', 'internal error in the API server', { hint: 'See the server log (sky api logs --server-logs).' });
      // A fault of the daemon (500, or anything not a SkyError) is an error; 502-504 say that
      // something it depends on failed (npm, the database), which it reports and survives.
      if (!known || sky.status === 500) logger.error({ err, method: ctx.method, path: ctx.path }, 'request failed');
      else if (sky.status > 500) logger.warn({ err, method: ctx.method, path: ctx.path }, 'request failed: a service the API server depends on failed');
      if (ctx.headerSent) {
        ctx.res.destroy();
        return;
      }
      ctx.status = sky.status;
      const retryAfter = sky.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') ctx.set('retry-after', String(retryAfter));
      ctx.body = sky.toBody();
    }
  };
}
