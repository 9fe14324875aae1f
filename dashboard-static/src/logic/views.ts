/** How each kind of row is indexed for filtering and sorting, and merged from the change feed. */
import type { MergeRules } from './changes.js';
import { pickFields } from './changes.js';
import type { RowIndexer } from './table.js';
import type { ClusterSummary } from '../types.js';

/** The fields of a cluster summary (GET /clusters?summary=true), plus the record's version when known. */
export const CLUSTER_SUMMARY_FIELDS = [
  'name',
  'owner',
  'ownerName',
  'workspace',
  'infra',
  'status',
  'statusReason',
  'numNodes',
  'resources',
  'launchedAt',
  'lastActiveAt',
  'lastCommand',
  'autostop',
  'version',
] as const;

/** A row of the Clusters table: the summary fields (and the version once a whole record was merged). */
export type ClusterRow = ClusterSummary;

export const clusterIndexer: RowIndexer<ClusterRow> = {
  key: (c) => c.name,
  searchText: (c) => [c.name, c.ownerName, c.workspace, c.infra, c.status, c.statusReason, c.resources, c.lastCommand],
  facets: (c) => ({ status: c.status, user: c.ownerName, workspace: c.workspace, infra: c.infra }),
  sortKeys: (c) => ({
    name: c.name.toLowerCase(),
    user: c.ownerName.toLowerCase(),
    workspace: c.workspace.toLowerCase(),
    infra: c.infra.toLowerCase(),
    nodes: c.numNodes,
    resources: c.resources.toLowerCase(),
    status: c.status,
    launched: c.launchedAt,
    autostop: c.autostop === undefined ? Number.MAX_SAFE_INTEGER : c.autostop.idleMinutes,
  }),
};

type Shape = Record<string, 'string' | 'number' | 'array'>;

/** Whether a record from the feed has the fields a table reads, of the right types (else it is ignored, never rendered half). */
export function hasShape(record: Record<string, unknown> | null, shape: Shape): boolean {
  if (record === null) return true;
  for (const [field, type] of Object.entries(shape)) {
    const v = record[field];
    if (type === 'array' ? !Array.isArray(v) : typeof v !== type) return false;
  }
  return true;
}

const CLUSTER_SHAPE: Shape = { name: 'string', ownerName: 'string', workspace: 'string', infra: 'string', status: 'string', numNodes: 'number', resources: 'string', launchedAt: 'number' };
export const JOB_SHAPE: Shape = { cluster: 'string', id: 'number', userName: 'string', status: 'string', submittedAt: 'number' };
export const MANAGED_JOB_SHAPE: Shape = { id: 'number', userName: 'string', status: 'string', submittedAt: 'number', currentTask: 'number', tasks: 'array' };
export const SERVICE_SHAPE: Shape = { name: 'string', userName: 'string', workspace: 'string', status: 'string', version: 'number', replicas: 'array', createdAt: 'number' };
export const REQUEST_SHAPE: Shape = { id: 'string', name: 'string', userName: 'string', status: 'string', lane: 'string', createdAt: 'number' };

/** Cluster events merge into summary rows: the record cut down to the summary's fields. */
export const clusterRules: MergeRules<ClusterRow> = {
  kind: 'cluster',
  accept: (_key, record) => hasShape(record, CLUSTER_SHAPE),
  toRow: (record) => pickFields<ClusterRow>(record, CLUSTER_SUMMARY_FIELDS),
  rank: (row) => row.version,
};

const REQUEST_ORDER = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const JOB_ORDER = ['PENDING', 'SETTING_UP', 'RUNNING', 'SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'];

/** A lifecycle step: terminal states never go back to running ones. */
export function lifecycleRank(order: readonly string[], status: unknown): number | undefined {
  if (typeof status !== 'string') return undefined;
  const i = order.indexOf(status);
  if (i < 0) return undefined;
  // every terminal status ranks the same: the last one the server says wins
  const firstTerminal = order === REQUEST_ORDER ? 2 : 3;
  return Math.min(i, firstTerminal);
}

export function requestRank(row: { status: string }): number | undefined {
  return lifecycleRank(REQUEST_ORDER, row.status);
}

export function jobRank(row: { status: string }): number | undefined {
  return lifecycleRank(JOB_ORDER, row.status);
}

/** The feed's key of a cluster job: CLUSTER/ID. */
export function jobKey(job: { cluster: string; id: number }): string {
  return `${job.cluster}/${job.id}`;
}
