import type { UsageRecord } from '@sky/protocol';
import {
  checkUsageFilter,
  checkUsageRecord,
  closedInterval,
  compareUsage,
  copyJson,
  matchesUsageFilter,
  usageKey,
  type UsageFilter,
  type UsageRepository,
} from '@sky/plugin-api';
import { degradedError, ioError } from './errors.js';
import type { LevelDb, Sublevels } from './layout.js';
import type { Writer } from './writer.js';

/** What the ledger needs of the open store. */
interface UsageDeps {
  db: LevelDb;
  subs: Sublevels;
  writer: Writer;
}

/**
 * The usage ledger in LevelDB (schema v7): entries in `usage` by usageKey, and `usage-open`
 * (clusterId → key of its open interval). Its writes bypass the group writer: they touch only
 * these two sublevels, which nothing else writes, so they need no ordering against other
 * writes, only among themselves (open and close decide on what is open), which this
 * repository's own queue gives. The ledger is small (an entry per cluster start and per
 * finished job) and read rarely, so a query scans it rather than keeping time indexes.
 */
export class LevelUsageRepository implements UsageRepository {
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly open_: () => Promise<UsageDeps>,
    private readonly path: string,
  ) {}

  /** Resolves once every queued ledger write has settled (the store waits for it before it closes). */
  async idle(): Promise<void> {
    await this.#tail.catch(() => undefined);
  }

  async open(record: UsageRecord): Promise<boolean> {
    checkUsageRecord(record, 'cluster');
    const input = copyJson(record);
    return this.#serial(async ({ db, subs }) => {
      const key = usageKey(input);
      const [openKey, existing] = await Promise.all([subs.usageOpen.get(input.clusterId), subs.usage.get(key)]);
      if (openKey !== undefined || existing !== undefined) return false;
      await db.batch([
        { type: 'put', sublevel: subs.usage, key, value: input },
        { type: 'put', sublevel: subs.usageOpen, key: input.clusterId, value: key },
      ]);
      return true;
    });
  }

  async close(clusterId: string, end: number): Promise<UsageRecord | undefined> {
    return this.#serial(async ({ db, subs }) => {
      const key = await subs.usageOpen.get(clusterId);
      const current = key === undefined ? undefined : await subs.usage.get(key);
      if (key === undefined) return undefined;
      if (current === undefined) {
        await db.batch([{ type: 'del', sublevel: subs.usageOpen, key: clusterId }]);
        return undefined;
      }
      const closed = closedInterval(current, end);
      await db.batch([
        { type: 'put', sublevel: subs.usage, key, value: closed },
        { type: 'del', sublevel: subs.usageOpen, key: clusterId },
      ]);
      return closed;
    });
  }

  async listOpen(): Promise<UsageRecord[]> {
    const { subs } = await this.open_();
    const keys = await subs.usageOpen.values().all();
    const records = await subs.usage.getMany(keys);
    return records.filter((r): r is UsageRecord => r !== undefined);
  }

  async recordJob(record: UsageRecord): Promise<boolean> {
    checkUsageRecord(record, 'job');
    const input = copyJson(record);
    return this.#serial(async ({ db, subs }) => {
      const key = usageKey(input);
      if ((await subs.usage.get(key)) !== undefined) return false;
      await db.batch([{ type: 'put', sublevel: subs.usage, key, value: input }]);
      return true;
    });
  }

  async list(filter: UsageFilter): Promise<UsageRecord[]> {
    checkUsageFilter(filter);
    const { subs } = await this.open_();
    const found: UsageRecord[] = [];
    for await (const record of subs.usage.values()) if (matchesUsageFilter(record, filter)) found.push(record);
    return found.sort(compareUsage);
  }

  /** Run one ledger write after the ones before it, refused like every write while the store is degraded. */
  #serial<T>(write: (deps: UsageDeps) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const deps = await this.open_();
      const failure = deps.writer.failure;
      if (failure !== undefined) throw degradedError(this.path, failure);
      try {
        return await write(deps);
      } catch (err) {
        throw ioError(this.path, 'write a usage entry', err);
      }
    };
    const next = this.#tail.then(run, run);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}
