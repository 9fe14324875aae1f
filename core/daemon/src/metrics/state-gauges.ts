import { Gauge, type Registry } from 'prom-client';
import {
  CLUSTER_STATUSES,
  JOB_STATUSES,
  MANAGED_JOB_STATUSES,
  REPLICA_STATUSES,
  SERVICE_STATUSES,
  isJobTerminal,
  type ClusterRecord,
  type JobRecord,
  type ManagedJobStatus,
  type ServiceRecord,
} from '@sky/protocol';

/** Where the state gauges read at each scrape: views the daemon keeps in memory, and cheap store reads. */
export interface StateSources {
  /** Every cluster (the status view: in memory). */
  clusters(): Iterable<Pick<ClusterRecord, 'driver' | 'status'>>;
  /** The loaded drivers' ids: each gets its series even with no cluster. */
  drivers(): Iterable<string>;
  /** Jobs not yet ended (an index every store keeps for the job monitor). */
  activeJobs(): Promise<ReadonlyArray<Pick<JobRecord, 'status'>>>;
  /** Managed jobs per status (the managed-job view: in memory). */
  managedJobs(): ReadonlyMap<ManagedJobStatus, number>;
  /** Every service with its replicas (a handful of records). */
  services(): Promise<ReadonlyArray<Pick<ServiceRecord, 'status' | 'replicas'>>>;
}

const ACTIVE_JOB_STATUSES = JOB_STATUSES.filter((s) => !isJobTerminal(s));

function tally<K extends string>(keys: readonly K[], items: Iterable<K>): Map<K, number> {
  const counts = new Map<K, number>(keys.map((k) => [k, 0]));
  for (const key of items) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/** The store reads of one scrape, made before the gauges are collected. */
interface Snapshot {
  activeJobs: ReadonlyArray<Pick<JobRecord, 'status'>>;
  services: ReadonlyArray<Pick<ServiceRecord, 'status' | 'replicas'>>;
}

/**
 * Gauges of what the daemon manages, computed at each scrape (nothing is kept between scrapes):
 * `prepare()` makes the scrape's store reads, then the gauges count. Every status of a fixed
 * list has its series, at 0 when empty, so a dashboard's line drops to zero instead of vanishing.
 */
export class StateGauges {
  /** The current scrape's reads, which the gauges' collect callbacks (plain functions, not methods) see. */
  private readonly scrape: { snapshot: Snapshot } = { snapshot: { activeJobs: [], services: [] } };

  constructor(
    registry: Registry,
    private readonly sources: StateSources,
  ) {
    const scrape = this.scrape;
    new Gauge({
      name: 'sky_clusters',
      help: 'Clusters by driver and status.',
      labelNames: ['driver', 'status'],
      registers: [registry],
      collect() {
        this.reset();
        const drivers = new Set(sources.drivers());
        const counts = new Map<string, number>();
        for (const c of sources.clusters()) {
          drivers.add(c.driver);
          const key = `${c.driver}\u0000${c.status}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const driver of drivers) for (const status of CLUSTER_STATUSES) this.set({ driver, status }, counts.get(`${driver}\u0000${status}`) ?? 0);
      },
    });
    new Gauge({
      name: 'sky_jobs',
      help: 'Cluster jobs not yet ended, by status (ended ones: sky_jobs_ended_total).',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        for (const [status, n] of tally(ACTIVE_JOB_STATUSES, scrape.snapshot.activeJobs.map((j) => j.status))) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'sky_managed_jobs',
      help: 'Managed jobs by status.',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        const counts = sources.managedJobs();
        for (const status of MANAGED_JOB_STATUSES) this.set({ status }, counts.get(status) ?? 0);
      },
    });
    new Gauge({
      name: 'sky_services',
      help: 'Services (sky serve) by status.',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        for (const [status, n] of tally(SERVICE_STATUSES, scrape.snapshot.services.map((s) => s.status))) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'sky_service_replicas',
      help: 'Replicas of every service by status.',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        for (const [status, n] of tally(REPLICA_STATUSES, scrape.snapshot.services.flatMap((s) => s.replicas.map((r) => r.status)))) this.set({ status }, n);
      },
    });
  }

  /** The store reads of this scrape (run before the registry is collected). */
  async prepare(): Promise<void> {
    const [activeJobs, services] = await Promise.all([this.sources.activeJobs(), this.sources.services()]);
    this.scrape.snapshot = { activeJobs, services };
  }
}
