import type { StoredEvent } from '@sky/plugin-api';
import { DELETED_STATUS, jobEventKey, type FeedEvent, type RequestRecord, type WebhookRecord } from '@sky/protocol';
import { withoutCommand } from '../http/routes/clusters.js';
import { serviceRecord, type ClusterOwner, type ServiceOwner } from '../events/event-view.js';

/** What the view needs beyond the event: who owned a cluster or service (deleted ones included), and how a request is shown to nobody in particular. */
export interface WebhookViewDeps {
  clusterOwner(name: string): ClusterOwner | undefined;
  serviceOwner(name: string): ServiceOwner | undefined;
  /** The request as someone who is neither its owner nor an admin sees it (no body, no result). */
  showRequest(record: RequestRecord): RequestRecord;
}

/**
 * An event as a webhook of `workspace` receives it: the workspace's owner-less view. Only
 * things of that workspace; no command lines (of clusters or jobs), no request bodies or
 * results; services as their routes show them. Undefined when the event is not the workspace's.
 */
export function workspaceEvent(deps: WebhookViewDeps, workspace: string, event: StoredEvent): FeedEvent | undefined {
  const { change } = event;
  const base = { seq: event.seq, at: event.at };
  switch (change.kind) {
    case 'cluster': {
      const owner = change.record ?? change.deleted ?? deps.clusterOwner(change.name);
      if (owner?.workspace !== workspace) return undefined;
      if (change.record === undefined) return { ...base, kind: 'cluster', key: change.name, record: null };
      const { lastCommand: _command, ...record } = change.record;
      return { ...base, kind: 'cluster', key: change.name, record };
    }
    case 'job': {
      const cluster = (change.record === undefined ? change.deleted : undefined) ?? deps.clusterOwner(change.cluster);
      if (cluster?.workspace !== workspace) return undefined;
      const key = jobEventKey(change.cluster, change.id);
      return { ...base, kind: 'job', key, record: change.record === undefined ? null : withoutCommand(change.record) };
    }
    case 'managedJob':
      if (change.record.workspace !== workspace) return undefined;
      return { ...base, kind: 'managedJob', key: String(change.id), record: change.record };
    case 'service': {
      const owner = change.record ?? deps.serviceOwner(change.name);
      if (owner?.workspace !== workspace) return undefined;
      return { ...base, kind: 'service', key: change.name, record: change.record === null ? null : serviceRecord(change.record) };
    }
    case 'request': {
      const request = change.record;
      if (request?.workspace !== workspace) return undefined;
      return { ...base, kind: 'request', key: change.id, record: deps.showRequest(request) };
    }
  }
}

/**
 * A request as nobody in particular sees it: no body (task secrets, commands), no result, no
 * job, no idempotency digest. Decided here rather than by the access policy, which on a
 * personal server (auth none) lets everyone read everything.
 */
export function ownerlessRequest(record: RequestRecord): RequestRecord {
  const { idempotencyHash: _hash, result: _result, job: _job, ...rest } = record;
  return { ...rest, body: null };
}

/** The status an event is filtered by: its record's status, or DELETED. */
export function eventStatus(event: FeedEvent): string {
  if (event.record === null) return DELETED_STATUS;
  const status = typeof event.record === 'object' ? (event.record as { status?: unknown }).status : undefined;
  return typeof status === 'string' ? status : '';
}

/** Whether a webhook wants this event (its kinds and statuses; all when absent). */
export function wants(hook: Pick<WebhookRecord, 'kinds' | 'statuses'>, event: FeedEvent): boolean {
  if (hook.kinds !== undefined && !hook.kinds.includes(event.kind)) return false;
  if (hook.statuses !== undefined && !hook.statuses.includes(eventStatus(event))) return false;
  return true;
}
