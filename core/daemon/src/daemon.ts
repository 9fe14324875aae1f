import { createServer, type Server } from 'node:http';
import { rmSync, writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import type { Duplex } from 'node:stream';
import { API_VERSION, API_VERSION_HEADER, SkyError, type DaemonInfo } from '@sky/protocol';
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
import { StatusView } from './clusters/status-view.js';
import { JobQueue } from './clusters/job-queue.js';
import { JobLogs } from './clusters/job-logs.js';
import { AutostopMonitor } from './clusters/autostop.js';
import { TransportPool } from './nodes/transports.js';
import { InfraService } from './clusters/infra-service.js';
import { AuthService } from './auth/auth-service.js';
import { UserService } from './auth/user-service.js';
import { userRoutes } from './http/routes/users.js';
import { WorkspaceService } from './auth/workspace-service.js';
import { workspaceRoutes } from './http/routes/workspaces.js';
import { AuditLog } from './audit/audit-log.js';
import { auditRoutes } from './http/routes/audit.js';

const DASHBOARD_ROOT = fileURLToPath(new URL('../../../dashboard-static', import.meta.url));

export interface Listening {
  host: string;
  port: number;
  url: string;
}

/** Requests node's HTTP parser rejects never reach koa: answer them in the same error shape. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const error = tooLarge
    ? new SkyError('HEADERS_TOO_LARGE', 'the request line or headers exceed the 16 KiB limit', { hint: 'Send shorter URLs and headers.' })
    : new SkyError('MALFORMED_HTTP', `malformed HTTP request (${err.code ?? 'parse error'})`, { hint: 'Send a well-formed HTTP/1.1 request.' });
  const body = JSON.stringify(error.toBody());
  socket.end(
    `HTTP/1.1 ${error.status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\n${API_VERSION_HEADER}: ${API_VERSION}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The daemon's lifecycle: open the store (migrations), load plugins, recover requests, listen; drain on stop. */
@injectable()
export class Daemon {
  private server: Server | undefined;
  private readonly startedAt: number;
  private stopping: Promise<void> | undefined;

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
  ) {
    this.startedAt = clock.now();
  }

  async start(): Promise<Listening> {
    const { host, port, allow_remote_without_auth: allowRemote } = this.config.listen;
    if (!isLoopback(host) && this.config.auth.mode === 'none') {
      if (!allowRemote) {
        throw new SkyError('CONFIG_INVALID', `refusing to listen on ${host} without authentication`, {
          hint: 'Choose an auth mode (sky daemon start --auth basic|token|proxy), listen on 127.0.0.1, or set listen.allow_remote_without_auth: true if a proxy in front of the daemon authenticates users.',
        });
      }
      this.logger.warn({ host }, 'LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT AUTHENTICATION: anyone who can reach it can act as any user');
    }
    ensureDir(this.paths.stateDir, 'state');
    if (this.store.capabilities.durable) ensureDir(this.paths.storePath, 'state store');
    await this.store.open();
    try {
      await this.auth.bootstrap();
      await this.workspaces.ensureDefault();
      await this.plugins.load(this.shutdown.signal);
      await this.view.load();
      this.audit.start();
      const recovered = await this.scheduler.recover();
      this.logger.info(recovered, 'recovered requests from the state store');
      await this.pruner.pruneOnce();
      this.pruner.start();
      this.jobQueue.start();
      this.autostop.start();
      const listening = await this.listen(host, port);
      this.writePidFile(listening);
      this.logger.info({ ...listening, version: this.build.version, commit: this.build.commit, store: this.store.kind }, 'sky API server listening');
      return listening;
    } catch (err) {
      await this.closeResources();
      throw err;
    }
  }

  private listen(host: string, port: number): Promise<Listening> {
    const max = this.config.requests.max_body_bytes;
    const app = buildApp({
      logger: this.logger,
      auth: this.auth,
      dashboardRoot: DASHBOARD_ROOT,
      register: (router) => {
        healthRoutes(router, { build: this.build, startedAt: this.startedAt, maxBodyBytes: max, isDraining: () => !this.scheduler.isAccepting });
        requestRoutes(router, this.requests, max);
        operationRoutes(router, this.scheduler, max, this.workspaces);
        serverRoutes(router, { logFile: this.paths.logFile, plugins: this.plugins, shutdown: this.shutdown, maxBodyBytes: max });
        userRoutes(router, this.users, max, this.audit);
        auditRoutes(router, this.audit, max);
        workspaceRoutes(router, this.workspaces, max);
        clusterRoutes(router, { view: this.view, store: this.store, logs: this.jobLogs, enabledInfra: () => this.infra.enabledInfra(), maxBodyBytes: max });
      },
    });
    const server = createServer(app.callback());
    server.keepAliveTimeout = 65_000;
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new SkyError('PORT_IN_USE', `${host}:${port} is already in use`, {
            hint: 'Another sky API server may be running there (sky api info / sky api stop), or choose another port with --port.',
          }));
        } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
          reject(new SkyError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${err.code}`, { hint: 'Check listen.host and listen.port.' }));
        } else reject(err);
      });
      server.listen(port, host, () => {
        const address = server.address();
        const actual = typeof address === 'object' && address !== null ? address.port : port;
        const urlHost = host.includes(':') ? `[${host}]` : host;
        resolve({ host, port: actual, url: `http://${urlHost}:${actual}` });
      });
    });
  }

  private writePidFile(listening: Listening): void {
    const tmp = `${this.paths.pidFile}.${process.pid}.tmp`;
    const info: DaemonInfo = { pid: process.pid, ...listening, startedAt: this.startedAt, version: this.build.version };
    writeFileSync(tmp, JSON.stringify(info) + '\n');
    renameSync(tmp, this.paths.pidFile);
  }

  /** Graceful stop: refuse new requests, let running ones finish (or hand them back as PENDING), close everything. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.logger.info('draining: no new requests accepted');
    const drained = await this.scheduler.drain(this.config.shutdown.drain_seconds * 1000);
    this.shutdown.begin();
    this.logger.info(drained, 'drained');
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, 2000).unref();
      });
    }
    await this.closeResources();
    rmSync(this.paths.pidFile, { force: true });
    this.logger.info('stopped');
  }

  private async closeResources(): Promise<void> {
    this.pruner.stop();
    this.jobQueue.stop();
    this.autostop.stop();
    this.view.close();
    await this.transports.closeAll();
    await this.plugins.closeAll();
    await this.audit.stop();
    await this.store.close();
  }
}
