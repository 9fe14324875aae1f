import { inject, injectable } from 'tsyringe';
import type { StateStore, StoreChange } from '@sky/plugin-api';
import { CLUSTER_SUMMARY_FIELDS, encodeClusterColumns, type ClusterColumn, type ClusterRecord } from '@sky/protocol';
import { TOKENS } from '../tokens.js';

/** How one caller sees a listing: which records it sees at all, and which whole (with their command line). */
export interface ClusterViewer {
  visible(record: ClusterRecord): boolean;
  whole(record: ClusterRecord): boolean;
}

/** How many columnar answers are kept (each ~0.5 MB for 10,000 clusters). */
const COLUMNS_CACHED = 4;

/**
 * The clusters view behind `sky status` (a hot path): loaded once from the store, then kept
 * current from the store's change feed, indexed by owner, so a listing never re-reads the store.
 */
@injectable()
export class StatusView {
  private readonly byName = new Map<string, ClusterRecord>();
  private readonly byOwner = new Map<string, Map<string, ClusterRecord>>();
  /** Each record's JSON, made once per change: listings join these instead of serializing 10,000 records per call. */
  private readonly json = new Map<string, string>();
  private readonly summaryJson = new Map<string, string>();
  /** The same without the command line, for callers who may not see it (made when first asked for). */
  private readonly redactedJson = new Map<string, string>();
  private readonly redactedSummaryJson = new Map<string, string>();
  /** Recent columnar answers (listColumnsJson), dropped at every change. */
  private readonly columnsJson = new Map<string, { count: number; json: string }>();
  private unsubscribe: (() => void) | undefined;
  private unfollow: (() => void) | undefined;
  /**
   * The feed position of the last change applied per cluster name. This process's own changes
   * arrive at once from the store, other replicas' a moment later from the shared feed (which
   * repeats this process's too): a change is applied only when it is newer than what the view has.
   */
  private readonly appliedSeq = new Map<string, number>();

  constructor(@inject(TOKENS.Store) private readonly store: StateStore) {}

  async load(): Promise<void> {
    const pending: Array<{ change: StoreChange; seq: number }> = [];
    let loaded = false;
    this.unsubscribe = this.store.subscribe((change, position) => (loaded ? this.apply(change, position.seq) : pending.push({ change, seq: position.seq })));
    for (const record of await this.store.clusters.list()) this.put(record);
    loaded = true;
    for (const { change, seq } of pending) this.apply(change, seq);
  }

  /** On a store shared by several replicas: take the other replicas' changes from the shared feed too. */
  followShared(listen: (listener: (change: StoreChange, seq: number) => void) => () => void): void {
    this.unfollow?.();
    this.unfollow = listen((change, seq) => this.apply(change, seq));
  }

  close(): void {
    this.unsubscribe?.();
    this.unfollow?.();
  }

  apply(change: StoreChange, seq?: number): void {
    if (change.kind !== 'cluster') return;
    if (seq !== undefined) {
      const last = this.appliedSeq.get(change.name);
      if (last !== undefined && seq <= last) return;
      this.appliedSeq.set(change.name, seq);
    }
    if (change.record) this.put(change.record);
    else this.remove(change.name);
  }

  private put(record: ClusterRecord): void {
    this.columnsJson.clear();
    const previous = this.byName.get(record.name);
    if (previous && previous.owner !== record.owner) this.byOwner.get(previous.owner)?.delete(record.name);
    this.byName.set(record.name, record);
    this.json.set(record.name, JSON.stringify(record));
    this.summaryJson.set(record.name, JSON.stringify(summaryOf(record)));
    this.redactedJson.delete(record.name);
    this.redactedSummaryJson.delete(record.name);
    let mine = this.byOwner.get(record.owner);
    if (!mine) this.byOwner.set(record.owner, (mine = new Map()));
    mine.set(record.name, record);
  }

  private remove(name: string): void {
    const previous = this.byName.get(name);
    if (!previous) return;
    this.columnsJson.clear();
    this.byName.delete(name);
    this.json.delete(name);
    this.summaryJson.delete(name);
    this.redactedJson.delete(name);
    this.redactedSummaryJson.delete(name);
    this.byOwner.get(previous.owner)?.delete(name);
  }

  /** One owner's clusters, or everyone's; optionally only the named ones. */
  list(owner: string | undefined, names?: readonly string[]): ClusterRecord[] {
    const source = owner === undefined ? this.byName : (this.byOwner.get(owner) ?? new Map<string, ClusterRecord>());
    if (names && names.length > 0) return names.map((n) => source.get(n)).filter((r): r is ClusterRecord => r !== undefined);
    return [...source.values()];
  }

  /**
   * The same listing as a JSON array, from the cached JSON of each record (or of its summary).
   * With a viewer (from the access policy): records it may not see are left out, and those it
   * may not see whole are shown without their command line.
   */
  listJson(owner: string | undefined, names?: readonly string[], summary = false, viewer?: ClusterViewer): string {
    const cache = summary ? this.summaryJson : this.json;
    const parts: string[] = [];
    for (const r of this.list(owner, names)) {
      if (viewer === undefined) parts.push(cache.get(r.name)!);
      else if (!viewer.visible(r)) continue;
      else if (r.lastCommand === undefined || viewer.whole(r)) parts.push(cache.get(r.name)!);
      else parts.push(this.redacted(r, summary));
    }
    return `[${parts.join(',')}]`;
  }

  /**
   * The summaries of the same listing as columns (format=columns), under the same viewer rules:
   * records it may not see are left out, and the command line of those it may not see whole.
   */
  listColumns(owner: string | undefined, names?: readonly string[], viewer?: ClusterViewer): { count: number; columns: Record<string, ClusterColumn> } {
    return this.encodeColumns(this.select(owner, names, viewer));
  }

  /**
   * The same as JSON. Encoding 10,000 clusters costs more than joining their cached rows, so the
   * last few answers are kept until the next change, keyed by what was asked and by the viewer's
   * verdict on each record (so two callers share an answer only when they see the same).
   */
  listColumnsJson(owner: string | undefined, names?: readonly string[], viewer?: ClusterViewer): { count: number; json: string } {
    const selection = this.select(owner, names, viewer);
    const key = `${owner ?? ''}\n${names?.join(',') ?? ''}\n${selection.verdicts}`;
    let answer = this.columnsJson.get(key);
    if (answer === undefined) {
      const { count, columns } = this.encodeColumns(selection);
      answer = { count, json: JSON.stringify(columns) };
      if (this.columnsJson.size >= COLUMNS_CACHED) this.columnsJson.delete(this.columnsJson.keys().next().value!);
      this.columnsJson.set(key, answer);
    }
    return answer;
  }

  /** The records a viewer sees, whether each is seen whole, and those verdicts as one string (v: visible whole, c: without its command line, -: hidden). */
  private select(owner: string | undefined, names: readonly string[] | undefined, viewer: ClusterViewer | undefined): { rows: ClusterRecord[]; hideCommand: boolean[]; verdicts: string } {
    const rows: ClusterRecord[] = [];
    const hideCommand: boolean[] = [];
    const verdicts: string[] = [];
    for (const r of this.list(owner, names)) {
      if (viewer !== undefined && !viewer.visible(r)) {
        verdicts.push('-');
        continue;
      }
      const hide = viewer !== undefined && r.lastCommand !== undefined && !viewer.whole(r);
      rows.push(r);
      hideCommand.push(hide);
      verdicts.push(hide ? 'c' : 'v');
    }
    return { rows, hideCommand, verdicts: verdicts.join('') };
  }

  private encodeColumns({ rows, hideCommand }: { rows: ClusterRecord[]; hideCommand: boolean[] }): { count: number; columns: Record<string, ClusterColumn> } {
    const columns = encodeClusterColumns(rows, CLUSTER_SUMMARY_FIELDS, (r, field, at) =>
      field === 'lastCommand' && hideCommand[at] === true ? undefined : r[field as keyof ClusterRecord],
    );
    return { count: rows.length, columns };
  }

  private redacted(record: ClusterRecord, summary: boolean): string {
    const cache = summary ? this.redactedSummaryJson : this.redactedJson;
    let json = cache.get(record.name);
    if (json === undefined) {
      const { lastCommand: _command, ...rest } = summary ? (summaryOf(record) as ClusterRecord) : record;
      json = JSON.stringify(rest);
      cache.set(record.name, json);
    }
    return json;
  }

  get(name: string): ClusterRecord | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }
}

/** The top-level summary fields of a record (nested values such as autostop are kept whole). */
function summaryOf(record: ClusterRecord): Partial<ClusterRecord> {
  const out: Partial<Record<keyof ClusterRecord, unknown>> = {};
  for (const key of CLUSTER_SUMMARY_FIELDS) if (record[key] !== undefined) out[key] = record[key];
  return out as Partial<ClusterRecord>;
}
