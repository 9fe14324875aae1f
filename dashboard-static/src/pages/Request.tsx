/** One request: what was asked, by whom, its outcome and its log; Cancel while it runs. */
import { useEffect } from 'preact/hooks';
import { apiUrl, call, seg } from '../api.js';
import { LogViewer } from '../components/LogViewer.js';
import { Details, Page, Status } from '../components/Page.js';
import { useLoad, useNow } from '../hooks.js';
import { live } from '../live.js';
import { duration, timestamp } from '../logic/format.js';
import { href } from '../logic/route.js';
import { TERMINAL_REQUEST, type RequestRecord } from '../types.js';
import { RequestCancel, requestCluster } from './Requests.js';

function json(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function RequestPage(props: { id: string }) {
  const id = props.id;
  const now = useNow(5_000);
  const req = useLoad((signal) => call<RequestRecord>(`/requests/${seg(id)}`, { signal }), [id]);
  useEffect(
    () =>
      live.subscribe({
        onChange(events) {
          if (events.some((e) => e.kind === 'request' && e.key === id)) req.reload();
        },
        onReset: () => req.reload(),
      }),
    [id],
  );
  // Without the feed, the record is followed by waiting on it.
  useEffect(() => {
    const r = req.value;
    if (r === undefined || TERMINAL_REQUEST.includes(r.status) || live.mode === 'live') return;
    const controller = new AbortController();
    call<RequestRecord>(`/requests/${seg(id)}/wait`, { query: { timeout: 30 }, signal: controller.signal }).then(
      () => req.reload(),
      () => undefined,
    );
    return () => controller.abort();
  }, [req.value?.status]);
  const r = req.value;
  const logPath = `/requests/${seg(id)}/logs`;
  return (
    <Page name="request" title={`Request ${id}`} ready={r !== undefined} error={req.error}>
      <p>
        <a href={href('requests')}>← Requests</a>
      </p>
      {r !== undefined && (
        <>
          <Details
            items={[
              ['Status', <Status status={r.status} />],
              ['Operation', r.name],
              ['User', r.userName],
              ['Workspace', r.workspace],
              ['Cluster', requestCluster(r) !== undefined ? <a href={href('clusters', requestCluster(r) ?? '')}>{requestCluster(r)}</a> : '-'],
              ['Lane', r.lane],
              ['Created', timestamp(r.createdAt)],
              ['Duration', r.startedAt === undefined ? '-' : duration((r.finishedAt ?? now) - r.startedAt)],
              ['Attempts', r.attempts],
            ]}
          />
          {!TERMINAL_REQUEST.includes(r.status) && (
            <div class="actions">
              <RequestCancel id={r.id} done={req.reload} />
            </div>
          )}
          {r.error !== undefined && (
            <div class="error-box">
              <h2>Error</h2>
              <p>
                <code>{r.error.code}</code> {r.error.message}
              </p>
              {r.error.hint !== undefined && <p>{r.error.hint}</p>}
            </div>
          )}
          {r.body !== undefined && (
            <details>
              <summary>Body</summary>
              <pre>{json(r.body)}</pre>
            </details>
          )}
          {r.result !== undefined && (
            <details open>
              <summary>Result</summary>
              <pre>{json(r.result)}</pre>
            </details>
          )}
          <h2>Log</h2>
          <LogViewer src={apiUrl(logPath, { follow: true })} downloadHref={apiUrl(logPath, { format: 'text' })} />
        </>
      )}
    </Page>
  );
}
