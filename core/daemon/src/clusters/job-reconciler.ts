import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { isJobTerminal, toSkyError, type ClusterRecord, type JobRecord, type NodeRecord } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { TOKENS, type Clock, type PluginRegistry } from '../tokens.js';
import { callDriver } from './driver-calls.js';
import { provisioned } from './provisioner.js';
import type { JobEvent } from '@sky/runtime';
import { NodeRuntime, type JobState } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { ClusterUpdates } from './cluster-updates.js';
import { ACTIVE_ON_NODES, aggregate, isRankDone, rankRef } from './job-ranks.js';

/**
 * Reads jobs' ranks from their nodes with the runtime's `status` command and records what
 * changed: the safety net under the event journals (a slow periodic pass, and right after a
 * daemon start), the read of a gang's other ranks when one of them ends, and the detection of a
 * node that stopped answering (its jobs fail once it has been unreachable for
 * `jobs.unreachable_grace_seconds`). Every write is a compare-and-set transition, so reading a
 * job that an event already moved on changes nothing.
 */
@injectable()
export class JobReconciler {
  /**
   * Nodes whose last status read failed to reach them, and since when, by cluster incarnation and
   * node (a host of a pool is a node of many clusters over time). An entry lives only while the
   * node keeps failing: it is dropped when the node answers again or its jobs are failed.
   */
  private readonly unreachableSince = new Map<string, number>();
  /**
   * Jobs whose ranks this daemon is starting right now (`cluster/id`): the reads leave them alone
   * until every rank has its files, or they would read a rank not yet written as gone. What
   * arrived meanwhile is kept: whether a read was asked for, and the ranks' journal events (a
   * short job often ends before its start returns), which are applied once the start is done.
   */
  private readonly starting = new Map<string, StartingJob>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(ClusterUpdates) private readonly updates: ClusterUpdates,
    @inject(TOKENS.Plugins) private readonly plugins: PluginRegistry,
  ) {}

  /** Mark a job as being started; endStart tells what was asked for meanwhile. */
  beginStart(job: Pick<JobRecord, 'cluster' | 'id'>): void {
    this.starting.set(`${job.cluster}/${job.id}`, { asked: false, events: [] });
  }

  /**
   * Whether the job's ranks are being started now; if so, `event` (a journal event of one of its
   * ranks) is kept for after the start, or without an event a read is asked for once they are.
   */
  deferWhileStarting(job: Pick<JobRecord, 'cluster' | 'id'>, event?: JobEvent): boolean {
    const starting = this.starting.get(`${job.cluster}/${job.id}`);
    if (starting) {
      if (event === undefined) starting.asked = true;
      else starting.events.push(event);
    }
    return starting !== undefined;
  }

  endStart(job: Pick<JobRecord, 'cluster' | 'id'>): StartingJob {
    const key = `${job.cluster}/${job.id}`;
    const starting = this.starting.get(key) ?? { asked: false, events: [] };
    this.starting.delete(key);
    return starting;
  }

  /**
   * Read every active job's ranks (on the clusters `mine` picks: this replica's) and record
   * what changed. Returns the clusters where a job ended or jobs wait (they want a scheduling pass).
   */
  async reconcileAll(mine: (clusterName: string) => boolean = () => true): Promise<string[]> {
    const active = await this.store.jobs.listActive();
    const byCluster = new Map<string, JobRecord[]>();
    for (const job of active) {
      if (mine(job.cluster)) (byCluster.get(job.cluster) ?? byCluster.set(job.cluster, []).get(job.cluster)!).push(job);
    }
    const wanted: string[] = [];
    await Promise.all(
      [...byCluster].map(async ([clusterName, jobs]) => {
        try {
          if (await this.reconcile(clusterName, jobs)) wanted.push(clusterName);
        } catch (err) {
          this.logger.warn({ cluster: clusterName, err }, 'job reconciliation could not read the cluster');
        }
      }),
    );
    return wanted;
  }

  /**
   * Read the given jobs of one cluster from their nodes and record what changed; true when a job
   * ended or one of `jobs` is PENDING (a scheduling pass is wanted).
   */
  async reconcile(clusterName: string, jobs: readonly JobRecord[]): Promise<boolean> {
    const cluster = await this.store.clusters.get(clusterName);
    if (!cluster || cluster.status !== 'UP') return false;
    const running = jobs.filter((j) => {
      if (!ACTIVE_ON_NODES.includes(j.status)) return false;
      const starting = this.starting.get(`${clusterName}/${j.id}`);
      if (starting) starting.asked = true;
      return starting === undefined;
    });
    const states = new Map<number, JobState[]>();
    const lost: Array<{ node: NodeRecord; why: string }> = [];
    for (const node of cluster.nodes) {
      const here = running.filter((j) => node.rank < j.numNodes);
      if (here.length === 0) continue;
      let answer: JobState[];
      try {
        answer = await this.runtime.status(
          this.transports.for(node),
          node.address,
          here.map((j) => rankRef(j, node.rank)),
        );
        await this.reachable(cluster, node);
      } catch (err) {
        if (toSkyError(err)?.code !== 'NODE_UNREACHABLE') throw err;
        const why = await this.unreachable(cluster, node, err);
        if (why !== undefined) lost.push({ node, why });
        continue;
      }
      here.forEach((job, i) => {
        const list = states.get(job.id) ?? [];
        list[node.rank] = answer[i]!;
        states.set(job.id, list);
      });
    }
    let finished = false;
    for (const { node, why } of lost) {
      this.unreachableSince.delete(unreachableKey(cluster, node));
      for (const job of running.filter((j) => node.rank < j.numNodes)) {
        await this.cancelRanks(cluster, job);
        const done = await this.store.jobs.transition(clusterName, job.id, ACTIVE_ON_NODES, {
          status: 'FAILED',
          endedAt: this.clock.now(),
          reason: why,
        });
        if (done) {
          finished = true;
          this.logger.warn({ cluster: clusterName, job: job.id, node: node.address }, 'job failed: node unreachable');
        }
      }
    }
    for (const job of running) {
      if (lost.some((l) => l.node.rank < job.numNodes)) continue;
      const ranks = states.get(job.id);
      if (!ranks || ranks.filter(Boolean).length < job.numNodes) continue;
      if (await this.record(cluster, job, ranks)) finished = true;
    }
    if (finished) await this.touch(clusterName);
    return finished || jobs.some((j) => j.status === 'PENDING');
  }

  /**
   * Record the job's status from every rank's state (gang semantics: one failed rank ends the
   * others). True when the job ended here.
   */
  async record(cluster: ClusterRecord, job: JobRecord, ranks: readonly JobState[]): Promise<boolean> {
    // No rank has a runner that recorded anything: none was written, or its files were written
    // but the runner never started (the starter died in between; a rank reads PENDING until its runner runs).
    if (job.status === 'SETTING_UP' && ranks.every((r) => r.status === 'MISSING' || r.status === 'PENDING')) return this.neverStarted(cluster, job);
    const { status, reason } = aggregate(ranks);
    if (status === job.status) return false;
    if (!isJobTerminal(status)) {
      await this.store.jobs.transition(cluster.name, job.id, ['SETTING_UP'], { status });
      return false;
    }
    if (ranks.some((r) => !isRankDone(r))) await this.cancelRanks(cluster, job);
    const done = await this.store.jobs.transition(cluster.name, job.id, ACTIVE_ON_NODES, {
      status,
      endedAt: this.clock.now(),
      exitCodes: ranks.map((r) => r.exitCode),
      ...(reason !== undefined ? { reason } : {}),
    });
    return done !== undefined;
  }

  /**
   * A job claimed to start (SETTING_UP) of which no rank runs on any node (none exists, or its
   * files were written but no runner started): the process that claimed it (another replica, or
   * this daemon before a kill -9) died before it started a rank.
   * Nothing of it ran, so after `jobs.start_grace_seconds` (a start under way elsewhere is given
   * that long) it is queued again rather than failed. True when it was.
   */
  private async neverStarted(cluster: ClusterRecord, job: JobRecord): Promise<boolean> {
    if (this.clock.now() - (job.startedAt ?? 0) < this.config.jobs.start_grace_seconds * 1000) return false;
    const back = await this.store.jobs.transition(cluster.name, job.id, ['SETTING_UP'], { status: 'PENDING' });
    if (back !== undefined) this.logger.warn({ cluster: cluster.name, job: job.id }, 'a job claimed to start never started a rank (its starter is gone): queued again');
    return back !== undefined;
  }

  /**
   * Record that a node did not answer. Returns why its jobs fail — at once when its driver says
   * the node is gone (a pod evicted or deleted), else once it has been unreachable for the grace
   * period — or undefined while it may still come back.
   */
  private async unreachable(cluster: ClusterRecord, node: NodeRecord, err: unknown): Promise<string | undefined> {
    const now = this.clock.now();
    const key = unreachableKey(cluster, node);
    const since = this.unreachableSince.get(key) ?? now;
    this.unreachableSince.set(key, since);
    const reason = `node ${node.address} unreachable: ${err instanceof Error ? err.message : String(err)}`;
    await this.updates.update(cluster.name, (c) => (c.statusReason === reason ? undefined : { statusReason: reason }));
    const gone = await this.goneReason(cluster, node);
    if (gone !== undefined) return `node ${node.address} lost: ${gone}`;
    return now - since >= this.config.jobs.unreachable_grace_seconds * 1000 ? `node ${node.address} unreachable` : undefined;
  }

  /** What the cluster's driver says about a node that does not answer: why it is gone (TERMINATED), or undefined. */
  private async goneReason(cluster: ClusterRecord, node: NodeRecord): Promise<string | undefined> {
    const driver = this.plugins.drivers().get(cluster.driver);
    if (driver === undefined) return undefined;
    try {
      const signal = AbortSignal.timeout(STATUS_ASK_MS);
      const reports = await callDriver(cluster.driver, driver, 'status', { signal, log: () => undefined }, (d, o) => d.status(provisioned(cluster), o));
      const report = reports.find((r) => r.nodeId === node.id);
      // A node left out of the answer is one the driver no longer has.
      if (report === undefined) return reports.length > 0 ? 'its driver no longer has it' : undefined;
      return report.status === 'TERMINATED' ? (report.reason ?? 'terminated') : undefined;
    } catch (driverErr) {
      this.logger.warn({ cluster: cluster.name, node: node.address, err: driverErr }, 'could not ask the driver about an unreachable node');
      return undefined;
    }
  }

  private async reachable(cluster: ClusterRecord, node: NodeRecord): Promise<void> {
    if (!this.unreachableSince.delete(unreachableKey(cluster, node))) return;
    await this.updates.update(cluster.name, (c) => (c.statusReason?.startsWith(`node ${node.address} unreachable`) ? { statusReason: undefined } : undefined));
  }

  /** End the job's ranks on every node (errors are logged: a node may be gone). */
  async cancelRanks(cluster: ClusterRecord, job: JobRecord): Promise<void> {
    for (const node of cluster.nodes.slice(0, job.numNodes)) {
      await this.runtime.cancel(this.transports.for(node), node.address, [rankRef(job, node.rank)]).catch((err: unknown) => {
        this.logger.warn({ cluster: cluster.name, job: job.id, node: node.address, err }, 'cancel on node failed');
      });
    }
  }

  /**
   * Mark the cluster active now (autostop counts idle time from the last job event, in minutes):
   * a cluster marked less than ACTIVE_GRAIN_MS ago is left as it is, so a stream of short jobs
   * does not rewrite its record at every end.
   */
  async touch(clusterName: string): Promise<void> {
    const now = this.clock.now();
    await this.updates.update(clusterName, (c) => (activeSince(c, now) ? undefined : { lastActiveAt: now }));
  }
}

/** What arrived for a job while its ranks were being started. */
export interface StartingJob {
  /** A reconciliation wanted to read it. */
  asked: boolean;
  /** Its ranks' journal events, in the order they were applied. */
  events: JobEvent[];
}

/** How long the reconciler waits for a driver's word on an unreachable node before it keeps counting the grace period. */
const STATUS_ASK_MS = 10_000;

/** How stale a cluster's lastActiveAt may be left (autostop works in minutes). */
export const ACTIVE_GRAIN_MS = 1000;

/** Whether the cluster was marked active at most ACTIVE_GRAIN_MS before `now`. */
export function activeSince(cluster: Pick<ClusterRecord, 'lastActiveAt'>, now: number): boolean {
  return now >= cluster.lastActiveAt && now - cluster.lastActiveAt < ACTIVE_GRAIN_MS;
}

function unreachableKey(cluster: ClusterRecord, node: NodeRecord): string {
  return `${cluster.clusterId}/${node.id}`;
}
