import { REPLICA_GONE, type ServiceRecord, type ServiceReplica, type ServiceStatus } from '@sky/protocol';

/**
 * What a service should do next, decided from its record alone (pure, so every case is a table
 * test): which replicas to add, which to shut down, which serve traffic, and the service's status.
 *
 * Rolling update: replicas of the new version are launched up to the target at once; an old
 * replica is shut down only when a new one has become READY in its place, so the READY count
 * never drops below the target while the update runs. Blue-green: the old version keeps all the
 * traffic until every wanted replica of the new one is READY, then the switch is made at once and
 * the old replicas are shut down.
 */
export interface ServicePlan {
  /** Replicas to add, each of the service's current version. */
  launch: number;
  /** Replicas to shut down (their clusters torn down). */
  shutdown: number[];
  /** READY replicas the load balancer sends traffic to. */
  pool: ServiceReplica[];
  activeVersion: number;
  status: ServiceStatus;
}

export function isGone(replica: ServiceReplica): boolean {
  return REPLICA_GONE.includes(replica.status);
}

/** Replicas that serve or will serve: not failed, not being shut down. */
export function isLive(replica: ServiceReplica): boolean {
  return !isGone(replica) && replica.status !== 'SHUTTING_DOWN';
}

/** The ones to let go first when there are too many: those not READY, then the newest. */
function byExpendability(a: ServiceReplica, b: ServiceReplica): number {
  const ready = Number(a.status === 'READY') - Number(b.status === 'READY');
  return ready !== 0 ? ready : b.id - a.id;
}

export function planService(service: ServiceRecord): ServicePlan {
  const version = service.version;
  const target = service.targetReplicas;
  const live = service.replicas.filter(isLive);
  const current = live.filter((r) => r.version === version);
  const older = live.filter((r) => r.version < version);
  const currentReady = current.filter((r) => r.status === 'READY');
  const shutdown: number[] = [];

  if (current.length > target) for (const r of [...current].sort(byExpendability).slice(0, current.length - target)) shutdown.push(r.id);
  // A FAILED service (or one going down) starts nothing new.
  const settled = service.status === 'SHUTTING_DOWN' || service.status === 'FAILED' || service.status === 'FAILED_CLEANUP';
  const launch = settled ? 0 : Math.max(0, target - current.length);
  const switched = currentReady.length >= target && (target > 0 || older.length > 0 || current.length === 0);
  const activeVersion = switched ? version : service.activeVersion;

  if (service.updateMode === 'blue_green') {
    if (switched) for (const r of older) shutdown.push(r.id);
  } else {
    // Old replicas not READY add nothing: they go at once. READY ones stay while the new version is short of READY replicas.
    const keepReady = Math.max(0, target - currentReady.length);
    const olderReady = older.filter((r) => r.status === 'READY').sort((a, b) => b.id - a.id);
    for (const r of older) if (r.status !== 'READY') shutdown.push(r.id);
    for (const r of olderReady.slice(keepReady)) shutdown.push(r.id);
  }

  const leaving = new Set(shutdown);
  const ready = live.filter((r) => r.status === 'READY' && !leaving.has(r.id));
  let pool = ready;
  if (service.updateMode === 'blue_green') {
    const active = ready.filter((r) => r.version === activeVersion);
    pool = active.length > 0 ? active : ready;
  }

  let status: ServiceStatus;
  if (service.status === 'SHUTTING_DOWN' || service.status === 'FAILED' || service.status === 'FAILED_CLEANUP') status = service.status;
  else if (pool.length > 0) status = 'READY';
  else if (target === 0) status = 'NO_REPLICA';
  else status = 'REPLICA_INIT';
  return { launch, shutdown, pool, activeVersion, status };
}
