import { corruptError } from './errors.js';
import { eventKey } from './keys.js';
import type { EventValue, Sublevels, WriteOp } from './layout.js';
import type { FeedChange, FeedPosition } from '@sky/plugin-api';

/** meta key: the highest seq a prune deleted (so seqs are never reused once the feed is empty). */
export const EVENT_FLOOR_KEY = 'eventFloor';

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
    const lastKept = newest === undefined ? 0 : Number(newest[0]);
    return new EventState(Math.max(lastKept, floor ?? 0), newest?.[1].at ?? 0);
  }

  /**
   * The positions of a group's changes and the puts that persist them (one key per change).
   * A request's event holds only its id: its record is read from requests when the feed is read.
   */
  stamp(changes: readonly FeedChange[], subs: Sublevels, ops: WriteOp[], now: number): FeedPosition[] {
    if (changes.length === 0) return [];
    const at = Math.max(this.lastAt, now);
    return changes.map((change, i) => {
      const seq = this.last + i + 1;
      const value: EventValue = { at, change: change.kind === 'request' ? { kind: 'request', id: change.id } : change };
      ops.push({ type: 'put', sublevel: subs.events, key: eventKey(seq), value });
      return { seq, at };
    });
  }

  /** The batch holding these positions is on disk. */
  advance(positions: readonly FeedPosition[]): void {
    const last = positions[positions.length - 1];
    if (last === undefined) return;
    this.last = last.seq;
    this.lastAt = last.at;
  }
}
