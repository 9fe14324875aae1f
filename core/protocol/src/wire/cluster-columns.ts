// The columnar form of a cluster listing (GET /api/v1/clusters?format=columns): one array per
// field instead of one object per cluster. A team's clusters repeat most values (owner,
// resources, status, command line), so the answer is a quarter of the size of the rows and
// a client parses a few arrays instead of thousands of objects (sky status -u).
import type { ClusterSummary } from '../cluster-routes.js';

/**
 * One field of every cluster. Without `index`, `values` holds each cluster's value in listing
 * order (null: the cluster has none). With `index`, `values` holds the field's distinct values
 * and `index` each cluster's position among them (-1: none).
 */
export interface ClusterColumn<T = unknown> {
  values: Array<T | null>;
  index?: number[];
}

export type ClusterColumnMap = { [K in keyof ClusterSummary]-?: ClusterColumn<NonNullable<ClusterSummary[K]>> };

export interface ClusterColumns {
  count: number;
  columns: ClusterColumnMap;
  enabledInfra: string[];
}

/**
 * Columns of `fields` over `rows`; `cell` reads one field of the row at a position (undefined: none).
 * A field with few distinct values is sent as those values and an index; objects count as
 * equal when their JSON is.
 */
export function encodeClusterColumns<R>(rows: readonly R[], fields: readonly string[], cell: (row: R, field: string, at: number) => unknown): Record<string, ClusterColumn> {
  const columns: Record<string, ClusterColumn> = {};
  const count = rows.length;
  for (const field of fields) {
    const values: unknown[] = [];
    const index = new Array<number>(count);
    const seen = new Map<unknown, number>();
    const seenObjects = new Map<string, number>();
    for (let r = 0; r < count; r++) {
      const value = cell(rows[r]!, field, r);
      if (value === undefined || value === null) {
        index[r] = -1;
        continue;
      }
      const objectKey = typeof value === 'object' ? JSON.stringify(value) : undefined;
      let at = objectKey === undefined ? seen.get(value) : seenObjects.get(objectKey);
      if (at === undefined) {
        at = values.length;
        values.push(value);
        if (objectKey === undefined) seen.set(value, at);
        else seenObjects.set(objectKey, at);
      }
      index[r] = at;
    }
    // Mostly distinct values (names, launch times): the values in order are smaller than values and an index.
    columns[field] = values.length * 2 > count ? { values: index.map((at) => (at < 0 ? null : values[at])) } : { values, index };
  }
  return columns;
}

/** The clusters of a columnar listing as summaries, fields in the order of the columns. */
export function decodeClusterColumns(list: { count: number; columns: Readonly<Record<string, ClusterColumn>> }): ClusterSummary[] {
  const { count } = list;
  const rows: Array<Record<string, unknown>> = new Array<Record<string, unknown>>(count);
  for (let r = 0; r < count; r++) rows[r] = {};
  // Field by field, so every row gains its properties in the same order (one object shape).
  for (const [field, column] of Object.entries(list.columns)) {
    const { values, index } = column;
    for (let r = 0; r < count; r++) {
      const value = index === undefined ? values[r] : index[r]! < 0 ? null : values[index[r]!];
      if (value !== null && value !== undefined) rows[r]![field] = value;
    }
  }
  return rows as unknown as ClusterSummary[];
}
