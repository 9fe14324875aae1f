import { corruptError } from './errors.js';
import { eventKey } from './keys.js';
import type { EventValue, Sublevels, WriteOp } from './layout.js';
import type { FeedChange, FeedPosition } from '@sky/plugin-api';

/** meta key: the highest seq a prune deleted (so seqs are never reused once the feed is empty). */
export const EVENT_FLOOR_KEY = 'eventFloor';

/** The seq of the last change of a stored batch. */
export function lastSeqOf(key: string, value: EventValue): number {
  return Number(key) + value.changes.length - 1;
}

/**
 * Where the feed stands: the last seq given and the last commit time. Seqs are assigned by
 * the writer while it builds a batch and taken over only once the batch is on disk, so a
 * failed batch leaves no gap.
 */
export class EventState {
  constructor(
    public last: number,
    public lastAt: number,
  ) {}

  static async load(subs: Sublevels, path: string): Promise<EventState> {
    const [[newest], floor] = await Promise.all([subs.events.iterator({ reverse: true, limit: 1 }).all(), subs.meta.get(EVENT_FLOOR_KEY)]);
    if (floor !== undefined && (typeof floor !== 'number' || !Number.isSafeInteger(floor) || floor < 0)) {
      throw corruptError(path, `meta/${EVENT_FLOOR_KEY} is ${JSON.stringify(floor)}, not a sequence number`);
    }
    if (newest !== undefined && (!Array.isArray(newest[1].changes) || newest[1].changes.length === 0)) {
      throw corruptError(path, `events/${newest[0]} holds no changes`);
    }
    const lastKept = newest === undefined ? 0 : lastSeqOf(newest[0], newest[1]);
    return new EventState(Math.max(lastKept, floor ?? 0), newest?.[1].at ?? 0);
  }

  /**
   * The positions of a group's changes and the one put that persists them all. A request's
   * change holds only its id: its record is read from requests when the feed is read.
   */
  stamp(changes: readonly FeedChange[], subs: Sublevels, ops: WriteOp[], now: number): FeedPosition[] {
    if (changes.length === 0) return [];
    const at = Math.max(this.lastAt, now);
    const value: EventValue = { at, changes: changes.map((change) => (change.kind === 'request' ? { kind: 'request', id: change.id } : change)) };
    ops.push({ type: 'put', sublevel: subs.events, key: eventKey(this.last + 1), value });
    return changes.map((_change, i) => ({ seq: this.last + i + 1, at }));
  }

  /** The batch holding these positions is on disk. */
  advance(positions: readonly FeedPosition[]): void {
    const last = positions[positions.length - 1];
    if (last === undefined) return;
    this.last = last.seq;
    this.lastAt = last.at;
  }
}
