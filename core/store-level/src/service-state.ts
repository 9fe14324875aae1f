import type { ServiceRecord } from '@sky/protocol';
import { parseServiceKey } from './keys.js';
import type { Sublevels } from './layout.js';

/** What one committed group changed of the services; null marks a deletion. */
export interface ServiceDelta {
  records: ReadonlyMap<string, ServiceRecord | null>;
  /** The versions each touched service has on disk now (null: none, the service is gone). */
  versions: ReadonlyMap<string, ReadonlySet<number> | null>;
  /** The next controller log sequence number of each touched service (null: the log is gone). */
  nextSeq: ReadonlyMap<string, number | null>;
}

/**
 * The committed state of every service: its record, which versions have a spec on disk and
 * where its controller log stands. Services are few (each runs replica clusters), so all of
 * it is loaded at open; like ClusterState it cannot go stale, as this process is the only
 * writer and folds in each group once its batch is on disk. With it a delete knows every key
 * to remove without reading, and no write reads the disk before deciding.
 */
export class ServiceState {
  readonly records = new Map<string, ServiceRecord>();
  readonly versions = new Map<string, ReadonlySet<number>>();
  readonly nextSeq = new Map<string, number>();
  #sortedNames: string[] | undefined;

  static async load(subs: Sublevels): Promise<ServiceState> {
    const state = new ServiceState();
    const [records, versionKeys, seqs] = await Promise.all([subs.services.iterator().all(), subs.serviceVersions.keys().all(), subs.serviceEventSeqs.iterator().all()]);
    for (const [name, record] of records) state.records.set(name, record);
    const versions = new Map<string, Set<number>>();
    for (const key of versionKeys) {
      const { name, n } = parseServiceKey(key);
      let set = versions.get(name);
      if (set === undefined) versions.set(name, (set = new Set()));
      set.add(n);
    }
    for (const [name, set] of versions) state.versions.set(name, set);
    for (const [name, next] of seqs) state.nextSeq.set(name, next);
    return state;
  }

  /** Service names in ascending order; recomputed only after a create or delete. */
  sortedNames(): readonly string[] {
    this.#sortedNames ??= [...this.records.keys()].sort();
    return this.#sortedNames;
  }

  apply(delta: ServiceDelta): void {
    for (const [name, record] of delta.records) {
      if (record === null) {
        if (this.records.delete(name)) this.#sortedNames = undefined;
      } else {
        if (!this.records.has(name)) this.#sortedNames = undefined;
        this.records.set(name, record);
      }
    }
    for (const [name, versions] of delta.versions) {
      if (versions === null) this.versions.delete(name);
      else this.versions.set(name, versions);
    }
    for (const [name, next] of delta.nextSeq) {
      if (next === null) this.nextSeq.delete(name);
      else this.nextSeq.set(name, next);
    }
  }
}
