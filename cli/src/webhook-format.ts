import type { WebhookDelivery, WebhookView } from '@sky/protocol';
import { table } from './format.js';

const when = (at: number): string => new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** `sky workspace webhooks NAME`: ID, URL, KINDS, STATUSES, CREATED, BY, CURSOR. */
export function webhookTable(items: readonly WebhookView[]): string[] {
  if (items.length === 0) return ['No webhooks.'];
  return table(
    ['ID', 'URL', 'KINDS', 'STATUSES', 'CREATED', 'BY', 'CURSOR'],
    items.map((w) => [w.id, w.url, w.kinds?.join(',') ?? 'all', w.statuses?.join(',') ?? 'all', when(w.createdAt), w.createdByName, w.cursor === undefined ? '-' : `#${w.cursor}`]),
  );
}

/** `sky workspace webhook-log NAME ID`: one row per delivery, newest first. */
export function deliveryTable(items: readonly WebhookDelivery[]): string[] {
  if (items.length === 0) return ['No deliveries yet.'];
  return table(
    ['AT', 'SEQ', 'KIND', 'KEY', 'RESULT', 'ATTEMPTS', 'ERROR'],
    items.map((d) => [when(d.at), `#${d.seq}`, d.kind, d.key, d.ok ? `OK ${d.status ?? ''}`.trim() : d.status !== undefined ? `FAILED ${d.status}` : 'FAILED', String(d.attempts), d.error ?? '-']),
  );
}
