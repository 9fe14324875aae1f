/** How the Services pages read a service record: replica counts, versions, policy, links, who may tear it down. */

/** Replica statuses past which a replica serves no more (the protocol's REPLICA_GONE): not counted in the total. */
export const GONE_REPLICA_STATUSES: readonly string[] = ['FAILED', 'FAILED_PROBING', 'PREEMPTED'];

interface ReplicaLike {
  readonly status: string;
}

/** REPLICAS as `sky serve status` shows it: READY ones over those not gone. */
export function replicaCounts(replicas: readonly ReplicaLike[]): { ready: number; total: number } {
  let ready = 0;
  let total = 0;
  for (const r of replicas) {
    if (r.status === 'READY') ready += 1;
    if (!GONE_REPLICA_STATUSES.includes(r.status)) total += 1;
  }
  return { ready, total };
}

export function replicasText(replicas: readonly ReplicaLike[]): string {
  const { ready, total } = replicaCounts(replicas);
  return `${ready}/${total}`;
}

/** The version new replicas run, and, during an update, the one traffic still goes to. */
export function versionText(s: { version: number; activeVersion?: number }): string {
  const active = s.activeVersion;
  return active !== undefined && active > 0 && active !== s.version ? `${s.version} (serving ${active})` : String(s.version);
}

interface PolicyLike {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetQpsPerReplica?: number;
}

/** "2" for a fixed count; "1-4, 5 QPS per replica" when autoscaled. */
export function replicaPolicyText(p: PolicyLike | undefined): string {
  if (p === undefined) return '-';
  if (p.targetQpsPerReplica === undefined && p.minReplicas === p.maxReplicas) return String(p.minReplicas);
  const range = `${p.minReplicas}-${p.maxReplicas}`;
  return p.targetQpsPerReplica === undefined ? range : `${range}, ${p.targetQpsPerReplica} QPS per replica`;
}

/**
 * The endpoint as a link target, only when it is an http(s) URL: the record comes from the
 * server, but a link must never carry a script URL whatever the field holds.
 */
export function endpointHref(endpoint: string | undefined): string | undefined {
  if (endpoint === undefined || endpoint === '') return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined;
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
}

/** Whether the signed-in user may tear the service down (its owner or an admin; the API decides anyway). */
export function mayTearDown(service: { user: string }, who: { id: string; role: string } | undefined): boolean {
  return who !== undefined && (who.role === 'admin' || who.id === service.user);
}

/** The service whose replica a cluster is (replica clusters are named `<service>-<replica id>`), if one of `names`. */
export function serviceOfReplicaCluster(cluster: string, names: ReadonlySet<string>): string | undefined {
  const m = /^(.+)-\d+$/.exec(cluster);
  const name = m?.[1];
  return name !== undefined && names.has(name) ? name : undefined;
}

/** Which log of a service the page shows: `?log=controller`, `?log=load_balancer` or `?log=replica-<id>`. */
export type ServiceLogChoice = { readonly kind: 'controller' } | { readonly kind: 'load_balancer' } | { readonly kind: 'replica'; readonly id: number };

export function parseLogChoice(value: string | null): ServiceLogChoice {
  if (value === 'load_balancer') return { kind: 'load_balancer' };
  const m = value === null ? null : /^replica-([1-9]\d{0,8})$/.exec(value);
  if (m !== null) return { kind: 'replica', id: Number(m[1]) };
  return { kind: 'controller' };
}

export function logChoiceValue(choice: ServiceLogChoice): string {
  return choice.kind === 'replica' ? `replica-${choice.id}` : choice.kind;
}

/** The query of GET /services/:name/logs for a choice. */
export function logQuery(choice: ServiceLogChoice): Record<string, string | number | boolean> {
  switch (choice.kind) {
    case 'controller':
      return { controller: true };
    case 'load_balancer':
      return { load_balancer: true };
    case 'replica':
      return { replica_id: choice.id };
  }
}
