import type { ReachMode } from './config.js';

/** One RBAC permission the driver uses. */
export interface Permission {
  verb: string;
  resource: string;
  subresource?: string;
  /** Checked cluster-wide rather than in the driver's namespace. */
  clusterWide?: boolean;
  /** Why the driver works without it, when it does. */
  optional?: string;
}

/** Every permission the driver needs in a context (one SelfSubjectAccessReview each in `sky check`). */
export function requiredPermissions(reach: ReachMode): Permission[] {
  const perms: Permission[] = [
    ...['create', 'get', 'list', 'watch', 'delete', 'deletecollection'].map((verb) => ({ verb, resource: 'pods' })),
    ...['create', 'get', 'deletecollection'].map((verb) => ({ verb, resource: 'secrets' })),
    ...['create', 'get', 'delete'].map((verb) => ({ verb, resource: 'configmaps' })),
    ...['create', 'delete'].map((verb) => ({ verb, resource: 'services' })),
    { verb: 'list', resource: 'nodes', clusterWide: true, optional: 'for capacity and GPU types' },
    { verb: 'list', resource: 'pods', clusterWide: true, optional: 'for free capacity' },
  ];
  // Port-forward is a WebSocket upgrade of a GET: API servers before 1.30 authorize it as `get`,
  // later ones ask `create` as well (what SPDY clients such as kubectl always needed).
  if (reach === 'port-forward') perms.push(...['create', 'get'].map((verb) => ({ verb, resource: 'pods', subresource: 'portforward' })));
  return perms;
}
