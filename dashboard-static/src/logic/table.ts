/**
 * Filtering and sorting of big tables (10,000 rows and more) in a few milliseconds: every row
 * gets its lowercase search text and its sort keys once, when it arrives, so a keystroke in the
 * filter box or a click on a column header only compares precomputed strings and numbers.
 */

export type SortValue = string | number;
export type SortDir = 'asc' | 'desc';

/** A row with what filtering and sorting need, computed once. */
export interface IndexedRow<T> {
  readonly key: string;
  readonly row: T;
  /** Lowercase text the filter box searches. */
  readonly search: string;
  /** Values of the select filters, by filter id (e.g. status, user). */
  readonly facets: Readonly<Record<string, string>>;
  /** Sort keys, by column id. */
  readonly sort: Readonly<Record<string, SortValue>>;
}

/** How one kind of row is indexed. */
export interface RowIndexer<T> {
  key(row: T): string;
  /** The texts the filter box looks in. */
  searchText(row: T): readonly (string | undefined)[];
  facets(row: T): Record<string, string>;
  sortKeys(row: T): Record<string, SortValue>;
}

export function indexRow<T>(row: T, indexer: RowIndexer<T>): IndexedRow<T> {
  const search = indexer
    .searchText(row)
    .filter((s): s is string => s !== undefined && s !== '')
    .join('\u0000')
    .toLowerCase();
  return { key: indexer.key(row), row, search, facets: indexer.facets(row), sort: indexer.sortKeys(row) };
}

/**
 * indexRow with a cache per row object: when a change in the feed replaces a few rows of a big
 * table, only those are indexed again.
 */
export function cachedIndexer<T extends object>(indexer: RowIndexer<T>): (row: T) => IndexedRow<T> {
  const cache = new WeakMap<T, IndexedRow<T>>();
  return (row) => {
    let hit = cache.get(row);
    if (hit === undefined) {
      hit = indexRow(row, indexer);
      cache.set(row, hit);
    }
    return hit;
  };
}

/** What the user asked for: a text and, per facet, one value ('' = any). */
export interface RowFilter {
  readonly text: string;
  readonly facets: Readonly<Record<string, string>>;
}

export const NO_FILTER: RowFilter = { text: '', facets: {} };

/** Rows matching every word of the text (in any of their texts) and every chosen facet value. */
export function filterRows<T>(rows: readonly IndexedRow<T>[], filter: RowFilter): IndexedRow<T>[] {
  const words = filter.text.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const facets = Object.entries(filter.facets).filter(([, v]) => v !== '');
  if (words.length === 0 && facets.length === 0) return rows.slice();
  const out: IndexedRow<T>[] = [];
  outer: for (const r of rows) {
    for (const [id, value] of facets) if (r.facets[id] !== value) continue outer;
    for (const w of words) if (!r.search.includes(w)) continue outer;
    out.push(r);
  }
  return out;
}

function compare(a: SortValue | undefined, b: SortValue | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * Rows sorted by one column (stable: equal keys keep the row key order). Strings compare by
 * code unit on their precomputed (lowercase) form, which is what makes 10,000 rows sort fast.
 */
export function sortRows<T>(rows: readonly IndexedRow<T>[], column: string, dir: SortDir): IndexedRow<T>[] {
  const sign = dir === 'asc' ? 1 : -1;
  return rows.slice().sort((a, b) => {
    const c = compare(a.sort[column], b.sort[column]);
    if (c !== 0) return c * sign;
    return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
}

/** The distinct values of a facet, sorted: the options of its select. */
export function facetValues<T>(rows: readonly IndexedRow<T>[], facet: string): string[] {
  const seen = new Set<string>();
  for (const r of rows) {
    const v = r.facets[facet];
    if (v !== undefined && v !== '') seen.add(v);
  }
  return [...seen].sort();
}

/** Clicking a column: the same column flips the direction, another one sorts ascending. */
export function nextSort(current: { column: string; dir: SortDir }, clicked: string): { column: string; dir: SortDir } {
  if (current.column === clicked) return { column: clicked, dir: current.dir === 'asc' ? 'desc' : 'asc' };
  return { column: clicked, dir: 'asc' };
}
