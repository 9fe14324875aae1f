import type { IncomingMessage } from 'node:http';
import { readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { sharedFeed, type StateStore, type StoreChange } from '@sky/plugin-api';
import { procStartTime, SkyError, type DaemonInfo } from '@sky/protocol';
import { supervisorPid } from './supervised.js';
import { TOKENS, type BuildInfo, type Clock, type PluginRegistry, type ShutdownSignal } from './tokens.js';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';
import { Scheduler } from './scheduler/scheduler.js';
import { RequestPruner } from './scheduler/pruner.js';
import { RequestService } from './services/requests.js';
import { buildApp } from './http/app.js';
import { ensureDir } from './fs.js';
import { healthRoutes } from './http/routes/health.js';
import { requestRoutes } from './http/routes/requests.js';
import { operationRoutes } from './http/routes/operations.js';
import { serverRoutes } from './http/routes/server.js';
import { clusterRoutes } from './http/routes/clusters.js';
import { managedJobRoutes } from './http/routes/managed-jobs.js';
import { eventRoutes } from './http/routes/events.js';
import { EventHub } from './events/event-hub.js';
import { Replicas } from './replicas/replicas.js';
import { ReplicaFeed } from './replicas/replica-feed.js';
import { PluginCensus } from './replicas/plugin-census.js';
import { Leadership } from './replicas/leadership.js';
import { EventStreams } from './events/event-streams.js';
import { ManagedJobController } from './managed-jobs/controller.js';
import { ManagedJobService } from './managed-jobs/managed-job-service.js';
import { ManagedJobLogs } from './managed-jobs/managed-job-logs.js';
import { ServiceController } from './serve/controller.js';
import { ServeService } from './serve/serve-service.js';
import { ServiceLogs } from './serve/service-logs.js';
import { serviceRoutes } from './http/routes/services.js';
import { ManagedJobView } from './managed-jobs/managed-job-view.js';
import { StatusView } from './clusters/status-view.js';
import { JobQueue } from './clusters/job-queue.js';
import { JobLogs } from './clusters/job-logs.js';
import { AutostopMonitor } from './clusters/autostop.js';
import { TransportPool } from './nodes/transports.js';
import { NodeHelperConnection } from './nodes/node-helper.js';
import { InfraService } from './clusters/infra-service.js';
import { AuthService } from './auth/auth-service.js';
import { UserService } from './auth/user-service.js';
import { userRoutes } from './http/routes/users.js';
import { WorkspaceService } from './auth/workspace-service.js';
import { workspaceRoutes } from './http/routes/workspaces.js';
import { AuditLog } from './audit/audit-log.js';
import { auditRoutes } from './http/routes/audit.js';
import { stateRoutes } from './http/routes/state.js';
import { pluginRoutes } from './http/routes/plugins.js';
import { expandHome, secretsKeyFile } from './config/load.js';
import { HttpListener, type Listening } from './listen/http-listener.js';
import { SshGateway } from './ssh-gateway/gateway.js';
import { sshRoutes } from './http/routes/ssh.js';
import { checkListenPolicy } from './listen/policy.js';
import { normalizeAddress } from './listen/addresses.js';
import { loadTls, type TlsMaterial } from './listen/tls.js';
import { UploadService } from './uploads/upload-service.js';
import { UploadCollector } from './uploads/upload-collector.js';
import { uploadRoutes } from './http/routes/uploads.js';
import type { UploadStore } from './uploads/upload-store.js';
import { mayNameServerPaths } from './uploads/task-files.js';
import { PasswordHasher } from './auth/password-hasher.js';
import { Refusals } from './auth/refusals.js';
import { SessionService } from './auth/session-service.js';
import { sessionRoutes } from './http/routes/sessions.js';
import type { SecretCipher } from './secrets/secret-box.js';
import { loadSecretsKey } from './secrets/load-key.js';
import { makeStatePrivate } from './state-permissions.js';
import { AccessPolicy } from './auth/policy.js';
import { Offboarding } from './auth/offboarding.js';
import { Readiness } from './readiness.js';
import { readinessGateMiddleware } from './http/readiness-gate.js';
import { storeLocation } from './store-location.js';
import { openBackoffMs, retryableOpenFailure, storeRefusal } from './store-open.js';
import { WebhookDelivery } from './webhooks/webhook-delivery.js';
import { WebhookService } from './webhooks/webhook-service.js';
import { webhookRoutes } from './http/routes/webhooks.js';
import { DaemonMetrics } from './metrics/daemon-metrics.js';
import { metricsRoutes, metricsScraperMiddleware } from './http/routes/metrics.js';
import { UsageRecorder } from './usage/usage-recorder.js';
import { UsageService } from './usage/usage-service.js';
import { usageRoutes } from './http/routes/usage.js';

/** The built dashboard (npm run build writes it); SKY_DASHBOARD_DIR serves another build, e.g. while developing it. */
const DASHBOARD_ROOT = process.env.SKY_DASHBOARD_DIR || fileURLToPath(new URL('../../../dashboard-static/dist', import.meta.url));

export type { Listening };

/** This process's start time in clock ticks after boot (/proc/self/stat field 22), where /proc exists. */
function ownProcStart(): string | undefined {
  try {
    return procStartTime(readFileSync('/proc/self/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The daemon's lifecycle: open the store (migrations), load plugins, recover requests, listen; drain on stop. */
@injectable()
export class Daemon {
  private listener: HttpListener | undefined;
  private tls: TlsMaterial | undefined;
  private readonly startedAt: number;
  private stopping: Promise<void> | undefined;
  /** Settles once the store is open and everything on it started; rejects when the store refuses the daemon. */
  private readyPromise: Promise<void> = Promise.resolve();
  /** Ends the wait between open attempts when the daemon stops before its store opened. */
  private readonly openRetry = new AbortController();
  private dutiesRegistered = false;

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Paths) private readonly paths: DaemonPaths,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Plugins) private readonly plugins: PluginRegistry,
    @inject(TOKENS.BuildInfo) private readonly build: BuildInfo,
    @inject(TOKENS.Shutdown) private readonly shutdown: ShutdownSignal,
    @inject(TOKENS.Clock) clock: Clock,
    @inject(Scheduler) private readonly scheduler: Scheduler,
    @inject(RequestService) private readonly requests: RequestService,
    @inject(RequestPruner) private readonly pruner: RequestPruner,
    @inject(StatusView) private readonly view: StatusView,
    @inject(JobQueue) private readonly jobQueue: JobQueue,
    @inject(JobLogs) private readonly jobLogs: JobLogs,
    @inject(AutostopMonitor) private readonly autostop: AutostopMonitor,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(InfraService) private readonly infra: InfraService,
    @inject(AuthService) private readonly auth: AuthService,
    @inject(UserService) private readonly users: UserService,
    @inject(WorkspaceService) private readonly workspaces: WorkspaceService,
    @inject(AuditLog) private readonly audit: AuditLog,
    @inject(TOKENS.UploadStore) private readonly uploadStore: UploadStore,
    @inject(UploadService) private readonly uploads: UploadService,
    @inject(UploadCollector) private readonly uploadCollector: UploadCollector,
    @inject(SessionService) private readonly sessions: SessionService,
    @inject(Refusals) private readonly refusals: Refusals,
    @inject(PasswordHasher) private readonly hasher: PasswordHasher,
    @inject(NodeHelperConnection) private readonly helper: NodeHelperConnection,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(Offboarding) private readonly offboarding: Offboarding,
    @inject(SshGateway) private readonly sshGateway: SshGateway,
    @inject(ManagedJobController) private readonly managedJobs: ManagedJobController,
    @inject(ManagedJobService) private readonly managedJobService: ManagedJobService,
    @inject(ManagedJobLogs) private readonly managedJobLogs: ManagedJobLogs,
    @inject(ServiceController) private readonly services: ServiceController,
    @inject(ServeService) private readonly serveService: ServeService,
    @inject(ServiceLogs) private readonly serviceLogs: ServiceLogs,
    @inject(ManagedJobView) private readonly managedJobView: ManagedJobView,
    @inject(EventHub) private readonly eventHub: EventHub,
    @inject(Replicas) private readonly replicas: Replicas,
    @inject(ReplicaFeed) private readonly replicaFeed: ReplicaFeed,
    @inject(PluginCensus) private readonly pluginCensus: PluginCensus,
    @inject(Leadership) private readonly leadership: Leadership,
    @inject(EventStreams) private readonly eventStreams: EventStreams,
    @inject(Readiness) private readonly readiness: Readiness,
    @inject(TOKENS.ReplicaId) private readonly replicaId: string,
    @inject(WebhookDelivery) private readonly webhookDelivery: WebhookDelivery,
    @inject(WebhookService) private readonly webhooks: WebhookService,
    @inject(DaemonMetrics) private readonly metrics: DaemonMetrics,
    @inject(UsageRecorder) private readonly usageRecorder: UsageRecorder,
    @inject(UsageService) private readonly usage: UsageService,
  ) {
    this.startedAt = clock.now();
  }

  /**
   * Open the store and start everything on it, then listen. When the database cannot be
   * reached yet, listen anyway (not ready: health answers, everything else 503 with
   * Retry-After) and keep trying in the background (whenReady()). A store that refuses the
   * daemon for good (credentials, missing database, newer schema, locked LevelDB directory)
   * rejects start() or whenReady() with an error isStoreRefusal() recognises.
   */
  async start(): Promise<Listening> {
    const { host, port, tls } = this.config.listen;
    this.tls = tls === undefined ? undefined : loadTls(this.absolute(tls.cert), this.absolute(tls.key));
    checkListenPolicy(this.config, this.tls, this.logger);
    ensureDir(this.paths.stateDir, 'state');
    if (this.store.capabilities.durable) ensureDir(this.paths.storePath, 'state store');
    const keyFile = secretsKeyFile(this.config, this.paths);
    this.makePrivate(keyFile);
    const unreachable = await this.tryOpen();
    try {
      if (unreachable === undefined) {
        await this.startServices(keyFile);
        this.readiness.markStarted();
      } else {
        this.readiness.markOpenFailed(unreachable);
        this.logger.warn({ err: unreachable }, 'the state store cannot be reached; listening as not ready (health answers, requests get 503 with Retry-After) and retrying');
      }
      const listening = await this.listen(host, port);
      this.writePidFile(listening);
      this.logger.info({ ...listening, version: this.build.version, commit: this.build.commit, store: this.store.kind, ready: this.readiness.ready }, 'sky API server listening');
      if (unreachable !== undefined) this.readyPromise = this.openLater(keyFile);
      return listening;
    } catch (err) {
      await this.closeResources();
      throw err;
    }
  }

  /** Resolves once the store is open and the daemon serves; rejects if the store refuses the daemon for good meanwhile. */
  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  /** Undefined once open; the failure when the database is unreachable (worth retrying); throws a store refusal otherwise. */
  private async tryOpen(): Promise<SkyError | undefined> {
    try {
      await this.store.open();
      return undefined;
    } catch (err) {
      const retryable = retryableOpenFailure(err);
      if (retryable === undefined) throw storeRefusal(err);
      await this.store.close().catch(() => undefined);
      return retryable;
    }
  }

  /** Retry open with backoff until it works (then start everything on the store) or the daemon stops. */
  private async openLater(keyFile: string): Promise<void> {
    const { signal } = this.openRetry;
    for (let attempt = 1; ; attempt++) {
      await new Promise<void>((resolveWait) => {
        const timer = setTimeout(resolveWait, openBackoffMs(attempt));
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolveWait();
        }, { once: true });
      });
      if (signal.aborted) return;
      const failure = await this.tryOpen();
      if (signal.aborted) return;
      if (failure === undefined) break;
      this.readiness.markOpenFailed(failure);
      // Every attempt at debug; at warn on the 1st, 2nd, 4th, 8th, … so a long outage does not flood the log.
      const level = (attempt & (attempt - 1)) === 0 ? 'warn' : 'debug';
      this.logger[level]({ err: failure, attempt }, 'the state store still cannot be reached; retrying');
    }
    await this.startServices(keyFile);
    this.readiness.markStarted();
    this.logger.info({ store: this.store.kind }, 'the state store is open: the API server is ready');
  }

  /** Everything that needs the open store: secrets key, accounts, plugins, views, request recovery, background loops. */
  private async startServices(keyFile: string): Promise<void> {
    await loadSecretsKey(this.secrets, this.store, { keyFile, allowUnreadable: this.config.secrets.allow_unreadable, logger: this.logger });
    await this.auth.bootstrap();
    await this.workspaces.ensureDefault();
    await this.plugins.load(this.shutdown.signal);
    // On a shared store, where the feed stands before the views read the store: following it
    // from there, nothing another replica writes meanwhile is missed.
    const shared = sharedFeed(this.store) !== undefined;
    const feedFrom = shared ? (await this.store.events.bounds()).last : undefined;
    await this.view.load();
    await this.managedJobView.load();
    await this.usageRecorder.start();
    await this.eventHub.start();
    this.audit.start();
    this.followManagedJobChanges();
    if (shared) {
      // The views keep clusters and managed jobs: request changes (stored without their body) are not theirs.
      const listen = (listener: (change: StoreChange, seq: number) => void): (() => void) =>
        this.replicaFeed.listen(({ change, seq }) => {
          if (change.kind !== 'request') listener(change, seq);
        });
      this.view.followShared(listen);
      this.managedJobView.followShared(listen);
      this.jobQueue.followShared((listener) => listen((change) => listener(change)));
    }
    await this.replicas.start(feedFrom);
    await this.pluginCensus.publish().catch((err: unknown) => this.logger.warn({ err }, 'could not compare this replica\'s plugins with the other replicas\''));
    const recovered = await this.scheduler.recover();
    this.logger.info(recovered, 'recovered requests from the state store');
    this.replicas.startTakeovers();
    await this.uploadStore.open();
    this.uploadCollector.start();
    this.jobQueue.start();
    this.registerLeaderDuties();
    await this.leadership.start();
    this.metrics.start();
  }

  /** The managed-jobs and services controllers hear every replica's changes on a shared store (the feed every replica writes), this process's otherwise. */
  private followManagedJobChanges(): void {
    if (sharedFeed(this.store) === undefined) {
      this.managedJobs.listen((listener) => this.store.subscribe(listener), false);
      this.services.listen((listener) => this.store.subscribe(listener));
      return;
    }
    this.services.listen((listener: (change: StoreChange) => void) =>
      this.replicaFeed.listen(({ change }) => {
        if (change.kind !== 'request') listener(change);
      }),
    );
    this.managedJobs.listen(
      (listener: (change: StoreChange) => void) =>
        this.replicaFeed.listen(({ change }) => {
          if (change.kind !== 'request') listener(change);
        }),
      true,
    );
  }

  /**
   * What one replica does for the whole team runs on the leader only (always this process on a
   * store of its own): pruning, managed jobs, services (and their load balancers), autostop. Journal followers and per-cluster job
   * scheduling stay on every replica (their transitions are compare-and-set).
   */
  private registerLeaderDuties(): void {
    if (this.dutiesRegistered) return;
    this.dutiesRegistered = true;
    this.leadership.register({ name: 'request pruning', start: () => this.pruner.start(), stop: () => this.pruner.stop() });
    this.leadership.register({ name: 'event feed pruning', start: () => this.eventHub.startPruning(), stop: () => this.eventHub.stopPruning() });
    this.leadership.register({ name: 'managed jobs', start: () => this.managedJobs.start(), stop: () => this.managedJobs.stop() });
    this.leadership.register({ name: 'services', start: () => this.services.start(), stop: () => this.services.stop() });
    this.leadership.register({ name: 'autostop', start: () => this.autostop.start(), stop: () => this.autostop.stop() });
    this.leadership.register({ name: 'webhooks', start: () => this.webhookDelivery.start(), stop: () => this.webhookDelivery.stop() });
  }

  /** The state directory (and the store, log and key file wherever they are) readable by the daemon's account only. */
  private makePrivate(keyFile: string): void {
    const { stateDir, storePath, logFile } = this.paths;
    if (stateDir === homedir() || dirname(stateDir) === stateDir) {
      throw new SkyError('CONFIG_INVALID', `state_dir ${stateDir} is a home or root directory; the daemon makes its state directory private (0700) and needs one of its own`, {
        hint: 'Set state_dir to a directory only the daemon uses, e.g. ~/.sky/api_server.',
      });
    }
    const report = makeStatePrivate(stateDir, this.store.capabilities.durable ? [storePath, logFile, keyFile] : [logFile, keyFile]);
    if (report.changed > 0) this.logger.info({ changed: report.changed }, 'made the state directory private to this account (0700 directories, no group or other access to files)');
    if (report.failed.length > 0) this.logger.warn({ paths: report.failed.slice(0, 20) }, 'could not make some state files private; check their owner');
  }

  private listen(host: string, port: number): Promise<Listening> {
    const max = this.config.requests.max_body_bytes;
    const location = storeLocation(this.config, this.paths);
    const clientAddress = (req: IncomingMessage): string => this.listener?.guard.clientOf(req) ?? normalizeAddress(req.socket.remoteAddress);
    const app = buildApp({
      logger: this.logger,
      auth: this.auth,
      refusals: this.refusals,
      loopbackOnly: this.config.auth.mode === 'none' && !this.config.listen.allow_remote_without_auth,
      clientAddress,
      policy: this.policy,
      dashboardRoot: DASHBOARD_ROOT,
      gate: readinessGateMiddleware({ readiness: this.readiness, auth: this.auth, clientAddress, storeLocation: location }),
      replica: this.replicaId,
      scraper: metricsScraperMiddleware(this.metrics),
      register: (router) => {
        healthRoutes(router, {
          build: this.build,
          startedAt: this.startedAt,
          maxBodyBytes: max,
          isDraining: () => !this.scheduler.isAccepting,
          serverPaths: mayNameServerPaths,
          readiness: this.readiness,
          replicaId: this.replicaId,
          isLeader: () => this.leadership.isLeader,
          storeKind: this.store.kind,
          storeLocation: location,
          probeStore: async () => {
            await this.store.schemaVersion();
          },
        });
        requestRoutes(router, this.requests, max);
        operationRoutes(router, this.scheduler, this.requests, max);
        serverRoutes(router, { logFile: this.paths.logFile, plugins: this.plugins, pluginDifferences: () => this.pluginCensus.differences(), shutdown: this.shutdown, maxBodyBytes: max });
        userRoutes(router, this.users, max, this.audit, this.offboarding);
        auditRoutes(router, this.audit, max);
        stateRoutes(router, { store: this.store, audit: this.audit, logger: this.logger, maxBodyBytes: max });
        pluginRoutes(router, { plugins: this.plugins, audit: this.audit, maxBodyBytes: max });
        sessionRoutes(router, { sessions: this.sessions, auth: this.auth, audit: this.audit, clientAddress: (ctx) => this.listener?.guard.clientOf(ctx.req) ?? normalizeAddress(ctx.req.socket.remoteAddress) }, max);
        workspaceRoutes(router, this.workspaces, max, this.audit);
        uploadRoutes(router, this.uploads, this.config.uploads.max_manifest_bytes);
        clusterRoutes(router, { view: this.view, store: this.store, logs: this.jobLogs, enabledInfra: () => this.infra.enabledInfra(), maxBodyBytes: max });
        managedJobRoutes(router, { service: this.managedJobService, logs: this.managedJobLogs, maxBodyBytes: max });
        serviceRoutes(router, { service: this.serveService, logs: this.serviceLogs, maxBodyBytes: max });
        eventRoutes(router, this.eventStreams, max);
        webhookRoutes(router, this.webhooks, max, this.audit);
        usageRoutes(router, this.usage, max);
        sshRoutes(router, { gateway: this.sshGateway, store: this.store, transports: this.transports, auth: this.auth, clientAddress: (ctx) => this.listener?.guard.clientOf(ctx.req) ?? normalizeAddress(ctx.req.socket.remoteAddress), maxBodyBytes: max });
        metricsRoutes(router, this.metrics, max);
      },
    });
    this.listener = new HttpListener({ listen: this.config.listen, logger: this.logger, handler: app.callback(), ...(this.tls === undefined ? {} : { tls: this.tls }) });
    return this.listener.listen(host, port);
  }

  private absolute(path: string): string {
    return resolve(expandHome(path));
  }

  private writePidFile(listening: Listening): void {
    const tmp = `${this.paths.pidFile}.${process.pid}.tmp`;
    const info: DaemonInfo = { pid: process.pid, ...listening, startedAt: this.startedAt, version: this.build.version };
    const procStart = ownProcStart();
    if (procStart !== undefined) info.procStart = procStart;
    if (this.tls !== undefined) info.tlsFingerprint256 = this.tls.fingerprint256;
    const supervisor = supervisorPid();
    if (supervisor !== undefined) info.supervisor = supervisor;
    writeFileSync(tmp, JSON.stringify(info) + '\n', { mode: 0o600 });
    renameSync(tmp, this.paths.pidFile);
  }

  /** Graceful stop: refuse new requests, let running ones finish (or hand them back as PENDING), close everything. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.openRetry.abort();
    this.logger.info('draining: no new requests accepted');
    const drained = await this.scheduler.drain(this.config.shutdown.drain_seconds * 1000);
    this.shutdown.begin();
    this.sshGateway.closeAll();
    this.eventHub.stop();
    await this.leadership.stop();
    await this.replicas.stop();
    this.logger.info(drained, 'drained');
    await this.listener?.close();
    await this.closeResources();
    rmSync(this.paths.pidFile, { force: true });
    this.logger.info('stopped');
  }

  private async closeResources(): Promise<void> {
    this.metrics.stop();
    await this.leadership.stop();
    await this.replicas.stop();
    this.pruner.stop();
    this.eventHub.stop();
    await this.uploadCollector.stop();
    await this.managedJobs.close();
    await this.services.close();
    this.jobQueue.stop();
    await this.usageRecorder.stop();
    this.autostop.stop();
    this.view.close();
    this.managedJobView.close();
    await this.transports.closeAll();
    await this.plugins.closeAll();
    await this.helper.close();
    await this.audit.stop();
    await this.hasher.close();
    await this.store.close();
  }
}
