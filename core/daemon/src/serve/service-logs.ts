import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import type { JobLogLine, ReplicaStatus, ServiceStatus } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import { nextNotice } from '../steps/notices.js';
import { JobLogs } from '../clusters/job-logs.js';
import { ServiceController } from './controller.js';
import { LOAD_BALANCER_PREFIX } from './load-balancers.js';

export type ServiceLogEvent = { type: 'log'; line: JobLogLine } | { type: 'end'; status: ServiceStatus | ReplicaStatus | 'GONE' };

/**
 * A service's logs: a replica's (its run command's job on its cluster, as the node writes it),
 * the controller's lines (what the daemon decided and did) and the load balancer's (replicas
 * added and removed, failed forwards), the last two from the service's controller log.
 */
@injectable()
export class ServiceLogs {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(JobLogs) private readonly jobLogs: JobLogs,
    @inject(ServiceController) private readonly controller: ServiceController,
  ) {}

  /** Resolves at the next change of the service (record or controller log), or when the signal aborts. */
  private changed(name: string, signal: AbortSignal): Promise<void> {
    return nextNotice(this.controller.notices, name, signal);
  }

  /** The replica's job log; the stream ends with the replica's status once its job ends (or now, without follow). */
  async *replica(name: string, replicaId: number, follow: boolean, signal: AbortSignal): AsyncGenerator<ServiceLogEvent> {
    for (;;) {
      const next = this.changed(name, signal);
      const service = await this.store.services.get(name);
      const replica = service?.replicas.find((r) => r.id === replicaId);
      if (!replica) {
        yield { type: 'end', status: 'GONE' };
        return;
      }
      if (replica.jobId !== undefined) {
        let open;
        try {
          open = await this.jobLogs.open(replica.cluster, replica.jobId, follow, undefined);
        } catch {
          open = undefined; // its cluster is gone: nothing more to read
        }
        if (open) for await (const event of open(signal)) if (event.type === 'log') yield { type: 'log', line: event.line };
        const now = (await this.store.services.get(name))?.replicas.find((r) => r.id === replicaId);
        yield { type: 'end', status: now?.status ?? 'GONE' };
        return;
      }
      if (!follow || signal.aborted) {
        yield { type: 'end', status: replica.status };
        return;
      }
      await next;
    }
  }

  /** The controller's lines (`loadBalancer`: the load balancer's only), followed until the service is gone. */
  async *controllerLog(name: string, loadBalancer: boolean, follow: boolean, signal: AbortSignal): AsyncGenerator<ServiceLogEvent> {
    let lastAt = -1;
    let sentAtLast = 0;
    for (;;) {
      const next = this.changed(name, signal);
      const service = await this.store.services.get(name);
      const events = service ? await this.store.services.events(name) : [];
      let atLast = 0;
      for (const event of events) {
        if (event.at < lastAt) continue;
        if (event.at === lastAt) {
          atLast += 1;
          if (atLast <= sentAtLast) continue;
        }
        if (event.at > lastAt) {
          lastAt = event.at;
          atLast = 1;
          sentAtLast = 0;
        }
        sentAtLast = atLast;
        if (event.text.startsWith(LOAD_BALANCER_PREFIX) !== loadBalancer) continue;
        yield { type: 'log', line: { rank: 0, text: `${new Date(event.at).toISOString()} ${event.text}` } };
      }
      if (!service || !follow || signal.aborted) {
        yield { type: 'end', status: service?.status ?? 'GONE' };
        return;
      }
      await next;
    }
  }
}
