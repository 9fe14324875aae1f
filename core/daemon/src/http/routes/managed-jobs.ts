import type Router from '@koa/router';
import { ROUTES } from '@sky/protocol';
import type { ManagedJobService } from '../../managed-jobs/managed-job-service.js';
import type { ManagedJobLogs, ManagedLogEvent } from '../../managed-jobs/managed-job-logs.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { streamLog } from '../sse.js';
import { jobLineText, sendTextLog } from '../text-log.js';
import { policyOf } from '../access.js';

export interface ManagedJobRouteDeps {
  service: ManagedJobService;
  logs: ManagedJobLogs;
  maxBodyBytes: number;
}

/** Managed jobs: the queue (-u), one job with its controller log, and its log stream. */
export function managedJobRoutes(router: Router, deps: ManagedJobRouteDeps): void {
  const { service, logs, maxBodyBytes } = deps;
  bindRoute(router, ROUTES.listManagedJobs, maxBodyBytes, async (ctx, { query }) => {
    // Assembled from the view's serialised records (the hot path of sky jobs queue -u); the shape is ManagedJobList.
    ctx.type = 'application/json';
    ctx.body = await service.listJson(callerOf(ctx), query);
  });
  bindRoute(router, ROUTES.getManagedJob, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await service.detail(callerOf(ctx), params.id);
  });
  bindRoute(router, ROUTES.managedJobLogs, maxBodyBytes, async (ctx, { params, query }) => {
    const caller = callerOf(ctx);
    const job = await service.visible(caller, params.id, 'jobs.logs');
    await policyOf(ctx).assertManagedJobLog(caller, job, { action: 'jobs.logs', target: String(params.id) });
    const text = query.format === 'text';
    const follow = query.follow ?? !text;
    const events = (signal: AbortSignal): AsyncIterable<ManagedLogEvent> => (query.controller ? logs.controllerLog(params.id, follow, signal) : logs.task(params.id, follow, signal));
    if (text) {
      sendTextLog(ctx, `managed-job-${params.id}${query.controller ? '-controller' : ''}.log`, async function* (signal) {
        for await (const event of events(signal)) if (event.type === 'log') yield jobLineText(event.line, undefined);
      });
      return;
    }
    streamLog(ctx, events);
  });
}
