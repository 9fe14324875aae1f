import { ACTIVE_STATUSES, isTerminal } from '@sky/protocol';
import type { RequestRecord } from '@sky/protocol';
import { getMany, type Sublevels } from './layout.js';
import { idOfIndexKey, prefixRange } from './keys.js';

/**
 * The committed state of every request that is not finished (PENDING, RUNNING), plus the
 * next log sequence number of those whose log has been touched. This process is the only
 * writer of the directory (LevelDB's lock), so the cache cannot go stale: the writer
 * updates it after each batch commits, and transitions never need a disk read.
 */
export class ActiveState {
  readonly records = new Map<string, RequestRecord>();
  readonly nextSeq = new Map<string, number>();

  /** Load the non-terminal requests through the by-status index. */
  static async load(subs: Sublevels): Promise<ActiveState> {
    const state = new ActiveState();
    for (const status of ACTIVE_STATUSES) {
      const ids = (await subs.byStatus.keys(prefixRange(status)).all()).map(idOfIndexKey);
      const found = await getMany((keys) => subs.requests.getMany(keys), ids);
      for (const record of found.values()) {
        if (!isTerminal(record.status)) state.records.set(record.id, record);
      }
    }
    return state;
  }

  /** Fold in a committed group: records it wrote and log sequence numbers it used. */
  apply(records: ReadonlyMap<string, RequestRecord>, seqs: ReadonlyMap<string, number>): void {
    for (const [id, record] of records) {
      if (isTerminal(record.status)) {
        this.records.delete(id);
        this.nextSeq.delete(id);
      } else {
        this.records.set(id, record);
      }
    }
    for (const [id, next] of seqs) {
      if (this.records.has(id)) this.nextSeq.set(id, next);
    }
  }

  forget(id: string): void {
    this.records.delete(id);
    this.nextSeq.delete(id);
  }
}
