import { SkyError } from '@sky/protocol';
import type { ManagedJobEvent, ManagedJobRecord, ManagedJobSpec } from '@sky/protocol';
import { copyJson, type ManagedJobFilter, type ManagedJobPatch, type ManagedJobRepository } from '@sky/plugin-api';
import { isJobId, isKeySafe } from './keys.js';
import type { ManagedJobReader } from './managed-job-queries.js';
import { copyPatch, type Writer } from './writer.js';

/** What the managed job repository needs of an open store. */
export interface OpenManagedJobs {
  writer: Writer;
  managedJobReader: ManagedJobReader;
}

function requireKeySafe(value: unknown, what: string, field: string): void {
  if (typeof value !== 'string' || value.length === 0 || !isKeySafe(value)) {
    throw new SkyError('VALIDATION_FAILED', `managed job ${what} ${JSON.stringify(value)} cannot be stored: it must be a non-empty string without NUL`, {
      details: { field },
    });
  }
}

/**
 * Managed jobs: writes go to the single writer; reads to the cache of those not ended and the
 * database. Each write copies its input before it waits for anything, so the caller may reuse
 * it as soon as the call returns.
 */
export class LevelManagedJobRepository implements ManagedJobRepository {
  constructor(private readonly open: () => Promise<OpenManagedJobs>) {}

  async create(job: Omit<ManagedJobRecord, 'id' | 'version'>, spec: ManagedJobSpec): Promise<ManagedJobRecord> {
    const input = copyJson(job);
    const specCopy = copyJson(spec);
    const open = await this.open();
    // Both are index key parts.
    requireKeySafe(input.user, 'user', 'user');
    requireKeySafe(input.requestId, 'request id', 'requestId');
    return open.writer.createManagedJob(input, specCopy);
  }

  async get(id: number): Promise<ManagedJobRecord | undefined> {
    return (await this.open()).managedJobReader.get(id);
  }

  async getSpec(id: number): Promise<ManagedJobSpec | undefined> {
    return (await this.open()).managedJobReader.getSpec(id);
  }

  async list(filter: ManagedJobFilter = {}): Promise<ManagedJobRecord[]> {
    return (await this.open()).managedJobReader.list(filter);
  }

  async update(id: number, expectedVersion: number, patch: ManagedJobPatch): Promise<ManagedJobRecord | undefined> {
    const copy = copyPatch(patch);
    const open = await this.open();
    return isJobId(id) ? open.writer.updateManagedJob(id, expectedVersion, copy) : undefined;
  }

  async appendEvents(id: number, events: readonly ManagedJobEvent[]): Promise<void> {
    // Only the fields of an event are stored.
    const copy = events.map((event) => ({ at: event.at, text: event.text }));
    const open = await this.open();
    if (isJobId(id) && copy.length > 0) await open.writer.appendManagedJobEvents(id, copy);
  }

  async events(id: number): Promise<ManagedJobEvent[]> {
    return (await this.open()).managedJobReader.events(id);
  }
}
