import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every metric name the daemon defines starts with this. */
export const METRIC_PREFIX = 'sky_';

/**
 * A daemon's own Prometheus registry: every series it exposes carries `replica` (its replica
 * id), so the replicas of one team, scraped separately, are told apart.
 */
export function createMetricsRegistry(replica: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ replica });
  return registry;
}

const withProcessMetrics = new WeakSet<Registry>();

/**
 * Add prom-client's process and Node.js metrics (RSS, CPU, event-loop lag, GC, handles) to the
 * registry, once. Done at the first scrape rather than at start-up: they install an event-loop
 * monitor and a GC observer, which a daemon nobody scrapes (and every test daemon) need not carry.
 */
export function ensureProcessMetrics(registry: Registry): void {
  if (withProcessMetrics.has(registry)) return;
  withProcessMetrics.add(registry);
  collectDefaultMetrics({ register: registry });
}
