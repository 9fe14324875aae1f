/** Infra: the drivers and plugins (with load errors) and, on demand, `sky check`: pools, hosts, Kubernetes contexts, capacity. */
import { useState } from 'preact/hooks';
import { call, submit } from '../api.js';
import { Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLoad } from '../hooks.js';
import { clearAlert, showAlert, track } from '../outcomes.js';
import { poolsFromHosts } from '../logic/pools.js';
import type { Accelerator, CheckResult, HostCheck, PluginState, PoolSummary, TargetCheck } from '../types.js';

function gpus(list: readonly Accelerator[]): string {
  return list.length === 0 ? '-' : list.map((a) => `${a.name}:${a.count}`).join(', ');
}

type DriverCheck = CheckResult['drivers'][number];

/** A row of the contexts table: a context with one of its nodes (or none, when it has none or cannot be read). */
interface ContextRow {
  driver: string;
  target: TargetCheck;
  node?: TargetCheck['nodes'][number];
}

function contextUsable(t: TargetCheck): boolean {
  return t.reachable && t.error === undefined && t.missingPermissions.length === 0;
}

export function InfraPage() {
  const plugins = useLoad((signal) => call<{ items: PluginState[] }>('/plugins', { signal }), []);
  const [check, setCheck] = useState<CheckResult | undefined>(undefined);
  const [running, setRunning] = useState(false);

  const runCheck = async (): Promise<void> => {
    setRunning(true);
    clearAlert();
    try {
      const sent = await submit('check', {});
      const record = await track(sent.requestId, 'Run check', sent.status);
      if (record?.status === 'SUCCEEDED') setCheck(record.result as CheckResult);
    } catch (err) {
      showAlert(err);
    } finally {
      setRunning(false);
    }
  };

  const pluginColumns: ColumnDef<PluginState>[] = [
    { id: 'id', title: 'ID', cell: (p) => p.id },
    { id: 'kind', title: 'Kind', cell: (p) => p.kind },
    { id: 'package', title: 'Package', cell: (p) => <code>{p.package}</code> },
    { id: 'version', title: 'Version', cell: (p) => p.version ?? '-' },
    { id: 'status', title: 'State', status: (p) => p.state, cell: (p) => <Status status={p.state} /> },
    { id: 'error', title: 'Load error', cell: (p) => (p.error !== undefined ? <span class="error" title={p.error.message}>{`${p.error.code}: ${p.error.message}`}</span> : '-') },
  ];
  const driverColumns: ColumnDef<DriverCheck>[] = [
    { id: 'id', title: 'Driver', cell: (d) => d.id },
    { id: 'status', title: 'Check', status: (d) => (d.ok ? 'ok' : 'error'), cell: (d) => <Status status={d.ok ? 'ok' : 'error'} /> },
    { id: 'infra', title: 'Infra', cell: (d) => d.infra.join(', ') || '-' },
    { id: 'detail', title: 'Detail', cell: (d) => <span title={d.error ?? d.detail}>{d.error ?? d.detail ?? '-'}</span> },
  ];
  const hostColumns: ColumnDef<HostCheck>[] = [
    { id: 'pool', title: 'Pool', cell: (h) => h.pool },
    { id: 'label', title: 'Host', cell: (h) => `${h.label} (${h.user}@${h.host}:${h.port})` },
    { id: 'status', title: 'Reachable', status: (h) => (h.reachable && h.authOk ? 'ok' : 'error'), cell: (h) => <Status status={h.reachable ? (h.authOk ? 'ok' : 'auth failed') : 'unreachable'} reason={h.error} /> },
    { id: 'cpus', title: 'CPUs', className: 'num', cell: (h) => h.cpus },
    { id: 'mem', title: 'Memory (GB)', className: 'num', cell: (h) => h.memoryGb },
    { id: 'gpus', title: 'GPUs', cell: (h) => gpus(h.accelerators) },
    { id: 'used', title: 'Used by', cell: (h) => (h.heldBy !== undefined ? `${h.heldBy.clusterName} (${h.heldBy.owner})` : 'free') },
  ];
  const poolColumns: ColumnDef<PoolSummary>[] = [
    { id: 'pool', title: 'Pool', cell: (p) => p.pool },
    { id: 'hosts', title: 'Hosts', className: 'num', cell: (p) => p.hosts },
    { id: 'ready', title: 'Ready', className: 'num', cell: (p) => p.ready },
    { id: 'used', title: 'Used', className: 'num', cell: (p) => p.ready - p.free },
    { id: 'free', title: 'Free', className: 'num', cell: (p) => p.free },
    { id: 'cpus', title: 'CPUs', className: 'num', cell: (p) => p.cpus },
    { id: 'mem', title: 'Memory (GB)', className: 'num', cell: (p) => p.memoryGb },
    { id: 'gpus', title: 'GPUs', cell: (p) => gpus(p.accelerators) },
  ];
  const contextColumns: ColumnDef<ContextRow>[] = [
    { id: 'context', title: 'Context', cell: (r) => `${r.driver}/${r.target.name}` },
    {
      id: 'status',
      title: 'State',
      status: (r) => (contextUsable(r.target) ? 'ok' : 'error'),
      cell: (r) => <Status status={!r.target.reachable ? 'unreachable' : contextUsable(r.target) ? 'ok' : 'not usable'} reason={r.target.error ?? (r.target.missingPermissions.join('; ') || undefined)} />,
    },
    { id: 'namespace', title: 'Namespace', cell: (r) => r.target.scope ?? '-' },
    { id: 'node', title: 'Node', cell: (r) => (r.node === undefined ? '-' : `${r.node.name}${r.node.ready ? '' : ' (not ready)'}`) },
    { id: 'cpus', title: 'CPUs', className: 'num', cell: (r) => r.node?.cpus ?? '-' },
    { id: 'mem', title: 'Memory (GB)', className: 'num', cell: (r) => r.node?.memoryGb ?? '-' },
    { id: 'gpus', title: 'GPUs (free of total)', cell: (r) => (r.node === undefined || r.node.gpus.length === 0 ? '-' : r.node.gpus.map((g) => `${g.name}: ${g.free} of ${g.total}`).join(', ')) },
  ];
  const drivers = check?.drivers ?? [];
  const contexts: ContextRow[] = drivers.flatMap((d) =>
    (d.targets ?? []).flatMap((target) => (target.nodes.length === 0 ? [{ driver: d.id, target }] : target.nodes.map((node) => ({ driver: d.id, target, node })))),
  );
  const hosts = drivers.flatMap((d) => d.hosts ?? []);
  // Members get pool summaries; an admin gets the hosts, summed up here the same way.
  const pools = drivers.flatMap((d) => d.pools ?? poolsFromHosts(d.hosts ?? []));
  return (
    <Page
      name="infra"
      title="Infra"
      ready={plugins.value !== undefined}
      error={plugins.error}
      actions={
        <button type="button" class="primary" onClick={() => void runCheck()} disabled={running}>
          {running ? 'Checking…' : 'Run check'}
        </button>
      }
    >
      <h2>Drivers and plugins</h2>
      <VirtualTable label="Drivers" columns={pluginColumns} rows={plugins.value?.items ?? []} rowKey={(p) => `${p.kind}/${p.id}`} empty={plugins.value !== undefined ? 'No plugins configured.' : 'Loading…'} />
      <h2>Check</h2>
      {check === undefined ? (
        <p class="muted">Run check asks every enabled driver for its state and capacity (sky check), and each SSH host whether it answers.</p>
      ) : (
        <>
          <VirtualTable label="Checks" columns={driverColumns} rows={drivers} rowKey={(d) => d.id} />
          {pools.length > 0 && (
            <>
              <h3>Pools</h3>
              <VirtualTable label="Pools" columns={poolColumns} rows={pools} rowKey={(p) => p.pool} />
            </>
          )}
          {contexts.length > 0 && (
            <>
              <h3>Kubernetes contexts</h3>
              <VirtualTable label="Contexts" columns={contextColumns} rows={contexts} rowKey={(r) => `${r.driver}/${r.target.name}/${r.node?.name ?? ''}`} />
            </>
          )}
          {hosts.length > 0 && (
            <>
              <h3>Hosts</h3>
              <VirtualTable label="Hosts" columns={hostColumns} rows={hosts} rowKey={(h) => `${h.pool}/${h.label}`} />
            </>
          )}
        </>
      )}
    </Page>
  );
}
