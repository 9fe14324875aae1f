import type Router from '@koa/router';
import { ROUTES, type ClusterRecord, type JobList, type JobRecord } from '@sky/protocol';
import type { StateStore } from '@sky/plugin-api';
import type { StatusView } from '../../clusters/status-view.js';
import type { JobLogs } from '../../clusters/job-logs.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { streamLog } from '../sse.js';
import { jobLineText, sendTextLog } from '../text-log.js';
import { policyOf } from '../access.js';
import { clusterNotFound } from '../../clusters/cluster-updates.js';

export interface ClusterRouteDeps {
  view: StatusView;
  store: StateStore;
  logs: JobLogs;
  enabledInfra: () => Promise<string[]>;
  maxBodyBytes: number;
}

/** A job as others see it: without its command line (nor its name when that is the command). */
export function withoutCommand(job: JobRecord): JobRecord {
  const { command, name, ...rest } = job;
  if (command === undefined) return job;
  return name !== undefined && name !== command ? { ...rest, name } : rest;
}

/** Clusters (from the status view), job queues and job logs. */
export function clusterRoutes(router: Router, deps: ClusterRouteDeps): void {
  const { view, store, logs, maxBodyBytes } = deps;
  bindRoute(router, ROUTES.listClusters, maxBodyBytes, async (ctx, { query }) => {
    // Same shape as ClusterList, assembled from the view's cached record JSON (the hot path of sky status -u).
    const viewer = await policyOf(ctx).clusterListing(callerOf(ctx));
    const owner = query.all_users ? undefined : callerOf(ctx).id;
    if (query.format === 'columns') {
      const { count, json } = view.listColumnsJson(owner, query.names, viewer);
      ctx.type = 'application/json';
      ctx.body = `{"count":${count},"columns":${json},"enabledInfra":${JSON.stringify(await deps.enabledInfra())}}`;
      return;
    }
    const items = view.listJson(owner, query.names, query.summary === true, viewer);
    ctx.type = 'application/json';
    ctx.body = `{"items":${items},"enabledInfra":${JSON.stringify(await deps.enabledInfra())}}`;
  });
  /** The cluster, once the caller may look at it (404, or 403 in a private workspace they are not in). */
  const visible = async (ctx: Parameters<typeof callerOf>[0], name: string, action: string): Promise<ClusterRecord> => {
    const cluster = view.get(name);
    if (!cluster) throw clusterNotFound(name);
    await policyOf(ctx).assertClusterVisible(callerOf(ctx), cluster, { action, target: name });
    return cluster;
  };
  bindRoute(router, ROUTES.getCluster, maxBodyBytes, async (ctx, { params }) => {
    const cluster = await visible(ctx, params.name, 'cluster.read');
    if (cluster.lastCommand === undefined || policyOf(ctx).mayReadClusterCommand(callerOf(ctx), cluster)) ctx.body = cluster;
    else {
      const { lastCommand: _command, ...rest } = cluster;
      ctx.body = rest;
    }
  });
  bindRoute(router, ROUTES.listJobs, maxBodyBytes, async (ctx, { params, query }) => {
    const cluster = await visible(ctx, params.name, 'jobs.read');
    const statuses = query.status ?? (query.skip_finished ? (['PENDING', 'SETTING_UP', 'RUNNING'] as const) : undefined);
    let items = await store.jobs.list(params.name, statuses ? { status: statuses } : {});
    const caller = callerOf(ctx);
    if (!query.all_users) items = items.filter((j) => j.user === caller.id);
    const policy = policyOf(ctx);
    const body: JobList = { items: items.map((j) => (policy.mayReadJob(caller, cluster, j) ? j : withoutCommand(j))) };
    ctx.body = body;
  });
  bindRoute(router, ROUTES.jobLogs, maxBodyBytes, async (ctx, { params, query }) => {
    const cluster = await visible(ctx, params.name, 'job.logs');
    const job = await store.jobs.get(params.name, params.job);
    if (job) await policyOf(ctx).assertJobLog(callerOf(ctx), cluster, job, { action: 'job.logs', target: `${params.name}/${params.job}` });
    // Errors (unknown cluster or job) answer 404 before the stream opens; then it opens at once,
    // heartbeats included, whether or not the job has written anything yet.
    if (query.format === 'text') {
      const open = await logs.open(params.name, params.job, query.follow ?? false, query.tail);
      const addresses = cluster.nodes.map((n) => n.address);
      const numNodes = job?.numNodes;
      sendTextLog(ctx, `${params.name}-${params.job}.log`, async function* (signal) {
        for await (const event of open(signal)) if (event.type === 'log') yield jobLineText(event.line, numNodes ?? 1, addresses);
      });
      return;
    }
    const follow = await logs.open(params.name, params.job, query.follow ?? true, query.tail);
    streamLog(ctx, follow);
  });
}
