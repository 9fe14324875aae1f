import { join } from 'node:path';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { parseEvent, type JobEvent } from '@sky/runtime';
import type { JobRecord, NodeRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import { NodeRuntime } from '../nodes/node-runtime.js';
import { reachKey, TransportPool } from '../nodes/transports.js';
import { JournalFollower, type JournalSource } from '../nodes/journal-follower.js';
import { ACTIVE_ON_NODES, parseRankName } from './job-ranks.js';
import { JobReconciler } from './job-reconciler.js';

/** What the job queue does when events have been applied. */
export interface JobEventListener {
  /** Jobs of the cluster ended: free their resources and start what fits. */
  ended(clusterName: string): void;
  /**
   * A node's journal could not be read, or can be read again after that: read its jobs' status
   * (this is how a lost node is noticed, and what covers events written while it could not be read).
   */
  trouble(node: NodeRecord): void;
}

interface Following {
  follower: JournalFollower;
  node: NodeRecord;
  /** When a job was last started with it (a follower is released only when idle since before a reconciliation began). */
  usedAt: number;
}

/**
 * The daemon's side of the node event journals: one follower per node (per SSH host, per local
 * node directory), started when a job is started there or, after a daemon start, for every node
 * with active jobs; released by the reconciliation once its node has none. A rank's end event
 * moves its job in the store (a one-node job directly; a gang reads its other ranks), and the
 * listener starts the next jobs that fit in the same tick. Nothing here runs while no event
 * arrives: no timer and no command per running job.
 */
@injectable()
export class JobEvents {
  private readonly following = new Map<string, Following>();
  /** Set by stopAll: a job started by a request still finishing after that is left to the next daemon's reconciliation. */
  private stopped = false;
  /** Cluster names by incarnation id, for the jobs events name. */
  private readonly clusterNames = new Map<string, string>();
  private listener: JobEventListener | undefined;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
    @inject(JobReconciler) private readonly reconciler: JobReconciler,
  ) {}

  listen(listener: JobEventListener): void {
    this.listener = listener;
  }

  /** Remember which cluster an incarnation id belongs to (events name jobs by it). */
  know(job: Pick<JobRecord, 'cluster' | 'clusterId'>): void {
    this.clusterNames.set(job.clusterId, job.cluster);
  }

  /** The follower's identity: one per node as reached (an SSH host serves many clusters). */
  keyOf(node: NodeRecord): string {
    return reachKey(node.reach);
  }

  /** Follow the node's journal (if not yet); resolves once events from now on will be seen. */
  async follow(node: NodeRecord): Promise<void> {
    if (this.stopped) return;
    const key = this.keyOf(node);
    let entry = this.following.get(key);
    if (entry === undefined) {
      const follower = new JournalFollower(this.sourceFor(node), {
        lines: (lines) => this.apply(lines),
        trouble: (err) => {
          this.logger.debug({ node: node.address, err }, 'node journal unreadable');
          this.listener?.trouble(node);
        },
        back: () => {
          this.logger.debug({ node: node.address }, 'node journal readable again');
          this.listener?.trouble(node);
        },
      });
      entry = { follower, node, usedAt: this.clock.now() };
      this.following.set(key, entry);
    }
    entry.usedAt = this.clock.now();
    await entry.follower.ready;
  }

  private sourceFor(node: NodeRecord): JournalSource {
    const path = this.runtime.journalOf(node);
    const reach = node.reach;
    if (reach.kind === 'local' && reach.account === undefined) return { kind: 'watch', file: join(reach.root, path) };
    return { kind: 'stream', transport: this.transports.for(node), path, command: (offset) => this.runtime.followCommand(node, offset) };
  }

  /** Stop following nodes with no active job that were not used since `idleSince`. */
  release(activeKeys: ReadonlySet<string>, idleSince: number): void {
    for (const [key, entry] of this.following) {
      if (activeKeys.has(key) || entry.usedAt >= idleSince) continue;
      entry.follower.stop();
      this.following.delete(key);
    }
  }

  /** Nodes followed now (for tests and metrics). */
  get followed(): number {
    return this.following.size;
  }

  stopAll(): void {
    this.stopped = true;
    for (const entry of this.following.values()) entry.follower.stop();
    this.following.clear();
  }

  /**
   * Apply journal lines: the last event of each rank counts (a rank that started and ended
   * within one read moves its job once). Replays are harmless: a job that already moved on
   * fails the compare-and-set, and events of other incarnations or unknown jobs are skipped.
   */
  async apply(lines: readonly string[]): Promise<void> {
    const events: JobEvent[] = [];
    for (const line of lines) {
      const event = parseEvent(line);
      if (event) events.push(event);
    }
    for (const cluster of await this.replay(events)) this.listener?.ended(cluster);
  }

  /**
   * Apply parsed events, the last of each rank only; returns the clusters where a job ended
   * (not announced: apply does that, and the job queue for events kept while their job was being
   * started, see JobReconciler.deferWhileStarting).
   */
  async replay(events: readonly JobEvent[]): Promise<Set<string>> {
    const latest = new Map<string, JobEvent>();
    for (const event of events) latest.set(event.name, event);
    const ended = new Set<string>();
    for (const event of latest.values()) {
      try {
        const cluster = await this.applyOne(event);
        if (cluster !== undefined) ended.add(cluster);
      } catch (err) {
        this.logger.warn({ event, err }, 'could not apply a job event; the reconciliation reads the job again');
      }
    }
    return ended;
  }

  /** Returns the cluster's name when the event ended its job. */
  private async applyOne(event: JobEvent): Promise<string | undefined> {
    const ref = parseRankName(event.name);
    if (ref === undefined) return undefined;
    const clusterName = this.clusterName(ref.clusterId);
    if (clusterName === undefined) return undefined;
    const job = await this.store.jobs.get(clusterName, ref.id);
    if (!job || job.clusterId !== ref.clusterId || !ACTIVE_ON_NODES.includes(job.status) || ref.rank >= job.numNodes) return undefined;
    // Its ranks are still being started: the event is applied once they all are.
    if (this.reconciler.deferWhileStarting(job, event)) return undefined;
    if (event.status === 'SETTING_UP' || event.status === 'RUNNING') {
      // One rank running makes the job RUNNING (see aggregate).
      if (event.status === 'RUNNING' && job.status === 'SETTING_UP') await this.store.jobs.transition(clusterName, job.id, ['SETTING_UP'], { status: 'RUNNING' });
      return undefined;
    }
    if (job.numNodes > 1) {
      // A gang: its status needs every rank's, so read them (the other ranks' ends follow as events).
      return (await this.reconciler.reconcile(clusterName, [job])) ? clusterName : undefined;
    }
    const done = await this.store.jobs.transition(clusterName, job.id, ACTIVE_ON_NODES, {
      status: event.status,
      endedAt: this.clock.now(),
      exitCodes: [event.exitCode],
    });
    if (done === undefined) return undefined;
    await this.reconciler.touch(clusterName);
    return clusterName;
  }

  /** Every job is started (or, after a daemon start, picked up) through know(): an id not known is an old incarnation's. */
  private clusterName(clusterId: string): string | undefined {
    return this.clusterNames.get(clusterId);
  }
}
