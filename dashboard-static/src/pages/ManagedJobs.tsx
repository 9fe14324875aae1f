/** Managed jobs: `sky jobs queue` (with All users, `-u`), live. */
import { useMemo, useState } from 'preact/hooks';
import { call, submit } from '../api.js';
import { ConfirmAction } from '../components/ConfirmAction.js';
import { Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLiveRows, useNow } from '../hooks.js';
import { ago, duration } from '../logic/format.js';
import { href } from '../logic/route.js';
import { allUsers } from '../session.js';
import { useStore } from '../store.js';
import { TERMINAL_MANAGED, type ManagedJob } from '../types.js';
import { AllUsersToggle } from './Clusters.js';
import { managedDurations } from '../logic/managed.js';
import { hasShape, MANAGED_JOB_SHAPE } from '../logic/views.js';

export const managedRules = {
  kind: 'managedJob' as const,
  accept: (_key: string, r: Record<string, unknown> | null) => hasShape(r, MANAGED_JOB_SHAPE),
  toRow: (r: Record<string, unknown>) => r as unknown as ManagedJob,
  rank: (j: ManagedJob) => j.version,
};

export function ManagedJobsPage() {
  const all = useStore(allUsers);
  const now = useNow(5_000);
  const jobs = useLiveRows<ManagedJob>(
    async (signal) => (await call<{ items: ManagedJob[] }>('/managed-jobs', { query: { all_users: all, limit: 5000 }, signal })).items,
    (j) => String(j.id),
    managedRules,
    [all],
  );
  const [text, setText] = useState('');
  const rows = useMemo(() => {
    const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
    return [...jobs.rows.values()]
      .filter((j) => {
        const hay = `${j.id} ${j.name ?? ''} ${j.userName} ${j.status} ${j.tasks.map((t) => t.resources).join(' ')}`.toLowerCase();
        return words.every((w) => hay.includes(w));
      })
      .sort((a, b) => b.id - a.id);
  }, [jobs.rows, text]);

  const columns: ColumnDef<ManagedJob>[] = [
    { id: 'id', title: 'ID', className: 'num', cell: (j) => <a href={href('jobs', j.id)}>{j.id}</a> },
    { id: 'task', title: 'Task', cell: (j) => (j.tasks.length > 1 ? `${j.currentTask + 1}/${j.tasks.length}` : (j.tasks[0]?.name ?? '-')) },
    { id: 'name', title: 'Name', cell: (j) => j.name ?? '-' },
    { id: 'user', title: 'User', cell: (j) => j.userName },
    { id: 'resources', title: 'Resources', cell: (j) => j.tasks[j.currentTask]?.resources ?? j.tasks[0]?.resources ?? '-' },
    { id: 'submitted', title: 'Submitted', cell: (j) => ago(j.submittedAt, now) },
    { id: 'total', title: 'Tot. duration', cell: (j) => duration(managedDurations(j, now).total) },
    { id: 'job', title: 'Job duration', cell: (j) => duration(managedDurations(j, now).running) },
    { id: 'recoveries', title: '#Recoveries', className: 'num', cell: (j) => j.tasks.reduce((n, t) => n + t.recoveries, 0) },
    { id: 'status', title: 'Status', status: (j) => j.status, cell: (j) => <Status status={j.status} reason={j.reason} /> },
    {
      id: 'actions',
      title: 'Actions',
      cell: (j) =>
        TERMINAL_MANAGED.includes(j.status) ? null : (
          <ConfirmAction label="Cancel" danger title={`Cancel managed job ${j.id}?`} describe={`Cancel managed job ${j.id}`} run={() => submit('jobs_cancel', { job_ids: [j.id] })} done={jobs.refetch}>
            <p>It ends CANCELLED and its cluster is torn down.</p>
          </ConfirmAction>
        ),
    },
  ];
  return (
    <Page name="jobs" title="Managed jobs" ready={jobs.loaded} error={jobs.error}>
      <div class="filters" role="search">
        <AllUsersToggle />
        <span class="field">
          <label for="jobs-filter">Filter</label>
          <input id="jobs-filter" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </span>
        <span class="count">{jobs.loaded ? `${rows.length.toLocaleString()} of ${jobs.rows.size.toLocaleString()}` : 'loading…'}</span>
      </div>
      <VirtualTable label="Managed jobs" columns={columns} rows={rows} rowKey={(j) => String(j.id)} empty={jobs.loaded ? 'No managed jobs. Submit one with sky jobs launch.' : 'Loading…'} />
    </Page>
  );
}
