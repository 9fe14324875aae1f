import 'reflect-metadata';
import { container, instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { TOKENS, type BuildInfo, type Clock, type PluginRegistry, type ShutdownSignal } from './tokens.js';
import { isMultiUser, type DaemonConfig, type DaemonPaths } from './config/schema.js';
import { LogBus } from './scheduler/log-bus.js';
import { Scheduler } from './scheduler/scheduler.js';
import { RequestPruner } from './scheduler/pruner.js';
import { OperationRegistry } from './ops/registry.js';
import { pingHandler } from './ops/ping.js';
import { RequestService } from './services/requests.js';
import { PluginHost } from './plugin-host.js';
import { PluginGuard } from './plugins/guard.js';
import { Daemon } from './daemon.js';
import { clusterOperations } from './ops/cluster-ops.js';
import { infraOperations } from './ops/infra-ops.js';
import { managedJobOperations } from './ops/managed-job-ops.js';
import { ManagedJobController } from './managed-jobs/controller.js';
import { ManagedJobService } from './managed-jobs/managed-job-service.js';
import { ManagedJobLogs } from './managed-jobs/managed-job-logs.js';
import { serveOperations } from './ops/serve-ops.js';
import { ServiceController } from './serve/controller.js';
import { LoadBalancers } from './serve/load-balancers.js';
import { ServeService } from './serve/serve-service.js';
import { ServiceLogs } from './serve/service-logs.js';
import { ManagedJobView } from './managed-jobs/managed-job-view.js';
import { EventHub } from './events/event-hub.js';
import { ReplicaFeed } from './replicas/replica-feed.js';
import { PluginCensus } from './replicas/plugin-census.js';
import { ClusterOwners } from './replicas/cluster-owners.js';
import { ReplicaLease } from './replicas/replica-lease.js';
import { Leadership } from './replicas/leadership.js';
import { EventStreams } from './events/event-streams.js';
import { WebhookDelivery, WEBHOOK_RESOLVER } from './webhooks/webhook-delivery.js';
import { WebhookService } from './webhooks/webhook-service.js';
import { systemResolver } from './webhooks/sender.js';
import { InfraService } from './clusters/infra-service.js';
import { AuthService } from './auth/auth-service.js';
import { UserService } from './auth/user-service.js';
import { WorkspaceService } from './auth/workspace-service.js';
import { ClusterService } from './clusters/cluster-service.js';
import { JobQueue } from './clusters/job-queue.js';
import { JobReconciler } from './clusters/job-reconciler.js';
import { JobEvents } from './clusters/job-events.js';
import { ClusterGate } from './clusters/cluster-gate.js';
import { ClusterUpdates } from './clusters/cluster-updates.js';
import { JobLogs } from './clusters/job-logs.js';
import { Provisioner } from './clusters/provisioner.js';
import { StatusView } from './clusters/status-view.js';
import { AutostopMonitor } from './clusters/autostop.js';
import { NodeRuntime } from './nodes/node-runtime.js';
import { TransportPool } from './nodes/transports.js';
import { driverTunnels } from './nodes/driver-tunnels.js';
import { readIdentityDocument } from './plugins/sealed-documents.js';
import { NodeHelperConnection } from './nodes/node-helper.js';
import { createStore } from './store-factory.js';
import { readBuildInfo } from './build-info.js';
import { expandHome, secretsKeyFile } from './config/load.js';
import { SecretBox } from './secrets/secret-box.js';
import { AuditLog } from './audit/audit-log.js';
import { SshGateway } from './ssh-gateway/gateway.js';
import { FsUploadStore } from './uploads/fs-upload-store.js';
import { PgUploadStore, blobsOf } from './uploads/pg-upload-store.js';
import { UploadService } from './uploads/upload-service.js';
import { TaskFilesResolver } from './uploads/task-files.js';
import { UploadCollector } from './uploads/upload-collector.js';
import { join } from 'node:path';
import { PasswordHasher } from './auth/password-hasher.js';
import { Refusals } from './auth/refusals.js';
import { SessionService } from './auth/session-service.js';
import { AccessPolicy } from './auth/policy.js';
import { Offboarding } from './auth/offboarding.js';
import { followStoreHealth, Readiness } from './readiness.js';
import { resolveReplicaId } from './replica.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { storeWriteHistogram, timeStoreWrites } from './metrics/store-writes.js';
import { DaemonMetrics } from './metrics/daemon-metrics.js';
import { UsageRecorder } from './usage/usage-recorder.js';
import { UsageService } from './usage/usage-service.js';

export interface ComposeOptions {
  config: DaemonConfig;
  paths: DaemonPaths;
  logger: Logger;
  /** Overrides for tests and benches. */
  store?: StateStore;
  clock?: Clock;
  plugins?: PluginRegistry;
  build?: BuildInfo;
  /** The umask jobs on local nodes run with (main passes the one the daemon was started with). */
  jobUmask?: number;
  /** Whether the store is open and reachable (main passes the one its store reports to). */
  readiness?: Readiness;
  /** This process's replica id; default: config replica_id, else <hostname>-<random>. */
  replicaId?: string;
  /** Where plugin faults are attributed (main shares it with the process-level handlers); default: one of its own. */
  pluginGuard?: PluginGuard;
}

function shutdownSignal(): ShutdownSignal {
  const controller = new AbortController();
  return { signal: controller.signal, begin: () => controller.abort() };
}

/**
 * The composition root: the only place that registers implementations. Builds a child
 * container (the global one is never written to) holding one daemon's object graph.
 */
export function compose(options: ComposeOptions): DependencyContainer {
  const c = container.createChildContainer();
  c.register(TOKENS.Config, { useValue: options.config });
  c.register(TOKENS.Paths, { useValue: options.paths });
  c.register(TOKENS.Logger, { useValue: options.logger });
  c.register(TOKENS.Clock, { useValue: options.clock ?? { now: () => Date.now() } });
  c.register(TOKENS.BuildInfo, { useValue: options.build ?? readBuildInfo() });
  c.register(TOKENS.Shutdown, { useValue: shutdownSignal() });
  const readiness = options.readiness ?? new Readiness();
  c.register(Readiness, { useValue: readiness });
  c.register(TOKENS.ReplicaId, { useValue: options.replicaId ?? resolveReplicaId(options.config.replica_id) });
  const store = options.store ?? createStore(options.config, options.paths, options.logger, followStoreHealth(readiness));
  // One Prometheus registry per daemon; every store write the daemon makes is timed into it.
  const metricsRegistry = createMetricsRegistry(c.resolve(TOKENS.ReplicaId));
  c.register(TOKENS.MetricsRegistry, { useValue: metricsRegistry });
  c.register(TOKENS.Store, { useValue: timeStoreWrites(store, storeWriteHistogram(metricsRegistry)) });
  const secrets = new SecretBox({ keyFile: secretsKeyFile(options.config, options.paths) });
  c.register(TOKENS.Secrets, { useValue: secrets });
  c.register(LogBus, { useValue: new LogBus() });
  const ssh = options.config.ssh;
  c.register(NodeHelperConnection, { useValue: new NodeHelperConnection(options.config.node_helper) });
  c.register(TransportPool, {
    useFactory: instanceCachingFactory(
      (r) =>
        new TransportPool(
          {
            knownHostsFile: expandHome(ssh.known_hosts),
            trustOnFirstUse: ssh.trust_on_first_use,
            connectTimeoutMs: ssh.connect_timeout_seconds * 1000,
            keepaliveIntervalMs: ssh.keepalive_interval_seconds * 1000,
            keepaliveCountMax: ssh.keepalive_count_max,
          },
          r.resolve(NodeHelperConnection),
          isMultiUser(options.config),
          options.jobUmask !== undefined ? { umask: options.jobUmask } : {},
          // Looked up when a tunnel opens: the plugins load after the pool exists (they use it).
          driverTunnels(() => r.resolve<PluginRegistry>(TOKENS.Plugins).drivers()),
          // Keys drivers keep in the shared store (SshReach.identityDocument), read on every connect.
          ({ driver, name }) => readIdentityDocument(store.pluginDocuments, secrets, driver, name),
        ),
    ),
  });
  c.register(NodeRuntime, { useValue: new NodeRuntime() });
  // Uploads live where every replica reaches them: in the PostgreSQL store when there is one.
  const blobs = blobsOf(store);
  c.register(TOKENS.UploadStore, { useValue: blobs !== undefined ? new PgUploadStore(blobs) : new FsUploadStore(join(options.paths.stateDir, 'uploads')) });
  c.registerSingleton(UploadService);
  c.registerSingleton(TaskFilesResolver);
  c.registerSingleton(UploadCollector);
  c.registerSingleton(ClusterGate);
  c.registerSingleton(ClusterUpdates);
  c.registerSingleton(Provisioner);
  c.registerSingleton(JobReconciler);
  c.registerSingleton(JobEvents);
  c.registerSingleton(JobQueue);
  c.registerSingleton(JobLogs);
  c.registerSingleton(StatusView);
  c.registerSingleton(ClusterService);
  c.registerSingleton(AutostopMonitor);
  c.registerSingleton(InfraService);
  // Resolved when a cancel runs, not when the service is built: the scheduler depends on the operations.
  c.register(TOKENS.RequestCanceller, { useValue: { cancel: (id: string) => c.resolve(Scheduler).cancel(id) } });
  c.registerSingleton(ManagedJobController);
  c.registerSingleton(ManagedJobView);
  c.registerSingleton(EventHub);
  // One of each per process: the daemon listens to the same feed the replicas follow, and asks the same leadership.
  c.registerSingleton(ReplicaFeed);
  c.registerSingleton(ReplicaLease);
  c.registerSingleton(ClusterOwners);
  c.registerSingleton(PluginCensus);
  c.registerSingleton(Leadership);
  c.registerSingleton(EventStreams);
  c.registerSingleton(ManagedJobService);
  c.registerSingleton(ManagedJobLogs);
  c.registerSingleton(LoadBalancers);
  c.registerSingleton(ServiceController);
  c.registerSingleton(ServeService);
  c.registerSingleton(ServiceLogs);
  c.registerSingleton(PasswordHasher);
  c.registerSingleton(SessionService);
  c.registerSingleton(Refusals);
  c.registerSingleton(AuthService);
  c.registerSingleton(AccessPolicy);
  c.registerSingleton(UserService);
  c.registerSingleton(Offboarding);
  c.registerSingleton(WorkspaceService);
  c.register(OperationRegistry, {
    useFactory: instanceCachingFactory(
      (r) => new OperationRegistry([pingHandler, ...clusterOperations(r.resolve(ClusterService), r.resolve(TaskFilesResolver)), ...infraOperations(r.resolve(InfraService)), ...managedJobOperations(r.resolve(ManagedJobService)), ...serveOperations(r.resolve(ServeService))]),
    ),
  });
  c.registerSingleton(AuditLog);
  c.registerSingleton(SshGateway);
  c.registerSingleton(Scheduler);
  c.registerSingleton(RequestService);
  c.registerSingleton(RequestPruner);
  c.register(PluginGuard, { useValue: options.pluginGuard ?? new PluginGuard(options.logger.child({ component: 'plugins' })) });
  if (options.plugins) c.register(TOKENS.Plugins, { useValue: options.plugins });
  else c.registerSingleton(TOKENS.Plugins, PluginHost);
  c.register(WEBHOOK_RESOLVER, { useValue: systemResolver });
  c.registerSingleton(WebhookDelivery);
  c.registerSingleton(WebhookService);
  c.registerSingleton(DaemonMetrics);
  // One recorder per process: it follows the store's changes once.
  c.registerSingleton(UsageRecorder);
  c.registerSingleton(UsageService);
  c.registerSingleton(Daemon);
  return c;
}
