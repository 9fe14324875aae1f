/** Audit (admins): who did what, to which target, with which result; filtered and paged. */
import { useState } from 'preact/hooks';
import { call } from '../api.js';
import { Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLoad } from '../hooks.js';
import { timestamp } from '../logic/format.js';
import { href } from '../logic/route.js';
import { me } from '../session.js';
import { useStore } from '../store.js';
import type { AuditRecord } from '../types.js';

const PAGE = 200;

export function AuditPage() {
  const who = useStore(me);
  if (who === undefined) {
    return <Page name="audit" title="Audit" ready={false}><p class="muted">Loading…</p></Page>;
  }
  if (who.role !== 'admin') {
    return (
      <Page name="audit" title="Audit" ready={true}>
        <p role="alert">Admins only: the audit log is shown to admins.</p>
      </Page>
    );
  }
  return <AuditTable />;
}

function AuditTable() {
  const [user, setUser] = useState('');
  const [since, setSince] = useState('');
  const [applied, setApplied] = useState<{ user: string; since: string }>({ user: '', since: '' });
  // Cursors of the pages seen so far: the last one is the current page's.
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    (signal) =>
      call<{ items: AuditRecord[]; nextCursor?: string }>('/audit', {
        query: { limit: PAGE, cursor, ...(applied.user !== '' ? { user: applied.user } : {}), ...(applied.since !== '' ? { since: applied.since } : {}) },
        signal,
      }),
    [cursor, applied],
  );
  const columns: ColumnDef<AuditRecord>[] = [
    { id: 'at', title: 'Time', cell: (a) => timestamp(a.at) },
    { id: 'user', title: 'User', cell: (a) => a.userName },
    { id: 'action', title: 'Action', cell: (a) => a.action },
    { id: 'target', title: 'Target', cell: (a) => a.target ?? '-' },
    { id: 'result', title: 'Result', status: (a) => a.result, cell: (a) => <Status status={a.result} /> },
    { id: 'request', title: 'Request', cell: (a) => (a.requestId !== undefined ? <a href={href('requests', a.requestId)}>{a.requestId}</a> : '-') },
    { id: 'detail', title: 'Detail', cell: (a) => <span title={a.detail}>{a.detail ?? '-'}</span> },
  ];
  const next = page.value?.nextCursor;
  return (
    <Page name="audit" title="Audit" ready={page.value !== undefined} error={page.error}>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setCursors([undefined]);
          setApplied({ user: user.trim(), since: since.trim() });
        }}
      >
        <label>
          User <input type="text" value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        </label>
        <label>
          Since <input type="text" value={since} onInput={(e) => setSince(e.currentTarget.value)} placeholder="2026-01-31 or unix ms" />
        </label>
        <button type="submit">Apply</button>
      </form>
      <VirtualTable label="Audit" columns={columns} rows={page.value?.items ?? []} rowKey={(a) => a.id} empty={page.value !== undefined ? 'No entries.' : 'Loading…'} />
      <div class="pager">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <span>Page {cursors.length}</span>
        <button type="button" disabled={next === undefined} onClick={() => next !== undefined && setCursors([...cursors, next])}>
          Older
        </button>
      </div>
    </Page>
  );
}
