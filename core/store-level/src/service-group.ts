import type { ServiceRecord, ServiceVersionSpec } from '@sky/protocol';
import { applyServicePatch, SERVICE_EVENT_CAP, type FeedChange, type ServiceEvent, type ServicePatch } from '@sky/plugin-api';
import type { Settle } from './cluster-group.js';
import { serviceEventKey, serviceVersionKey } from './keys.js';
import type { Sublevels, WriteOp } from './layout.js';
import type { ServiceDelta, ServiceState } from './service-state.js';

/** Service writes waiting in the writer's queue. Inputs are private copies. */
export type ServiceWriteRequest =
  | { kind: 'service-create'; record: ServiceRecord; spec: ServiceVersionSpec; settle: Settle<{ record: ServiceRecord; created: boolean }> }
  | { kind: 'service-update'; name: string; expectedRevision: number; patch: ServicePatch; settle: Settle<ServiceRecord | undefined> }
  | { kind: 'service-delete'; name: string; expectedRevision: number | undefined; settle: Settle<boolean> }
  | { kind: 'service-version'; name: string; spec: ServiceVersionSpec; settle: Settle<void> }
  | { kind: 'service-events'; name: string; events: ServiceEvent[]; settle: Settle<void> };

export function isServiceWrite(req: { kind: string }): req is ServiceWriteRequest {
  return req.kind.startsWith('service-');
}

const NO_VERSIONS: ReadonlySet<number> = new Set();

/**
 * The service part of one group commit: decided in queue order against the committed
 * ServiceState overlaid with the group's own earlier writes (so a delete also removes the
 * versions and log lines written before it in the same group), each in the group's one batch.
 * It reads nothing from disk: the state knows every key a service has.
 */
export class ServiceGroup {
  readonly #records = new Map<string, ServiceRecord | null>();
  readonly #versions = new Map<string, ReadonlySet<number> | null>();
  readonly #nextSeq = new Map<string, number | null>();

  constructor(
    private readonly subs: Sublevels,
    private readonly state: ServiceState,
    private readonly ops: WriteOp[],
    private readonly outcomes: Array<() => void>,
    private readonly changes: FeedChange[],
  ) {}

  get delta(): ServiceDelta {
    return { records: this.#records, versions: this.#versions, nextSeq: this.#nextSeq };
  }

  apply(req: ServiceWriteRequest): void {
    switch (req.kind) {
      case 'service-create':
        return this.#create(req.record, req.spec, req.settle);
      case 'service-update':
        return this.#update(req.name, req.expectedRevision, req.patch, req.settle);
      case 'service-delete':
        return this.#delete(req.name, req.expectedRevision, req.settle);
      case 'service-version':
        return this.#putVersion(req.name, req.spec, req.settle);
      case 'service-events':
        return this.#append(req.name, req.events, req.settle);
    }
  }

  #record(name: string): ServiceRecord | undefined {
    const mine = this.#records.get(name);
    if (mine !== undefined) return mine ?? undefined;
    return this.#records.has(name) ? undefined : this.state.records.get(name);
  }

  #versionsOf(name: string): ReadonlySet<number> {
    if (this.#versions.has(name)) return this.#versions.get(name) ?? NO_VERSIONS;
    return this.state.versions.get(name) ?? NO_VERSIONS;
  }

  #seqOf(name: string): number {
    if (this.#nextSeq.has(name)) return this.#nextSeq.get(name) ?? 0;
    return this.state.nextSeq.get(name) ?? 0;
  }

  /** Serialize once: the batch stores this text; the state and the change feed get a parse of it. */
  #put(record: ServiceRecord): string {
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as ServiceRecord;
    this.ops.push({ type: 'put', sublevel: this.subs.services, key: stored.name, value: json, valueEncoding: 'utf8' });
    this.#records.set(stored.name, stored);
    this.changes.push({ kind: 'service', name: stored.name, record: stored });
    return json;
  }

  #create(record: ServiceRecord, spec: ServiceVersionSpec, settle: Settle<{ record: ServiceRecord; created: boolean }>): void {
    const existing = this.#record(record.name);
    if (existing !== undefined) {
      const json = JSON.stringify(existing);
      this.outcomes.push(() => settle.resolve({ record: JSON.parse(json) as ServiceRecord, created: false }));
      return;
    }
    const json = this.#put(record);
    this.ops.push({ type: 'put', sublevel: this.subs.serviceVersions, key: serviceVersionKey(record.name, spec.version), value: JSON.stringify(spec), valueEncoding: 'utf8' });
    this.#versions.set(record.name, new Set([spec.version]));
    this.outcomes.push(() => settle.resolve({ record: JSON.parse(json) as ServiceRecord, created: true }));
  }

  #update(name: string, expectedRevision: number, patch: ServicePatch, settle: Settle<ServiceRecord | undefined>): void {
    const current = this.#record(name);
    if (current === undefined || current.revision !== expectedRevision) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const json = this.#put(applyServicePatch(current, patch));
    this.outcomes.push(() => settle.resolve(JSON.parse(json) as ServiceRecord));
  }

  #delete(name: string, expectedRevision: number | undefined, settle: Settle<boolean>): void {
    const current = this.#record(name);
    if (current === undefined || (expectedRevision !== undefined && current.revision !== expectedRevision)) {
      this.outcomes.push(() => settle.resolve(false));
      return;
    }
    const { subs } = this;
    this.ops.push({ type: 'del', sublevel: subs.services, key: name });
    for (const version of this.#versionsOf(name)) this.ops.push({ type: 'del', sublevel: subs.serviceVersions, key: serviceVersionKey(name, version) });
    // The log holds exactly the window below the next sequence number (see #append).
    const next = this.#seqOf(name);
    for (let seq = Math.max(0, next - SERVICE_EVENT_CAP); seq < next; seq++) this.ops.push({ type: 'del', sublevel: subs.serviceEvents, key: serviceEventKey(name, seq) });
    this.ops.push({ type: 'del', sublevel: subs.serviceEventSeqs, key: name });
    this.#records.set(name, null);
    this.#versions.set(name, null);
    this.#nextSeq.set(name, null);
    this.changes.push({ kind: 'service', name, record: null });
    this.outcomes.push(() => settle.resolve(true));
  }

  #putVersion(name: string, spec: ServiceVersionSpec, settle: Settle<void>): void {
    if (this.#record(name) !== undefined) {
      this.ops.push({ type: 'put', sublevel: this.subs.serviceVersions, key: serviceVersionKey(name, spec.version), value: JSON.stringify(spec), valueEncoding: 'utf8' });
      this.#versions.set(name, new Set([...this.#versionsOf(name), spec.version]));
    }
    this.outcomes.push(() => settle.resolve());
  }

  #append(name: string, events: readonly ServiceEvent[], settle: Settle<void>): void {
    if (this.#record(name) === undefined || events.length === 0) {
      this.outcomes.push(() => settle.resolve());
      return;
    }
    const { subs } = this;
    // The log keeps lines [max(0, next - CAP), next): lines that would be dropped at once are never written, dropped ones on disk are deleted.
    const from = this.#seqOf(name);
    const next = from + events.length;
    for (let i = Math.max(0, events.length - SERVICE_EVENT_CAP); i < events.length; i++) {
      const event = events[i] as ServiceEvent;
      this.ops.push({ type: 'put', sublevel: subs.serviceEvents, key: serviceEventKey(name, from + i), value: { at: event.at, text: event.text } });
    }
    for (let seq = Math.max(0, from - SERVICE_EVENT_CAP); seq < Math.min(from, next - SERVICE_EVENT_CAP); seq++) {
      this.ops.push({ type: 'del', sublevel: subs.serviceEvents, key: serviceEventKey(name, seq) });
    }
    this.ops.push({ type: 'put', sublevel: subs.serviceEventSeqs, key: name, value: next });
    this.#nextSeq.set(name, next);
    this.outcomes.push(() => settle.resolve());
  }
}
