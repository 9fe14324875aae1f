/** One service: its fields, replicas, what its controller did, its logs (controller, load balancer, a replica), Down. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiUrl, call, seg, submit } from '../api.js';
import { ConfirmAction } from '../components/ConfirmAction.js';
import { LogViewer } from '../components/LogViewer.js';
import { Details, Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLoad, useNow } from '../hooks.js';
import { live } from '../live.js';
import { ago, duration, timestamp } from '../logic/format.js';
import { href } from '../logic/route.js';
import { logChoiceValue, logQuery, mayTearDown, parseLogChoice, replicaPolicyText, replicasText, versionText, type ServiceLogChoice } from '../logic/services.js';
import { me } from '../session.js';
import { useStore } from '../store.js';
import type { ServiceRecord, ServiceReplica } from '../types.js';
import { Endpoint, useReplicaClusterChanges } from './Services.js';

/** Controller events shown on the page; the controller log has them all. */
const EVENTS_SHOWN = 20;

export function ServicePage(props: { name: string }) {
  const name = props.name;
  const now = useNow(10_000);
  const who = useStore(me);
  const detail = useLoad((signal) => call<{ service: ServiceRecord; events: { at: number; text: string }[] }>(`/services/${seg(name)}`, { signal }), [name]);
  useEffect(
    () =>
      live.subscribe({
        onChange(events) {
          if (events.some((e) => e.kind === 'service' && e.key === name)) detail.reload();
        },
        onReset: () => detail.reload(),
      }),
    [name],
  );
  useReplicaClusterChanges(useMemo(() => new Set([name]), [name]), detail.reload);
  const [log, setLog] = useState<ServiceLogChoice>(() => parseLogChoice(new URLSearchParams(location.search).get('log')));
  const chooseLog = (choice: ServiceLogChoice): void => {
    setLog(choice);
    history.replaceState(null, '', `${href('services', name)}?log=${logChoiceValue(choice)}`);
  };

  const s = detail.value?.service;
  const events = detail.value?.events ?? [];
  const gone = detail.error !== undefined && s === undefined;
  const replicas = s === undefined ? [] : [...s.replicas].sort((a, b) => a.id - b.id);
  const columns: ColumnDef<ServiceReplica>[] = [
    { id: 'id', title: 'ID', className: 'num', cell: (r) => r.id },
    { id: 'version', title: 'Version', className: 'num', cell: (r) => r.version },
    { id: 'status', title: 'Status', status: (r) => r.status, cell: (r) => <Status status={r.status} /> },
    { id: 'endpoint', title: 'Endpoint', cell: (r) => <Endpoint endpoint={r.endpoint} /> },
    { id: 'cluster', title: 'Cluster', cell: (r) => <a href={href('clusters', r.cluster)}>{r.cluster}</a> },
    { id: 'launched', title: 'Launched', cell: (r) => ago(r.launchedAt, now) },
    { id: 'resources', title: 'Resources', cell: (r) => <span title={r.resources}>{r.resources ?? '-'}</span> },
    { id: 'reason', title: 'Reason', cell: (r) => <span title={r.reason}>{r.reason ?? '-'}</span> },
    {
      id: 'actions',
      title: 'Actions',
      cell: (r) => (
        <button type="button" aria-pressed={log.kind === 'replica' && log.id === r.id} onClick={() => chooseLog({ kind: 'replica', id: r.id })} title={`Show the log of replica ${r.id}`}>
          Log
        </button>
      ),
    },
  ];
  const logPath = `/services/${seg(name)}/logs`;
  const logNote = log.kind === 'controller' ? "the controller's log" : log.kind === 'load_balancer' ? "the load balancer's log" : `the log of replica ${log.id}`;

  return (
    <Page name="service" title={`Service ${name}`} ready={s !== undefined} error={detail.error}>
      <p>
        <a href={href('services')}>← Services</a>
      </p>
      {s !== undefined && (
        <>
          <Details
            items={[
              ['Status', <Status status={s.status} reason={s.reason} />],
              ['Endpoint', <Endpoint endpoint={s.endpoint} />],
              ['Replicas', `${replicasText(s.replicas)} ready (target ${s.targetReplicas})`],
              ['Replica policy', replicaPolicyText(s.replicaPolicy)],
              ['Version', versionText(s)],
              ['Update mode', s.updateMode],
              ['Protected', s.protected ? 'yes (bearer token)' : 'no'],
              ['Owner', s.userName],
              ['Workspace', s.workspace],
              ['Created', timestamp(s.createdAt)],
              ['Uptime', duration(now - s.createdAt)],
              ['Request', <a href={href('requests', s.requestId)}>{s.requestId}</a>],
            ]}
          />
          <div class="actions" role="group" aria-label="Service actions">
            <ConfirmAction
              label="Down"
              danger
              title={`Tear service ${s.name} down?`}
              disabled={!mayTearDown(s, who) || s.status === 'SHUTTING_DOWN'}
              describe={mayTearDown(s, who) ? `Tear service ${s.name} down` : 'Only its owner or an admin can tear it down'}
              run={() => submit('serve_down', { service_names: [s.name] })}
              done={detail.reload}
            >
              <p>Its replicas are torn down, its load balancer stops and the service is forgotten. This cannot be undone.</p>
            </ConfirmAction>
          </div>
          <h2>Replicas</h2>
          <VirtualTable label="Replicas" columns={columns} rows={replicas} rowKey={(r) => String(r.id)} empty="No replicas." />
          <h2>Events</h2>
          {events.length === 0 ? (
            <p class="muted">No controller events to show.</p>
          ) : (
            <ol class="events" aria-label="Events" start={Math.max(1, events.length - EVENTS_SHOWN + 1)}>
              {events.slice(-EVENTS_SHOWN).map((e, i) => (
                <li key={i}>
                  <time>{timestamp(e.at)}</time> {e.text}
                </li>
              ))}
            </ol>
          )}
          <h2>Log</h2>
          <div class="filters">
            <span class="field">
              <label for="service-log">Show log</label>
              <select id="service-log" value={logChoiceValue(log)} onChange={(e) => chooseLog(parseLogChoice(e.currentTarget.value))}>
                <option value="controller">Controller</option>
                <option value="load_balancer">Load balancer</option>
                {replicas.map((r) => (
                  <option key={r.id} value={`replica-${r.id}`}>
                    Replica {r.id}
                  </option>
                ))}
                {log.kind === 'replica' && !replicas.some((r) => r.id === log.id) && <option value={logChoiceValue(log)}>Replica {log.id}</option>}
              </select>
            </span>
          </div>
          <LogViewer key={logChoiceValue(log)} src={apiUrl(logPath, { ...logQuery(log), follow: true })} multiNode={false} note={logNote} />
        </>
      )}
      {gone && <p>This service does not exist (any more), or is not yours to see.</p>}
    </Page>
  );
}
