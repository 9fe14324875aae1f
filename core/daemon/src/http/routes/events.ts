import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import { KEEPALIVE_MS, RETRY_MS, resumePosition, type EventStreams } from '../../events/event-streams.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { openSse } from '../sse.js';

/** The event stream: changes of clusters, jobs, managed jobs and requests the caller may see. */
export function eventRoutes(router: Router, streams: EventStreams, maxBodyBytes: number): void {
  bindRoute(router, ROUTES.streamEvents, maxBodyBytes, async (ctx, { query }) => {
    const caller = callerOf(ctx);
    // Bad positions and policy failures answer as HTTP errors, before the stream opens.
    const after = resumePosition(ctx.get('last-event-id'), query.after);
    const view = await streams.view(caller, query.all_users === true);
    void streams.run((heartbeat) => openSse(ctx, { retryMs: RETRY_MS, heartbeatMs: KEEPALIVE_MS, heartbeat }), caller, view, after);
  });
}
