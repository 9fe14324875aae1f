import type { FeedEvent } from '@sky/protocol';
import { auditTime } from './audit-format.js';

/** The status shown for a change: its record's status, DELETED when the thing is gone, - when the record has none. */
export function eventStatus(event: FeedEvent): string {
  if (event.record === null) return 'DELETED';
  const status = typeof event.record === 'object' ? (event.record as { status?: unknown }).status : undefined;
  return typeof status === 'string' ? status : '-';
}

/** Column widths of `sky api events`: lines are printed as they come, so the columns are fixed, not fitted. */
const KIND_WIDTH = 10;
const KEY_WIDTH = 24;

/** One change as `sky api events` prints it: TIME SEQ KIND KEY STATUS (the seq is what --since resumes after). */
export function eventLine(event: FeedEvent): string {
  return [auditTime(event.at), `#${event.seq}`, event.kind.padEnd(KIND_WIDTH), event.key.padEnd(KEY_WIDTH), eventStatus(event)].join('  ');
}

/** One change as a JSON line (`-o json`): the event as the stream carries it. */
export function eventJsonLine(event: FeedEvent): string {
  return JSON.stringify({ seq: event.seq, at: event.at, kind: event.kind, key: event.key, status: eventStatus(event), record: event.record });
}

/**
 * `--since` of `sky api events`: a feed position (the seq of a change printed earlier, as
 * Last-Event-ID). The feed keeps no index by time, so an age or a date cannot be turned into
 * a position; undefined for anything but a whole number.
 */
export function parseFeedPosition(text: string): number | undefined {
  const trimmed = text.trim().replace(/^#/, '');
  if (!/^\d{1,16}$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isSafeInteger(value) ? value : undefined;
}
