/** The dashboard's client-side routes: /dashboard/<page>[/<id>]. */

export type Route =
  | { readonly page: 'clusters' }
  | { readonly page: 'cluster'; readonly name: string }
  | { readonly page: 'jobs' }
  | { readonly page: 'job'; readonly id: string }
  | { readonly page: 'services' }
  | { readonly page: 'service'; readonly name: string }
  | { readonly page: 'requests' }
  | { readonly page: 'request'; readonly id: string }
  | { readonly page: 'infra' }
  | { readonly page: 'users' }
  | { readonly page: 'workspaces' }
  | { readonly page: 'audit' }
  | { readonly page: 'login' }
  | { readonly page: 'notfound'; readonly path: string };

export const BASE = '/dashboard';

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** The route of a location path (e.g. "/dashboard/clusters/dev"). */
export function parseRoute(pathname: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter((p) => p !== '');
  const [first, second, ...more] = parts;
  if (more.length > 0) return { page: 'notfound', path: pathname };
  const id = second === undefined ? undefined : decode(second);
  if (second !== undefined && (id === undefined || id === '')) return { page: 'notfound', path: pathname };
  switch (first) {
    case undefined:
      return { page: 'clusters' };
    case 'clusters':
      return id === undefined ? { page: 'clusters' } : { page: 'cluster', name: id };
    case 'jobs':
      return id === undefined ? { page: 'jobs' } : { page: 'job', id };
    case 'services':
      return id === undefined ? { page: 'services' } : { page: 'service', name: id };
    case 'requests':
      return id === undefined ? { page: 'requests' } : { page: 'request', id };
    case 'infra':
    case 'users':
    case 'workspaces':
    case 'audit':
    case 'login':
      return id === undefined ? { page: first } : { page: 'notfound', path: pathname };
    default:
      return { page: 'notfound', path: pathname };
  }
}

/** The path of a page: href('clusters', 'dev') = "/dashboard/clusters/dev". */
export function href(section: 'clusters' | 'jobs' | 'services' | 'requests' | 'infra' | 'users' | 'workspaces' | 'audit' | 'login', id?: string | number): string {
  return id === undefined ? `${BASE}/${section}` : `${BASE}/${section}/${encodeURIComponent(String(id))}`;
}

/**
 * Where to go after logging in: the `next` page the login page was sent with, when it is a page
 * of the dashboard on this server (never another site, never the login page itself); else Clusters.
 */
export function safeNext(next: string | null): string {
  if (next === null || !next.startsWith(`${BASE}/`) || next.includes('\\') || next.includes('//') || /[\u0000-\u001f]/.test(next)) return href('clusters');
  const route = parseRoute(next.split(/[?#]/)[0] ?? '');
  return route.page === 'login' || route.page === 'notfound' ? href('clusters') : next;
}
