import { EventEmitter } from 'node:events';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { ServicePatch, StateStore, StoreChange } from '@sky/plugin-api';
import { isJobTerminal, type RequestRecord, type ServiceRecord, type ServiceReplica, type ServiceVersionSpec } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { openBodySecrets } from '../secrets/sealed-values.js';
import type { OperationContext } from '../ops/registry.js';
import { ClusterService } from '../clusters/cluster-service.js';
import type { Progress } from '../clusters/provisioner.js';
import { LaunchSlots } from '../managed-jobs/launch-slots.js';
import { KeyedSteps } from '../steps/keyed-steps.js';
import { Autoscaler } from './autoscaler.js';
import { LoadBalancers } from './load-balancers.js';
import { probeReplica } from './probe.js';
import { isGone, planService } from './service-plan.js';
import { replicaCluster, replicaTag } from './replica-names.js';
import { replicaTask, replicaPort } from './replica-task.js';

/** Failed replicas kept in the record (newest first) so `sky serve status` shows what happened. */
const GONE_KEPT = 5;
/** Failed probes in a row that take a READY replica out of the pool. */
const PROBE_FAILURES_TO_NOT_READY = 3;
/** How long a replica leaving the pool may finish the requests it is answering. */
const DRAIN_MS = 2_000;
/** Consecutive unexpected errors of one service's steps before it is marked FAILED. */
const MAX_STEP_ERRORS = 5;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withReplica(service: ServiceRecord, id: number, patch: Partial<ServiceReplica>): ServiceReplica[] {
  return service.replicas.map((r) => (r.id === id ? { ...r, ...patch } : r));
}

/**
 * The services controller, on the leader replica: each service is a small state machine whose
 * steps run one at a time per service, started by what happens (an up, an update, a down, a
 * change of a replica's job or cluster, a probe that changed a replica's status, the
 * autoscaler). Every step reads the stored record, records what it is about to do
 * (compare-and-set), then acts in the background, so after a restart or a change of leader
 * each service continues from its stored state. The load balancers run here too.
 */
@injectable()
export class ServiceController {
  /** Emits the service name whenever its record or controller log changed. */
  readonly notices = new EventEmitter();
  private readonly steps = new KeyedSteps<string>();
  private readonly busy = new Map<string, { abort: AbortController; run: Promise<void> }>();
  /** Replica actions that failed, by key: not tried again before the time given (backoff). */
  private readonly cooldown = new Map<string, { until: number; failures: number }>();
  private readonly background = new Set<Promise<void>>();
  private readonly autoscalers = new Map<string, Autoscaler>();
  private readonly stepErrors = new Map<string, number>();
  /** Replica cluster name → its service, for the changes of their jobs and clusters. */
  private readonly replicaClusters = new Map<string, string>();
  /** Replicas failed in a row (none READY in between), per service: past the limit the service is FAILED. */
  private readonly failuresInARow = new Map<string, number>();
  private readonly slots: LaunchSlots;
  private stopping = new AbortController();
  private tick: NodeJS.Timeout | undefined;
  private ticking = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(ClusterService) private readonly clusters: ClusterService,
    @inject(LoadBalancers) private readonly balancers: LoadBalancers,
  ) {
    this.notices.setMaxListeners(0);
    this.stopping.abort();
    this.slots = new LaunchSlots(config.serve.launch_parallelism);
  }

  get driving(): boolean {
    return !this.stopping.signal.aborted;
  }

  /** Follow the changes: notices for waiters on every replica; steps where this controller drives services. */
  listen(subscribe: (listener: (change: StoreChange) => void) => () => void): void {
    this.unsubscribe?.();
    this.unsubscribe = subscribe((change) => this.onChange(change));
  }

  /** Drive services (this replica leads): take up every service where its record says it is. */
  async start(): Promise<void> {
    if (this.driving) return;
    if (this.unsubscribe === undefined) this.listen((listener) => this.store.subscribe(listener));
    this.stopping = new AbortController();
    for (const service of await this.store.services.list()) this.kick(service.name);
    this.tick = setInterval(() => void this.onTick(), this.config.serve.probe_interval_seconds * 1000);
    this.tick.unref();
  }

  /** Stop driving (shutdown, or another replica leads): launches in flight are aborted, load balancers stop. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.tick) clearInterval(this.tick);
    this.tick = undefined;
    for (const { abort } of this.busy.values()) abort.abort();
    await Promise.allSettled([this.steps.settled(), ...this.background]);
    this.cooldown.clear();
    await this.balancers.stopAll();
    this.autoscalers.clear();
    this.stepErrors.clear();
  }

  async close(): Promise<void> {
    await this.stop();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Run a step for the service soon: steps of one service never overlap, and kicks waiting for their turn merge. */
  kick(name: string): void {
    if (!this.driving) return;
    this.steps.kick(name, async () => {
      if (!this.driving) return;
      try {
        await this.step(name);
        this.stepErrors.delete(name);
      } catch (err) {
        await this.stepFailed(name, err);
      }
    });
  }

  /** Append a line to the service's controller log. */
  async event(name: string, text: string): Promise<void> {
    await this.store.services.appendEvents(name, [{ at: this.clock.now(), text }]);
    this.notices.emit(name);
  }

  /** Change the record compare-and-set; `fn` sees the freshest record and returns undefined to leave it. */
  async change(name: string, fn: (service: ServiceRecord) => ServicePatch | undefined, line?: string): Promise<ServiceRecord | undefined> {
    for (let tries = 0; tries < 50; tries += 1) {
      const service = await this.store.services.get(name);
      if (!service) return undefined;
      const patch = fn(service);
      if (patch === undefined) return service;
      const updated = await this.store.services.update(name, service.revision, { ...patch, updatedAt: this.clock.now() });
      if (updated) {
        if (line !== undefined) await this.event(name, line);
        return updated;
      }
    }
    throw new Error(`service ${name} kept changing while it was being updated`);
  }

  /**
   * Resolves with what `test` returns once it returns something other than undefined for the
   * stored service (undefined when it is gone), read again at each notice of it; rejects when
   * `test` throws or the signal aborts.
   */
  waitUntil<T>(name: string, test: (service: ServiceRecord | undefined) => T | undefined, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (err: unknown, value?: T): void => {
        if (settled) return;
        settled = true;
        this.notices.off(name, check);
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve(value as T);
      };
      const check = (): void => {
        void this.store.services.get(name).then((s) => {
          const value = test(s);
          if (value !== undefined) finish(undefined, value);
        }).catch((err: unknown) => finish(err));
      };
      const onAbort = (): void => finish(signal.reason);
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      this.notices.on(name, check);
      check();
    });
  }

  private onChange(change: StoreChange): void {
    if (change.kind === 'service') {
      this.notices.emit(change.name);
      if (this.driving) this.kick(change.name);
      return;
    }
    if (change.kind === 'job' || change.kind === 'cluster') {
      const owner = this.replicaClusters.get(change.kind === 'job' ? change.cluster : change.name);
      if (owner !== undefined && this.driving) this.kick(owner);
    }
  }

  private async step(name: string): Promise<void> {
    const service = await this.store.services.get(name);
    if (!service) {
      await this.balancers.stop(name);
      this.autoscalers.delete(name);
      return;
    }
    if (service.status === 'SHUTTING_DOWN') {
      await this.shutDown(service);
      return;
    }
    if (service.status === 'FAILED') {
      await this.balancers.stop(name);
      return;
    }
    const withLb = await this.ensureBalancer(service);
    const checked = await this.checkReplicas(withLb);
    await this.apply(checked);
  }

  /** The service's load balancer runs here, on its recorded port when it has one (clients keep the endpoint across restarts). */
  private async ensureBalancer(service: ServiceRecord): Promise<ServiceRecord> {
    const spec = await this.store.services.getVersion(service.name, service.version);
    const running = await this.balancers.ensure(service, spec);
    if (service.lbPort === running.port && service.endpoint === running.endpoint && service.lbReplica === running.replica && service.status !== 'CONTROLLER_INIT') return service;
    return (
      (await this.change(
        service.name,
        (s) => ({ lbPort: running.port, endpoint: running.endpoint, lbReplica: running.replica, ...(s.status === 'CONTROLLER_INIT' ? { status: 'REPLICA_INIT' as const } : {}) }),
        `load balancer listening at ${running.endpoint} (on ${running.replica})`,
      )) ?? service
    );
  }

  /** Replicas whose job ended or whose cluster is gone are recorded as such (and replaced by the plan). */
  private async checkReplicas(service: ServiceRecord): Promise<ServiceRecord> {
    let current = service;
    for (const replica of service.replicas) {
      if (!['STARTING', 'READY', 'NOT_READY'].includes(replica.status) || this.busy.has(this.key(service.name, replica.id))) continue;
      const cluster = await this.store.clusters.get(replica.cluster);
      let outcome: Partial<ServiceReplica> | undefined;
      if (!cluster || cluster.status !== 'UP') outcome = { status: 'PREEMPTED', reason: cluster ? `its cluster is ${cluster.status}` : 'its cluster is gone' };
      else if (replica.jobId !== undefined) {
        const job = await this.store.jobs.get(replica.cluster, replica.jobId);
        if (!job || job.clusterId !== cluster.clusterId) outcome = { status: 'PREEMPTED', reason: 'its job is gone' };
        else if (isJobTerminal(job.status)) {
          const lost = job.reason?.includes('unreachable') === true;
          outcome = lost ? { status: 'PREEMPTED', reason: job.reason } : { status: 'FAILED', reason: `its run command ended ${job.status}${job.exitCodes?.length ? ` (exit ${job.exitCodes.join(',')})` : ''}` };
        }
      }
      if (outcome === undefined) continue;
      const set = outcome;
      current =
        (await this.change(service.name, (s) => (s.replicas.some((r) => r.id === replica.id && r.status === replica.status) ? { replicas: withReplica(s, replica.id, set) } : undefined), `replica ${replica.id}: ${set.status} (${set.reason ?? ''})`)) ?? current;
      await this.noteFailure(service.name, set.status ?? 'FAILED', set.reason);
    }
    return current;
  }

  /** Record the plan (new replicas, those to shut down, the active version, the status), then act on it in the background. */
  private async apply(service: ServiceRecord): Promise<void> {
    const now = this.clock.now();
    const updated = await this.change(service.name, (s) => {
      const plan = planService(s);
      let replicas = s.replicas.map((r) => (plan.shutdown.includes(r.id) ? { ...r, status: 'SHUTTING_DOWN' as const } : r));
      let nextId = s.nextReplicaId;
      for (let i = 0; i < plan.launch; i += 1) {
        replicas.push({ id: nextId, version: s.version, status: 'PENDING', cluster: replicaCluster(s.name, nextId), launchedAt: now, failedProbes: 0 });
        nextId += 1;
      }
      // Failed replicas whose cluster is gone are kept only as the few newest, for the listing.
      const gone = replicas.filter((r) => isGone(r) && r.reason?.endsWith('(torn down)') === true).sort((a, b) => b.id - a.id);
      const dropped = new Set(gone.slice(GONE_KEPT).map((r) => r.id));
      if (dropped.size > 0) replicas = replicas.filter((r) => !dropped.has(r.id));
      const unchanged = plan.launch === 0 && plan.shutdown.length === 0 && dropped.size === 0 && plan.activeVersion === s.activeVersion && plan.status === s.status;
      return unchanged ? undefined : { replicas, nextReplicaId: nextId, activeVersion: plan.activeVersion, status: plan.status };
    });
    if (!updated) return;
    const plan = planService(updated);
    this.balancers.setPool(updated.name, plan.pool);
    for (const replica of updated.replicas) {
      this.replicaClusters.set(replica.cluster, updated.name);
      const key = this.key(updated.name, replica.id);
      if (this.busy.has(key)) continue;
      if (replica.status === 'PENDING' || replica.status === 'PROVISIONING') this.inBackground(key, (signal) => this.launch(updated, replica, signal));
      else if (replica.status === 'SHUTTING_DOWN' || (isGone(replica) && replica.reason?.endsWith('(torn down)') !== true)) this.inBackground(key, (signal) => this.retire(updated.name, replica, signal));
    }
  }

  private key(service: string, replica: number): string {
    return `${service}/${replica}`;
  }

  private inBackground(key: string, work: (signal: AbortSignal) => Promise<void>): void {
    const wait = this.cooldown.get(key);
    if (wait !== undefined && wait.until > Date.now()) return;
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    this.stopping.signal.addEventListener('abort', stop, { once: true });
    const service = key.slice(0, key.lastIndexOf('/'));
    const run = work(abort.signal)
      .then(
        () => {
          this.cooldown.delete(key);
        },
        (err: unknown) => {
          if (abort.signal.aborted) return;
          // Tried again after 2, 4, … 60 s (a teardown of an unreachable node, a store away), not in a tight loop.
          const failures = (this.cooldown.get(key)?.failures ?? 0) + 1;
          const delay = Math.min(60_000, 1000 * 2 ** failures);
          this.cooldown.set(key, { until: Date.now() + delay, failures });
          setTimeout(() => this.kick(service), delay).unref();
          this.logger.warn({ replica: key, err, retryInMs: delay }, 'services: a replica action failed');
        },
      )
      .finally(() => {
        this.stopping.signal.removeEventListener('abort', stop);
        this.busy.delete(key);
        this.background.delete(run);
        this.kick(service);
      });
    this.busy.set(key, { abort, run });
    this.background.add(run);
  }

  private progressFor(name: string, signal: AbortSignal): Progress {
    return { signal, log: (line) => void this.event(name, line).catch(() => undefined) };
  }

  /** A context for the cluster service acting for the service's owner: its lines go to the controller log. */
  private contextFor(service: ServiceRecord, replica: ServiceReplica, signal: AbortSignal): OperationContext {
    const request: RequestRecord = {
      id: replicaTag(service.name, replica.id),
      name: 'serve_up',
      user: service.user,
      userName: service.userName,
      workspace: service.workspace,
      lane: 'long',
      status: 'RUNNING',
      createdAt: service.createdAt,
      body: {},
      attempts: 1,
    };
    return { request, signal, logger: this.logger, log: (text) => this.event(service.name, `replica ${replica.id}: ${text}`) };
  }

  /** Provision the replica's cluster, then start the task's run command there with the replica's port. */
  private async launch(service: ServiceRecord, replica: ServiceReplica, signal: AbortSignal): Promise<void> {
    await this.slots.acquire(signal);
    try {
      const spec = await this.store.services.getVersion(service.name, replica.version);
      if (!spec) {
        await this.replicaFailed(service.name, replica.id, 'FAILED', `version ${replica.version} of the service is no longer stored`);
        return;
      }
      const started = await this.change(service.name, (s) => (s.replicas.some((r) => r.id === replica.id && r.status === 'PENDING') ? { replicas: withReplica(s, replica.id, { status: 'PROVISIONING' }) } : undefined));
      if (!started?.replicas.some((r) => r.id === replica.id && r.status === 'PROVISIONING')) return;
      const existing = await this.store.clusters.get(replica.cluster);
      if (existing && existing.owner !== service.user) {
        // Not the service's failure (someone holds the name): it does not count toward FAILED, and the next id is tried.
        await this.replicaFailed(service.name, replica.id, 'FAILED', `cluster name ${replica.cluster} is held by another user's cluster (torn down)`, false);
        return;
      }
      // Replica ids are never reused: a cluster of this name is what an interrupted launch of this replica left.
      if (existing) {
        await this.event(service.name, `replica ${replica.id}: tearing down ${replica.cluster}, left by an interrupted launch`);
        await this.clusters.teardown(replica.cluster, this.progressFor(service.name, signal));
      }
      const ctx = this.contextFor(service, replica, signal);
      const raw = openBodySecrets(this.secrets, { task: spec.task, uploads: spec.uploads }) as Pick<ServiceVersionSpec, 'task' | 'uploads'>;
      const uploads = raw.uploads !== undefined ? { uploads: raw.uploads as never } : {};
      const withoutRun = replicaTask(raw.task, undefined);
      const launched = await this.clusters.launch(ctx, { task: withoutRun, cluster: replica.cluster, ...uploads }, { tagOnly: true });
      const cluster = await this.store.clusters.get(replica.cluster);
      const head = cluster?.nodes.find((n) => n.rank === 0);
      if (!cluster || !head) throw new Error(`cluster ${replica.cluster} has no head node after its launch`);
      const port = await replicaPort(head.address, spec.service.port);
      const run = replicaTask(raw.task, { service: service.name, replica: replica.id, port });
      const exec = await this.clusters.exec(ctx, { cluster: replica.cluster, task: run }, { tagOnly: true });
      const endpoint = `http://${head.address}:${port}`;
      await this.change(
        service.name,
        (s) => (s.replicas.some((r) => r.id === replica.id && r.status === 'PROVISIONING') ? { replicas: withReplica(s, replica.id, { status: 'STARTING', endpoint, jobId: exec.jobId, resources: cluster.resources ?? launched.plan.resources, launchedAt: this.clock.now(), reason: undefined }) } : undefined),
        `replica ${replica.id}: STARTING at ${endpoint} (job ${exec.jobId} on ${replica.cluster})`,
      );
    } catch (err) {
      if (signal.aborted) {
        // Handed back (a stop): the next leader finds it PROVISIONING and starts it again from a clean cluster.
        await this.change(service.name, (s) => (s.replicas.some((r) => r.id === replica.id && r.status === 'PROVISIONING') ? { replicas: withReplica(s, replica.id, { status: 'PENDING' }) } : undefined)).catch(() => undefined);
        return;
      }
      await this.replicaFailed(service.name, replica.id, 'FAILED', `launch failed: ${message(err)}`);
    } finally {
      this.slots.release();
    }
  }

  private async replicaFailed(name: string, id: number, status: 'FAILED' | 'FAILED_PROBING' | 'PREEMPTED', reason: string, counts = true): Promise<void> {
    await this.change(name, (s) => (s.replicas.some((r) => r.id === id && !isGone(r)) ? { replicas: withReplica(s, id, { status, reason }) } : undefined), `replica ${id}: ${status} (${reason})`);
    if (counts) await this.noteFailure(name, status, reason);
  }

  /**
   * A replica failed on its own (not a lost node). Replicas failing one after another with none
   * READY in between (a run command that exits at once, a port never served) would be relaunched
   * forever: past twice the maximum replicas (at least 3) the service is FAILED instead.
   */
  private async noteFailure(name: string, status: string, reason: string | undefined): Promise<void> {
    if (status === 'PREEMPTED') return;
    const count = (this.failuresInARow.get(name) ?? 0) + 1;
    this.failuresInARow.set(name, count);
    const service = await this.store.services.get(name);
    if (!service) return;
    const limit = Math.max(3, 2 * service.replicaPolicy.maxReplicas);
    if (count < limit) return;
    await this.change(name, (s) => (s.status === 'SHUTTING_DOWN' || s.status === 'FAILED' ? undefined : { status: 'FAILED', reason: `${count} replicas failed in a row, none READY in between; the last: ${reason ?? status}` }), `FAILED: ${count} replicas failed in a row`);
  }

  /** Tear down a replica's cluster; one shut down on purpose leaves the record, a failed one stays listed (marked torn down). */
  private async retire(name: string, replica: ServiceReplica, signal: AbortSignal): Promise<void> {
    const cluster = await this.store.clusters.get(replica.cluster);
    const service = await this.store.services.get(name);
    if (cluster && service && cluster.owner === service.user) {
      // Out of the pool already (the plan was applied): what it is answering now finishes first.
      if (replica.status === 'SHUTTING_DOWN') await this.balancers.drained(name, DRAIN_MS);
      await this.event(name, `replica ${replica.id}: tearing down ${replica.cluster}`);
      await this.clusters.teardown(replica.cluster, this.progressFor(name, signal));
    }
    await this.change(name, (s) => {
      const now = s.replicas.find((r) => r.id === replica.id);
      if (!now) return undefined;
      if (now.status === 'SHUTTING_DOWN') return { replicas: s.replicas.filter((r) => r.id !== replica.id) };
      if (isGone(now) && now.reason?.endsWith('(torn down)') !== true) return { replicas: withReplica(s, replica.id, { reason: `${now.reason ?? now.status} (torn down)` }) };
      return undefined;
    });
  }

  /** `serve down`: every replica's cluster torn down, then the service and its load balancer are gone. */
  private async shutDown(service: ServiceRecord): Promise<void> {
    await this.balancers.stop(service.name);
    const signal = this.stopping.signal;
    // Launches under way stop first, so a cluster one was making is there to be torn down below.
    const mine = [...this.busy].filter(([k]) => k.startsWith(`${service.name}/`)).map(([, b]) => b);
    for (const { abort } of mine) abort.abort();
    await Promise.allSettled(mine.map((b) => b.run));
    const failures: string[] = [];
    await Promise.all(
      service.replicas.map(async (replica) => {
        const cluster = await this.store.clusters.get(replica.cluster);
        if (!cluster || cluster.owner !== service.user) return;
        try {
          await this.clusters.teardown(replica.cluster, this.progressFor(service.name, signal));
        } catch (err) {
          failures.push(`${replica.cluster}: ${message(err)}`);
        }
      }),
    );
    if (failures.length > 0) {
      await this.change(service.name, () => ({ status: 'FAILED_CLEANUP', reason: `could not tear down ${failures.join('; ')}` }), `FAILED_CLEANUP: ${failures.join('; ')}`);
      return;
    }
    await this.store.services.delete(service.name);
    this.autoscalers.delete(service.name);
    this.notices.emit(service.name);
  }

  /** Every probe interval: probe the replicas, feed the autoscalers. */
  private async onTick(): Promise<void> {
    if (this.ticking || !this.driving) return;
    this.ticking = true;
    try {
      for (const service of await this.store.services.list()) {
        if (service.status === 'SHUTTING_DOWN' || service.status === 'FAILED' || service.status === 'FAILED_CLEANUP') continue;
        await this.probeAll(service);
        await this.autoscale(service);
      }
    } catch (err) {
      this.logger.warn({ err }, 'services: a probe round failed');
    } finally {
      this.ticking = false;
    }
  }

  private async probeAll(service: ServiceRecord): Promise<void> {
    const spec = await this.store.services.getVersion(service.name, service.version);
    const probed = service.replicas.filter((r) => r.endpoint !== undefined && ['STARTING', 'READY', 'NOT_READY'].includes(r.status));
    if (probed.length === 0) return;
    const results = await Promise.all(
      probed.map(async (replica) => {
        const version = replica.version === service.version ? spec : await this.store.services.getVersion(service.name, replica.version);
        const probe = version?.service.readinessProbe;
        return { replica, result: probe ? await probeReplica(replica.endpoint!, probe, this.stopping.signal) : ({ ok: false, reason: 'its version is no longer stored' } as const), probe };
      }),
    );
    const now = this.clock.now();
    const graceMs = this.config.serve.not_ready_grace_seconds * 1000;
    const lines: string[] = [];
    const updated = await this.change(service.name, (s) => {
      let changed = false;
      const replicas = s.replicas.map((r) => {
        const seen = results.find((x) => x.replica.id === r.id);
        if (!seen || r.status !== seen.replica.status) return r;
        const { result, probe } = seen;
        if (result.ok) {
          if (r.status === 'READY' && r.failedProbes === 0) return r;
          changed = true;
          if (r.status !== 'READY') lines.push(`replica ${r.id}: READY`);
          return { ...r, status: 'READY' as const, readySince: r.status === 'READY' ? r.readySince : now, failedProbes: 0, reason: undefined };
        }
        changed = true;
        const failedProbes = r.failedProbes + 1;
        if (r.status === 'STARTING') {
          const delay = (probe?.initialDelaySeconds ?? 0) * 1000;
          if (now - r.launchedAt > delay) {
            lines.push(`replica ${r.id}: FAILED_PROBING (not ready within initial_delay_seconds: ${result.reason})`);
            return { ...r, status: 'FAILED_PROBING' as const, failedProbes, reason: `not ready within ${probe?.initialDelaySeconds ?? 0} s: ${result.reason}` };
          }
          return { ...r, failedProbes, reason: result.reason };
        }
        if (r.status === 'READY' && failedProbes >= PROBE_FAILURES_TO_NOT_READY) {
          lines.push(`replica ${r.id}: NOT_READY (${result.reason})`);
          return { ...r, status: 'NOT_READY' as const, failedProbes, reason: result.reason, readySince: now };
        }
        if (r.status === 'NOT_READY' && now - (r.readySince ?? now) > graceMs) {
          lines.push(`replica ${r.id}: FAILED_PROBING (not ready for ${this.config.serve.not_ready_grace_seconds} s: ${result.reason})`);
          return { ...r, status: 'FAILED_PROBING' as const, failedProbes, reason: `not ready for ${this.config.serve.not_ready_grace_seconds} s: ${result.reason}` };
        }
        return { ...r, failedProbes, reason: result.reason };
      });
      return changed ? { replicas } : undefined;
    });
    for (const line of lines) {
      await this.event(service.name, line);
      if (line.includes(': READY')) this.failuresInARow.delete(service.name);
      else if (line.includes('FAILED_PROBING')) await this.noteFailure(service.name, 'FAILED_PROBING', line);
    }
    if (updated && lines.length > 0) this.kick(service.name);
  }

  private async autoscale(service: ServiceRecord): Promise<void> {
    const policy = service.replicaPolicy;
    if (policy.targetQpsPerReplica === undefined) return;
    let scaler = this.autoscalers.get(service.name);
    if (!scaler) {
      scaler = new Autoscaler();
      this.autoscalers.set(service.name, scaler);
    }
    const qps = this.balancers.qps(service.name, this.config.serve.qps_window_seconds);
    const wanted = scaler.decide(policy, service.targetReplicas, qps, this.clock.now());
    if (wanted === service.targetReplicas) return;
    await this.change(service.name, (s) => (s.targetReplicas === service.targetReplicas ? { targetReplicas: wanted } : undefined), `autoscaler: ${qps.toFixed(1)} requests/s → ${wanted} replica${wanted === 1 ? '' : 's'} (was ${service.targetReplicas})`);
    this.kick(service.name);
  }

  private async stepFailed(name: string, err: unknown): Promise<void> {
    if (!this.driving) return;
    const count = (this.stepErrors.get(name) ?? 0) + 1;
    this.stepErrors.set(name, count);
    this.logger.error({ service: name, err, count }, 'service step failed');
    try {
      if (count >= MAX_STEP_ERRORS) {
        await this.change(name, (s) => (s.status === 'SHUTTING_DOWN' ? undefined : { status: 'FAILED', reason: `the controller failed ${count} times in a row: ${message(err)}` }), `FAILED: ${message(err)}`);
        return;
      }
      await this.event(name, `controller error (${count} of ${MAX_STEP_ERRORS}): ${message(err)}; trying again`);
    } catch (again) {
      this.logger.error({ service: name, err: again }, 'services: recording a controller error failed');
    }
    const timer = setTimeout(() => this.kick(name), Math.min(60_000, 1000 * 2 ** count));
    timer.unref();
  }
}
