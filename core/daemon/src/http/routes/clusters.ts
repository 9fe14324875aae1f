import type Router from '@koa/router';
import { ROUTES, SkyError, type JobList } from '@sky/protocol';
import type { StateStore } from '@sky/plugin-api';
import type { StatusView } from '../../clusters/status-view.js';
import type { JobLogs } from '../../clusters/job-logs.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { openSse } from '../sse.js';

export interface ClusterRouteDeps {
  view: StatusView;
  store: StateStore;
  logs: JobLogs;
  enabledInfra: () => Promise<string[]>;
  maxBodyBytes: number;
}

/** Clusters (from the status view), job queues and job logs. */
export function clusterRoutes(router: Router, deps: ClusterRouteDeps): void {
  const { view, store, logs, maxBodyBytes } = deps;
  bindRoute(router, ROUTES.listClusters, maxBodyBytes, async (ctx, { query }) => {
    // Same shape as ClusterList, assembled from the view's cached record JSON (the hot path of sky status -u).
    const items = view.listJson(query.all_users ? undefined : callerOf(ctx).id, query.names, query.summary === true);
    ctx.type = 'application/json';
    ctx.body = `{"items":${items},"enabledInfra":${JSON.stringify(await deps.enabledInfra())}}`;
  });
  bindRoute(router, ROUTES.getCluster, maxBodyBytes, async (ctx, { params }) => {
    const cluster = view.get(params.name);
    if (!cluster) throw new SkyError('CLUSTER_NOT_FOUND', `cluster ${params.name} does not exist`, { hint: 'List clusters with: sky status -u' });
    ctx.body = cluster;
  });
  bindRoute(router, ROUTES.listJobs, maxBodyBytes, async (ctx, { params, query }) => {
    if (!view.get(params.name)) throw new SkyError('CLUSTER_NOT_FOUND', `cluster ${params.name} does not exist`, { hint: 'List clusters with: sky status -u' });
    const statuses = query.status ?? (query.skip_finished ? (['PENDING', 'SETTING_UP', 'RUNNING'] as const) : undefined);
    let items = await store.jobs.list(params.name, statuses ? { status: statuses } : {});
    if (!query.all_users) items = items.filter((j) => j.user === callerOf(ctx).id);
    const body: JobList = { items };
    ctx.body = body;
  });
  bindRoute(router, ROUTES.jobLogs, maxBodyBytes, async (ctx, { params, query }) => {
    const caller = callerOf(ctx);
    const job = await store.jobs.get(params.name, params.job);
    if (job && caller.role !== 'admin' && job.user !== caller.id && view.get(params.name)?.owner !== caller.id) {
      throw new SkyError('FORBIDDEN', `job ${params.job} on ${params.name} belongs to ${job.userName}: only they, the cluster owner or an admin may read its log`);
    }
    const stream = logs.stream(params.name, params.job, query.follow ?? true, query.tail, new AbortController().signal);
    const first = await stream.next(); // errors (unknown cluster or job) answer 404 before the stream opens
    const sse = openSse(ctx);
    void (async () => {
      try {
        for (let item = first; !item.done && !sse.signal.aborted; item = await stream.next()) {
          const event = item.value;
          if (event.type === 'log') sse.send('log', event.line);
          else sse.send('end', { status: event.status });
        }
      } catch (err) {
        sse.send('error', { message: err instanceof Error ? err.message : String(err) });
      } finally {
        await stream.return(undefined);
        sse.close();
      }
    })();
  });
}
