import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { isJobTerminal, toSkyError, type ClusterRecord, type JobRecord, type JobSpec, type JobStatus, type NodeRecord, type NodeResources } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { TOKENS, type Clock } from '../tokens.js';
import { NodeRuntime, type JobState, type RankSpec } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { KeyedLock } from './cluster-lock.js';
import { ClusterUpdates } from './cluster-updates.js';
import { ClusterGate } from './cluster-gate.js';
import { fits, subtract } from './resources.js';
import { GpuPins } from './gpu-pins.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { openMap, sealMap } from '../secrets/sealed-values.js';

const ACTIVE_ON_NODES: readonly JobStatus[] = ['SETTING_UP', 'RUNNING'];
const POLL_MS = 1000;

export interface NewJob {
  name?: string;
  user: string;
  userName: string;
  numNodes: number;
  demand: NodeResources;
  command?: string;
  requestId?: string;
}

/** The job's directory name on its nodes: unique across incarnations of a cluster name. */
export function jobName(job: Pick<JobRecord, 'clusterId' | 'id'>): string {
  return `${job.clusterId}-${job.id}`;
}

/** Aggregate the ranks' states into the job's status (gang semantics: one failure fails the job). */
export function aggregate(states: readonly JobState[]): { status: JobStatus; reason?: string } {
  const has = (s: JobState['status']): boolean => states.some((r) => r.status === s);
  if (has('MISSING')) return { status: 'FAILED', reason: 'the job disappeared from a node (its files are gone)' };
  if (has('FAILED_SETUP')) return { status: 'FAILED_SETUP' };
  if (has('FAILED')) return { status: 'FAILED' };
  if (has('CANCELLED')) return { status: 'CANCELLED' };
  if (states.every((r) => r.status === 'SUCCEEDED')) return { status: 'SUCCEEDED' };
  if (has('RUNNING') || has('SUCCEEDED')) return { status: 'RUNNING' };
  return { status: 'SETTING_UP' };
}

/**
 * Each cluster's job queue: FIFO with resource fit, gang start of every rank, and a monitor
 * that reads the ranks' states from the nodes. The nodes keep the truth (status files, exit
 * codes, logs), so after a daemon restart the monitor simply picks the active jobs up again.
 */
@injectable()
export class JobQueue {
  private readonly lock = new KeyedLock();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /**
   * Nodes whose last status read failed to reach them, and since when, by cluster incarnation and
   * node (a host of a pool is a node of many clusters over time). An entry lives only while the
   * node keeps failing: it is dropped when the node answers again or its jobs are failed.
   */
  private readonly unreachableSince = new Map<string, number>();
  /**
   * Jobs whose ranks this daemon is starting right now (`cluster/id`): the monitor leaves them
   * alone until every rank has its files, or it would read a rank not yet written as gone.
   */
  private readonly starting = new Set<string>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(ClusterUpdates) private readonly updates: ClusterUpdates,
    @inject(ClusterGate) private readonly gate: ClusterGate,
  ) {}

  // ---- Queueing a job (submit): the store write, and the scheduling pass it asks for. ----

  /**
   * Queue a job. With `job.requestId` the job is recorded on that (RUNNING) request in the same
   * store write, so the request can never lose or duplicate it. Once the job is stored nothing
   * here fails the submit: marking the cluster active is merged into the cluster's next record
   * write, and the scheduling pass runs on its own (several submits share one pass).
   */
  async submit(cluster: ClusterRecord, job: NewJob, spec: JobSpec, signal?: AbortSignal): Promise<JobRecord> {
    signal?.throwIfAborted();
    const record = await this.store.jobs.create(
      {
        cluster: cluster.name,
        clusterId: cluster.clusterId,
        user: job.user,
        userName: job.userName,
        status: 'PENDING',
        submittedAt: this.clock.now(),
        numNodes: job.numNodes,
        demand: job.demand,
        ...(job.name !== undefined ? { name: job.name } : {}),
        ...(job.command !== undefined ? { command: job.command } : {}),
        ...(job.requestId !== undefined ? { requestId: job.requestId } : {}),
      },
      // Secrets are sealed at rest; startJob opens them for the nodes.
      { ...spec, secrets: sealMap(this.secrets, spec.secrets) },
      job.requestId !== undefined ? { request: job.requestId } : undefined,
    );
    const now = this.clock.now();
    await this.updates
      .update(cluster.name, () => ({ lastActiveAt: now, ...(job.command !== undefined ? { lastCommand: job.command } : {}) }))
      .catch((err: unknown) => this.logger.warn({ cluster: cluster.name, job: record.id, err }, 'could not mark the cluster active after queueing a job'));
    this.scheduleSoon(cluster.name);
    return record;
  }

  /** Clusters with a scheduling pass asked for by submit, and whether another is wanted after it. */
  private readonly passes = new Map<string, { again: boolean }>();

  /**
   * Run a scheduling pass for the cluster; submits arriving meanwhile share one more pass after
   * it. The pass takes its turn on the cluster like an exec, so a stop or down never runs while
   * it starts jobs there.
   */
  private scheduleSoon(clusterName: string): void {
    const pending = this.passes.get(clusterName);
    if (pending !== undefined) {
      pending.again = true;
      return;
    }
    const state = { again: false };
    this.passes.set(clusterName, state);
    void (async () => {
      try {
        do {
          state.again = false;
          await this.gate.shared(clusterName, () => this.schedule(clusterName));
        } while (state.again);
      } catch (err) {
        this.logger.warn({ cluster: clusterName, err }, 'scheduling pass after a submit failed; the job monitor schedules again');
      } finally {
        this.passes.delete(clusterName);
      }
    })();
  }

  // ---- Scheduling and monitoring. ----

  /** Start pending jobs, oldest first, while they fit; the first that does not fit blocks the rest (FIFO). */
  schedule(clusterName: string): Promise<void> {
    return this.lock.run(`schedule:${clusterName}`, async () => {
      const cluster = await this.store.clusters.get(clusterName);
      if (!cluster || cluster.status !== 'UP') return;
      const jobs = await this.store.jobs.list(clusterName, { status: ['PENDING', 'SETTING_UP', 'RUNNING'] });
      const free = cluster.nodes.map((n) => n.resources);
      const gpus = new GpuPins(cluster.nodes);
      for (const job of jobs) {
        if (!ACTIVE_ON_NODES.includes(job.status)) continue;
        for (let r = 0; r < job.numNodes && r < free.length; r++) free[r] = subtract(free[r]!, job.demand);
        gpus.hold(job.gpuIndices);
      }
      const pending = jobs.filter((j) => j.status === 'PENDING').sort((a, b) => a.id - b.id);
      for (const job of pending) {
        const ranks = free.slice(0, job.numNodes);
        if (ranks.length < job.numNodes || !ranks.every((f) => fits(f, job.demand))) break;
        for (let r = 0; r < job.numNodes; r++) free[r] = subtract(free[r]!, job.demand);
        await this.startJob(cluster, job, gpus.take(job.numNodes, job.demand.accelerators[0]?.count ?? 0));
      }
    });
  }

  private async startJob(cluster: ClusterRecord, job: JobRecord, gpuIndices: number[][] | undefined): Promise<void> {
    const spec = await this.store.jobs.getSpec(cluster.name, job.id);
    const claimed = await this.store.jobs.transition(cluster.name, job.id, ['PENDING'], {
      status: 'SETTING_UP',
      startedAt: this.clock.now(),
      ...(gpuIndices ? { gpuIndices } : {}),
    });
    if (!claimed) return;
    const key = `${cluster.name}/${job.id}`;
    this.starting.add(key);
    try {
      await this.startRanks(cluster, job, spec, gpuIndices);
    } finally {
      this.starting.delete(key);
    }
  }

  private async startRanks(cluster: ClusterRecord, job: JobRecord, spec: JobSpec | undefined, gpuIndices: number[][] | undefined): Promise<void> {
    const nodes = cluster.nodes.slice(0, job.numNodes);
    const name = jobName(job);
    const started: number[] = [];
    try {
      if (!spec) throw new Error('the job spec is missing from the state store');
      const secrets = openMap(this.secrets, spec.secrets);
      for (const node of nodes) {
        const transport = this.transports.for(node);
        const rank: RankSpec = {
          jobId: name,
          rank: node.rank,
          nodeIps: nodes.map((n) => n.address),
          taskId: `sky-${cluster.name}-${job.id}`,
          clusterInfo: { cluster_name: cluster.name, cloud: cluster.driver, region: null, zone: null, num_nodes: nodes.length },
          envs: spec.envs,
          secrets,
          ...(spec.setup !== undefined ? { setup: spec.setup } : {}),
          ...(spec.run !== undefined ? { run: spec.run } : {}),
          ...(node.reach.kind === 'local' ? { home: node.reach.root } : {}),
          ...(gpuIndices ? { extraEnv: { CUDA_VISIBLE_DEVICES: gpuIndices[node.rank]!.join(',') }, numGpusPerNode: gpuIndices[node.rank]!.length } : {}),
        };
        await this.runtime.start(transport, node.address, rank);
        started.push(node.rank);
      }
      this.logger.info({ cluster: cluster.name, job: job.id, ranks: nodes.length }, 'job started');
    } catch (err) {
      const reason = `could not start on every node: ${err instanceof Error ? err.message : String(err)}`;
      this.logger.warn({ cluster: cluster.name, job: job.id, err }, 'job start failed');
      for (const node of nodes.filter((n) => started.includes(n.rank))) {
        await this.runtime.cancel(this.transports.for(node), node.address, [name]).catch(() => undefined);
      }
      await this.store.jobs.transition(cluster.name, job.id, ['SETTING_UP'], { status: 'FAILED', endedAt: this.clock.now(), reason });
      await this.touch(cluster.name);
    }
  }

  /** Read every active job's ranks from their nodes and record what changed. */
  async pollOnce(): Promise<void> {
    const active = await this.store.jobs.listActive();
    const byCluster = new Map<string, JobRecord[]>();
    for (const job of active) (byCluster.get(job.cluster) ?? byCluster.set(job.cluster, []).get(job.cluster)!).push(job);
    await Promise.all(
      [...byCluster].map(async ([clusterName, jobs]) => {
        try {
          await this.pollCluster(clusterName, jobs);
        } catch (err) {
          this.logger.warn({ cluster: clusterName, err }, 'job monitor could not read the cluster');
        }
      }),
    );
  }

  private async pollCluster(clusterName: string, jobs: JobRecord[]): Promise<void> {
    const cluster = await this.store.clusters.get(clusterName);
    if (!cluster || cluster.status !== 'UP') return;
    const running = jobs.filter((j) => ACTIVE_ON_NODES.includes(j.status) && !this.starting.has(`${clusterName}/${j.id}`));
    const states = new Map<string, JobState[]>();
    const lost: NodeRecord[] = [];
    for (const node of cluster.nodes) {
      const here = running.filter((j) => node.rank < j.numNodes);
      if (here.length === 0) continue;
      let answer: JobState[];
      try {
        answer = await this.runtime.status(this.transports.for(node), node.address, here.map(jobName));
        await this.reachable(cluster, node);
      } catch (err) {
        if (toSkyError(err)?.code !== 'NODE_UNREACHABLE') throw err;
        if (await this.unreachable(cluster, node, err)) lost.push(node);
        continue;
      }
      here.forEach((job, i) => {
        const list = states.get(jobName(job)) ?? [];
        list[node.rank] = answer[i]!;
        states.set(jobName(job), list);
      });
    }
    let finished = false;
    for (const node of lost) {
      this.unreachableSince.delete(unreachableKey(cluster, node));
      for (const job of running.filter((j) => node.rank < j.numNodes)) {
        await this.cancelRanks(cluster, job);
        const done = await this.store.jobs.transition(clusterName, job.id, [job.status], {
          status: 'FAILED',
          endedAt: this.clock.now(),
          reason: `node ${node.address} unreachable`,
        });
        if (done) {
          finished = true;
          this.logger.warn({ cluster: clusterName, job: job.id, node: node.address }, 'job failed: node unreachable');
        }
      }
    }
    for (const job of running) {
      if (lost.some((n) => n.rank < job.numNodes)) continue;
      const ranks = states.get(jobName(job));
      if (!ranks || ranks.filter(Boolean).length < job.numNodes) continue;
      const { status, reason } = aggregate(ranks);
      if (status === job.status) continue;
      if (isJobTerminal(status)) {
        if (ranks.some((r) => !isRankDone(r))) await this.cancelRanks(cluster, job);
        await this.store.jobs.transition(clusterName, job.id, [job.status], {
          status,
          endedAt: this.clock.now(),
          exitCodes: ranks.map((r) => r.exitCode),
          ...(reason !== undefined ? { reason } : {}),
        });
        finished = true;
      } else {
        await this.store.jobs.transition(clusterName, job.id, [job.status], { status });
      }
    }
    if (finished) await this.touch(clusterName);
    if (finished || jobs.some((j) => j.status === 'PENDING')) await this.schedule(clusterName);
  }

  /** Record that a node did not answer; true once it has been unreachable for the grace period. */
  private async unreachable(cluster: ClusterRecord, node: NodeRecord, err: unknown): Promise<boolean> {
    const now = this.clock.now();
    const key = unreachableKey(cluster, node);
    const since = this.unreachableSince.get(key) ?? now;
    this.unreachableSince.set(key, since);
    const reason = `node ${node.address} unreachable: ${err instanceof Error ? err.message : String(err)}`;
    await this.updates.update(cluster.name, (c) => (c.statusReason === reason ? undefined : { statusReason: reason }));
    return now - since >= this.config.jobs.unreachable_grace_seconds * 1000;
  }

  private async reachable(cluster: ClusterRecord, node: NodeRecord): Promise<void> {
    if (!this.unreachableSince.delete(unreachableKey(cluster, node))) return;
    await this.updates.update(cluster.name, (c) => (c.statusReason?.startsWith(`node ${node.address} unreachable`) ? { statusReason: undefined } : undefined));
  }

  private async cancelRanks(cluster: ClusterRecord, job: JobRecord): Promise<void> {
    for (const node of cluster.nodes.slice(0, job.numNodes)) {
      await this.runtime.cancel(this.transports.for(node), node.address, [jobName(job)]).catch((err: unknown) => {
        this.logger.warn({ cluster: cluster.name, job: job.id, node: node.address, err }, 'cancel on node failed');
      });
    }
  }

  /** Cancel jobs: PENDING ones never start; running ones are killed on every node. Returns the ids cancelled. */
  async cancel(cluster: ClusterRecord, jobs: readonly JobRecord[]): Promise<number[]> {
    const cancelled: number[] = [];
    for (const job of jobs) {
      if (job.status === 'PENDING') {
        const done = await this.store.jobs.transition(cluster.name, job.id, ['PENDING'], { status: 'CANCELLED', endedAt: this.clock.now(), reason: 'cancelled before it started' });
        if (done) {
          cancelled.push(job.id);
          continue;
        }
      }
      const current = await this.store.jobs.get(cluster.name, job.id);
      if (!current || isJobTerminal(current.status)) continue;
      if (cluster.status === 'UP') await this.cancelRanks(cluster, current);
      const done = await this.store.jobs.transition(cluster.name, job.id, ['PENDING', 'SETTING_UP', 'RUNNING'], {
        status: 'CANCELLED',
        endedAt: this.clock.now(),
        reason: 'cancelled',
      });
      // The monitor may have seen the killed ranks first and recorded CANCELLED itself.
      if (done || (await this.store.jobs.get(cluster.name, job.id))?.status === 'CANCELLED') cancelled.push(job.id);
    }
    if (cancelled.length > 0) {
      await this.touch(cluster.name);
      await this.schedule(cluster.name);
    }
    return cancelled;
  }

  /** Mark the cluster active now (autostop counts idle time from the last job event). */
  private async touch(clusterName: string): Promise<void> {
    const now = this.clock.now();
    await this.updates.update(clusterName, () => ({ lastActiveAt: now }));
  }

  start(): void {
    const tick = (): void => {
      if (this.polling) return;
      this.polling = true;
      this.pollOnce()
        .catch((err: unknown) => this.logger.error({ err }, 'job monitor failed'))
        .finally(() => (this.polling = false));
    };
    this.timer = setInterval(tick, POLL_MS);
    this.timer.unref();
    tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

function unreachableKey(cluster: ClusterRecord, node: NodeRecord): string {
  return `${cluster.clusterId}/${node.id}`;
}

function isRankDone(state: JobState): boolean {
  return state.status === 'SUCCEEDED' || state.status === 'FAILED' || state.status === 'FAILED_SETUP' || state.status === 'CANCELLED' || state.status === 'MISSING';
}
