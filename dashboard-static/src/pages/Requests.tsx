/** Requests: `sky api status` (with All users, `-u`), live; Cancel for unfinished ones. */
import { useMemo, useState } from 'preact/hooks';
import { call } from '../api.js';
import { ConfirmAction } from '../components/ConfirmAction.js';
import { Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLiveRows, useNow } from '../hooks.js';
import { ago, duration } from '../logic/format.js';
import { href } from '../logic/route.js';
import { hasShape, REQUEST_SHAPE, requestRank } from '../logic/views.js';
import { allUsers } from '../session.js';
import { useStore } from '../store.js';
import { TERMINAL_REQUEST, type RequestRecord } from '../types.js';
import { AllUsersToggle } from './Clusters.js';

/** How many of the newest requests the page lists. */
const PAGE = 1000;

export function cancelRequest(id: string): Promise<{ message: string }> {
  return call<{ cancelled: string[]; alreadyFinished: string[] }>('/requests/cancel', { method: 'POST', body: { ids: [id] } }).then((r) => ({
    message: r.cancelled.includes(id) ? `${id}: CANCELLED` : `${id}: had already finished`,
  }));
}

export function RequestCancel(props: { id: string; done?: () => void }) {
  return (
    <ConfirmAction label="Cancel" danger title={`Cancel request ${props.id}?`} describe={`Cancel request ${props.id}`} run={() => cancelRequest(props.id)} done={props.done}>
      <p>A pending request never starts; a running one is aborted.</p>
    </ConfirmAction>
  );
}

/** The cluster a request is about: its own field, or the cluster its body names. */
export function requestCluster(r: RequestRecord): string | undefined {
  if (r.cluster !== undefined) return r.cluster;
  const body = r.body;
  if (typeof body === 'object' && body !== null && 'cluster' in body) {
    const c = (body as { cluster?: unknown }).cluster;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

export function RequestsPage() {
  const all = useStore(allUsers);
  const now = useNow(5_000);
  const list = useLiveRows<RequestRecord>(
    async (signal) => (await call<{ items: RequestRecord[] }>('/requests', { query: { all_users: all, limit: PAGE }, signal })).items,
    (r) => r.id,
    { kind: 'request', accept: (_key, r) => hasShape(r, REQUEST_SHAPE), toRow: (r) => r as unknown as RequestRecord, rank: requestRank },
    [all],
  );
  const [status, setStatus] = useState('');
  const [text, setText] = useState('');
  const rows = useMemo(() => {
    const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
    return [...list.rows.values()]
      .filter((r) => (status === '' || r.status === status) && words.every((w) => `${r.id} ${r.name} ${r.userName} ${requestCluster(r) ?? ''} ${r.lane}`.toLowerCase().includes(w)))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }, [list.rows, status, text]);
  const columns: ColumnDef<RequestRecord>[] = [
    { id: 'id', title: 'ID', cell: (r) => <a href={href('requests', r.id)}>{r.id}</a> },
    { id: 'name', title: 'Operation', cell: (r) => r.name },
    { id: 'cluster', title: 'Cluster', cell: (r) => (requestCluster(r) !== undefined ? <a href={href('clusters', requestCluster(r) ?? '')}>{requestCluster(r)}</a> : '-') },
    { id: 'user', title: 'User', cell: (r) => r.userName },
    { id: 'lane', title: 'Lane', cell: (r) => r.lane },
    { id: 'created', title: 'Created', cell: (r) => ago(r.createdAt, now) },
    { id: 'duration', title: 'Duration', cell: (r) => (r.startedAt === undefined ? '-' : duration((r.finishedAt ?? now) - r.startedAt)) },
    { id: 'status', title: 'Status', status: (r) => r.status, cell: (r) => <Status status={r.status} reason={r.error?.code} /> },
    { id: 'actions', title: 'Actions', cell: (r) => (TERMINAL_REQUEST.includes(r.status) ? null : <RequestCancel id={r.id} />) },
  ];
  return (
    <Page name="requests" title="Requests" ready={list.loaded} error={list.error}>
      <div class="filters" role="search">
        <AllUsersToggle />
        <span class="field">
          <label for="requests-filter">Filter</label>
          <input id="requests-filter" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        </span>
        <span class="field">
          <label for="requests-status">Status</label>
          <select id="requests-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            {['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </span>
        <span class="count">{list.loaded ? `${rows.length.toLocaleString()} of the newest ${list.rows.size.toLocaleString()}` : 'loading…'}</span>
      </div>
      <VirtualTable label="Requests" columns={columns} rows={rows} rowKey={(r) => r.id} empty={list.loaded ? 'No requests.' : 'Loading…'} />
    </Page>
  );
}
