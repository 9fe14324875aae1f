import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { RequestService } from '../../services/requests.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { openSse } from '../sse.js';
import { sendTextLog } from '../text-log.js';

/** Requests: list, get, long-poll, log stream, out-of-band cancel. */
export function requestRoutes(router: Router, service: RequestService, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.listRequests, maxBodyBytes, async (ctx, { query }) => {
    ctx.body = await service.list(callerOf(ctx), query);
  });
  bindRoute(router, ROUTES.cancelRequests, maxBodyBytes, async (ctx, { body }) => {
    ctx.body = await service.cancel(callerOf(ctx), body);
  });
  bindRoute(router, ROUTES.getRequest, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await service.view(callerOf(ctx), params.id);
  });
  bindRoute(router, ROUTES.waitRequest, maxBodyBytes, async (ctx, { params, query }) => {
    await service.assertVisible(callerOf(ctx), params.id); // 404 or 403 before waiting
    ctx.body = service.visibleTo(callerOf(ctx), await service.wait(params.id, query.timeout));
  });
  bindRoute(router, ROUTES.requestLogs, maxBodyBytes, async (ctx, { params, query }) => {
    await service.assertMayReadLogs(callerOf(ctx), params.id); // 404 or 403 before switching to a stream
    if (query.format === 'text') {
      const follow = query.follow ?? false;
      sendTextLog(ctx, `request-${params.id}.log`, async function* (signal) {
        for await (const event of service.logs(params.id, follow, signal)) if (event.type === 'log') yield event.chunk.text;
      });
      return;
    }
    const sse = openSse(ctx);
    void (async () => {
      try {
        for await (const event of service.logs(params.id, query.follow ?? true, sse.signal)) {
          if (event.type === 'log') sse.send('log', event.chunk);
          else sse.send('end', { status: event.status });
        }
      } catch (err) {
        sse.send('error', { message: err instanceof Error ? err.message : String(err) });
      } finally {
        sse.close();
      }
    })();
  });
}
