import { createHash } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { terminateEndsJobs, type StateStore } from '@sky/plugin-api';
import {
  decideFields,
  isJobTerminal,
  parseTask,
  SkyError,
  validateClusterName,
  type AutostopBody,
  type CancelJobsBody,
  type CancelJobsResult,
  type ClusterRecord,
  type ClusterResult,
  type ExecBody,
  type ExecResult,
  type JobSpec,
  type LaunchBody,
  type LaunchResult,
  type RequestRecord,
  type Task,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { AfterRestart, OperationContext } from '../ops/registry.js';
import { ClusterGate } from './cluster-gate.js';
import { assertNotReserved, userNamePart } from './reserved-names.js';
import { clusterNotFound, ClusterUpdates } from './cluster-updates.js';
import { submittedTask, submittedUploads } from './submitted-task.js';
import { callDriver } from './driver-calls.js';
import { JobQueue } from './job-queue.js';
import { provisioned, Provisioner, type Progress } from './provisioner.js';
import type { Candidate } from './provisioner.js';
import { infraAllowed, WorkspaceService } from '../auth/workspace-service.js';
import { AccessPolicy } from '../auth/policy.js';
import { describeNodes, fieldsForNodes, jobDemand, primaryFields, unmetByCluster } from './resources.js';
import { NO_FILES, TaskFilesResolver } from '../uploads/task-files.js';

function progressOf(ctx: OperationContext): Progress {
  return { signal: ctx.signal, log: (line) => void ctx.log(line) };
}

function specOf(task: Task, withSetup: boolean): JobSpec {
  const strings = (m: Record<string, string | null>): Record<string, string> =>
    Object.fromEntries(Object.entries(m).filter((e): e is [string, string] => e[1] !== null));
  return {
    ...(withSetup && task.setup !== undefined ? { setup: task.setup } : {}),
    ...(task.run !== undefined ? { run: task.run } : {}),
    envs: strings(task.envs),
    secrets: strings(task.secrets),
    ...(task.workdir !== undefined ? { workdir: task.workdir } : {}),
    fileMounts: { ...task.file_mounts },
  };
}

/** The name of a cluster launched without one: derived from the request, so a resumed launch finds the cluster it made. */
function generatedName(request: Pick<RequestRecord, 'id' | 'userName'>): string {
  return `sky-${createHash('sha256').update(request.id).digest('hex').slice(0, 4)}-${userNamePart(request.userName)}`;
}

function assertUp(cluster: ClusterRecord): void {
  if (cluster.status === 'UP') return;
  throw new SkyError('CLUSTER_NOT_UP', `cluster ${cluster.name} is ${cluster.status}`, {
    hint: cluster.status === 'STOPPED' ? `Start it with: sky start ${cluster.name}` : 'Wait until it is UP (sky status).',
  });
}

/**
 * Use cases on clusters and their job queues: launch, exec, stop, start, down, autostop, cancel.
 * Per cluster, they take turns through the cluster gate (launch/start/stop/down exclusive,
 * exec and cancel shared), and every change of a cluster record (autostop's too) goes through
 * the one cluster writer, which merges concurrent changes.
 */
@injectable()
export class ClusterService {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(Provisioner) private readonly provisioner: Provisioner,
    @inject(JobQueue) private readonly jobs: JobQueue,
    @inject(WorkspaceService) private readonly workspaces: WorkspaceService,
    @inject(TaskFilesResolver) private readonly taskFiles: TaskFilesResolver,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(ClusterGate) private readonly gate: ClusterGate,
    @inject(ClusterUpdates) private readonly updates: ClusterUpdates,
  ) {}

  /** A cluster the request's user may change (the access policy decides: owner or admin, in a workspace they may use). */
  private async owned(ctx: OperationContext, name: string): Promise<ClusterRecord> {
    const cluster = await this.store.clusters.get(name);
    if (!cluster) throw clusterNotFound(name);
    await this.policy.assertOperateCluster(await this.policy.actorOf(ctx.request), cluster, { action: ctx.request.name, target: name, requestId: ctx.request.id });
    return cluster;
  }

  /**
   * The candidates the request's workspace may use: a driver entry (`ssh`) admits its every
   * pool, a pool entry (`ssh/gpu-a`) admits that pool (and narrows a task that named only the driver).
   */
  private async workspaceCandidates(ctx: OperationContext, cluster: string, candidates: Candidate[]): Promise<Candidate[]> {
    const workspace = ctx.request.workspace;
    const allowed = await this.workspaces.allowedInfra(workspace);
    if (allowed === undefined) return candidates;
    const kept: Candidate[] = [];
    for (const c of candidates) {
      if (infraAllowed(allowed, c.driverId, c.infra)) kept.push(c);
      else if (c.infraRest === undefined) {
        for (const entry of allowed) {
          if (entry.startsWith(`${c.driverId}/`)) kept.push({ ...c, infra: entry, infraRest: entry.slice(c.driverId.length + 1) });
        }
      }
    }
    if (kept.length === 0) {
      const wanted = [...new Set(candidates.map((c) => c.infra))].join(', ');
      throw await this.policy.refuse(
        await this.policy.actorOf(ctx.request),
        { action: ctx.request.name, target: cluster, requestId: ctx.request.id },
        `workspace ${workspace} may only use ${allowed.join(', ')}, not ${wanted}`,
        `Launch with --infra ${allowed[0]!}, or in another workspace (--workspace).`,
        { workspace, allowedInfra: [...allowed] },
      );
    }
    return kept;
  }

  async launch(ctx: OperationContext, body: LaunchBody, options: LaunchOptions = {}): Promise<LaunchResult> {
    const task = submittedTask(body.task);
    const name = body.cluster ?? generatedName(ctx.request);
    validateClusterName(name);
    if (options.tagOnly !== true) assertNotReserved(name);
    const owner = { id: ctx.request.user, name: ctx.request.userName, workspace: ctx.request.workspace };
    // Checked again now that it runs: uploads must still be the caller's, server paths still allowed.
    const files = body.dryrun ? NO_FILES : await this.taskFiles.forRun(task, submittedUploads(body.uploads, task), owner);
    // Refused before it waits for its turn (so another user's launches never hold the owner's requests up), checked again in it.
    const existing = await this.store.clusters.get(name);
    if (existing) await this.assertMayLaunchOn(ctx, existing);
    return this.gate.exclusive(name, async () => {
      let cluster = await this.store.clusters.get(name);
      if (cluster) {
        await this.assertMayLaunchOn(ctx, cluster);
        const unmet = unmetByCluster(cluster.nodes, task.num_nodes, jobDemand(fieldsForNodes(task, cluster.nodes)));
        if (unmet) {
          throw new SkyError('RESOURCES_UNAVAILABLE', `cluster ${name} cannot run this task: ${unmet}`, {
            hint: 'Launch it on a new cluster (another -c name), or ask for less.',
          });
        }
        const decision = decideFields(primaryFields(task), cluster.driver);
        if (decision.refusals.length > 0) {
          throw new SkyError('RESOURCES_UNAVAILABLE', `cluster ${name} cannot run this task: ${decision.refusals.join('; ')}`, {
            hint: 'Change or remove the resource fields named above.',
          });
        }
        const plan = { driver: cluster.driver, infra: cluster.infra, numNodes: cluster.numNodes, resources: cluster.resources, existing: true, ...planWarnings(decision.warnings) };
        if (body.dryrun) return { cluster: name, plan };
        if (cluster.status === 'INIT') {
          throw new SkyError('CLUSTER_NOT_UP', `cluster ${name} is INIT (${cluster.statusReason ?? 'provisioning'})`, {
            hint: `Wait for it, or tear it down with: sky down ${name}`,
          });
        }
        if (cluster.status === 'STOPPED') cluster = await this.startLocked(cluster, progressOf(ctx));
        await ctx.log(`Reusing cluster ${name} (${cluster.resources}).`);
        await this.provisioner.prepare(cluster.nodes, files, progressOf(ctx));
      } else {
        // The same capacity decision for a dry run and a launch: what no node of the infra has is refused here.
        const allowed = await this.workspaceCandidates(ctx, name, this.provisioner.candidates(task));
        const { candidates, refused } = await this.provisioner.feasible(task, options.order ? options.order(allowed) : allowed, progressOf(ctx));
        const first = candidates[0]!;
        const plan = { driver: first.driverId, infra: first.infra, numNodes: task.num_nodes, resources: describePlan(first.infra, task), existing: false, ...planWarnings(first.warnings) };
        if (body.dryrun) return { cluster: name, plan };
        cluster = await this.provisioner.provision(name, owner, task, candidates, progressOf(ctx), files, refused);
      }
      const autostop = launchAutostop(body, task);
      if (autostop !== undefined) cluster = (await this.updates.update(name, () => autostop)) ?? cluster;
      const warnings = decideFields(primaryFields(task), cluster.driver).warnings;
      const plan = { ...launchPlan(cluster), ...planWarnings(warnings) };
      if (task.setup === undefined && task.run === undefined) return { cluster: name, plan };
      const demand = jobDemand(fieldsForNodes(task, cluster.nodes));
      const job = await this.jobs.submit(cluster, { ...this.newJob(ctx, task, demand), ...(options.tagOnly ? { attachToRequest: false } : {}) }, specOf(task, true), ctx.signal);
      await queuedLog(ctx, `Job ${job.id} submitted to cluster ${name}.`);
      return { cluster: name, jobId: job.id, plan };
    }, ctx.signal);
  }

  private async assertMayLaunchOn(ctx: OperationContext, cluster: ClusterRecord): Promise<void> {
    if (cluster.owner !== ctx.request.user) {
      throw new SkyError('CLUSTER_NAME_TAKEN', `cluster name ${cluster.name} is used by ${cluster.ownerName}`, {
        hint: 'Choose another cluster name with -c.',
      });
    }
    await this.policy.assertOperateCluster(await this.policy.actorOf(ctx.request), cluster, { action: 'launch', target: cluster.name, requestId: ctx.request.id });
  }

  /** The result of a launch that queued its job but did not return (Scheduler: after a restart, an abort or a late failure). */
  async launchResultWithJob(request: RequestRecord): Promise<LaunchResult> {
    const job = request.job!;
    const cluster = await this.store.clusters.get(job.cluster);
    if (cluster) return { cluster: job.cluster, jobId: job.id, plan: launchPlan(cluster) };
    // Torn down since (the plan is a summary only): say what the task asked for.
    let numNodes = 1;
    try {
      numNodes = parseTask((request.body as LaunchBody).task, 'body.task').num_nodes;
    } catch {
      // a body that no longer parses keeps the default
    }
    return { cluster: job.cluster, jobId: job.id, plan: { driver: '-', infra: '-', numNodes, resources: '-', existing: false } };
  }

  /**
   * A launch found RUNNING without a job after a restart. Provisioning is keyed by the cluster
   * name (derived from the request when it had none) and reuses what exists, so it runs again,
   * unless the daemon died while provisioning: the cluster is left INIT, nodes may exist, and
   * the launch fails saying so.
   */
  async launchAfterRestart(request: RequestRecord): Promise<AfterRestart> {
    const body = request.body as Partial<LaunchBody>;
    const name = body.cluster ?? generatedName(request);
    const cluster = body.dryrun ? undefined : await this.store.clusters.get(name);
    if (cluster?.status !== 'INIT' || cluster.owner !== request.user) return { resume: true };
    return {
      resume: false,
      error: {
        code: 'DAEMON_RESTARTED',
        message: `the daemon restarted while cluster ${name} was being provisioned on ${cluster.infra}; the cluster is left INIT and nodes may exist; no job was queued`,
        hint: `Tear it down with: sky down ${name}, then launch again.`,
        details: { cluster: name, created: ['cluster record (INIT)'], jobQueued: false },
      },
    };
  }

  private newJob(ctx: OperationContext, task: Task, demand: ReturnType<typeof jobDemand>) {
    return {
      user: ctx.request.user,
      userName: ctx.request.userName,
      numNodes: task.num_nodes,
      demand,
      requestId: ctx.request.id,
      ...(task.name !== undefined ? { name: task.name } : {}),
      ...(task.run !== undefined ? { command: task.run.split('\n')[0]!.slice(0, 200) } : {}),
    };
  }

  async exec(ctx: OperationContext, body: ExecBody, options: Pick<LaunchOptions, 'tagOnly'> = {}): Promise<ExecResult> {
    const task = submittedTask(body.task);
    const checked = await this.owned(ctx, body.cluster);
    // Provisioning takes minutes: fail at once rather than hold a worker. A stopped cluster may
    // have a start ahead of this exec in its line, so that is decided when the exec's turn comes.
    if (checked.status === 'INIT') assertUp(checked);
    const demand = jobDemand(fieldsForNodes(task, checked.nodes));
    const refusals = decideFields(primaryFields(task), checked.driver).refusals;
    if (refusals.length > 0) throw new SkyError('RESOURCES_UNAVAILABLE', `cluster ${body.cluster} cannot run this task: ${refusals.join('; ')}`);
    const unmet = unmetByCluster(checked.nodes, task.num_nodes, demand);
    if (unmet) throw new SkyError('RESOURCES_UNAVAILABLE', `cluster ${body.cluster} cannot run this task: ${unmet}`);
    const files = await this.taskFiles.forRun(task, submittedUploads(body.uploads, task), { id: ctx.request.user, name: ctx.request.userName });
    return this.gate.shared(body.cluster, async () => {
      // A stop, down or relaunch may have had its turn while this waited: look again.
      let cluster = await this.store.clusters.get(body.cluster);
      if (!cluster) throw clusterNotFound(body.cluster);
      if (cluster.clusterId !== checked.clusterId) cluster = await this.owned(ctx, body.cluster);
      assertUp(cluster);
      if (files.workdir !== undefined || files.mounts.length > 0) await this.provisioner.prepare(cluster.nodes, files, progressOf(ctx));
      const job = await this.jobs.submit(cluster, { ...this.newJob(ctx, task, demand), ...(options.tagOnly ? { attachToRequest: false } : {}) }, specOf(task, false), ctx.signal);
      await queuedLog(ctx, `Job ${job.id} submitted to cluster ${body.cluster}.`);
      return { cluster: body.cluster, jobId: job.id };
    }, ctx.signal);
  }

  async stop(ctx: OperationContext, name: string): Promise<ClusterResult> {
    // Refused before it waits for its turn (so another user's refused requests never hold the owner's up), checked again in it.
    await this.owned(ctx, name);
    return this.gate.exclusive(name, async () => {
      const cluster = await this.owned(ctx, name);
      if (cluster.status === 'STOPPED') return { cluster: name, status: 'STOPPED' };
      if (cluster.status === 'INIT') throw new SkyError('CLUSTER_NOT_UP', `cluster ${name} is INIT; it cannot be stopped`, { hint: `Tear it down with: sky down ${name}` });
      await this.cancelActive(cluster);
      await ctx.log(`Stopping cluster ${name}...`);
      await callDriver(cluster.driver, this.provisioner.driver(cluster.driver), 'stop', progressOf(ctx), (d, o) => d.stop(provisioned(cluster), o));
      await this.updates.update(name, () => ({ status: 'STOPPED', statusReason: undefined }));
      await ctx.log(`Cluster ${name} stopped.`);
      return { cluster: name, status: 'STOPPED' };
    }, ctx.signal);
  }

  async start(ctx: OperationContext, name: string): Promise<ClusterResult> {
    await this.owned(ctx, name);
    return this.gate.exclusive(name, async () => {
      const cluster = await this.owned(ctx, name);
      if (cluster.status === 'UP') return { cluster: name, status: 'UP' };
      if (cluster.status === 'INIT') throw new SkyError('CLUSTER_NOT_UP', `cluster ${name} is INIT; it cannot be started`, { hint: `Tear it down with: sky down ${name}` });
      await this.startLocked(cluster, progressOf(ctx));
      return { cluster: name, status: 'UP' };
    }, ctx.signal);
  }

  private async startLocked(cluster: ClusterRecord, progress: Progress): Promise<ClusterRecord> {
    progress.log(`Starting cluster ${cluster.name}...`);
    const result = await callDriver(cluster.driver, this.provisioner.driver(cluster.driver), 'start', progress, (d, o) => d.start(provisioned(cluster), o));
    const nodes = result.nodes.map((n, i) => ({ ...cluster.nodes[i]!, address: n.address, resources: n.resources }));
    await this.provisioner.prepare(nodes, NO_FILES, progress);
    const up = await this.updates.update(cluster.name, () => ({
      status: 'UP',
      statusReason: undefined,
      nodes,
      driverState: result.state,
      resources: describeNodes(cluster.infra, nodes),
      lastActiveAt: this.clock.now(),
    }));
    if (!up) throw clusterNotFound(cluster.name);
    progress.log(`Cluster ${cluster.name} is UP.`);
    await this.jobs.schedule(cluster.name);
    return up;
  }

  async down(ctx: OperationContext, name: string): Promise<ClusterResult> {
    // Run again after a restart (or a hand-back at shutdown), a down that already removed the cluster is done.
    const gone = async (): Promise<boolean> => ctx.request.attempts > 1 && (await this.store.clusters.get(name)) === undefined;
    if (!(await gone())) await this.owned(ctx, name);
    return this.gate.exclusive(name, async () => {
      if (await gone()) return { cluster: name, status: 'TERMINATED' };
      const cluster = await this.owned(ctx, name);
      // A driver whose terminate ends the nodes' processes needs no runtime command per node first.
      if (cluster.status === 'UP' && !terminateEndsJobs(this.provisioner.driver(cluster.driver))) await this.cancelActive(cluster);
      await ctx.log(`Tearing down cluster ${name}...`);
      await this.provisioner.terminate(cluster, progressOf(ctx));
      await this.store.clusters.delete(name);
      await ctx.log(`Cluster ${name} terminated.`);
      return { cluster: name, status: 'TERMINATED' };
    }, ctx.signal);
  }

  /**
   * Tear a cluster down on the daemon's own behalf (a managed job's cluster once its task is
   * over): no owner check, since the daemon made it; true when there was one to tear down.
   */
  async teardown(name: string, progress: Progress): Promise<boolean> {
    return this.gate.exclusive(name, async () => {
      const cluster = await this.store.clusters.get(name);
      if (!cluster) return false;
      if (cluster.status === 'UP' && !terminateEndsJobs(this.provisioner.driver(cluster.driver))) await this.cancelActive(cluster);
      await this.provisioner.terminate(cluster, progress);
      await this.store.clusters.delete(name);
      return true;
    }, progress.signal);
  }

  async autostop(ctx: OperationContext, body: AutostopBody): Promise<ClusterResult> {
    const cluster = await this.owned(ctx, body.cluster);
    if (!body.cancel && body.idle_minutes === undefined) {
      throw new SkyError('VALIDATION_FAILED', 'autostop needs idle_minutes, or cancel: true', { hint: 'sky autostop NAME -i MINUTES [--down], or --cancel' });
    }
    const now = this.clock.now();
    const updated = await this.updates.update(cluster.name, () =>
      body.cancel ? { autostop: undefined } : { autostop: { idleMinutes: body.idle_minutes!, down: body.down ?? false }, lastActiveAt: now },
    );
    await ctx.log(body.cancel ? `Autostop of ${cluster.name} cancelled.` : `Cluster ${cluster.name} will ${body.down ? 'be torn down' : 'stop'} after ${body.idle_minutes} idle minute(s).`);
    return { cluster: cluster.name, status: updated?.status ?? cluster.status };
  }

  async cancelJobs(ctx: OperationContext, body: CancelJobsBody): Promise<CancelJobsResult> {
    return this.gate.shared(body.cluster, () => this.cancelJobsNow(ctx, body), ctx.signal);
  }

  private async cancelJobsNow(ctx: OperationContext, body: CancelJobsBody): Promise<CancelJobsResult> {
    const cluster = await this.store.clusters.get(body.cluster);
    if (!cluster) throw clusterNotFound(body.cluster);
    let targets;
    if (body.job_ids && body.job_ids.length > 0) {
      targets = [];
      for (const id of body.job_ids) {
        const job = await this.store.jobs.get(body.cluster, id);
        if (!job) throw new SkyError('JOB_NOT_FOUND', `cluster ${body.cluster} has no job ${id}`, { hint: `List its jobs with: sky queue ${body.cluster}` });
        targets.push(job);
      }
    } else if (body.all) {
      const active = await this.store.jobs.list(body.cluster, { status: ['PENDING', 'SETTING_UP', 'RUNNING'] });
      targets = body.all_users ? active : active.filter((j) => j.user === ctx.request.user);
    } else {
      throw new SkyError('VALIDATION_FAILED', 'cancel needs job_ids, or all: true', { hint: 'sky cancel NAME JOB_ID... or sky cancel NAME -a' });
    }
    await this.policy.assertCancelJobs(await this.policy.actorOf(ctx.request), cluster, targets, { action: 'cancel', target: body.cluster, requestId: ctx.request.id });
    const finished = targets.filter((j) => isJobTerminal(j.status)).map((j) => j.id);
    const cancelled = await this.jobs.cancel(cluster, targets.filter((j) => !isJobTerminal(j.status)));
    for (const id of cancelled) await ctx.log(`Cancelled job ${id} on ${body.cluster}.`);
    return { cluster: body.cluster, cancelled, alreadyFinished: finished };
  }

  /**
   * Ask the drivers for the real state of the caller's clusters (or everyone's: the route table
   * makes all_users admin-only) and record it; clusters the caller may not change are skipped.
   */
  async refresh(ctx: OperationContext, body: { clusters?: string[]; all_users?: boolean }): Promise<{ refreshed: string[] }> {
    const actor = await this.policy.actorOf(ctx.request);
    const all = await this.store.clusters.list(body.all_users ? undefined : { owner: ctx.request.user });
    const chosen = body.clusters && body.clusters.length > 0 ? all.filter((c) => body.clusters!.includes(c.name)) : all;
    const refreshed: string[] = [];
    for (const cluster of chosen.filter((c) => c.status !== 'INIT')) {
      if (!(await this.policy.mayOperateCluster(actor, cluster))) continue;
      const reports = await callDriver(cluster.driver, this.provisioner.driver(cluster.driver), 'status', progressOf(ctx), (d, o) => d.status(provisioned(cluster), o));
      const statuses = new Set(reports.map((r) => r.status));
      const problems = reports.filter((r) => r.status !== (cluster.status === 'UP' ? 'UP' : 'STOPPED'));
      const reason = problems.length === 0 ? undefined : problems.map((r) => `node ${r.nodeId} ${r.status}${r.reason ? `: ${r.reason}` : ''}`).join('; ');
      const status = statuses.size === 1 && statuses.has('STOPPED') ? 'STOPPED' : cluster.status;
      await this.updates.update(cluster.name, (c) => (c.status === status && c.statusReason === reason ? undefined : { status, statusReason: reason }));
      await ctx.log(`${cluster.name}: ${status}${reason ? ` (${reason})` : ''}`);
      refreshed.push(cluster.name);
    }
    return { refreshed };
  }

  private async cancelActive(cluster: ClusterRecord): Promise<void> {
    const active = await this.store.jobs.list(cluster.name, { status: ['PENDING', 'SETTING_UP', 'RUNNING'] });
    if (active.length > 0) await this.jobs.cancel(cluster, active);
  }
}

/** How a launch made for the daemon itself (a managed job's attempt) differs from a user's launch request. */
export interface LaunchOptions {
  /** The request id only tags the queued job; no stored request records it (ctx.request is not stored). */
  tagOnly?: boolean;
  /** Reorder the candidates the workspace allows before the capacity check (recovery strategies). */
  order?: (candidates: Candidate[]) => Candidate[];
}

function launchPlan(cluster: ClusterRecord): LaunchResult['plan'] {
  return { driver: cluster.driver, infra: cluster.infra, numNodes: cluster.numNodes, resources: cluster.resources, existing: false };
}

/** Only a non-empty list goes into the plan. */
function planWarnings(warnings: readonly string[]): { warnings?: string[] } {
  return warnings.length > 0 ? { warnings: [...warnings] } : {};
}

/**
 * The cluster's autostop after a launch: -i / --down win; else resources.autostop from the task
 * (false turns it off); else it is left as it is.
 */
function launchAutostop(body: LaunchBody, task: Task): { autostop: { idleMinutes: number; down: boolean } | undefined } | undefined {
  if (body.idle_minutes_to_autostop !== undefined) return { autostop: { idleMinutes: body.idle_minutes_to_autostop, down: body.down ?? false } };
  const fromTask = primaryFields(task).autostop;
  if (fromTask === undefined) return undefined;
  return { autostop: fromTask === false ? undefined : { ...fromTask } };
}

/** A line for the request log once its job is queued: the request's outcome is decided, so a log that cannot be written only warns. */
async function queuedLog(ctx: OperationContext, line: string): Promise<void> {
  await ctx.log(line).catch((err: unknown) => ctx.logger.warn({ err }, 'could not log that the job was queued'));
}

export function describePlan(infra: string, task: Task): string {
  const r = primaryFields(task);
  const parts = [r.cpus ? `cpus=${r.cpus.min}${r.cpus.orMore ? '+' : ''}` : undefined, r.memory ? `mem=${r.memory.min}${r.memory.orMore ? '+' : ''}GB` : undefined, ...(r.accelerators ?? []).slice(0, 1).map((a) => `${a.name}:${a.count}`)].filter(
    (p) => p !== undefined,
  );
  return `${task.num_nodes}x ${infra}(${parts.join(', ') || 'default'})`;
}
