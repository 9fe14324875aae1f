/** The frame of every page: header (who is signed in, Log out), main navigation, live regions. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { href } from '../logic/route.js';
import { alerts, clearAlert, outcomes } from '../outcomes.js';
import { logOut, me } from '../session.js';
import { useStore } from '../store.js';

const NAV: ReadonlyArray<{ section: 'clusters' | 'jobs' | 'services' | 'requests' | 'infra' | 'users' | 'workspaces' | 'audit'; label: string; admin?: boolean }> = [
  { section: 'clusters', label: 'Clusters' },
  { section: 'jobs', label: 'Managed jobs' },
  { section: 'services', label: 'Services' },
  { section: 'requests', label: 'Requests' },
  { section: 'infra', label: 'Infra' },
  { section: 'users', label: 'Users' },
  { section: 'workspaces', label: 'Workspaces' },
  { section: 'audit', label: 'Audit', admin: true },
];

export function Layout(props: { section: string; children: ComponentChildren }) {
  const who = useStore(me);
  const list = useStore(outcomes);
  const alert = useStore(alerts);
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <div class="app">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('clusters')}>
          sky
        </a>
        <button type="button" class="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen(!menuOpen)}>
          Menu
        </button>
        <nav aria-label="Main" id="main-nav" class={menuOpen ? 'open' : undefined} onClick={() => setMenuOpen(false)}>
          {NAV.filter((n) => n.admin !== true || who?.role === 'admin').map((n) => (
            <a key={n.section} href={href(n.section)} aria-current={props.section === n.section ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <div class="who">
          {who !== undefined && (
            <span data-role="whoami" title={`${who.role}, signed in with ${who.via}`}>
              {who.name}
            </span>
          )}
          {who?.via === 'session' && (
            <button type="button" onClick={() => void logOut()}>
              Log out
            </button>
          )}
        </div>
      </header>
      <div class="regions">
        <div role="status" aria-live="polite" class="outcomes">
          {list.map((o) => (
            <p key={o.id} data-request={o.requestId}>
              {o.requestId !== undefined ? (
                <>
                  <a href={href('requests', o.requestId)}>{o.requestId}</a>: {o.status}
                  <span class="muted"> ({o.label})</span>
                </>
              ) : (
                o.label
              )}
              {o.detail !== undefined && <span class="muted"> {o.detail}</span>}
            </p>
          ))}
        </div>
        <div role="alert" class="alerts">
          {alert !== undefined && (
            <p class="error">
              {alert}{' '}
              <button type="button" class="link" onClick={clearAlert}>
                Dismiss
              </button>
            </p>
          )}
        </div>
      </div>
      {props.children}
    </div>
  );
}
