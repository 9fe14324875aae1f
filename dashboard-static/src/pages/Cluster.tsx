/** One cluster: its details, actions, job queue and each job's log. */
import { useEffect, useState } from 'preact/hooks';
import { apiUrl, call, seg, submit } from '../api.js';
import { ConfirmAction, invalidInput } from '../components/ConfirmAction.js';
import { LogViewer } from '../components/LogViewer.js';
import { Details, Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLiveRows, useLoad, useNow } from '../hooks.js';
import { live } from '../live.js';
import { ago, autostopText, duration, timestamp } from '../logic/format.js';
import { href } from '../logic/route.js';
import { hasShape, JOB_SHAPE, jobKey, jobRank } from '../logic/views.js';
import { allUsers } from '../session.js';
import { useStore } from '../store.js';
import { TERMINAL_JOB, type ClusterRecord, type JobRecord } from '../types.js';

/** How many lines of each rank the log starts with. */
const LOG_TAIL = 1000;

function jobFromQuery(): number | undefined {
  const v = new URLSearchParams(location.search).get('job');
  const n = v === null ? NaN : Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function ClusterPage(props: { name: string }) {
  const name = props.name;
  const all = useStore(allUsers);
  const now = useNow();
  const cluster = useLoad((signal) => call<ClusterRecord>(`/clusters/${seg(name)}`, { signal }), [name]);
  // The cluster's record follows the feed too.
  useEffect(
    () =>
      live.subscribe({
        onChange(events) {
          if (events.some((e) => e.kind === 'cluster' && e.key === name)) cluster.reload();
        },
        onReset: () => cluster.reload(),
      }),
    [name],
  );
  const jobs = useLiveRows<JobRecord>(
    async (signal) => (await call<{ items: JobRecord[] }>(`/clusters/${seg(name)}/jobs`, { query: { all_users: true }, signal })).items,
    jobKey,
    { kind: 'job', accept: (key, r) => key.startsWith(`${name}/`) && hasShape(r, JOB_SHAPE), toRow: (r) => r as unknown as JobRecord, rank: jobRank },
    [name, all],
  );
  const [selected, setSelected] = useState<number | undefined>(jobFromQuery);
  const [fromStart, setFromStart] = useState(false);
  const c = cluster.value;
  const gone = cluster.error !== undefined && c === undefined;

  const selectJob = (id: number): void => {
    setSelected(id);
    history.replaceState(null, '', `${href('clusters', name)}?job=${id}`);
  };

  const jobList = [...jobs.rows.values()].sort((a, b) => b.id - a.id);
  const selectedJob = selected === undefined ? undefined : jobList.find((j) => j.id === selected);
  const columns: ColumnDef<JobRecord>[] = [
    { id: 'id', title: 'ID', className: 'num', cell: (j) => j.id },
    { id: 'name', title: 'Name', cell: (j) => j.name ?? '-' },
    { id: 'user', title: 'User', cell: (j) => j.userName },
    { id: 'submitted', title: 'Submitted', cell: (j) => ago(j.submittedAt, now) },
    { id: 'duration', title: 'Duration', cell: (j) => (j.startedAt === undefined ? '-' : duration((j.endedAt ?? now) - j.startedAt)) },
    { id: 'command', title: 'Command', cell: (j) => <code title={j.command}>{j.command ?? '-'}</code> },
    { id: 'status', title: 'Status', status: (j) => j.status, cell: (j) => <Status status={j.status} reason={j.reason} /> },
    {
      id: 'actions',
      title: 'Actions',
      cell: (j) => (
        <span class="row-actions">
          <button type="button" aria-pressed={selected === j.id} onClick={() => selectJob(j.id)} title={`Show the log of job ${j.id}`}>
            Log
          </button>
          {!TERMINAL_JOB.includes(j.status) && (
            <ConfirmAction label="Cancel" title={`Cancel job ${j.id} on ${name}?`} danger describe={`Cancel job ${j.id}`} run={() => submit('cancel', { cluster: name, job_ids: [j.id] })} done={jobs.refetch}>
              <p>The job is stopped on every node; its log stays.</p>
            </ConfirmAction>
          )}
        </span>
      ),
    },
  ];

  return (
    <Page name="cluster" title={`Cluster ${name}`} ready={c !== undefined && (jobs.loaded || jobs.error !== undefined)} error={cluster.error}>
      <p>
        <a href={href('clusters')}>← Clusters</a>
      </p>
      {c !== undefined && (
        <>
          <Details
            items={[
              ['Status', <Status status={c.status} reason={c.statusReason} />],
              ['Owner', c.ownerName],
              ['Workspace', c.workspace],
              ['Infra', `${c.infra} (driver ${c.driver})`],
              ['Nodes', c.numNodes],
              ['Resources', c.resources],
              ['Launched', timestamp(c.launchedAt)],
              ['Last active', ago(c.lastActiveAt, now)],
              ['Autostop', autostopText(c.autostop)],
              ['Ports', c.ports !== undefined && c.ports.length > 0 ? c.ports.join(', ') : '-'],
              ['Head', c.nodes[0]?.address ?? '-'],
              ['Last command', c.lastCommand !== undefined ? <code>{c.lastCommand}</code> : '-'],
            ]}
          />
          <ClusterActions cluster={c} done={cluster.reload} />
        </>
      )}
      {gone && <p>This cluster does not exist (any more), or is not yours to see.</p>}
      <h2>Jobs</h2>
      <VirtualTable label="Jobs" columns={columns} rows={jobList} rowKey={jobKey} empty={jobs.loaded ? 'No jobs on this cluster.' : (jobs.error ?? 'Loading…')} />
      {selected !== undefined && (
        <section class="job-log">
          <h2>
            Log of job {selected}
            {selectedJob !== undefined ? ` (${selectedJob.status})` : ''}
          </h2>
          <div class="filters">
            <label>
              <input type="checkbox" checked={fromStart} onChange={(e) => setFromStart(e.currentTarget.checked)} /> From the start
            </label>
          </div>
          <LogViewer
            key={`${name}/${selected}/${fromStart ? 'all' : 'tail'}`}
            src={apiUrl(`/clusters/${seg(name)}/jobs/${selected}/logs`, { follow: true, ...(fromStart ? {} : { tail: LOG_TAIL }) })}
            downloadHref={apiUrl(`/clusters/${seg(name)}/jobs/${selected}/logs`, { format: 'text' })}
            multiNode={(selectedJob?.numNodes ?? c?.numNodes ?? 1) > 1}
            note={fromStart ? 'from the start, then live' : `the last ${LOG_TAIL.toLocaleString()} lines of each node, then live`}
          />
        </section>
      )}
    </Page>
  );
}

function ClusterActions(props: { cluster: ClusterRecord; done: () => void }) {
  const c = props.cluster;
  const [minutes, setMinutes] = useState(String(c.autostop?.idleMinutes ?? 30));
  const [down, setDown] = useState(c.autostop?.down ?? false);
  return (
    <div class="actions" role="group" aria-label="Cluster actions">
      <ConfirmAction label="Stop" title={`Stop cluster ${c.name}?`} disabled={c.status === 'STOPPED'} run={() => submit('stop', { cluster: c.name })} done={props.done}>
        <p>Its nodes release their compute; the disks stay. Running jobs are stopped.</p>
      </ConfirmAction>
      <ConfirmAction label="Start" title={`Start cluster ${c.name}?`} disabled={c.status === 'UP'} run={() => submit('start', { cluster: c.name })} done={props.done}>
        <p>The stopped cluster is started again.</p>
      </ConfirmAction>
      <ConfirmAction label="Down" danger title={`Tear cluster ${c.name} down?`} run={() => submit('down', { cluster: c.name })} done={props.done}>
        <p>Its nodes are terminated and the cluster is forgotten. This cannot be undone.</p>
      </ConfirmAction>
      <ConfirmAction
        label="Autostop"
        title={`Autostop for ${c.name}`}
        run={() => {
          const n = Number(minutes);
          if (minutes.trim() === '' || !Number.isFinite(n) || n < 0 || n > 525600) throw invalidInput('Idle minutes: a number from 0 to 525600.');
          return submit('autostop', { cluster: c.name, idle_minutes: n, down });
        }}
        done={props.done}
      >
        <label>
          Idle minutes <input type="number" min="0" max="525600" value={minutes} onInput={(e) => setMinutes(e.currentTarget.value)} />
        </label>
        <label>
          <input type="checkbox" checked={down} onChange={(e) => setDown(e.currentTarget.checked)} /> Tear down instead of stopping
        </label>
      </ConfirmAction>
      <ConfirmAction label="Cancel autostop" title={`Cancel autostop of ${c.name}?`} disabled={c.autostop === undefined} run={() => submit('autostop', { cluster: c.name, cancel: true })} done={props.done}>
        <p>The cluster then runs until stopped by hand.</p>
      </ConfirmAction>
    </div>
  );
}
