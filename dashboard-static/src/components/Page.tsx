import type { ComponentChildren } from 'preact';

/** A page's <main>: data-page names it, data-ready is set once it shows real data from the API. */
export function Page(props: { name: string; title: string; ready: boolean; error?: string | undefined; actions?: ComponentChildren; children?: ComponentChildren }) {
  return (
    <main id="main" data-page={props.name} data-ready={props.ready ? 'true' : undefined} tabIndex={-1}>
      <div class="page-head">
        <h1>{props.title}</h1>
        {props.actions !== undefined && <div class="page-actions">{props.actions}</div>}
      </div>
      {props.error !== undefined && (
        <p role="alert" class="error">
          {props.error}
        </p>
      )}
      {props.children}
    </main>
  );
}

/** A status, coloured by what it means. */
export function Status(props: { status: string; reason?: string | undefined }) {
  const tone = /^(UP|RUNNING|READY|SUCCEEDED|loaded|ok|ALLOWED|allowed)$/.test(props.status)
    ? 'good'
    : /FAIL|CANCEL|skipped|DENIED|denied|error/i.test(props.status)
      ? 'bad'
      : /STOPPED/.test(props.status)
        ? 'idle'
        : 'busy';
  return (
    <span class={`status status-${tone}`} title={props.reason}>
      {props.status}
      {props.reason !== undefined && props.reason !== '' && <span class="reason"> {props.reason}</span>}
    </span>
  );
}

/** A definition list of label → value pairs. */
export function Details(props: { items: ReadonlyArray<readonly [string, ComponentChildren]> }) {
  return (
    <dl class="details">
      {props.items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}
