import { Counter, type Registry } from 'prom-client';
import type { StoreChange } from '@sky/plugin-api';
import { isJobTerminal } from '@sky/protocol';

/**
 * Cluster jobs that ended, counted from the changes this replica writes (the store's own feed:
 * each is delivered once, and a job's end is a compare-and-set, so it is counted once over all
 * replicas). The active ones are a gauge (sky_jobs).
 */
export class JobMetrics {
  private readonly ended: Counter<'status'>;

  constructor(registry: Registry) {
    this.ended = new Counter({
      name: 'sky_jobs_ended_total',
      help: 'Cluster jobs that reached a terminal status (written by this replica), by status.',
      labelNames: ['status'],
      registers: [registry],
    });
  }

  observe(change: StoreChange): void {
    if (change.kind === 'job' && change.record !== undefined && isJobTerminal(change.record.status)) this.ended.inc({ status: change.record.status });
  }
}
