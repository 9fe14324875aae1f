import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { ServeService } from '../../serve/serve-service.js';
import type { ServiceLogEvent, ServiceLogs } from '../../serve/service-logs.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { streamLog } from '../sse.js';
import { policyOf } from '../access.js';

export interface ServiceRouteDeps {
  service: ServeService;
  logs: ServiceLogs;
  maxBodyBytes: number;
}

/** Services: the list (-u), one service with its controller log, and its log streams. */
export function serviceRoutes(router: Router, deps: ServiceRouteDeps): void {
  const { service, logs, maxBodyBytes } = deps;
  bindRoute(router, ROUTES.listServices, maxBodyBytes, async (ctx, { query }) => {
    ctx.body = { items: await service.list(callerOf(ctx), query.all_users === true) };
  });
  bindRoute(router, ROUTES.getService, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await service.detail(callerOf(ctx), params.name);
  });
  bindRoute(router, ROUTES.setServiceToken, maxBodyBytes, async (ctx, { params, body }) => {
    ctx.body = await service.setToken(callerOf(ctx), params.name, body.enable);
  });
  bindRoute(router, ROUTES.serviceLogs, maxBodyBytes, async (ctx, { params, query }) => {
    const caller = callerOf(ctx);
    const record = await service.visible(caller, params.name, 'serve.logs');
    if (!policyOf(ctx).mayReadServiceLogs(caller, record)) {
      throw await policyOf(ctx).refuse(caller, { action: 'serve.logs', target: params.name }, `service ${params.name} belongs to ${record.userName}: only they or an admin may read its logs`, 'Ask its owner or an admin.');
    }
    const follow = query.follow ?? true;
    const events = (signal: AbortSignal): AsyncIterable<ServiceLogEvent> =>
      query.replica_id !== undefined ? logs.replica(params.name, query.replica_id, follow, signal) : logs.controllerLog(params.name, query.load_balancer === true, follow, signal);
    streamLog(ctx, events);
  });
}
