import { inject, injectable } from 'tsyringe';
import type { StateStore, StoreChange } from '@sky/plugin-api';
import { isManagedJobTerminal, type ManagedJobRecord, type ManagedJobStatus } from '@sky/protocol';
import { TOKENS } from '../tokens.js';

interface Entry {
  user: string;
  workspace: string;
  active: boolean;
  status: ManagedJobStatus;
  version: number;
  /** The record as the API serves it, serialised once per change. */
  json: string;
}

export interface ManagedJobListing {
  user?: string;
  active?: boolean;
  limit?: number;
}

/**
 * The managed-job queue as `sky jobs queue -u` reads it: every job's record, kept serialised and
 * up to date from the store's change feed, so a listing of thousands is a walk and a join rather
 * than a read and a serialisation of each record. Newest first.
 */
@injectable()
export class ManagedJobView {
  private readonly entries = new Map<number, Entry>();
  /** Ids in ascending order (new ids are the highest, so this is an append). */
  private readonly ids: number[] = [];
  private unsubscribe: (() => void) | undefined;
  private unfollow: (() => void) | undefined;

  constructor(@inject(TOKENS.Store) private readonly store: StateStore) {}

  /** Follow the change feed first, then read what is stored (a change seen meanwhile is newer and kept). */
  async load(): Promise<void> {
    this.unsubscribe = this.store.subscribe((change: StoreChange) => {
      if (change.kind === 'managedJob') this.put(change.record);
    });
    for (const job of await this.store.managedJobs.list()) this.put(job);
  }

  /** On a store shared by several replicas: take the other replicas' changes from the shared feed too (versions keep the newest). */
  followShared(listen: (listener: (change: StoreChange, seq: number) => void) => () => void): void {
    this.unfollow?.();
    this.unfollow = listen((change) => {
      if (change.kind === 'managedJob') this.put(change.record);
    });
  }

  close(): void {
    this.unsubscribe?.();
    this.unfollow?.();
  }

  private put(job: ManagedJobRecord): void {
    const known = this.entries.get(job.id);
    if (known !== undefined && known.version > job.version) return;
    if (known === undefined) {
      const last = this.ids[this.ids.length - 1];
      if (last === undefined || last < job.id) this.ids.push(job.id);
      else this.ids.splice(this.insertAt(job.id), 0, job.id);
    }
    this.entries.set(job.id, { user: job.user, workspace: job.workspace, active: !isManagedJobTerminal(job.status), status: job.status, version: job.version, json: JSON.stringify(job) });
  }

  private insertAt(id: number): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `{"items":[…]}` of the jobs the filter and `visible` keep, newest first. */
  listJson(filter: ManagedJobListing, visible: (job: { user: string; workspace: string }) => boolean): string {
    const parts: string[] = [];
    for (let i = this.ids.length - 1; i >= 0; i -= 1) {
      const entry = this.entries.get(this.ids[i]!)!;
      if (filter.user !== undefined && entry.user !== filter.user) continue;
      if (filter.active === true && !entry.active) continue;
      if (!visible(entry)) continue;
      parts.push(entry.json);
      if (filter.limit !== undefined && parts.length >= filter.limit) break;
    }
    return `{"items":[${parts.join(',')}]}`;
  }

  /** How many managed jobs are in each status (the metrics' gauge, at every scrape: a walk of the view, no store read). */
  countByStatus(): Map<ManagedJobStatus, number> {
    const counts = new Map<ManagedJobStatus, number>();
    for (const entry of this.entries.values()) counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1);
    return counts;
  }
}
