import { isManagedJobTerminal } from '@sky/protocol';
import type { ManagedJobRecord } from '@sky/protocol';
import { getMany, type Sublevels } from './layout.js';

/** What one committed group changed of the managed jobs. */
export interface ManagedJobDelta {
  /** Records written, newest version. */
  records: ReadonlyMap<number, ManagedJobRecord>;
  /** The next controller log sequence number of the jobs the group appended to (or created). */
  nextSeq: ReadonlyMap<number, number>;
  lastId: number;
}

/** The counter's one key in managed-job-counter. */
export const COUNTER_KEY = 'last';

/**
 * The committed state of the managed jobs that have not ended (few: each holds a cluster),
 * the last id handed out, and the next controller log sequence number of each of those whose
 * log this process touched. Like ClusterState it cannot go stale: this process is the only
 * writer, and the writer folds in each group once its batch is on disk. Ended jobs live on
 * disk only, so the heap does not grow with the history.
 */
export class ManagedJobState {
  lastId = 0;
  readonly active = new Map<number, ManagedJobRecord>();
  readonly nextSeq = new Map<number, number>();

  static async load(subs: Sublevels): Promise<ManagedJobState> {
    const state = new ManagedJobState();
    const [last, activeKeys] = await Promise.all([subs.managedJobCounter.get(COUNTER_KEY), subs.managedJobsActive.keys().all()]);
    state.lastId = last ?? 0;
    const records = await getMany((keys) => subs.managedJobs.getMany(keys), activeKeys);
    for (const record of records.values()) if (!isManagedJobTerminal(record.status)) state.active.set(record.id, record);
    return state;
  }

  apply(delta: ManagedJobDelta): void {
    this.lastId = Math.max(this.lastId, delta.lastId);
    for (const [id, record] of delta.records) {
      if (isManagedJobTerminal(record.status)) {
        this.active.delete(id);
        this.nextSeq.delete(id);
      } else {
        this.active.set(id, record);
      }
    }
    for (const [id, next] of delta.nextSeq) if (this.active.has(id)) this.nextSeq.set(id, next);
  }
}
