import type { AuditRecord } from '@sky/protocol';
import { table } from './format.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`: a relative age (`30m`, `1h`, `2d`, `1w`, `45s`: that long before now), an ISO date or
 * date and time (`2026-01-31`, `2026-01-31T12:00:00Z`), or unix milliseconds. Returns unix ms,
 * or undefined when the text is none of these.
 */
export function parseSince(text: string, now: number = Date.now()): number | undefined {
  const trimmed = text.trim();
  const relative = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(trimmed);
  if (relative) return now - Math.round(Number(relative[1]) * UNIT_MS[relative[2]!.toLowerCase()]!);
  if (/^\d{10,16}$/.test(trimmed)) return Number(trimmed);
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(trimmed)) return undefined;
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A time as the audit table shows it: UTC, to the second. */
export function auditTime(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** The `sky api audit` table: TIME USER ACTION TARGET RESULT REQUEST, in the order given (newest first). */
export function auditTable(records: readonly AuditRecord[]): string[] {
  const rows = records.map((r) => [auditTime(r.at), r.userName, r.action, r.target ?? '-', r.detail !== undefined && r.result !== 'SUCCEEDED' ? `${r.result} (${r.detail})` : r.result, r.requestId ?? '-']);
  return table(['TIME', 'USER', 'ACTION', 'TARGET', 'RESULT', 'REQUEST'], rows);
}
