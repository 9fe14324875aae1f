import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { LANES, type Lane, type RequestRecord } from '@sky/protocol';
import { REQUEST_SECONDS } from './buckets.js';

/** What the scheduler holds now, per lane (Scheduler.stats()). */
export interface LaneLoad {
  queued: Record<Lane, number>;
  running: Record<Lane, number>;
}

/**
 * Requests: how they ended (counted when this replica records the terminal transition, so
 * several replicas never count one request twice), how long they took from submit to end, and
 * the lanes' queues as they are at the scrape.
 */
export class RequestMetrics {
  private readonly ended: Counter<'operation' | 'status' | 'lane'>;
  private readonly duration: Histogram<'operation'>;

  constructor(registry: Registry, load: () => LaneLoad) {
    this.ended = new Counter({
      name: 'sky_requests_total',
      help: 'Requests that reached a terminal status on this replica, by operation, status and lane.',
      labelNames: ['operation', 'status', 'lane'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'sky_request_duration_seconds',
      help: 'Time from submit to the terminal status, by operation.',
      labelNames: ['operation'],
      buckets: REQUEST_SECONDS,
      registers: [registry],
    });
    new Gauge({
      name: 'sky_request_queue_depth',
      help: "Requests waiting in this replica's lane for a worker.",
      labelNames: ['lane'],
      registers: [registry],
      collect() {
        const now = load();
        for (const lane of LANES) this.set({ lane }, now.queued[lane]);
      },
    });
    new Gauge({
      name: 'sky_requests_running',
      help: "Requests running in this replica's lane.",
      labelNames: ['lane'],
      registers: [registry],
      collect() {
        const now = load();
        for (const lane of LANES) this.set({ lane }, now.running[lane]);
      },
    });
  }

  /** A request of this replica ended (the scheduler's terminal transition). */
  observe(record: RequestRecord): void {
    this.ended.inc({ operation: record.name, status: record.status, lane: record.lane });
    if (record.finishedAt !== undefined) this.duration.observe({ operation: record.name }, Math.max(0, record.finishedAt - record.createdAt) / 1000);
  }
}
