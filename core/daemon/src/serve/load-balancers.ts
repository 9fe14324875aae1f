import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { SkyError, type LoadBalancingPolicy, type ServiceRecord, type ServiceReplica, type ServiceVersionSpec } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { ServiceLoadBalancer } from './load-balancer.js';
import { PortRange } from './port-range.js';

/** Controller-log lines of the load balancer start so (sky serve logs --load-balancer shows them). */
export const LOAD_BALANCER_PREFIX = 'load balancer: ';

/** Where a service's load balancer listens, as recorded in the service. */
export interface RunningBalancer {
  port: number;
  endpoint: string;
  /** The daemon replica it runs on. */
  replica: string;
}

/**
 * The load balancers of the services this daemon drives (the leader replica), one HTTP server
 * each inside the daemon process, on a port of `serve.ports` that the service keeps across
 * restarts and changes of leader.
 */
@injectable()
export class LoadBalancers {
  private readonly running = new Map<string, { lb: ServiceLoadBalancer; endpoint: string }>();
  private readonly range: PortRange;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.ReplicaId) private readonly replicaId: string,
  ) {
    this.range = new PortRange(config.serve.ports);
  }

  private host(): string {
    return this.config.serve.host;
  }

  /** The address clients are told: serve.advertise_host, else the bind host (this machine's name for a wildcard). */
  private advertised(): string {
    const host = this.config.serve.advertise_host ?? this.host();
    const bare = host === '0.0.0.0' || host === '::' ? hostname() : host;
    return bare.includes(':') ? `[${bare}]` : bare;
  }

  /** Start the service's load balancer if it is not running here, with the policy and token of its current version. */
  async ensure(service: ServiceRecord, spec: ServiceVersionSpec | undefined): Promise<RunningBalancer> {
    const tokenDigest = spec?.token;
    const policy = spec?.service.loadBalancingPolicy ?? 'round_robin';
    const existing = this.running.get(service.name);
    if (existing) {
      existing.lb.setPolicy(policy);
      existing.lb.setTokenDigest(tokenDigest);
      return { port: existing.lb.port, endpoint: existing.endpoint, replica: this.replicaId };
    }
    const lb = await this.listen(service, policy, tokenDigest);
    const endpoint = `http://${this.advertised()}:${lb.port}`;
    this.running.set(service.name, { lb, endpoint });
    return { port: lb.port, endpoint, replica: this.replicaId };
  }

  /**
   * A new load balancer on the service's recorded port (it keeps its address across restarts), or
   * for a new service on the lowest port of the range no service holds, passing over ports some
   * other process has taken meanwhile.
   */
  private async listen(service: ServiceRecord, policy: LoadBalancingPolicy, tokenDigest: string | undefined): Promise<ServiceLoadBalancer> {
    const make = (port: number): ServiceLoadBalancer => {
      const lb = new ServiceLoadBalancer({ host: this.host(), port, policy, log: (line) => this.lbLog(service.name, line) });
      lb.setTokenDigest(tokenDigest);
      return lb;
    };
    if (service.lbPort !== undefined && this.range.has(service.lbPort)) {
      const lb = make(service.lbPort);
      await lb.start();
      return lb;
    }
    const taken = new Set<number>();
    for (const other of await this.store.services.list()) if (other.lbPort !== undefined && other.name !== service.name) taken.add(other.lbPort);
    for (const { lb } of this.running.values()) taken.add(lb.port);
    for (;;) {
      const lb = make(this.range.pick(taken));
      try {
        await lb.start();
        return lb;
      } catch (err) {
        if (!(err instanceof SkyError) || err.code !== 'PORT_IN_USE') throw err;
        taken.add(lb.port);
      }
    }
  }

  private lbLog(name: string, line: string): void {
    this.logger.info({ service: name }, line);
    void this.store.services.appendEvents(name, [{ at: Date.now(), text: `${LOAD_BALANCER_PREFIX}${line}` }]).catch(() => undefined);
  }

  /** The READY replicas traffic goes to. */
  setPool(name: string, replicas: readonly ServiceReplica[]): void {
    this.running.get(name)?.lb.setReplicas(replicas.filter((r) => r.endpoint !== undefined).map((r) => ({ id: r.id, endpoint: r.endpoint! })));
  }

  /**
   * Resolves once the service's load balancer has no request in flight, or after `maxMs`: a
   * replica just taken out of the pool finishes what it was answering before it is torn down.
   */
  async drained(name: string, maxMs: number): Promise<void> {
    const end = Date.now() + maxMs;
    while (Date.now() < end && (this.running.get(name)?.lb.stats().inFlight ?? 0) > 0) await sleep(50);
  }

  qps(name: string, windowSeconds: number): number {
    return this.running.get(name)?.lb.qps(windowSeconds) ?? 0;
  }

  async stop(name: string): Promise<void> {
    const entry = this.running.get(name);
    if (!entry) return;
    this.running.delete(name);
    await entry.lb.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.running.keys()].map((name) => this.stop(name)));
  }
}
