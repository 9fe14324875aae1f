import { SkyError } from '@sky/protocol';
import type { ServiceRecord, ServiceVersionSpec } from '@sky/protocol';
import {
  checkServiceVersionSpec,
  copyJson,
  isServiceVersion,
  matchesServiceFilter,
  newService,
  type ServiceEvent,
  type ServiceFilter,
  type ServicePatch,
  type ServiceRepository,
} from '@sky/plugin-api';
import { isKeySafe, prefixRange, serviceVersionKey } from './keys.js';
import type { Sublevels } from './layout.js';
import type { ServiceState } from './service-state.js';
import { copyPatch, type Writer } from './writer.js';

/** What the service repository needs of an open store. */
export interface OpenServices {
  writer: Writer;
  subs: Sublevels;
  services: ServiceState;
}

/** Whether a name can be a service's key at all (anything else names no service). */
function isName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && isKeySafe(name);
}

/**
 * Services: writes go to the single writer; records are read from the ServiceState cache, version
 * specs and controller logs from the database. Each write copies its input before it waits for
 * anything, so the caller may reuse it as soon as the call returns.
 */
export class LevelServiceRepository implements ServiceRepository {
  constructor(private readonly open: () => Promise<OpenServices>) {}

  async create(input: Omit<ServiceRecord, 'revision'>, specInput: ServiceVersionSpec): Promise<{ record: ServiceRecord; created: boolean }> {
    const record = newService(input);
    const spec = copyJson(specInput);
    const open = await this.open();
    if (!isName(record.name)) {
      throw new SkyError('VALIDATION_FAILED', `service name ${JSON.stringify(record.name)} cannot be stored: it must be a non-empty string without NUL`, {
        details: { field: 'name' },
      });
    }
    checkServiceVersionSpec(spec);
    return open.writer.createService(record, spec);
  }

  async get(name: string): Promise<ServiceRecord | undefined> {
    const record = (await this.open()).services.records.get(name);
    return record === undefined ? undefined : copyJson(record);
  }

  async list(filter: ServiceFilter = {}): Promise<ServiceRecord[]> {
    const { services } = await this.open();
    const out: ServiceRecord[] = [];
    for (const name of services.sortedNames()) {
      const record = services.records.get(name);
      if (record !== undefined && matchesServiceFilter(record, filter)) out.push(copyJson(record));
    }
    return out;
  }

  async update(name: string, expectedRevision: number, patch: ServicePatch): Promise<ServiceRecord | undefined> {
    const copy = copyPatch(patch);
    const open = await this.open();
    return isName(name) ? open.writer.updateService(name, expectedRevision, copy) : undefined;
  }

  async delete(name: string, expectedRevision?: number): Promise<boolean> {
    const open = await this.open();
    return isName(name) ? open.writer.deleteService(name, expectedRevision) : false;
  }

  async putVersion(name: string, specInput: ServiceVersionSpec): Promise<void> {
    const spec = copyJson(specInput);
    const open = await this.open();
    checkServiceVersionSpec(spec);
    if (isName(name)) await open.writer.putServiceVersion(name, spec);
  }

  async getVersion(name: string, version: number): Promise<ServiceVersionSpec | undefined> {
    const open = await this.open();
    if (!isName(name) || !isServiceVersion(version)) return undefined;
    return open.subs.serviceVersions.get(serviceVersionKey(name, version));
  }

  async appendEvents(name: string, events: readonly ServiceEvent[]): Promise<void> {
    // Only the fields of an event are stored.
    const copy = events.map((event) => ({ at: event.at, text: event.text }));
    const open = await this.open();
    if (isName(name) && copy.length > 0) await open.writer.appendServiceEvents(name, copy);
  }

  async events(name: string): Promise<ServiceEvent[]> {
    const open = await this.open();
    if (!isName(name)) return [];
    return open.subs.serviceEvents.values(prefixRange(name)).all();
  }
}
