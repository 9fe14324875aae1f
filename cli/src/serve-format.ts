// The tables of `sky serve status`, in SkyPilot's columns: services, then their replicas.
import type { ServiceRecord, ServiceReplica } from '@sky/protocol';
import { elapsed } from './cluster-format.js';
import { age, table } from './format.js';

export interface ServiceTableOptions {
  /** -u: a USER column after NAME. */
  showUser?: boolean;
  now?: number;
}

/** Services sorted by name: the order every listing shows them in. */
function byName<T extends { name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** REPLICAS: READY ones over all the service has (a replica being replaced counts until it is gone). */
export function replicaCounts(service: Pick<ServiceRecord, 'replicas'>): string {
  const ready = service.replicas.filter((r) => r.status === 'READY').length;
  return `${ready}/${service.replicas.length}`;
}

export function serviceHeaders(showUser: boolean): string[] {
  return ['NAME', ...(showUser ? ['USER'] : []), 'VERSION', 'UPTIME', 'STATUS', 'REPLICAS', 'ENDPOINT'];
}

/** The service table, header first. UPTIME counts from when the service was created. */
export function serviceTable(items: readonly ServiceRecord[], options: ServiceTableOptions = {}): string[] {
  const now = options.now ?? Date.now();
  const showUser = options.showUser === true;
  const rows = byName(items).map((s) => [
    s.name,
    ...(showUser ? [s.userName] : []),
    String(s.version),
    elapsed(now - s.createdAt),
    s.status,
    replicaCounts(s),
    s.endpoint ?? '-',
  ]);
  return table(serviceHeaders(showUser), rows);
}

export const REPLICA_HEADERS = ['SERVICE_NAME', 'ID', 'VERSION', 'ENDPOINT', 'LAUNCHED', 'RESOURCES', 'STATUS'];

/** The replica table of the services given, header first: by service, then by replica ID. */
export function replicaTable(items: readonly ServiceRecord[], now: number = Date.now()): string[] {
  const rows = byName(items).flatMap((s) =>
    [...s.replicas].sort((a, b) => a.id - b.id).map((r: ServiceReplica) => [s.name, String(r.id), String(r.version), r.endpoint ?? '-', age(r.launchedAt, now), r.resources ?? '-', r.status]),
  );
  return table(REPLICA_HEADERS, rows);
}

/** Why services are not serving (FAILED, or waiting for something), one line each; nothing when all is well. */
export function serviceReasons(items: readonly ServiceRecord[]): string[] {
  return byName(items)
    .filter((s) => s.reason !== undefined && s.reason.length > 0)
    .map((s) => `${s.name}: ${s.reason!}`);
}

/** The whole `sky serve status` text: the services, then (when any has one) their replicas. */
export function serveStatusLines(items: readonly ServiceRecord[], options: ServiceTableOptions = {}): string[] {
  if (items.length === 0) return ['No existing services.'];
  const now = options.now ?? Date.now();
  const out = ['Services', ...serviceTable(items, { ...options, now })];
  const reasons = serviceReasons(items);
  if (reasons.length > 0) out.push('', ...reasons);
  if (items.some((s) => s.replicas.length > 0)) out.push('', 'Service Replicas', ...replicaTable(items, now));
  return out;
}
