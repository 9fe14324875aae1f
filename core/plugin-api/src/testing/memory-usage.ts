import type { UsageRecord } from '@sky/protocol';
import { copyJson } from '../records.js';
import type { UsageFilter, UsageRepository } from '../store.js';
import { checkUsageFilter, checkUsageRecord, closedInterval, compareUsage, matchesUsageFilter, usageKey } from '../usage-ledger.js';

/** The usage ledger in memory: entries by key, and the open interval of each incarnation. */
export class MemoryUsageRepository implements UsageRepository {
  private readonly entries = new Map<string, UsageRecord>();
  /** clusterId → key of its open interval. */
  private readonly openByCluster = new Map<string, string>();

  constructor(private readonly assertOpen: () => void) {}

  async open(record: UsageRecord): Promise<boolean> {
    this.assertOpen();
    checkUsageRecord(record, 'cluster');
    const key = usageKey(record);
    if (this.openByCluster.has(record.clusterId) || this.entries.has(key)) return false;
    this.entries.set(key, copyJson(record));
    this.openByCluster.set(record.clusterId, key);
    return true;
  }

  async close(clusterId: string, end: number): Promise<UsageRecord | undefined> {
    this.assertOpen();
    const key = this.openByCluster.get(clusterId);
    const current = key === undefined ? undefined : this.entries.get(key);
    if (key === undefined || current === undefined) return undefined;
    const closed = closedInterval(current, end);
    this.entries.set(key, closed);
    this.openByCluster.delete(clusterId);
    return copyJson(closed);
  }

  async listOpen(): Promise<UsageRecord[]> {
    this.assertOpen();
    return [...this.openByCluster.keys()].sort().map((id) => copyJson(this.entries.get(this.openByCluster.get(id)!)!));
  }

  async recordJob(record: UsageRecord): Promise<boolean> {
    this.assertOpen();
    checkUsageRecord(record, 'job');
    const key = usageKey(record);
    if (this.entries.has(key)) return false;
    this.entries.set(key, copyJson(record));
    return true;
  }

  async list(filter: UsageFilter): Promise<UsageRecord[]> {
    this.assertOpen();
    checkUsageFilter(filter);
    return [...this.entries.values()].filter((r) => matchesUsageFilter(r, filter)).sort(compareUsage).map((r) => copyJson(r));
  }

  /** Every entry, copied, in key order (exports). */
  raw(): UsageRecord[] {
    return [...this.entries.keys()].sort().map((k) => copyJson(this.entries.get(k)!));
  }

  /** Store an exported entry as it was (imports). */
  putRaw(record: UsageRecord): void {
    const key = usageKey(record);
    this.entries.set(key, copyJson(record));
    if (record.kind === 'cluster' && record.end === undefined) this.openByCluster.set(record.clusterId, key);
  }

  get size(): number {
    return this.entries.size;
  }
}
