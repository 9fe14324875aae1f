import { inject, injectable } from 'tsyringe';
import type { Registry } from 'prom-client';
import type { StateStore } from '@sky/plugin-api';
import { TOKENS, type PluginRegistry } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { LogBus } from '../scheduler/log-bus.js';
import { StatusView } from '../clusters/status-view.js';
import { ManagedJobView } from '../managed-jobs/managed-job-view.js';
import { TransportPool } from '../nodes/transports.js';
import { SshGateway } from '../ssh-gateway/gateway.js';
import { ensureProcessMetrics } from './registry.js';
import { RequestMetrics } from './request-metrics.js';
import { DriverCallMetrics } from './driver-call-metrics.js';
import { JobMetrics } from './job-metrics.js';
import { StateGauges } from './state-gauges.js';
import { registerConnectionGauges } from './connection-gauges.js';
import { ScrapeToken } from './scrape-token.js';

/** One scrape's answer. */
export interface Exposition {
  contentType: string;
  text: string;
}

/**
 * The daemon's Prometheus metrics, in its own registry (TOKENS.MetricsRegistry). Counters and
 * histograms are fed by hooks the daemon already has (the request bus's ends, the store's change
 * feed, the driver-call channel; store writes are timed by the store wrapper compose installs);
 * gauges are read from the in-memory views and cheap store reads when Prometheus scrapes.
 */
@injectable()
export class DaemonMetrics {
  private readonly requests: RequestMetrics;
  private readonly jobs: JobMetrics;
  private readonly driverCalls: DriverCallMetrics;
  private readonly state: StateGauges;
  private readonly stops: Array<() => void> = [];
  private token: ScrapeToken | undefined;

  constructor(
    @inject(TOKENS.MetricsRegistry) private readonly registry: Registry,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Plugins) private readonly plugins: PluginRegistry,
    @inject(Scheduler) scheduler: Scheduler,
    @inject(LogBus) private readonly bus: LogBus,
    @inject(StatusView) view: StatusView,
    @inject(ManagedJobView) managedJobs: ManagedJobView,
    @inject(TransportPool) transports: TransportPool,
    @inject(SshGateway) gateway: SshGateway,
  ) {
    this.requests = new RequestMetrics(registry, () => scheduler.stats());
    this.jobs = new JobMetrics(registry);
    this.driverCalls = new DriverCallMetrics(registry, (id, driver) => this.plugins.drivers().get(id) === driver);
    this.state = new StateGauges(registry, {
      clusters: () => view.list(undefined),
      drivers: () => this.plugins.drivers().keys(),
      activeJobs: () => this.store.jobs.listActive(),
      managedJobs: () => managedJobs.countByStatus(),
      services: () => this.store.services.list(),
    });
    registerConnectionGauges(registry, { sshConnections: () => transports.openSshConnections, sshTunnels: () => gateway.openTunnels });
  }

  /** Read the scrape token (a bad metrics.token_file stops the start) and begin counting. */
  start(): void {
    this.token = ScrapeToken.fromConfig(this.config.metrics);
    if (this.stops.length > 0) return;
    this.stops.push(this.bus.onAnyEnd((record) => this.requests.observe(record)));
    this.stops.push(this.store.subscribe((change) => this.jobs.observe(change)));
    this.driverCalls.start();
    this.stops.push(() => this.driverCalls.stop());
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Whether an Authorization header carries the configured scrape token (never true without one). */
  isScraper(authorization: string): boolean {
    return this.token?.matches(authorization) ?? false;
  }

  /** Every metric in the Prometheus text format, gauges read now. */
  async render(): Promise<Exposition> {
    ensureProcessMetrics(this.registry);
    await this.state.prepare();
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
