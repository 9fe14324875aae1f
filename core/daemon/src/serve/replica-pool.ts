import { Agent } from 'node:http';
import type { LoadBalancingPolicy } from '@sky/protocol';

/** A replica that failed a request is passed over this long (passive health), unless no other is left. */
export const PASSIVE_SKIP_MS = 5_000;

export interface PoolReplica {
  readonly id: number;
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  /** Keep-alive connections to this replica only, so a replica leaving the pool takes its sockets along. */
  readonly agent: Agent;
  inFlight: number;
  skippedUntil: number;
}

function agentFor(): Agent {
  // lifo reuses the warmest socket and lets the rest idle out; noDelay so streamed chunks are not held back by Nagle.
  return new Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo', noDelay: true });
}

function parseEndpoint(endpoint: string): { host: string; port: number } {
  const url = new URL(endpoint);
  if (url.protocol !== 'http:') throw new Error(`replica endpoint ${endpoint} is not http://host:port`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 80 : Number(url.port) };
}

/**
 * The READY replicas a load balancer sends to, and which one takes the next request:
 * round_robin in turn, least_load the one with the fewest requests in flight (ties in turn).
 */
export class ReplicaPool {
  private replicas: PoolReplica[] = [];
  private turn = 0;
  readonly served = new Map<number, number>();

  constructor(
    public policy: LoadBalancingPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.replicas.length;
  }

  /**
   * Replace the pool. A replica listed again with the same endpoint keeps its connections, its
   * in-flight count and its skip mark; one gone has its idle connections closed (requests in
   * flight to it finish on their own sockets).
   */
  set(list: ReadonlyArray<{ id: number; endpoint: string }>): void {
    const old = new Map(this.replicas.map((r) => [r.id, r]));
    const next: PoolReplica[] = [];
    for (const { id, endpoint } of list) {
      const kept = old.get(id);
      if (kept !== undefined && kept.endpoint === endpoint) {
        old.delete(id);
        next.push(kept);
        continue;
      }
      next.push({ id, endpoint, ...parseEndpoint(endpoint), agent: agentFor(), inFlight: 0, skippedUntil: 0 });
    }
    for (const gone of old.values()) gone.agent.destroy();
    this.replicas = next;
  }

  /**
   * The replicas to try for one request, best first: the policy's pick among those not
   * skipped, then the others in the same order, then the skipped ones (a replica that failed
   * a moment ago is still better than no answer). Each appears once.
   */
  order(): PoolReplica[] {
    const all = this.replicas;
    if (all.length === 0) return [];
    const turn = this.turn++;
    if (this.turn >= 1 << 30) this.turn = 0;
    const now = this.now();
    let healthy: PoolReplica[] = [];
    let skipped: PoolReplica[] | undefined;
    for (const replica of all) {
      if (replica.skippedUntil > now) (skipped ??= []).push(replica);
      else healthy.push(replica);
    }
    // Taking turns among the replicas in the running (not in the whole pool) keeps the spread
    // even when one is passed over or busy: the one after it does not get its share too.
    let group = healthy.length;
    if (this.policy === 'least_load' && group > 1) {
      healthy.sort((a, b) => a.inFlight - b.inFlight);
      const least = healthy[0]!.inFlight;
      group = 1;
      while (group < healthy.length && healthy[group]!.inFlight === least) group++;
    }
    const first = group > 1 ? turn % group : 0;
    if (first !== 0) healthy = [...healthy.slice(first, group), ...healthy.slice(0, first), ...healthy.slice(group)];
    return skipped === undefined ? healthy : healthy.concat(skipped);
  }

  /** Pass over `replica` for a while; true when it was not already skipped (worth a log line). */
  skip(replica: PoolReplica): boolean {
    const now = this.now();
    const fresh = replica.skippedUntil <= now;
    replica.skippedUntil = now + PASSIVE_SKIP_MS;
    return fresh;
  }

  count(replica: PoolReplica): void {
    this.served.set(replica.id, (this.served.get(replica.id) ?? 0) + 1);
  }

  close(): void {
    for (const replica of this.replicas) replica.agent.destroy();
    this.replicas = [];
  }
}
