import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { ManagedJobPatch, StateStore, StoreChange } from '@sky/plugin-api';
import {
  isJobTerminal,
  isManagedJobTerminal,
  toSkyError,
  type ClusterRecord,
  type JobRecord,
  type JobRecovery,
  type ManagedJobRecord,
  type ManagedJobStatus,
  type ManagedTaskState,
  type RequestRecord,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig, DaemonPaths } from '../config/schema.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { openBodySecrets } from '../secrets/sealed-values.js';
import type { OperationContext } from '../ops/registry.js';
import { ClusterService } from '../clusters/cluster-service.js';
import { Provisioner, provisioned, type Candidate, type Progress } from '../clusters/provisioner.js';
import { callDriver } from '../clusters/driver-calls.js';
import { submittedTask } from '../clusters/submitted-task.js';
import { primaryFields } from '../clusters/resources.js';
import { JobLogs } from '../clusters/job-logs.js';
import { AttemptLogs } from './attempt-logs.js';
import { attemptTag, managedClusterName, managedJobOfCluster } from './cluster-names.js';
import { decideEnd, type TaskEnd } from './recovery.js';
import { LaunchSlots } from './launch-slots.js';
import { KeyedSteps } from '../steps/keyed-steps.js';

/** Provisioning errors that say "not now, not here" (retried, then FAILED_NO_RESOURCE), not "never". */
const CAPACITY_CODES = new Set(['NO_CAPACITY', 'RESOURCES_UNAVAILABLE', 'NO_DRIVER', 'DRIVER_FAILED', 'NODE_UNREACHABLE', 'CLUSTER_NOT_UP']);
/** Cancelled jobs whose clusters are torn down at once. */
const TEARDOWN_PARALLELISM = 500;
/** Consecutive unexpected errors of one job's steps before it ends FAILED_CONTROLLER. */
const MAX_STEP_ERRORS = 5;

type TaskPatch = Partial<ManagedTaskState>;

function stoppedSignal(): AbortController {
  const controller = new AbortController();
  controller.abort();
  return controller;
}

function withTask(job: ManagedJobRecord, index: number, patch: TaskPatch): ManagedTaskState[] {
  return job.tasks.map((t, i) => (i === index ? { ...t, ...patch } : t));
}

/** Time RUNNING so far, the current run included when it ended at `at`. */
function ranFor(task: ManagedTaskState, at: number): number {
  return task.runningMs + (task.runningSince !== undefined ? Math.max(0, at - task.runningSince) : 0);
}

/**
 * The managed-job controller, inside the daemon: no process and no polling loop per job. Each
 * managed job is a small state machine whose steps run one at a time per job, started by what
 * happens: a submit, a cancel, a change of its cluster job or cluster in the store's change
 * feed, a timer for a retry. Every step reads the stored record, records the transition it is
 * about to make (compare-and-set), then acts; so after a restart each job continues from its
 * stored state, and a cluster is found again by its name and a job by its attempt tag.
 */
@injectable()
export class ManagedJobController {
  /** Emits the job id (as a string) whenever its record or controller log changed. */
  readonly notices = new EventEmitter();
  readonly attemptLogs: AttemptLogs;
  private readonly steps = new KeyedSteps<number>();
  private readonly inflight = new Map<number, AbortController>();
  private readonly clusterJobs = new Map<string, number>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly waitingForCapacity = new Set<number>();
  private readonly stepErrors = new Map<number, number>();
  private readonly launchFailures = new Map<number, number>();
  private readonly slots: LaunchSlots;
  private readonly teardownSlots = new LaunchSlots(TEARDOWN_PARALLELISM);
  /** Aborted while the controller does not drive jobs (before start, after stop: another replica leads). */
  private stopping = stoppedSignal();
  /** Jobs this controller took up since it started, and those whose cancel it has seen (shared feed only). */
  private readonly known = new Set<number>();
  private readonly cancelSeen = new Set<number>();
  private sharedChanges = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Paths) paths: DaemonPaths,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(ClusterService) private readonly clusters: ClusterService,
    @inject(Provisioner) private readonly provisioner: Provisioner,
    @inject(JobLogs) private readonly jobLogs: JobLogs,
  ) {
    this.notices.setMaxListeners(0);
    this.attemptLogs = new AttemptLogs(join(paths.stateDir, 'managed-jobs'));
    this.slots = new LaunchSlots(config.managed_jobs.launch_parallelism);
  }

  /**
   * Follow the changes (at daemon start, on every replica: notices for waiters and log
   * followers). `shared`: they come from the feed every replica writes, so a job submitted or
   * cancelled on another replica is taken up here when this controller drives jobs.
   */
  listen(subscribe: (listener: (change: StoreChange) => void) => () => void, shared: boolean): void {
    this.unsubscribe?.();
    this.sharedChanges = shared;
    this.unsubscribe = subscribe((change) => this.onChange(change));
  }

  /** Whether this controller drives jobs now (it runs on the leader replica only). */
  get driving(): boolean {
    return !this.stopping.signal.aborted;
  }

  /** Drive jobs (this replica became the leader): take up every unfinished managed job where its record says it is. */
  async start(): Promise<void> {
    if (this.driving) return;
    if (this.unsubscribe === undefined) this.listen((listener) => this.store.subscribe(listener), false);
    this.stopping = new AbortController();
    for (const job of await this.store.managedJobs.list({ active: true })) {
      const cluster = job.tasks[job.currentTask]?.cluster;
      if (cluster !== undefined) this.clusterJobs.set(cluster, job.id);
      this.kick(job.id);
    }
    void this.sweep().catch((err: unknown) => this.logger.error({ err }, 'managed jobs: sweeping clusters of ended jobs failed'));
  }

  /** Stop taking steps (a shutdown, or another replica leads now): in-flight launches are aborted and left to the next start, here or on the new leader. */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const abort of this.inflight.values()) abort.abort();
    await this.steps.settled();
    this.clusterJobs.clear();
    this.waitingForCapacity.clear();
    this.stepErrors.clear();
    this.launchFailures.clear();
    this.known.clear();
    this.cancelSeen.clear();
  }

  /** Stop driving and stop following the changes (daemon shutdown). */
  async close(): Promise<void> {
    await this.stop();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Run a step for the job soon: steps of one job never overlap, and kicks waiting for their turn merge. */
  kick(id: number): void {
    if (this.stopping.signal.aborted) return;
    this.known.add(id);
    this.steps.kick(id, async () => {
      if (this.stopping.signal.aborted) return;
      try {
        await this.step(id);
        this.stepErrors.delete(id);
      } catch (err) {
        await this.stepFailed(id, err);
      }
    });
  }

  /** Abort what the job is doing now (a launch waiting for capacity or provisioning): a cancel. */
  interrupt(id: number): void {
    // A cancel asked here: its change coming back through the shared feed needs nothing more.
    if (this.driving) this.cancelSeen.add(id);
    this.inflight.get(id)?.abort();
    const timer = this.timers.get(id);
    if (timer) clearTimeout(timer);
    this.timers.delete(id);
  }

  /** Resolves once every one of the jobs has ended (or the signal aborts). Each notice reads only its own job. */
  async waitEnded(ids: readonly number[], signal: AbortSignal): Promise<void> {
    const left = new Set(ids);
    if (left.size === 0) return;
    await new Promise<void>((resolve, reject) => {
      const listeners = new Map<string, () => void>();
      let settled = false;
      const done = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        for (const [key, fn] of listeners) this.notices.off(key, fn);
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => done(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const check = (id: number): void => {
        if (!left.has(id)) return;
        void this.store.managedJobs.get(id).then((job) => {
          if (!job || isManagedJobTerminal(job.status)) {
            left.delete(id);
            const fn = listeners.get(String(id));
            if (fn) this.notices.off(String(id), fn);
            listeners.delete(String(id));
            if (left.size === 0) done();
          }
        }, done);
      };
      for (const id of ids) {
        const fn = (): void => check(id);
        listeners.set(String(id), fn);
        this.notices.on(String(id), fn);
        check(id);
      }
    });
  }

  /** Append a line to the job's controller log. */
  async event(id: number, text: string): Promise<void> {
    await this.store.managedJobs.appendEvents(id, [{ at: this.clock.now(), text }]);
    this.notices.emit(String(id));
  }

  /**
   * Apply a change to the job's record, compare-and-set against concurrent writers (a cancel);
   * `fn` sees the freshest record and returns undefined to leave it as it is.
   */
  async change(id: number, fn: (job: ManagedJobRecord) => ManagedJobPatch | undefined, line?: string): Promise<ManagedJobRecord | undefined> {
    for (let tries = 0; tries < 50; tries += 1) {
      const job = await this.store.managedJobs.get(id);
      if (!job) return undefined;
      const patch = fn(job);
      if (patch === undefined) return job;
      const updated = await this.store.managedJobs.update(id, job.version, patch);
      if (updated) {
        if (line !== undefined) await this.event(id, line);
        return updated;
      }
    }
    throw new Error(`managed job ${id} kept changing while it was being updated`);
  }

  private onChange(change: StoreChange): void {
    if (change.kind === 'managedJob') {
      this.notices.emit(String(change.id));
      if (this.sharedChanges && this.driving) this.takeUp(change.record);
      return;
    }
    if (change.kind === 'job') {
      const id = this.clusterJobs.get(change.cluster);
      if (id !== undefined && change.record !== undefined) this.kick(id);
      return;
    }
    if (change.record !== undefined) return;
    const id = this.clusterJobs.get(change.name);
    if (id !== undefined) this.kick(id);
    // A cluster went away: capacity may be free for jobs waiting to be relaunched.
    for (const waiting of [...this.waitingForCapacity].slice(0, this.config.managed_jobs.launch_parallelism)) {
      this.waitingForCapacity.delete(waiting);
      this.kick(waiting);
    }
  }

  /** A job submitted or cancelled on any replica (the shared feed): driven here, once. */
  private takeUp(job: ManagedJobRecord): void {
    if (isManagedJobTerminal(job.status)) return;
    if (job.status === 'CANCELLING') {
      if (this.cancelSeen.has(job.id)) return;
      this.interrupt(job.id);
      this.kick(job.id);
      return;
    }
    if (!this.known.has(job.id)) this.kick(job.id);
  }

  private async step(id: number): Promise<void> {
    const job = await this.store.managedJobs.get(id);
    if (!job) return;
    if (isManagedJobTerminal(job.status)) {
      this.forget(job);
      return;
    }
    if (job.status === 'CANCELLING') {
      await this.finishCancel(job);
      return;
    }
    const task = job.tasks[job.currentTask]!;
    if (task.cluster !== undefined && task.clusterJobId !== undefined) await this.follow(job);
    else await this.launch(job);
  }

  private forget(job: ManagedJobRecord): void {
    for (const [cluster, id] of this.clusterJobs) if (id === job.id) this.clusterJobs.delete(cluster);
    this.waitingForCapacity.delete(job.id);
    this.launchFailures.delete(job.id);
    this.stepErrors.delete(job.id);
  }

  /** A context for the cluster service acting for the job's owner: its lines go to the controller log. */
  private contextFor(job: ManagedJobRecord, signal: AbortSignal): OperationContext {
    const request: RequestRecord = {
      id: attemptTag(job.id, job.attempts),
      name: 'jobs_launch',
      user: job.user,
      userName: job.userName,
      workspace: job.workspace,
      lane: 'long',
      status: 'RUNNING',
      createdAt: job.submittedAt,
      body: {},
      attempts: 1,
    };
    return {
      request,
      signal,
      logger: this.logger,
      log: (text) => this.event(job.id, text),
    };
  }

  private progressFor(job: ManagedJobRecord, signal: AbortSignal): Progress {
    return { signal, log: (line) => void this.event(job.id, line).catch(() => undefined) };
  }

  private async recoveryOf(job: ManagedJobRecord): Promise<JobRecovery | undefined> {
    const spec = await this.store.managedJobs.getSpec(job.id);
    const raw = spec?.tasks[job.currentTask]?.task;
    if (raw === undefined) return undefined;
    try {
      return primaryFields(submittedTask(openBodySecrets(this.secrets, raw))).job_recovery;
    } catch {
      return undefined;
    }
  }

  /** Launch the current task on a fresh cluster (or take up the attempt a restart interrupted). */
  private async launch(job: ManagedJobRecord): Promise<void> {
    const index = job.currentTask;
    const name = managedClusterName(job.id, job.userName);
    const limits = this.config.managed_jobs;
    if (job.status === 'RECOVERING' && job.recoveringSince !== undefined && this.clock.now() - job.recoveringSince > limits.recovery_wait_seconds * 1000) {
      await this.end(job, 'FAILED_NO_RESOURCE', `no capacity to relaunch it within ${limits.recovery_wait_seconds} s (${job.reason ?? 'after a lost node'})`);
      return;
    }
    const existing = await this.store.clusters.get(name);
    if (existing && existing.owner !== job.user) {
      // Made before the name was reserved, by someone else: never torn down on their behalf.
      await this.end(job, 'FAILED', `cluster name ${name} is held by ${existing.ownerName}'s cluster`);
      return;
    }
    if (existing) {
      const adopted = job.attempts > 0 ? await this.attemptJob(existing, attemptTag(job.id, job.attempts)) : undefined;
      if (adopted) {
        this.clusterJobs.set(name, job.id);
        await this.change(job.id, (j) => ({ tasks: withTask(j, index, { cluster: name, clusterJobId: adopted.id, infra: existing.infra, resources: existing.resources }) }), `task ${index}: found its job ${adopted.id} on ${name} again`);
        this.kick(job.id);
        return;
      }
      await this.teardown(job, name, 'a cluster left by an earlier attempt');
    }
    const spec = await this.store.managedJobs.getSpec(job.id);
    const submitted = spec?.tasks[index];
    if (submitted === undefined) {
      await this.end(job, 'FAILED_CONTROLLER', `the tasks of managed job ${job.id} are no longer stored`);
      return;
    }
    const eager = job.status === 'RECOVERING' && (await this.recoveryOf(job))?.strategy === 'EAGER_NEXT_REGION';
    const abort = new AbortController();
    this.inflight.set(job.id, abort);
    try {
      await this.slots.acquire(abort.signal);
      try {
        const started = await this.change(job.id, (j) =>
          j.status === 'CANCELLING' || isManagedJobTerminal(j.status)
            ? undefined
            : {
                attempts: j.attempts + 1,
                status: j.status === 'PENDING' ? 'STARTING' : j.status,
                tasks: withTask(j, index, { cluster: name, clusterJobId: undefined, status: j.status === 'RECOVERING' ? 'RECOVERING' : 'STARTING' }),
              },
        );
        if (!started || started.status === 'CANCELLING' || isManagedJobTerminal(started.status)) return;
        await this.event(job.id, `task ${index}: launching on cluster ${name} (attempt ${started.attempts})`);
        const raw = openBodySecrets(this.secrets, submitted) as typeof submitted;
        const result = await this.clusters.launch(
          this.contextFor(started, abort.signal),
          { task: raw.task, cluster: name, ...(raw.uploads !== undefined ? { uploads: raw.uploads } : {}) },
          { tagOnly: true, ...(eager ? { order: (candidates: Candidate[]) => this.nextPlaceFirst(started, candidates) } : {}) },
        );
        this.clusterJobs.set(name, job.id);
        this.launchFailures.delete(job.id);
        const cluster = await this.store.clusters.get(name);
        await this.change(
          job.id,
          (j) => ({ tasks: withTask(j, index, { clusterJobId: result.jobId, infra: cluster?.infra ?? result.plan.infra, resources: cluster?.resources ?? result.plan.resources }) }),
          `task ${index}: job ${result.jobId} queued on ${name} (${cluster?.infra ?? result.plan.infra})`,
        );
      } finally {
        this.slots.release();
      }
    } catch (err) {
      await this.launchFailed(job.id, name, err, abort.signal.aborted);
      return;
    } finally {
      if (this.inflight.get(job.id) === abort) this.inflight.delete(job.id);
    }
    this.kick(job.id);
  }

  /** EAGER_NEXT_REGION relaunches somewhere else first: the infra it just ran on goes last (FAILOVER keeps the task's order). */
  private nextPlaceFirst(job: ManagedJobRecord, candidates: Candidate[]): Candidate[] {
    const last = job.tasks[job.currentTask]!.infra;
    if (last === undefined) return candidates;
    return [...candidates.filter((c) => c.infra !== last), ...candidates.filter((c) => c.infra === last)];
  }

  private async attemptJob(cluster: ClusterRecord, tag: string): Promise<JobRecord | undefined> {
    const jobs = await this.store.jobs.list(cluster.name, { limit: 20 });
    return jobs.find((j) => j.requestId === tag);
  }

  private async launchFailed(id: number, name: string, err: unknown, aborted: boolean): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const job = await this.store.managedJobs.get(id);
    if (!job || isManagedJobTerminal(job.status)) return;
    // Whatever the failed launch left (an INIT record, nodes) goes before anything else.
    if (await this.ownCluster(job, name)) await this.teardown(job, name, 'the launch failed');
    if (job.status === 'CANCELLING' || aborted) {
      this.kick(id);
      return;
    }
    const error = toSkyError(err);
    const message = error?.message ?? (err instanceof Error ? err.message : String(err));
    if (error === undefined || !CAPACITY_CODES.has(error.code)) {
      await this.end(job, 'FAILED', `could not launch task ${job.currentTask}: ${message}`);
      return;
    }
    const limits = this.config.managed_jobs;
    if (job.status === 'RECOVERING') {
      await this.change(id, () => ({ reason: `waiting for capacity: ${message}` }), `task ${job.currentTask}: no capacity to relaunch (${message}); trying again in ${limits.retry_seconds} s or when a cluster is torn down`);
      this.waitingForCapacity.add(id);
      this.retryLater(id, limits.retry_seconds * 1000);
      return;
    }
    const failures = (this.launchFailures.get(id) ?? 0) + 1;
    this.launchFailures.set(id, failures);
    if (failures > limits.launch_retries) {
      await this.end(job, 'FAILED_NO_RESOURCE', `could not provision task ${job.currentTask}: ${message}`);
      return;
    }
    await this.event(id, `task ${job.currentTask}: provisioning failed (${message}); retry ${failures} of ${limits.launch_retries} in ${limits.retry_seconds} s`);
    this.retryLater(id, limits.retry_seconds * 1000);
  }

  private retryLater(id: number, ms: number): void {
    const old = this.timers.get(id);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      this.timers.delete(id);
      this.kick(id);
    }, ms);
    timer.unref();
    this.timers.set(id, timer);
  }

  /** Bring the record up to date with the task's job on its cluster; handle its end. */
  private async follow(job: ManagedJobRecord): Promise<void> {
    const index = job.currentTask;
    const task = job.tasks[index]!;
    const name = task.cluster!;
    this.clusterJobs.set(name, job.id);
    const cluster = await this.store.clusters.get(name);
    const clusterJob = cluster ? await this.store.jobs.get(name, task.clusterJobId!) : undefined;
    if (!cluster || !clusterJob || clusterJob.clusterId !== cluster.clusterId) {
      await this.ended(job, { status: 'FAILED', nodeLost: true, reason: `its cluster ${name} is gone` }, undefined);
      return;
    }
    if (!isJobTerminal(clusterJob.status)) {
      if (clusterJob.status === 'RUNNING' && job.status !== 'RUNNING') {
        const since = clusterJob.startedAt ?? this.clock.now();
        await this.change(
          job.id,
          (j) =>
            j.status === 'CANCELLING' || isManagedJobTerminal(j.status)
              ? undefined
              : {
                  status: 'RUNNING',
                  reason: undefined,
                  recoveringSince: undefined,
                  tasks: withTask(j, index, { status: 'RUNNING', runningSince: since, startedAt: j.tasks[index]!.startedAt ?? since }),
                },
          `task ${index}: RUNNING on ${name}`,
        );
      }
      return;
    }
    const end: TaskEnd = {
      status: clusterJob.status,
      ...(clusterJob.exitCodes !== undefined ? { exitCodes: clusterJob.exitCodes } : {}),
      ...(clusterJob.reason !== undefined ? { reason: clusterJob.reason } : {}),
      nodeLost: await this.nodeLost(job, cluster, clusterJob),
    };
    await this.ended(job, end, clusterJob.endedAt);
  }

  /** Whether the job ended because a node of its cluster is gone: its reason says so, or the driver does. */
  private async nodeLost(job: ManagedJobRecord, cluster: ClusterRecord, clusterJob: JobRecord): Promise<boolean> {
    if (clusterJob.status === 'SUCCEEDED' || clusterJob.status === 'CANCELLED') return false;
    if (clusterJob.reason?.includes('unreachable') === true) return true;
    try {
      const reports = await callDriver(cluster.driver, this.provisioner.driver(cluster.driver), 'status', this.progressFor(job, this.stopping.signal), (d, o) => d.status(provisioned(cluster), o));
      const bad = reports.find((r) => r.status !== 'UP');
      if (bad) await this.event(job.id, `node ${bad.nodeId} of ${cluster.name} is ${bad.status}${bad.reason ? ` (${bad.reason})` : ''}`);
      return bad !== undefined;
    } catch (err) {
      await this.event(job.id, `could not ask the driver about ${cluster.name}: ${err instanceof Error ? err.message : String(err)}; counted as a lost node`);
      return true;
    }
  }

  /** The current task's job ended: go on to the next task, relaunch, or end the managed job. */
  private async ended(job: ManagedJobRecord, end: TaskEnd, endedAt: number | undefined): Promise<void> {
    const index = job.currentTask;
    const task = job.tasks[index]!;
    const at = endedAt ?? this.clock.now();
    const recovery = await this.recoveryOf(job);
    const decision = decideEnd(end, recovery, { restarts: task.restarts }, this.config.managed_jobs.max_exit_code_restarts);
    await this.saveLogs(job);
    const closed: TaskPatch = {
      runningMs: ranFor(task, at),
      runningSince: undefined,
      clusterJobId: undefined,
      cluster: undefined,
      ...(end.exitCodes !== undefined ? { exitCodes: [...end.exitCodes] } : {}),
    };
    const name = task.cluster;
    if (decision.kind === 'succeeded') {
      const last = index + 1 >= job.tasks.length;
      const updated = await this.change(
        job.id,
        (j) =>
          j.status === 'CANCELLING' || isManagedJobTerminal(j.status)
            ? undefined
            : last
              ? { status: 'SUCCEEDED', reason: undefined, endedAt: at, tasks: withTask(j, index, { ...closed, status: 'SUCCEEDED', endedAt: at }) }
              : {
                  status: 'STARTING',
                  currentTask: index + 1,
                  tasks: withTask({ ...j, tasks: withTask(j, index, { ...closed, status: 'SUCCEEDED', endedAt: at }) }, index + 1, { status: 'STARTING' }),
                },
        last ? `task ${index}: SUCCEEDED; managed job SUCCEEDED` : `task ${index}: SUCCEEDED; starting task ${index + 1}`,
      );
      if (name !== undefined) await this.teardown(job, name, `task ${index} is over`);
      if (updated && !last) this.kick(job.id);
      return;
    }
    if (decision.kind === 'relaunch') {
      const updated = await this.change(
        job.id,
        (j) =>
          j.status === 'CANCELLING' || isManagedJobTerminal(j.status)
            ? undefined
            : {
                status: 'RECOVERING',
                recoveringSince: this.clock.now(),
                reason: decision.why,
                tasks: withTask(j, index, {
                  ...closed,
                  status: 'RECOVERING',
                  ...(decision.counts === 'recovery' ? { recoveries: j.tasks[index]!.recoveries + 1 } : { restarts: j.tasks[index]!.restarts + 1 }),
                }),
              },
        `task ${index}: ${decision.counts === 'recovery' ? 'recovering' : 'restarting'}: ${decision.why}`,
      );
      if (name !== undefined) await this.teardown(job, name, 'relaunching the task elsewhere');
      if (updated) this.kick(job.id);
      return;
    }
    await this.change(
      job.id,
      (j) => (isManagedJobTerminal(j.status) ? undefined : { status: decision.status, reason: decision.reason, endedAt: at, tasks: withTask(j, index, { ...closed, status: decision.status, endedAt: at }) }),
      `task ${index}: ${decision.status}: ${decision.reason}`,
    );
    if (name !== undefined) await this.teardown(job, name, `the managed job is ${decision.status}`);
  }

  /** End the managed job now (no task runs any more) and tear its cluster down. */
  private async end(job: ManagedJobRecord, status: ManagedJobStatus, reason: string): Promise<void> {
    const at = this.clock.now();
    await this.change(
      job.id,
      (j) =>
        isManagedJobTerminal(j.status)
          ? undefined
          : {
              status,
              reason,
              endedAt: at,
              tasks: j.tasks.map((t, i) => (i < j.currentTask ? t : { ...t, status: i === j.currentTask ? status : 'CANCELLED', runningMs: ranFor(t, at), runningSince: undefined, endedAt: at })),
            },
      `${status}: ${reason}`,
    );
    const name = managedClusterName(job.id, job.userName);
    if (await this.ownCluster(job, name)) await this.teardown(job, name, `the managed job is ${status}`);
    this.forget(job);
  }

  /** A cancel was recorded (CANCELLING): keep the task's log, tear its cluster down, record CANCELLED. */
  private async finishCancel(job: ManagedJobRecord): Promise<void> {
    const name = managedClusterName(job.id, job.userName);
    // Bounded like launches: thousands of teardowns at once would hold thousands of log copies and file handles.
    await this.teardownSlots.acquire(this.stopping.signal);
    try {
      await this.saveLogs(job);
      if (await this.ownCluster(job, name)) await this.teardown(job, name, 'cancelled');
    } finally {
      this.teardownSlots.release();
    }
    const at = this.clock.now();
    await this.change(
      job.id,
      (j) =>
        j.status !== 'CANCELLING'
          ? undefined
          : {
              status: 'CANCELLED',
              endedAt: at,
              tasks: j.tasks.map((t, i) => (i < j.currentTask ? t : { ...t, status: 'CANCELLED', runningMs: ranFor(t, at), runningSince: undefined, cluster: undefined, clusterJobId: undefined, endedAt: at })),
            },
      'CANCELLED',
    );
    this.forget(job);
  }

  /** Copy the current attempt's log off its cluster (best effort: a lost node has no log to give). */
  private async saveLogs(job: ManagedJobRecord): Promise<void> {
    const task = job.tasks[job.currentTask]!;
    if (task.cluster === undefined || task.clusterJobId === undefined) return;
    const cluster = await this.store.clusters.get(task.cluster);
    if (!cluster || cluster.status !== 'UP') return;
    try {
      const open = await this.jobLogs.open(task.cluster, task.clusterJobId, false, undefined);
      const abort = AbortSignal.timeout(30_000);
      const lines = (async function* () {
        for await (const event of open(abort)) if (event.type === 'log') yield event.line;
      })();
      await this.attemptLogs.save(job.id, { task: job.currentTask, attempt: job.attempts }, lines);
    } catch (err) {
      this.logger.warn({ managedJob: job.id, cluster: task.cluster, err }, 'could not keep the log of a managed job attempt');
    }
  }

  /** The job's cluster of that name, if there is one and it is the job owner's. */
  private async ownCluster(job: ManagedJobRecord, name: string): Promise<ClusterRecord | undefined> {
    const cluster = await this.store.clusters.get(name);
    return cluster?.owner === job.user ? cluster : undefined;
  }

  private async teardown(job: ManagedJobRecord, name: string, why: string): Promise<void> {
    this.clusterJobs.delete(name);
    await this.event(job.id, `tearing down ${name} (${why})`);
    try {
      await this.clusters.teardown(name, this.progressFor(job, this.stopping.signal));
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      await this.event(job.id, `tearing down ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  /** Clusters of managed jobs that have ended (a restart between the end and the teardown) are torn down. */
  private async sweep(): Promise<void> {
    for (const cluster of await this.store.clusters.list()) {
      const id = managedJobOfCluster(cluster.name);
      if (id === undefined) continue;
      const job = await this.store.managedJobs.get(id);
      if (!job || !isManagedJobTerminal(job.status) || cluster.owner !== job.user) continue;
      await this.teardown(job, cluster.name, 'its managed job has ended').catch(() => undefined);
    }
  }

  private async stepFailed(id: number, err: unknown): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const count = (this.stepErrors.get(id) ?? 0) + 1;
    this.stepErrors.set(id, count);
    this.logger.error({ managedJob: id, err, count }, 'managed job step failed');
    const message = err instanceof Error ? err.message : String(err);
    try {
      const job = await this.store.managedJobs.get(id);
      if (!job || isManagedJobTerminal(job.status)) return;
      if (count >= MAX_STEP_ERRORS) {
        await this.end(job, 'FAILED_CONTROLLER', `the controller failed ${count} times in a row: ${message}`);
        return;
      }
      await this.event(id, `controller error (${count} of ${MAX_STEP_ERRORS}): ${message}; trying again`);
    } catch (again) {
      this.logger.error({ managedJob: id, err: again }, 'managed job: recording a controller error failed');
    }
    this.retryLater(id, Math.min(60_000, 1000 * 2 ** count));
  }
}
