/**
 * The API server's audit log (JSON lines, level Metadata, the RequestReceived stage omitted), read
 * back to count API requests by user, verb, resource and namespace. A request is one audit ID:
 * a watch logs ResponseStarted and ResponseComplete under the same ID and counts once. Measured
 * on this 1.20 API server: a watch is written to the log only when it ends (both stages then), so
 * count open watches with the `apiserver_longrunning_gauge` metric instead (control plane `metric`).
 */
import { readFileSync, statSync } from 'node:fs';

export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string; apiGroup?: string };
  responseStatus?: { code?: number };
}

export interface AuditFilter {
  user?: string;
  verb?: string | string[];
  resource?: string;
  subresource?: string;
  namespace?: string;
  /** Only events written after this mark (from `auditMark()`). */
  since?: number;
}

export const AUDIT_POLICY = JSON.stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [{ level: 'Metadata' }],
});

/** A mark: the log's current length, for counting only what comes after. */
export function auditMark(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function auditEvents(file: string, filter: AuditFilter = {}): AuditEvent[] {
  let text: string;
  try {
    text = readFileSync(file).subarray(filter.since ?? 0).toString('utf8');
  } catch {
    return [];
  }
  const verbs = filter.verb === undefined ? undefined : Array.isArray(filter.verb) ? filter.verb : [filter.verb];
  const seen = new Set<string>();
  const out: AuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event: AuditEvent;
    try {
      event = JSON.parse(line) as AuditEvent;
    } catch {
      continue; // a line being written right now
    }
    if (seen.has(event.auditID)) continue;
    if (filter.user !== undefined && event.user.username !== filter.user) continue;
    if (verbs !== undefined && !verbs.includes(event.verb)) continue;
    if (filter.resource !== undefined && event.objectRef?.resource !== filter.resource) continue;
    if (filter.subresource !== undefined && event.objectRef?.subresource !== filter.subresource) continue;
    if (filter.namespace !== undefined && event.objectRef?.namespace !== filter.namespace) continue;
    seen.add(event.auditID);
    out.push(event);
  }
  return out;
}
