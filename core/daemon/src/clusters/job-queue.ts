import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { RUNTIME_VERSION } from '@sky/runtime';
import { isJobTerminal, type ClusterRecord, type JobRecord, type JobSpec, type NodeRecord, type NodeResources } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { TOKENS, type Clock } from '../tokens.js';
import { NodeRuntime, type RankSpec } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { KeyedLock } from './cluster-lock.js';
import { ClusterUpdates } from './cluster-updates.js';
import { ClusterGate } from './cluster-gate.js';
import { fits, subtract } from './resources.js';
import { GpuPins } from './gpu-pins.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { openMap, sealMap } from '../secrets/sealed-values.js';
import { ACTIVE_ON_NODES, jobName, rankRef } from './job-ranks.js';
import { activeSince, JobReconciler, type StartingJob } from './job-reconciler.js';
import { JobEvents } from './job-events.js';
import { ClusterOwners } from '../replicas/cluster-owners.js';
import type { StoreChange } from '@sky/plugin-api';

/** How many queued jobs a scheduling pass reads: it starts them in order until one does not fit. */
const PASS_HEAD = 32;

/** How many jobs submitted here are remembered until the shared feed brings them back. */
const SUBMITTED_REMEMBERED = 4096;

/** How often jobs started by runtime version 1 are read while any runs. */
const LEGACY_POLL_MS = 1000;

export interface NewJob {
  name?: string;
  user: string;
  userName: string;
  numNodes: number;
  demand: NodeResources;
  command?: string;
  requestId?: string;
  /**
   * Whether `requestId` names a stored RUNNING request the job is recorded on atomically (the
   * default), or only tags the job (a managed job's launch attempt, found again by it after a restart).
   */
  attachToRequest?: boolean;
}

export { aggregate, jobName } from './job-ranks.js';

/**
 * Each cluster's job queue: FIFO with resource fit and gang start of every rank. How jobs end
 * is pushed from the nodes: each node's runtime appends its ranks' phases and ends to the node's
 * event journal, which JobEvents follows, and an end frees the job's resources and runs a
 * scheduling pass at once. A slow reconciliation (JobReconciler, every
 * `jobs.reconcile_seconds`, and at start) reads the ranks' status files as a safety net; it is
 * also what notices a node that stopped answering. The nodes keep the truth (status files, exit
 * codes, logs), so after a daemon restart the queue follows the journals again and reconciles.
 */
@injectable()
export class JobQueue {
  private readonly lock = new KeyedLock();
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  /** Asked for another reconciliation while one runs (a node's journal was unreadable). */
  private reconcileAgain = false;
  /** The next reconciliation, soon, while ranks of runtime version 1 (which write no events) run. */
  private legacyTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Jobs submitted here whose change the shared feed has not brought back yet (their pass is asked for already). */
  private readonly submittedHere = new Set<string>();

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
    @inject(JobReconciler) private readonly reconciler: JobReconciler,
    @inject(JobEvents) private readonly events: JobEvents,
    @inject(ClusterOwners) private readonly owners: ClusterOwners,
  ) {
    this.events.listen({
      ended: (clusterName) => this.scheduleSoon(clusterName),
      trouble: () => this.reconcileSoon(),
    });
    // Clusters taken over from a replica that died: follow their nodes and read their jobs here now.
    this.owners.onAdopted(() => this.reconcileSoon());
  }

  /** Remember a job submitted here (the latest ones only: an echo that never comes must not keep it forever). */
  private noteSubmitted(key: string): void {
    this.submittedHere.add(key);
    if (this.submittedHere.size > SUBMITTED_REMEMBERED) this.submittedHere.delete(this.submittedHere.values().next().value!);
  }

  /**
   * On a store shared by several replicas: a job queued by another replica on a cluster this
   * one owns (a managed job's controller on the leader, say) is started by a pass here.
   */
  followShared(listen: (listener: (change: StoreChange) => void) => () => void): () => void {
    return listen((change) => {
      if (change.kind !== 'job' || change.record?.status !== 'PENDING') return;
      if (this.submittedHere.delete(`${change.cluster}/${change.id}`)) return;
      if (this.owners.owns(change.cluster)) this.scheduleSoon(change.cluster);
    });
  }

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
        // The version that will start it (the claim records it again: a restarted, newer daemon may start it).
        runtime: RUNTIME_VERSION,
        numNodes: job.numNodes,
        demand: job.demand,
        ...(job.name !== undefined ? { name: job.name } : {}),
        ...(job.command !== undefined ? { command: job.command } : {}),
        ...(job.requestId !== undefined ? { requestId: job.requestId } : {}),
      },
      // Secrets are sealed at rest; startJob opens them for the nodes.
      { ...spec, secrets: sealMap(this.secrets, spec.secrets) },
      job.requestId !== undefined && job.attachToRequest !== false ? { request: job.requestId } : undefined,
    );
    // The cluster's owner starts its jobs: here, or (another replica) when the shared feed brings it
    // the job. Noted before the next await, so the feed's echo of this job always finds the note.
    const mine = this.owners.owns(cluster.name);
    if (mine && this.owners.shared) this.noteSubmitted(`${cluster.name}/${record.id}`);
    const now = this.clock.now();
    await this.updates
      .update(cluster.name, (c) =>
        activeSince(c, now) && (job.command === undefined || c.lastCommand === job.command)
          ? undefined
          : { lastActiveAt: now, ...(job.command !== undefined ? { lastCommand: job.command } : {}) },
      )
      .catch((err: unknown) => this.logger.warn({ cluster: cluster.name, job: record.id, err }, 'could not mark the cluster active after queueing a job'));
    if (mine) this.scheduleSoon(cluster.name);
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

  // ---- Scheduling. ----

  /** Start pending jobs, oldest first, while they fit; the first that does not fit blocks the rest (FIFO). */
  schedule(clusterName: string): Promise<void> {
    return this.lock.run(`schedule:${clusterName}`, async () => {
      const cluster = await this.store.clusters.get(clusterName);
      if (!cluster || cluster.status !== 'UP') return;
      const running = await this.store.jobs.list(clusterName, { status: ACTIVE_ON_NODES });
      const free = cluster.nodes.map((n) => n.resources);
      const gpus = new GpuPins(cluster.nodes);
      for (const job of running) {
        for (let r = 0; r < job.numNodes && r < free.length; r++) free[r] = subtract(free[r]!, job.demand);
        gpus.hold(job.gpuIndices);
      }
      // The head of the queue only: a long queue is not read (and copied) whole on every pass.
      const pending = await this.store.jobs.list(clusterName, { status: ['PENDING'], oldestFirst: true, limit: PASS_HEAD });
      for (const job of pending) {
        const ranks = free.slice(0, job.numNodes);
        if (ranks.length < job.numNodes || !ranks.every((f) => fits(f, job.demand))) return;
        for (let r = 0; r < job.numNodes; r++) free[r] = subtract(free[r]!, job.demand);
        await this.startJob(cluster, job, gpus.take(job.numNodes, job.demand.accelerators[0]?.count ?? 0));
      }
      // Every job of the head started: the queue may go on beyond it.
      if (pending.length === PASS_HEAD) this.scheduleSoon(clusterName);
    });
  }

  private async startJob(cluster: ClusterRecord, job: JobRecord, gpuIndices: number[][] | undefined): Promise<void> {
    const spec = await this.store.jobs.getSpec(cluster.name, job.id);
    const claimed = await this.store.jobs.transition(cluster.name, job.id, ['PENDING'], {
      status: 'SETTING_UP',
      startedAt: this.clock.now(),
      runtime: RUNTIME_VERSION,
      ...(gpuIndices ? { gpuIndices } : {}),
    });
    if (!claimed) return;
    this.events.know(claimed);
    this.reconciler.beginStart(claimed);
    let kept: StartingJob = { asked: false, events: [] };
    try {
      await this.startRanks(cluster, claimed, spec, gpuIndices);
    } finally {
      kept = this.reconciler.endStart(claimed);
    }
    // Events that arrived while the ranks were being started were kept: apply them now (a short
    // job has often ended by then), and read the ranks if a reconciliation asked meanwhile.
    if (kept.events.length > 0) {
      for (const ended of await this.events.replay(kept.events)) this.scheduleSoon(ended);
    }
    if (kept.asked) {
      const current = await this.store.jobs.get(cluster.name, job.id);
      if (current && !isJobTerminal(current.status) && (await this.reconciler.reconcile(cluster.name, [current]))) this.scheduleSoon(cluster.name);
    }
  }

  private async startRanks(cluster: ClusterRecord, job: JobRecord, spec: JobSpec | undefined, gpuIndices: number[][] | undefined): Promise<void> {
    const nodes = cluster.nodes.slice(0, job.numNodes);
    const name = jobName(job);
    const started: NodeRecord[] = [];
    try {
      if (!spec) throw new Error('the job spec is missing from the state store');
      const secrets = openMap(this.secrets, spec.secrets);
      // Follow the nodes' journals first, so every event of the new ranks is seen.
      await Promise.all(nodes.map((node) => this.events.follow(node)));
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
          user: job.userName,
          // As SkyPilot: the accelerator count the job asked for on each node, 0 without one.
          numGpusPerNode: gpuIndices ? gpuIndices[node.rank]!.length : Math.ceil(job.demand.accelerators[0]?.count ?? 0),
          ...(gpuIndices ? { extraEnv: { CUDA_VISIBLE_DEVICES: gpuIndices[node.rank]!.join(',') } } : {}),
        };
        await this.runtime.start(transport, node.address, rank, this.runtime.journalOf(node));
        started.push(node);
      }
      this.logger.debug({ cluster: cluster.name, job: job.id, ranks: nodes.length }, 'job started');
    } catch (err) {
      const reason = `could not start on every node: ${err instanceof Error ? err.message : String(err)}`;
      this.logger.warn({ cluster: cluster.name, job: job.id, err }, 'job start failed');
      for (const node of started) {
        await this.runtime.cancel(this.transports.for(node), node.address, [rankRef(job, node.rank)]).catch(() => undefined);
      }
      // A started rank may have moved the job to RUNNING already.
      await this.store.jobs.transition(cluster.name, job.id, ACTIVE_ON_NODES, { status: 'FAILED', endedAt: this.clock.now(), reason });
      await this.reconciler.touch(cluster.name);
    }
  }

  // ---- Reconciliation: the safety net under the event journals. ----

  /**
   * Read every active job's ranks from their nodes, record what changed, follow the journals of
   * the nodes that have active jobs (and let go of the others), and schedule where wanted.
   */
  async reconcileOnce(): Promise<void> {
    const began = this.clock.now();
    const active = await this.store.jobs.listActive();
    const keys = new Set<string>();
    const clusters = new Map<string, ClusterRecord | undefined>();
    let legacy = false;
    for (const job of active) {
      this.events.know(job);
      // Another live replica's cluster: its owner follows and reads it.
      if (!ACTIVE_ON_NODES.includes(job.status) || !this.owners.owns(job.cluster)) continue;
      if ((job.runtime ?? 1) < 2) legacy = true;
      if (!clusters.has(job.cluster)) clusters.set(job.cluster, await this.store.clusters.get(job.cluster));
      const cluster = clusters.get(job.cluster);
      if (cluster?.status !== 'UP') continue;
      for (const node of cluster.nodes.slice(0, job.numNodes)) keys.add(this.events.keyOf(node));
    }
    // Follow before reading the status files, so nothing ends unseen in between.
    const toFollow = new Map<string, NodeRecord>();
    for (const cluster of clusters.values()) {
      if (cluster?.status !== 'UP') continue;
      for (const node of cluster.nodes) if (keys.has(this.events.keyOf(node))) toFollow.set(this.events.keyOf(node), node);
    }
    await Promise.all([...toFollow.values()].map((node) => this.events.follow(node).catch(() => undefined)));
    for (const clusterName of await this.reconciler.reconcileAll((name) => this.owners.owns(name))) this.scheduleSoon(clusterName);
    this.events.release(keys, began);
    // Jobs a daemon before the event journals started write no events: read them every second
    // (as that daemon did) until they have ended.
    if (legacy && this.legacyTimer === undefined && !this.stopped) {
      this.legacyTimer = setTimeout(() => {
        this.legacyTimer = undefined;
        this.reconcileSoon();
      }, LEGACY_POLL_MS);
      this.legacyTimer.unref();
    }
  }

  /** Run a reconciliation now (or right after the one running). */
  private reconcileSoon(): void {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return;
    }
    this.reconciling = (async () => {
      try {
        do {
          this.reconcileAgain = false;
          await this.reconcileOnce();
        } while (this.reconcileAgain);
      } catch (err) {
        this.logger.error({ err }, 'job reconciliation failed');
      } finally {
        this.reconciling = undefined;
      }
    })();
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
      if (cluster.status === 'UP') await this.reconciler.cancelRanks(cluster, current);
      const done = await this.store.jobs.transition(cluster.name, job.id, ['PENDING', 'SETTING_UP', 'RUNNING'], {
        status: 'CANCELLED',
        endedAt: this.clock.now(),
        reason: 'cancelled',
      });
      // The ranks' end events may have been applied first and recorded CANCELLED already.
      if (done || (await this.store.jobs.get(cluster.name, job.id))?.status === 'CANCELLED') cancelled.push(job.id);
    }
    if (cancelled.length > 0) {
      await this.reconciler.touch(cluster.name);
      await this.schedule(cluster.name);
    }
    return cancelled;
  }

  /** Follow the journals of nodes with active jobs, reconcile them, then reconcile every `jobs.reconcile_seconds`. */
  start(): void {
    this.timer = setInterval(() => this.reconcileSoon(), this.config.jobs.reconcile_seconds * 1000);
    this.timer.unref();
    this.reconcileSoon();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.legacyTimer) clearTimeout(this.legacyTimer);
    this.events.stopAll();
  }
}
