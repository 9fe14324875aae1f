/** One managed job: its tasks, what the controller did, the task's or the controller's log, Cancel. */
import { useEffect, useState } from 'preact/hooks';
import { apiUrl, call, seg, submit } from '../api.js';
import { ConfirmAction } from '../components/ConfirmAction.js';
import { LogViewer } from '../components/LogViewer.js';
import { Details, Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLoad, useNow } from '../hooks.js';
import { live } from '../live.js';
import { duration, timestamp } from '../logic/format.js';
import { managedDurations } from '../logic/managed.js';
import { href } from '../logic/route.js';
import { TERMINAL_MANAGED, type ManagedJob, type ManagedTask } from '../types.js';

export function ManagedJobPage(props: { id: string }) {
  const id = props.id;
  const now = useNow(5_000);
  const detail = useLoad((signal) => call<{ job: ManagedJob; events: { at: number; text: string }[] }>(`/managed-jobs/${seg(id)}`, { signal }), [id]);
  useEffect(
    () =>
      live.subscribe({
        onChange(events) {
          if (events.some((e) => e.kind === 'managedJob' && e.key === id)) detail.reload();
        },
        onReset: () => detail.reload(),
      }),
    [id],
  );
  const [controller, setController] = useState(false);
  const job = detail.value?.job;
  const events = detail.value?.events ?? [];
  const taskColumns: ColumnDef<ManagedTask>[] = [
    { id: 'index', title: '#', className: 'num', cell: (t) => t.index },
    { id: 'name', title: 'Name', cell: (t) => t.name ?? '-' },
    { id: 'resources', title: 'Resources', cell: (t) => t.resources },
    { id: 'cluster', title: 'Cluster', cell: (t) => (t.cluster !== undefined ? <a href={href('clusters', t.cluster)}>{t.cluster}</a> : '-') },
    { id: 'infra', title: 'Infra', cell: (t) => t.infra ?? '-' },
    { id: 'running', title: 'Running time', cell: (t) => duration(t.runningMs + (t.runningSince !== undefined ? now - t.runningSince : 0)) },
    { id: 'recoveries', title: '#Recoveries', className: 'num', cell: (t) => t.recoveries },
    { id: 'restarts', title: 'Restarts', className: 'num', cell: (t) => t.restarts },
    { id: 'status', title: 'Status', status: (t) => t.status, cell: (t) => <Status status={t.status} /> },
  ];
  const logPath = `/managed-jobs/${seg(id)}/logs`;
  return (
    <Page name="job" title={`Managed job ${id}`} ready={job !== undefined} error={detail.error}>
      <p>
        <a href={href('jobs')}>← Managed jobs</a>
      </p>
      {job !== undefined && (
        <>
          <Details
            items={[
              ['Status', <Status status={job.status} reason={job.reason} />],
              ['Name', job.name ?? '-'],
              ['User', job.userName],
              ['Workspace', job.workspace],
              ['Submitted', timestamp(job.submittedAt)],
              ['Ended', timestamp(job.endedAt)],
              ['Tot. duration', duration(managedDurations(job, now).total)],
              ['Job duration', duration(managedDurations(job, now).running)],
              ['Request', <a href={href('requests', job.requestId)}>{job.requestId}</a>],
            ]}
          />
          {!TERMINAL_MANAGED.includes(job.status) && (
            <div class="actions">
              <ConfirmAction label="Cancel" danger title={`Cancel managed job ${job.id}?`} run={() => submit('jobs_cancel', { job_ids: [job.id] })} done={detail.reload}>
                <p>It ends CANCELLED and its cluster is torn down.</p>
              </ConfirmAction>
            </div>
          )}
          <h2>Tasks</h2>
          <VirtualTable label="Tasks" columns={taskColumns} rows={job.tasks} rowKey={(t) => String(t.index)} />
          <h2>Events</h2>
          {events.length === 0 ? (
            <p class="muted">No controller events to show.</p>
          ) : (
            <ol class="events" aria-label="Events">
              {events.map((e, i) => (
                <li key={i}>
                  <time>{timestamp(e.at)}</time> {e.text}
                </li>
              ))}
            </ol>
          )}
          <h2>Log</h2>
          <div class="filters">
            <label>
              <input type="checkbox" checked={controller} onChange={(e) => setController(e.currentTarget.checked)} /> Controller log
            </label>
          </div>
          <LogViewer
            key={controller ? 'controller' : 'task'}
            src={apiUrl(logPath, { follow: true, controller })}
            downloadHref={apiUrl(logPath, { format: 'text', controller })}
            multiNode={false}
            note={controller ? "the controller's log" : "the current task's log"}
          />
        </>
      )}
    </Page>
  );
}
