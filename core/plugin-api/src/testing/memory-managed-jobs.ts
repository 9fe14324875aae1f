import { isManagedJobTerminal } from '@sky/protocol';
import type { ManagedJobEvent, ManagedJobRecord, ManagedJobSpec } from '@sky/protocol';
import type { ManagedJobFilter, ManagedJobPatch, ManagedJobRepository, StoreChange } from '../store.js';
import {
  applyManagedJobPatch,
  cappedEvents,
  checkManagedJobLimit,
  copyJson,
  managedJobsNewestFirst,
  matchesManagedJobFilter,
  newManagedJob,
} from '../records.js';

/** Managed jobs of the in-memory store: records, the specs of those not ended, and controller logs. */
export class MemoryManagedJobRepository implements ManagedJobRepository {
  readonly #jobs = new Map<number, ManagedJobRecord>();
  readonly #specs = new Map<number, ManagedJobSpec>();
  readonly #events = new Map<number, ManagedJobEvent[]>();
  #lastId = 0;

  constructor(
    private readonly assertOpen: () => void,
    private readonly emit: (change: StoreChange) => void,
  ) {}

  /** Every managed job by id with its spec and controller log, and the last id handed out (state export); a copy. */
  raw(): { lastId: number; jobs: Array<{ record: ManagedJobRecord; spec: ManagedJobSpec | undefined; events: ManagedJobEvent[] }> } {
    const jobs = [...this.#jobs.values()]
      .sort((a, b) => a.id - b.id)
      .map((record) => {
        const spec = this.#specs.get(record.id);
        return { record: copyJson(record), spec: spec === undefined ? undefined : copyJson(spec), events: (this.#events.get(record.id) ?? []).map(copyJson) };
      });
    return { lastId: this.#lastId, jobs };
  }

  /** Set the last id handed out (state import). */
  setLastId(id: number): void {
    this.#lastId = Math.max(this.#lastId, id);
  }

  /** Store a managed job as it is (state import). */
  putRaw(record: ManagedJobRecord, spec: ManagedJobSpec | undefined, events: readonly ManagedJobEvent[]): void {
    this.#jobs.set(record.id, copyJson(record));
    if (spec !== undefined && !isManagedJobTerminal(record.status)) this.#specs.set(record.id, copyJson(spec));
    if (events.length > 0) this.#events.set(record.id, events.map(copyJson));
    this.#lastId = Math.max(this.#lastId, record.id);
  }

  async create(job: Omit<ManagedJobRecord, 'id' | 'version'>, spec: ManagedJobSpec): Promise<ManagedJobRecord> {
    this.assertOpen();
    const id = this.#lastId + 1;
    const record = newManagedJob(job, id);
    this.#lastId = id;
    this.#jobs.set(id, record);
    if (!isManagedJobTerminal(record.status)) this.#specs.set(id, copyJson(spec));
    this.emit({ kind: 'managedJob', id, record });
    return copyJson(record);
  }

  async get(id: number): Promise<ManagedJobRecord | undefined> {
    this.assertOpen();
    const record = this.#jobs.get(id);
    return record === undefined ? undefined : copyJson(record);
  }

  async getSpec(id: number): Promise<ManagedJobSpec | undefined> {
    this.assertOpen();
    const spec = this.#specs.get(id);
    return spec === undefined ? undefined : copyJson(spec);
  }

  async list(filter: ManagedJobFilter = {}): Promise<ManagedJobRecord[]> {
    this.assertOpen();
    checkManagedJobLimit(filter);
    const found = [...this.#jobs.values()].filter((job) => matchesManagedJobFilter(job, filter)).sort(managedJobsNewestFirst);
    return (filter.limit === undefined ? found : found.slice(0, filter.limit)).map(copyJson);
  }

  async update(id: number, expectedVersion: number, patch: ManagedJobPatch): Promise<ManagedJobRecord | undefined> {
    this.assertOpen();
    const current = this.#jobs.get(id);
    if (current === undefined || current.version !== expectedVersion) return undefined;
    const next = applyManagedJobPatch(current, patch);
    this.#jobs.set(id, next);
    if (isManagedJobTerminal(next.status)) this.#specs.delete(id);
    this.emit({ kind: 'managedJob', id, record: next });
    return copyJson(next);
  }

  async appendEvents(id: number, events: readonly ManagedJobEvent[]): Promise<void> {
    this.assertOpen();
    if (!this.#jobs.has(id) || events.length === 0) return;
    const added = events.map((event) => ({ at: event.at, text: event.text }));
    this.#events.set(id, cappedEvents(this.#events.get(id) ?? [], added));
  }

  async events(id: number): Promise<ManagedJobEvent[]> {
    this.assertOpen();
    return (this.#events.get(id) ?? []).map(copyJson);
  }
}
