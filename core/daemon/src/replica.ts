import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** A replica id: 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit (it goes in logs, labels and tables). */
export const REPLICA_ID = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** The host name as the first part of a replica id: characters outside the id's alphabet become "-", at most 48 characters. */
function hostPart(host: string): string {
  const cleaned = host
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 48)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned === '' ? 'sky' : cleaned;
}

/**
 * This daemon process's replica id: config `replica_id` when set, else `<hostname>-<6 hex>`
 * chosen once per process (a restarted daemon is a new replica unless the config names it).
 */
export function resolveReplicaId(configured: string | undefined, host: string = hostname()): string {
  if (configured !== undefined) return configured;
  return `${hostPart(host)}-${randomBytes(3).toString('hex')}`;
}
