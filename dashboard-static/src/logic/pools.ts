/** A host pool's capacity from its hosts' reports: what an admin's check answers in place of the summaries members get. */
import type { Accelerator, HostCheck, PoolSummary } from '../types.js';

/** Pools in the order their hosts first appear; ready = reachable and logged in to, free = ready and held by no cluster. */
export function poolsFromHosts(hosts: readonly HostCheck[]): PoolSummary[] {
  const pools = new Map<string, PoolSummary & { gpus: Map<string, number> }>();
  for (const host of hosts) {
    let pool = pools.get(host.pool);
    if (pool === undefined) {
      pool = { pool: host.pool, hosts: 0, ready: 0, free: 0, cpus: 0, memoryGb: 0, accelerators: [], gpus: new Map() };
      pools.set(host.pool, pool);
    }
    pool.hosts += 1;
    if (!host.reachable || !host.authOk) continue;
    pool.ready += 1;
    if (host.heldBy === undefined) pool.free += 1;
    pool.cpus += host.cpus;
    pool.memoryGb += host.memoryGb;
    for (const gpu of host.accelerators) pool.gpus.set(gpu.name, (pool.gpus.get(gpu.name) ?? 0) + gpu.count);
  }
  return [...pools.values()].map(({ gpus, ...pool }) => ({
    ...pool,
    memoryGb: Math.round(pool.memoryGb * 10) / 10,
    accelerators: [...gpus].map(([name, count]): Accelerator => ({ name, count })),
  }));
}
