import type { ServiceRecord, ServiceVersionSpec } from '@sky/protocol';
import type { ServiceEvent, ServiceFilter, ServicePatch, ServiceRepository, StoreChange } from '../store.js';
import { applyServicePatch, byName, cappedEvents, checkServiceVersionSpec, copyJson, isServiceVersion, matchesServiceFilter, newService } from '../records.js';

/** One service of the in-memory store with what is kept apart from its record. */
interface Stored {
  record: ServiceRecord;
  versions: Map<number, ServiceVersionSpec>;
  events: ServiceEvent[];
}

/** What the state export reads of one service; a copy. */
export interface RawService {
  record: ServiceRecord;
  versions: ServiceVersionSpec[];
  events: ServiceEvent[];
}

/** Services of the in-memory store: records, version specs and controller logs. */
export class MemoryServiceRepository implements ServiceRepository {
  readonly #services = new Map<string, Stored>();

  constructor(
    private readonly assertOpen: () => void,
    private readonly emit: (change: StoreChange) => void,
  ) {}

  get size(): number {
    return this.#services.size;
  }

  /** Every service by name with its versions (ascending) and log (state export); a copy. */
  raw(): RawService[] {
    return [...this.#services.values()]
      .sort((a, b) => byName(a.record, b.record))
      .map((s) => ({
        record: copyJson(s.record),
        versions: [...s.versions.values()].sort((a, b) => a.version - b.version).map(copyJson),
        events: s.events.map(copyJson),
      }));
  }

  /** Store a service as it is (state import). */
  putRaw(service: RawService): void {
    this.#services.set(service.record.name, {
      record: copyJson(service.record),
      versions: new Map(service.versions.map((v) => [v.version, copyJson(v)])),
      events: service.events.map((e) => ({ at: e.at, text: e.text })),
    });
  }

  async create(input: Omit<ServiceRecord, 'revision'>, spec: ServiceVersionSpec): Promise<{ record: ServiceRecord; created: boolean }> {
    this.assertOpen();
    checkServiceVersionSpec(spec);
    const existing = this.#services.get(input.name);
    if (existing !== undefined) return { record: copyJson(existing.record), created: false };
    const record = newService(input);
    this.#services.set(record.name, { record, versions: new Map([[spec.version, copyJson(spec)]]), events: [] });
    this.emit({ kind: 'service', name: record.name, record });
    return { record: copyJson(record), created: true };
  }

  async get(name: string): Promise<ServiceRecord | undefined> {
    this.assertOpen();
    const found = this.#services.get(name);
    return found === undefined ? undefined : copyJson(found.record);
  }

  async list(filter: ServiceFilter = {}): Promise<ServiceRecord[]> {
    this.assertOpen();
    return [...this.#services.values()]
      .map((s) => s.record)
      .filter((r) => matchesServiceFilter(r, filter))
      .sort(byName)
      .map(copyJson);
  }

  async update(name: string, expectedRevision: number, patch: ServicePatch): Promise<ServiceRecord | undefined> {
    this.assertOpen();
    const found = this.#services.get(name);
    if (found === undefined || found.record.revision !== expectedRevision) return undefined;
    const next = applyServicePatch(found.record, patch);
    found.record = next;
    this.emit({ kind: 'service', name, record: next });
    return copyJson(next);
  }

  async delete(name: string, expectedRevision?: number): Promise<boolean> {
    this.assertOpen();
    const found = this.#services.get(name);
    if (found === undefined || (expectedRevision !== undefined && found.record.revision !== expectedRevision)) return false;
    this.#services.delete(name);
    this.emit({ kind: 'service', name, record: null });
    return true;
  }

  async putVersion(name: string, spec: ServiceVersionSpec): Promise<void> {
    this.assertOpen();
    checkServiceVersionSpec(spec);
    this.#services.get(name)?.versions.set(spec.version, copyJson(spec));
  }

  async getVersion(name: string, version: number): Promise<ServiceVersionSpec | undefined> {
    this.assertOpen();
    if (!isServiceVersion(version)) return undefined;
    const spec = this.#services.get(name)?.versions.get(version);
    return spec === undefined ? undefined : copyJson(spec);
  }

  async appendEvents(name: string, events: readonly ServiceEvent[]): Promise<void> {
    this.assertOpen();
    const found = this.#services.get(name);
    if (found === undefined || events.length === 0) return;
    found.events = cappedEvents(
      found.events,
      events.map((event) => ({ at: event.at, text: event.text })),
    );
  }

  async events(name: string): Promise<ServiceEvent[]> {
    this.assertOpen();
    return (this.#services.get(name)?.events ?? []).map(copyJson);
  }
}
