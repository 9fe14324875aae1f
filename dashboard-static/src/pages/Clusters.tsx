/** Clusters: the team's `sky status` (with All users, `-u`), filterable and sortable, live. */
import { useMemo, useState } from 'preact/hooks';
import { call, submit } from '../api.js';
import { clearAlert, showAlert, track } from '../outcomes.js';
import { Page, Status } from '../components/Page.js';
import { VirtualTable, type ColumnDef } from '../components/VirtualTable.js';
import { useLiveRows, useNow } from '../hooks.js';
import { ago, autostopText } from '../logic/format.js';
import { href } from '../logic/route.js';
import { cachedIndexer, facetValues, filterRows, nextSort, sortRows, type IndexedRow, type SortDir } from '../logic/table.js';
import { clusterIndexer, clusterRules, type ClusterRow } from '../logic/views.js';
import { allUsers, me, setAllUsers } from '../session.js';
import { useStore } from '../store.js';

const FACETS: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'status', label: 'Status' },
  { id: 'user', label: 'User' },
  { id: 'workspace', label: 'Workspace' },
  { id: 'infra', label: 'Infra' },
];

export function AllUsersToggle() {
  const all = useStore(allUsers);
  return (
    <label class="toggle">
      <input type="checkbox" checked={all} onChange={(e) => setAllUsers(e.currentTarget.checked)} /> All users
    </label>
  );
}

export function ClustersPage() {
  const all = useStore(allUsers);
  const now = useNow(30_000);
  const live = useLiveRows<ClusterRow>(
    async (signal) => (await call<{ items: ClusterRow[] }>('/clusters', { query: { summary: true, all_users: all }, signal })).items,
    (c) => c.name,
    clusterRules,
    [all],
  );
  const [text, setText] = useState('');
  const [facets, setFacets] = useState<Record<string, string>>({});
  const [sort, setSort] = useState<{ column: string; dir: SortDir }>({ column: 'name', dir: 'asc' });
  const [index] = useState(() => cachedIndexer(clusterIndexer));

  // Indexing happens once per list change; filter and sort only compare precomputed keys.
  const indexed = useMemo(() => {
    const out: IndexedRow<ClusterRow>[] = [];
    for (const c of live.rows.values()) out.push(index(c));
    return out;
  }, [live.rows, index]);
  const options = useMemo(() => Object.fromEntries(FACETS.map((f) => [f.id, facetValues(indexed, f.id)])), [indexed]);
  const sorted = useMemo(() => sortRows(indexed, sort.column, sort.dir), [indexed, sort]);
  const shown = useMemo(() => filterRows(sorted, { text, facets }), [sorted, text, facets]);

  const columns: ColumnDef<IndexedRow<ClusterRow>>[] = [
    { id: 'name', title: 'Name', sortable: true, cell: (r) => <a href={href('clusters', r.row.name)}>{r.row.name}</a> },
    { id: 'user', title: 'User', sortable: true, cell: (r) => r.row.ownerName },
    { id: 'workspace', title: 'Workspace', sortable: true, cell: (r) => r.row.workspace },
    { id: 'infra', title: 'Infra', sortable: true, cell: (r) => r.row.infra },
    { id: 'nodes', title: 'Nodes', sortable: true, className: 'num', cell: (r) => r.row.numNodes },
    { id: 'resources', title: 'Resources', sortable: true, cell: (r) => <span title={r.row.resources}>{r.row.resources}</span> },
    { id: 'launched', title: 'Launched', sortable: true, cell: (r) => ago(r.row.launchedAt, now) },
    { id: 'status', title: 'Status', sortable: true, status: (r) => r.row.status, cell: (r) => <Status status={r.row.status} reason={r.row.statusReason} /> },
    { id: 'autostop', title: 'Autostop', sortable: true, cell: (r) => autostopText(r.row.autostop) },
    { id: 'command', title: 'Command', cell: (r) => (r.row.lastCommand !== undefined ? <code title={r.row.lastCommand}>{r.row.lastCommand}</code> : '-') },
  ];

  const who = useStore(me);
  const [refreshing, setRefreshing] = useState(false);
  // sky status --refresh: the drivers are asked for the real state (every user's clusters: admins).
  const refresh = async (): Promise<void> => {
    setRefreshing(true);
    clearAlert();
    try {
      const sent = await submit('refresh', all && who?.role === 'admin' ? { all_users: true } : {});
      await track(sent.requestId, 'Refresh', sent.status);
      live.refetch();
    } catch (err) {
      showAlert(err);
    } finally {
      setRefreshing(false);
    }
  };

  return (
    <Page
      name="clusters"
      title="Clusters"
      ready={live.loaded}
      error={live.error}
      actions={
        <button type="button" onClick={() => void refresh()} disabled={refreshing} title="Ask the drivers for the real state of the clusters (sky status --refresh)">
          {refreshing ? 'Refreshing…' : 'Refresh'}
        </button>
      }
    >
      <div class="filters" role="search">
        <AllUsersToggle />
        <span class="field">
          <label for="clusters-filter">Filter</label>
          <input id="clusters-filter" type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="name, user, resources…" />
        </span>
        {FACETS.map((f) => (
          <span class="field" key={f.id}>
            <label for={`clusters-${f.id}`}>{f.label}</label>
            <select id={`clusters-${f.id}`} value={facets[f.id] ?? ''} onChange={(e) => setFacets({ ...facets, [f.id]: e.currentTarget.value })}>
              <option value="">Any</option>
              {(options[f.id] ?? []).map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </span>
        ))}
        <span class="count" aria-live="polite">
          {live.loaded ? `${shown.length.toLocaleString()} of ${indexed.length.toLocaleString()}` : 'loading…'}
        </span>
      </div>
      <VirtualTable
        label="Clusters"
        columns={columns}
        rows={shown}
        rowKey={(r) => r.key}
        sort={sort}
        onSort={(c) => setSort(nextSort(sort, c))}
        empty={live.loaded ? (indexed.length === 0 ? 'No clusters. Launch one with sky launch.' : 'No cluster matches the filter.') : 'Loading…'}
      />
    </Page>
  );
}
