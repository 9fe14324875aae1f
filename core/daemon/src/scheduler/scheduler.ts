import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { isTerminal, SkyError, toSkyError, type ErrorBody, type Lane, type RequestRecord, type RequestStatus } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { OperationRegistry, type AfterRestart } from '../ops/registry.js';
import { RequestIdFactory } from './ids.js';
import { LaneQueue } from './lane.js';
import { QueueBudget } from './queue-budget.js';
import { LogBus } from './log-bus.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { openBodySecrets, sealBodySecrets } from '../secrets/sealed-values.js';
import { AccessPolicy } from '../auth/policy.js';
import { idempotencyHash } from './idempotency.js';
import { ReplicaLease } from '../replicas/replica-lease.js';
import { cancelOnOtherReplica } from './remote-cancel.js';
import { ClusterOwners } from '../replicas/cluster-owners.js';

export interface SubmitInput {
  name: string;
  body: unknown;
  lane: Lane;
  user: string;
  userName: string;
  workspace: string;
  cluster?: string;
  idempotencyKey?: string;
  /** How the submitter was authenticated (Caller.via), for validate(). */
  via?: string;
  /** Whether the user is an admin (their requests have the admins' running cap); asked of the access policy when absent. */
  privileged?: boolean;
}

export type CancelOutcome = 'cancelled' | 'finished' | 'missing';

/** Why a running request's abort signal fired. */
type AbortReason = 'cancel' | 'handback';

interface Running {
  controller: AbortController;
  reason?: AbortReason;
  done: Promise<void>;
}

/** The store cannot write right now (full disk, I/O error) but recovers by itself: worth retrying. */
function storeUnavailable(err: unknown): boolean {
  const code = toSkyError(err)?.code;
  return code === 'DISK_FULL' || code === 'STATE_UNAVAILABLE';
}

/** What start-up recovery and takeovers did. */
export interface TakeoverCounts {
  requeued: number;
  failed: number;
  resumed: number;
  completed: number;
}

/** How many of the latest requests queued at submit are remembered (so the shared feed's echo of them costs no read). */
const SUBMITTED_REMEMBERED = 4096;

/** How long a request whose state cannot be written waits before the next try. */
const STORE_RETRY_MS = 1000;

function errorInfo(err: unknown): ErrorBody['error'] {
  const sky = toSkyError(err);
  if (sky) return sky.toBody().error;
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'OPERATION_FAILED', message };
}

/**
 * The request dispatcher (hot path): submit persists, two lanes dispatch with their own
 * concurrency so short requests never wait behind long ones, each lane fair across users (a
 * running cap per user, round-robin between users), cancel is out of band, and every state
 * change is a compare-and-set in the store.
 */
@injectable()
export class Scheduler {
  private readonly lanes: Record<Lane, LaneQueue>;
  private readonly running = new Map<string, Running>();
  /** Ids of the requests waiting in this process's lanes. */
  private readonly queued = new Set<string>();
  /** Requests this process queued at submit (the latest ones): their change in the shared feed is not a handover. */
  private readonly submittedHere = new Set<string>();
  /** Whether each user with requests was an admin when they last submitted (their running cap). */
  private readonly privileged = new Map<string, boolean>();
  private readonly ids = new RequestIdFactory();
  /** Room for requests waiting to be dispatched (they are held in memory until then). */
  private readonly budget: QueueBudget;
  private accepting = true;
  private dispatching = true;
  /** Takeovers run one at a time (start-up recovery, then the periodic one). */
  private takingOver: Promise<unknown> = Promise.resolve();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(LogBus) private readonly bus: LogBus,
    @inject(OperationRegistry) private readonly operations: OperationRegistry,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(TOKENS.ReplicaId) private readonly replica: string,
    @inject(ReplicaLease) private readonly lease: ReplicaLease,
    @inject(ClusterOwners) private readonly owners: ClusterOwners,
  ) {
    this.budget = new QueueBudget(config.requests);
    this.lanes = {
      short: new LaneQueue('short', config.requests.short_workers),
      long: new LaneQueue('long', config.requests.long_workers),
    };
  }

  /** Persist a new request (or find the one its idempotency key names) and queue it. */
  async submit(input: SubmitInput): Promise<{ record: RequestRecord; created: boolean }> {
    try {
      return await this.submitUnaudited(input);
    } catch (err) {
      const { name, body, user, userName, cluster } = input;
      this.bus.refused({ name, body, user, userName, error: err, ...(cluster !== undefined ? { cluster } : {}) });
      throw err;
    }
  }

  private async submitUnaudited(input: SubmitInput): Promise<{ record: RequestRecord; created: boolean }> {
    if (!this.accepting) {
      throw new SkyError('SHUTTING_DOWN', 'the API server is shutting down and accepts no new requests', {
        hint: 'Retry in a few seconds; the daemon (or its replacement) will take it.',
      });
    }
    const handler = this.operations.get(input.name);
    if (handler === undefined) throw new SkyError('ROUTE_NOT_FOUND', `unknown operation ${input.name}`);
    await handler.validate?.(input.body, { id: input.user, name: input.userName, via: input.via ?? 'none' });
    // A request on a cluster runs on the replica that owns the cluster (this one on a store of its own).
    const owner = input.cluster !== undefined ? await this.owners.route(input.cluster) : this.replica;
    const record: RequestRecord = {
      id: this.ids.next(this.clock.now()),
      name: input.name,
      user: input.user,
      userName: input.userName,
      workspace: input.workspace,
      lane: input.lane,
      status: 'PENDING',
      createdAt: this.clock.now(),
      // Task secrets are sealed before the body is persisted; execute() opens them for the handler.
      body: sealBodySecrets(this.secrets, input.body),
      attempts: 0,
      // The replica that runs it: the one that accepted it, or the owner of the cluster it is
      // on; PENDING work has an owner, taken over if it dies.
      replica: owner,
    };
    if (input.cluster !== undefined) record.cluster = input.cluster;
    if (input.idempotencyKey !== undefined) {
      record.idempotencyKey = input.idempotencyKey;
      record.idempotencyHash = idempotencyHash(input.name, input.workspace, input.body);
    }
    this.budget.reserve(record.id, record.user, record.userName, JSON.stringify(record.body)?.length ?? 0);
    let result: Awaited<ReturnType<StateStore['requests']['create']>>;
    try {
      result = await this.store.requests.create(record);
    } catch (err) {
      this.budget.release(record.id);
      throw err;
    }
    if (!result.created) {
      this.budget.release(record.id);
      this.assertSameRequest(result.record, record);
    }
    if (result.created && owner !== this.replica) {
      // The owner hears of it through the shared feed (adopt) and runs it.
      this.budget.release(record.id);
    } else if (result.created) {
      const privileged = input.privileged ?? this.policy.isAdmin({ id: input.user, name: input.userName, role: 'user' });
      this.privileged.set(record.user, privileged);
      this.enqueue(record, privileged);
      if (this.lease.shared) this.rememberSubmitted(record.id);
      this.pump(record.lane);
    }
    return result;
  }

  private rememberSubmitted(id: string): void {
    this.submittedHere.add(id);
    if (this.submittedHere.size > SUBMITTED_REMEMBERED) this.submittedHere.delete(this.submittedHere.values().next().value!);
  }

  /** Put a PENDING request in its lane (once: a request already queued or running here is left alone). */
  private enqueue(record: RequestRecord, privileged: boolean): void {
    if (this.queued.has(record.id) || this.running.has(record.id)) return;
    this.queued.add(record.id);
    this.lanes[record.lane].push(record, this.capOf(record.lane, privileged));
  }

  /**
   * A request stored as this replica's by another one (it accepted a request on a cluster this
   * replica owns), heard through the shared feed: queue it here. Nothing happens when it is
   * queued or running here already, or is no longer PENDING and this replica's.
   */
  async adopt(id: string): Promise<void> {
    if (!this.dispatching || this.queued.has(id) || this.running.has(id) || this.submittedHere.has(id)) return;
    const record = await this.store.requests.get(id);
    if (record === undefined || record.status !== 'PENDING' || record.replica !== this.replica) return;
    const privileged = this.policy.isAdmin(await this.policy.actorOf(record));
    this.privileged.set(record.user, privileged);
    this.enqueue(record, privileged);
    this.pump(record.lane);
  }

  /** A retry with the same idempotency key must be the same request: same operation, workspace and body. */
  private assertSameRequest(earlier: RequestRecord, retry: RequestRecord): void {
    const sameHash = earlier.idempotencyHash === undefined || earlier.idempotencyHash === retry.idempotencyHash;
    if (earlier.name === retry.name && sameHash) return;
    const what = earlier.name !== retry.name ? `operation ${earlier.name}` : 'another body or workspace';
    throw new SkyError('IDEMPOTENCY_CONFLICT', `idempotency key "${retry.idempotencyKey}" was already used for request ${earlier.id} (${what})`, {
      hint: 'Send a retry with exactly the same body, or use a fresh idempotency key for a different request.',
      details: { requestId: earlier.id },
    });
  }

  /** Most requests of one user running at once in a lane (never more than the lane holds). */
  private capOf(lane: Lane, privileged: boolean): number {
    const caps = privileged ? this.config.requests.max_running_per_admin : this.config.requests.max_running_per_user;
    return Math.min(caps[lane], this.lanes[lane].limit);
  }

  /**
   * Queue every PENDING request and settle every RUNNING one left by a previous daemon process:
   * one that queued its job completes SUCCEEDED with it; one without is resumed (run again) or
   * ends FAILED with a reason that says what was left behind, as its operation decides. On a
   * store shared by several replicas, only the requests of this replica id and of replicas
   * that hold no lease (dead) are taken: a live replica's are never touched.
   */
  recover(): Promise<TakeoverCounts> {
    return this.serialTakeover('start');
  }

  /** Take over the PENDING and RUNNING requests of replicas that died (shared stores; nothing to do on others). */
  takeOverDead(): Promise<TakeoverCounts> {
    if (!this.lease.shared || !this.dispatching) return Promise.resolve({ requeued: 0, failed: 0, resumed: 0, completed: 0 });
    return this.serialTakeover('later');
  }

  private serialTakeover(at: 'start' | 'later'): Promise<TakeoverCounts> {
    const run = this.takingOver.then(() => this.takeOver(at));
    this.takingOver = run.catch(() => undefined);
    return run;
  }

  /** Whether a request is this replica's to take over: `start` takes this id's leftovers too. */
  private orphans(at: 'start' | 'later'): (record: RequestRecord) => Promise<boolean> {
    if (!this.lease.shared) return () => Promise.resolve(at === 'start');
    const live = new Map<string, Promise<boolean>>();
    return async (record) => {
      if (record.replica === undefined) return true;
      if (record.replica === this.replica) return at === 'start';
      let alive = live.get(record.replica);
      if (alive === undefined) live.set(record.replica, (alive = this.lease.isLive(record.replica)));
      return !(await alive);
    };
  }

  private async takeOver(at: 'start' | 'later'): Promise<TakeoverCounts> {
    const isOrphan = this.orphans(at);
    let failed = 0;
    let resumed = 0;
    let completed = 0;
    const adopted = new Set<string>();
    for (const record of await this.store.requests.listByStatus('RUNNING')) {
      if (this.running.has(record.id) || !(await isOrphan(record))) continue;
      const handler = this.operations.get(record.name);
      if (record.job !== undefined) {
        if (await this.finish(record.id, 'SUCCEEDED', { result: await this.queuedResult(record) })) completed += 1;
        continue;
      }
      if (record.cancelRequestedAt !== undefined) {
        if (await this.finish(record.id, 'CANCELLED', { error: { code: 'CANCELLED', message: 'cancelled (its replica stopped before it could)' } })) failed += 1;
        continue;
      }
      const decision = await this.afterRestart(record);
      if (decision.resume) {
        // The status CAS lets exactly one survivor take it back to PENDING (and own it).
        const back = await this.store.requests.transition(record.id, ['RUNNING'], { status: 'PENDING', replica: this.replica });
        if (back) {
          resumed += 1;
          adopted.add(back.id);
        }
        continue;
      }
      const done = await this.finish(record.id, 'FAILED', { error: decision.error });
      if (done) failed += 1;
      if (handler === undefined) this.logger.warn({ request: record.id, op: record.name }, 'a request of an unknown operation was left RUNNING');
    }
    const seen = new Set<string>();
    let requeued = 0;
    for (const found of await this.store.requests.listByStatus('PENDING')) {
      if (this.queued.has(found.id) || this.running.has(found.id)) continue;
      // This replica's own PENDING requests not queued here: handed over by another replica and not heard of yet.
      const handedOver = at === 'later' && found.replica === this.replica;
      if (!handedOver && !adopted.has(found.id) && !(await isOrphan(found))) continue;
      let record: RequestRecord | undefined = found;
      if (found.replica !== this.replica) {
        // Owned by a dead replica: claim it for this one (a PENDING request runs only once anyway: its start is a CAS).
        record = await this.store.requests.transition(found.id, ['PENDING'], { status: 'PENDING', replica: this.replica });
        if (record === undefined) continue;
      }
      let admin = this.privileged.get(record.user) ?? false;
      if (!seen.has(record.user)) {
        seen.add(record.user);
        this.privileged.set(record.user, (admin = this.policy.isAdmin(await this.policy.actorOf(record))));
      }
      this.enqueue(record, admin);
      if (!adopted.has(record.id) && !handedOver) requeued += 1;
    }
    this.pump('short');
    this.pump('long');
    if (at === 'later' && requeued + resumed + failed + completed > 0) {
      this.logger.warn({ requeued, resumed, failed, completed }, 'took over the requests of a replica that stopped renewing its lease');
    }
    return { requeued, failed, resumed, completed };
  }

  /** What to do with a RUNNING request without a job after a restart (its operation decides; by default it fails). */
  private async afterRestart(record: RequestRecord): Promise<AfterRestart> {
    const handler = this.operations.get(record.name);
    const restarted: AfterRestart = { resume: false, error: { code: 'DAEMON_RESTARTED', message: 'daemon restarted', hint: 'Submit the request again.' } };
    if (handler === undefined) return restarted;
    if (handler.afterRestart === undefined) return handler.resumable ? { resume: true } : restarted;
    try {
      return await handler.afterRestart(record);
    } catch (err) {
      this.logger.warn({ err, request: record.id, op: record.name }, 'could not decide how to resume a request after the restart');
      return { resume: false, error: { ...restarted.error, message: `daemon restarted; deciding whether to resume failed: ${errorInfo(err).message}` } };
    }
  }

  /**
   * End a request that has queued its job SUCCEEDED with that job (its handler never returned
   * the result: the daemon restarted, or it was aborted or failed after queueing). `result` is
   * the handler's own, when it returned one.
   */
  private async completeQueued(record: RequestRecord, result?: unknown): Promise<boolean> {
    return this.finishDurably(record.id, 'SUCCEEDED', { result: result ?? (await this.queuedResult(record)) });
  }

  /** The result of a request that queued its job, as its operation rebuilds it (at least the job). */
  private async queuedResult(record: RequestRecord): Promise<unknown> {
    try {
      return (await this.operations.get(record.name)?.resultWithJob?.(record)) ?? { job: record.job };
    } catch (err) {
      this.logger.warn({ err, request: record.id }, 'could not rebuild the result of a request that queued its job');
      return { job: record.job };
    }
  }

  /** The request as stored when it has queued a job (so it must end SUCCEEDED), else undefined. */
  private async queuedJob(id: string): Promise<RequestRecord | undefined> {
    const record = await this.store.requests.get(id);
    return record?.job !== undefined && record.status === 'RUNNING' ? record : undefined;
  }

  private pump(lane: Lane): void {
    if (!this.dispatching) return;
    const queue = this.lanes[lane];
    for (let record = queue.take(); record !== undefined; record = queue.take()) {
      this.dispatch(queue, record);
    }
  }

  private dispatch(queue: LaneQueue, record: RequestRecord): void {
    const controller = new AbortController();
    let resolveDone!: () => void;
    const entry: Running = { controller, done: new Promise<void>((r) => (resolveDone = r)) };
    this.budget.release(record.id);
    this.queued.delete(record.id);
    this.running.set(record.id, entry);
    this.execute(record, entry)
      .catch((err: unknown) => this.logger.error({ err, request: record.id }, 'dispatcher error'))
      .finally(() => {
        this.running.delete(record.id);
        queue.release(record.user);
        resolveDone();
        this.pump(queue.name);
      });
  }

  private async execute(pending: RequestRecord, entry: Running): Promise<void> {
    let claimed: RequestRecord | undefined;
    try {
      claimed = await this.store.requests.transition(pending.id, ['PENDING'], {
        status: 'RUNNING',
        startedAt: this.clock.now(),
        attempts: pending.attempts + 1,
        replica: this.replica,
      });
    } catch (err) {
      if (!storeUnavailable(err)) throw err;
      // Still PENDING in the store: queue it again once the store may take writes.
      this.requeueLater(pending);
      return;
    }
    if (!claimed) return; // cancelled (or taken) before it started
    const { signal } = entry.controller;
    if (signal.aborted) {
      await this.settleAborted(claimed.id, entry);
      return;
    }
    const handler = this.operations.get(claimed.name);
    if (!handler) {
      await this.finish(claimed.id, 'FAILED', { error: { code: 'INTERNAL', message: `no handler for operation ${claimed.name}` } });
      return;
    }
    let logger: Logger | undefined;
    const loggerFor = (): Logger => (logger ??= this.logger.child({ request: claimed.id, op: claimed.name }));
    let lostLines = 0;
    const log = (text: string): Promise<void> =>
      this.appendLog(claimed.id, text).catch((err: unknown) => {
        if (!storeUnavailable(err)) throw err;
        // A line the store cannot take is lost from the request log; the operation goes on.
        if (lostLines++ === 0) loggerFor().warn({ err }, 'request log lines are being lost: the state store takes no writes');
      });
    try {
      // Running a request on a cluster whose owner died (taken over from it): own the cluster too, so its jobs start here.
      if (claimed.cluster !== undefined) await this.owners.route(claimed.cluster);
      const body = openBodySecrets(this.secrets, claimed.body);
      const result = await handler.run(
        {
          request: claimed,
          signal,
          get logger() {
            return loggerFor();
          },
          log,
        },
        body,
      );
      if (signal.aborted) await this.settleAborted(claimed.id, entry, result);
      else await this.finishDurably(claimed.id, 'SUCCEEDED', { result });
    } catch (err) {
      // A request that queued its job before it failed or was aborted still ends with that job.
      const queued = await this.queuedJob(claimed.id);
      if (queued !== undefined) {
        loggerFor().warn({ err }, 'the request failed after its job was queued; it ends SUCCEEDED with the job');
        await this.completeQueued(queued);
      } else if (signal.aborted) await this.settleAborted(claimed.id, entry);
      else {
        loggerFor().debug({ err }, 'request failed');
        await this.finishDurably(claimed.id, 'FAILED', { error: errorInfo(err) });
      }
    }
  }

  /** A request whose abort signal fired: cancelled, or handed back at shutdown, unless it queued its job first. */
  private async settleAborted(id: string, entry: Running, result?: unknown): Promise<void> {
    const queued = await this.queuedJob(id);
    if (queued !== undefined) {
      await this.completeQueued(queued, result);
      return;
    }
    if (entry.reason === 'handback') {
      await this.store.requests.transition(id, ['RUNNING'], { status: 'PENDING' });
      return;
    }
    await this.finishDurably(id, 'CANCELLED', { error: { code: 'CANCELLED', message: 'cancelled' } });
  }

  /** A PENDING request whose start could not be recorded: back in its lane after a pause. */
  private requeueLater(record: RequestRecord): void {
    setTimeout(() => {
      if (!this.dispatching) return;
      this.enqueue(record, this.privileged.get(record.user) ?? false);
      this.pump(record.lane);
    }, STORE_RETRY_MS).unref();
  }

  /**
   * Record how a request ended, retrying while the store cannot write (it recovers by itself
   * once the disk has room), so a request never stays RUNNING in the store after it ended. At
   * shutdown it gives up: the next daemon settles what is left RUNNING.
   */
  private async finishDurably(id: string, status: RequestStatus, extra: { result?: unknown; error?: ErrorBody['error'] }): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.finish(id, status, extra);
      } catch (err) {
        if (!storeUnavailable(err) || !this.dispatching) throw err;
        if (attempt === 0) this.logger.warn({ err, request: id, status }, 'cannot record how the request ended yet; retrying until the state store takes writes');
        await delay(STORE_RETRY_MS);
      }
    }
  }

  private async finish(
    id: string,
    status: RequestStatus,
    extra: { result?: unknown; error?: ErrorBody['error'] },
    from: readonly RequestStatus[] = ['RUNNING'],
  ): Promise<boolean> {
    const patch: Parameters<StateStore['requests']['transition']>[2] = { status, finishedAt: this.clock.now() };
    if (extra.result !== undefined) patch.result = extra.result;
    if (extra.error !== undefined) patch.error = extra.error;
    const done = await this.store.requests.transition(id, from, patch);
    if (done) this.bus.finish(done);
    return done !== undefined;
  }

  /** Resolves once the request has finished (immediately if it already has). */
  async whenDone(id: string): Promise<void> {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const unsubscribe = this.bus.subscribe(id, { end: () => wake() });
    try {
      const record = await this.store.requests.get(id);
      if (record && !isTerminal(record.status)) await done;
    } finally {
      unsubscribe();
    }
  }

  async appendLog(id: string, text: string): Promise<void> {
    const at = this.clock.now();
    const seq = await this.store.requests.appendLog(id, text, at);
    this.bus.publish(id, { seq, at, text });
  }

  /**
   * Cancel out of band. A PENDING request is marked CANCELLED at once and never starts;
   * a RUNNING one gets its abort signal and is awaited for up to the grace period. One that
   * runs on another live replica is asked to stop through the store (`cancelRequestedAt`)
   * and awaited until it ends, a little longer than that replica's grace period.
   */
  async cancel(id: string): Promise<CancelOutcome> {
    const early = await this.store.requests.transition(id, ['PENDING'], {
      status: 'CANCELLED',
      finishedAt: this.clock.now(),
      error: { code: 'CANCELLED', message: 'cancelled before it started' },
    });
    if (early) {
      this.bus.finish(early);
      return 'cancelled';
    }
    const entry = this.running.get(id);
    if (entry) return this.cancelRunning(id, entry);
    const record = await this.store.requests.get(id);
    if (!record) return 'missing';
    if (record.status === 'RUNNING') {
      if (record.replica !== undefined && record.replica !== this.replica && (await this.lease.isLive(record.replica))) {
        const deps = { store: this.store, bus: this.bus, logger: this.logger, now: () => this.clock.now(), graceSeconds: this.config.requests.cancel_grace_seconds };
        return cancelOnOtherReplica(deps, id);
      }
      // Running in no live dispatcher (left by a dead one, or by this id's previous process): settle it here.
      if (record.job !== undefined) {
        await this.completeQueued(record);
        return 'finished';
      }
      const done = await this.finish(id, 'CANCELLED', { error: { code: 'CANCELLED', message: 'cancelled' } });
      return done ? 'cancelled' : 'finished';
    }
    return 'finished';
  }

  /**
   * Another replica asked (through the store) to cancel a request running here: abort it as a
   * local cancel would. Nothing happens when it does not run here (ended, or not yet claimed).
   */
  async cancelRequested(id: string): Promise<void> {
    const entry = this.running.get(id);
    if (entry === undefined || entry.reason !== undefined) return;
    await this.cancelRunning(id, entry);
  }

  private async cancelRunning(id: string, entry: Running): Promise<CancelOutcome> {
    entry.reason = 'cancel';
    entry.controller.abort(new SkyError('CANCELLED', 'cancelled'));
    const graceMs = this.config.requests.cancel_grace_seconds * 1000;
    const settled = await Promise.race([entry.done.then(() => true), delay(graceMs).then(() => false)]);
    if (!settled) {
      // The handler ignores its signal: record the cancel anyway; its late result is discarded by the CAS.
      const done = await this.finish(id, 'CANCELLED', { error: { code: 'CANCELLED', message: 'cancelled (the operation did not stop within the grace period)' } });
      if (done) return 'cancelled';
    }
    // It may have ended on its own just before the abort reached it.
    return (await this.store.requests.get(id))?.status === 'CANCELLED' ? 'cancelled' : 'finished';
  }

  /** Whether this process runs the request now. */
  runsHere(id: string): boolean {
    return this.running.has(id);
  }

  /** This process's replica id. */
  get replicaId(): string {
    return this.replica;
  }

  /** Stop taking requests; let running ones finish for up to drainMs, then hand the rest back as PENDING. */
  async drain(drainMs: number): Promise<{ finished: number; handedBack: number }> {
    this.accepting = false;
    this.dispatching = false;
    const active = [...this.running.values()];
    const all = Promise.all(active.map((r) => r.done));
    const inTime = await Promise.race([all.then(() => true), delay(drainMs).then(() => false)]);
    let handedBack = 0;
    if (!inTime) {
      for (const entry of this.running.values()) {
        entry.reason = 'handback';
        entry.controller.abort(new SkyError('SHUTTING_DOWN', 'daemon shutting down'));
        handedBack += 1;
      }
      await Promise.race([Promise.all([...this.running.values()].map((r) => r.done)), delay(2000)]);
    }
    return { finished: active.length - handedBack, handedBack };
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  stats(): { queued: Record<Lane, number>; running: Record<Lane, number>; reserved: { requests: number; users: number; bodyBytes: number } } {
    return {
      queued: { short: this.lanes.short.queued, long: this.lanes.long.queued },
      running: { short: this.lanes.short.running, long: this.lanes.long.running },
      reserved: this.budget.usage(),
    };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
