import { SkyError } from '@sky/protocol';

/** Clusters of managed jobs are named `sky-jobs-<id>-<user>`; the daemon makes and tears down those itself. */
export const MANAGED_CLUSTER_PREFIX = 'sky-jobs-';

/** A user's launch may not take a name the managed-job controller owns (it would tear such a cluster down). */
export function assertNotReserved(name: string): void {
  if (!name.startsWith(MANAGED_CLUSTER_PREFIX)) return;
  throw new SkyError('VALIDATION_FAILED', `cluster name ${name} is reserved: names starting with ${MANAGED_CLUSTER_PREFIX} belong to the clusters of managed jobs`, {
    hint: 'Choose another cluster name with -c.',
  });
}

/** The user part of a name the daemon makes up for a cluster: lowercase letters, digits and "-", at most 20 (or "user"). */
export function userNamePart(userName: string): string {
  return userName.toLowerCase().replace(/[^a-z0-9-]/g, '').slice(0, 20) || 'user';
}
