/**
 * The change feed's events (GET /api/v1/events, event `change`) and how they merge into the
 * tables a page shows: upsert or delete by key, never letting an older state of a record
 * replace a newer one that a list fetch already brought.
 */

export const CHANGE_KINDS = ['cluster', 'job', 'managedJob', 'request', 'service'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export interface ChangeEvent {
  readonly seq: number;
  readonly at: number;
  readonly kind: ChangeKind;
  readonly key: string;
  /** The record as its GET route shows it; null once the thing was deleted. */
  readonly record: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads one `change` event's data; undefined when it is not one (a newer server, a broken line). */
export function parseChange(data: string): ChangeEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isObject(v)) return undefined;
  const { seq, at, kind, key, record } = v;
  if (typeof seq !== 'number' || typeof key !== 'string' || typeof kind !== 'string') return undefined;
  if (!(CHANGE_KINDS as readonly string[]).includes(kind)) return undefined;
  if (record !== null && !isObject(record)) return undefined;
  return { seq, at: typeof at === 'number' ? at : 0, kind: kind as ChangeKind, key, record };
}

/** How a table takes the events of one kind. */
export interface MergeRules<T> {
  readonly kind: ChangeKind;
  /** Whether this table shows the thing at all (e.g. only one cluster's jobs). */
  accept?(key: string, record: Record<string, unknown> | null): boolean;
  /** The row to store for a record (e.g. a cluster record cut down to its summary fields). */
  toRow(record: Record<string, unknown>, previous: T | undefined): T;
  /**
   * An order on a record's states (a version, a lifecycle step): an event whose rank is below
   * the stored row's is older than what the table shows and is dropped.
   */
  rank?(row: T): number | undefined;
}

/**
 * Applies events to rows keyed as the feed keys them. Returns whether anything changed.
 * Events of other kinds, or not accepted, are ignored.
 */
export function applyChanges<T>(rows: Map<string, T>, events: readonly ChangeEvent[], rules: MergeRules<T>): boolean {
  let changed = false;
  for (const e of events) {
    if (e.kind !== rules.kind) continue;
    const record = e.record === null ? null : (e.record as Record<string, unknown>);
    if (rules.accept !== undefined && !rules.accept(e.key, record)) continue;
    const previous = rows.get(e.key);
    if (record === null) {
      if (previous !== undefined) {
        rows.delete(e.key);
        changed = true;
      }
      continue;
    }
    const next = rules.toRow(record, previous);
    if (previous !== undefined && rules.rank !== undefined) {
      const before = rules.rank(previous);
      const after = rules.rank(next);
      if (before !== undefined && after !== undefined && after < before) continue;
    }
    rows.set(e.key, next);
    changed = true;
  }
  return changed;
}

/** Keeps only the listed fields of a record (e.g. a cluster's summary fields). */
export function pickFields<T>(record: Record<string, unknown>, fields: readonly string[]): T {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (record[f] !== undefined) out[f] = record[f];
  return out as T;
}

/**
 * Events that arrive while a list is being fetched wait here, and are applied once the list is
 * in; a `reset` drops them (the list is fetched again).
 */
export class ChangeBuffer {
  private events: ChangeEvent[] = [];
  private holding = true;

  /** Queue an event; returns true when the caller may apply it now (the list is in). */
  offer(e: ChangeEvent): boolean {
    if (!this.holding) return true;
    this.events.push(e);
    return false;
  }

  /** Start holding events again (a list fetch begins). */
  hold(): void {
    this.holding = true;
    this.events = [];
  }

  /** The list is in: returns the events held meanwhile and stops holding. */
  release(): ChangeEvent[] {
    const held = this.events;
    this.events = [];
    this.holding = false;
    return held;
  }
}
