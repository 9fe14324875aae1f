/** Services: `sky serve status` (with All users, `-u`), live. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { call } from '../api.js';
import { Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLiveRows, useNow } from '../hooks.js';
import { live } from '../live.js';
import { duration } from '../logic/format.js';
import { href } from '../logic/route.js';
import { endpointHref, replicasText, serviceOfReplicaCluster, versionText } from '../logic/services.js';
import { hasShape, SERVICE_SHAPE } from '../logic/views.js';
import { allUsers } from '../session.js';
import { useStore } from '../store.js';
import type { ServiceRecord } from '../types.js';
import { AllUsersToggle } from './Clusters.js';

export const serviceRules = {
  kind: 'service' as const,
  accept: (_key: string, r: Record<string, unknown> | null) => hasShape(r, SERVICE_SHAPE),
  toRow: (r: Record<string, unknown>) => r as unknown as ServiceRecord,
  rank: (s: ServiceRecord) => s.revision,
};

/** The endpoint as a link (opened in a new tab: it is the service, not a page of the dashboard). */
export function Endpoint(props: { endpoint: string | undefined }) {
  const url = endpointHref(props.endpoint);
  if (url === undefined) return <>{props.endpoint ?? '-'}</>;
  return (
    <a href={url} target="_blank" rel="noopener noreferrer">
      {props.endpoint}
    </a>
  );
}

/**
 * Replica clusters change (launch, up, down) as their service does: a change of one refetches
 * the list, which keeps it current on a server whose feed carries no `service` changes.
 */
export function useReplicaClusterChanges(names: ReadonlySet<string>, onChange: () => void): void {
  const current = useRef({ names, onChange });
  current.current = { names, onChange };
  useEffect(
    () =>
      live.subscribe({
        onChange(events) {
          const { names: known, onChange: run } = current.current;
          if (events.some((e) => e.kind === 'cluster' && serviceOfReplicaCluster(e.key, known) !== undefined)) run();
        },
        onReset: () => undefined,
      }),
    [],
  );
}

export function ServicesPage() {
  const all = useStore(allUsers);
  const now = useNow(10_000);
  const services = useLiveRows<ServiceRecord>(
    async (signal) => (await call<{ items: ServiceRecord[] }>('/services', { query: { all_users: all }, signal })).items,
    (s) => s.name,
    serviceRules,
    [all],
  );
  const names = useMemo(() => new Set(services.rows.keys()), [services.rows]);
  useReplicaClusterChanges(names, services.refetch);
  const [text, setText] = useState('');
  const rows = useMemo(() => {
    const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
    return [...services.rows.values()]
      .filter((s) => {
        const hay = `${s.name} ${s.userName} ${s.workspace} ${s.status} ${s.endpoint ?? ''}`.toLowerCase();
        return words.every((w) => hay.includes(w));
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }, [services.rows, text]);

  const columns: ColumnDef<ServiceRecord>[] = [
    { id: 'name', title: 'Name', cell: (s) => <a href={href('services', s.name)}>{s.name}</a> },
    { id: 'version', title: 'Version', cell: (s) => versionText(s) },
    { id: 'uptime', title: 'Uptime', cell: (s) => duration(now - s.createdAt) },
    { id: 'status', title: 'Status', status: (s) => s.status, cell: (s) => <Status status={s.status} reason={s.reason} /> },
    { id: 'replicas', title: 'Replicas', className: 'num', cell: (s) => replicasText(s.replicas) },
    { id: 'endpoint', title: 'Endpoint', cell: (s) => <Endpoint endpoint={s.endpoint} /> },
    { id: 'owner', title: 'Owner', cell: (s) => s.userName },
    { id: 'workspace', title: 'Workspace', cell: (s) => s.workspace },
  ];
  return (
    <Page name="services" title="Services" ready={services.loaded} error={services.error}>
      <div class="filters" role="search">
        <AllUsersToggle />
        <span class="field">
          <label for="services-filter">Filter</label>
          <input id="services-filter" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="name, owner, status…" />
        </span>
        <span class="count">{services.loaded ? `${rows.length.toLocaleString()} of ${services.rows.size.toLocaleString()}` : 'loading…'}</span>
      </div>
      <VirtualTable label="Services" columns={columns} rows={rows} rowKey={(s) => s.name} empty={services.loaded ? 'No services. Start one with sky serve up.' : 'Loading…'} />
    </Page>
  );
}
