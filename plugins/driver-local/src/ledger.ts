import { join } from 'node:path';
import { JSON_LEDGER_FILE, JSON_LEDGER_LOCK_FILE, JsonLedger, type AcceleratorCount } from '@sky/plugin-api';

/** One node as the ledger records it. */
export interface LedgerNode {
  id: string;
  rank: number;
  dir: string;
  cpus: number;
  memoryGb: number;
  /** Host GPU indices this node holds while UP (re-chosen by start). */
  gpuIndices: number[];
  accelerators: AcceleratorCount[];
}

export interface LedgerCluster {
  clusterId: string;
  clusterName: string;
  owner: string;
  /** UP clusters hold their CPUs, memory and GPUs; STOPPED ones hold only their directories. */
  status: 'UP' | 'STOPPED';
  createdAt: string;
  nodes: LedgerNode[];
  ports?: number[];
  labels?: Record<string, string>;
  /** The OS account the nodes belong to (team servers): their directories are under the helper's node root. */
  account?: string;
}

export interface LedgerData {
  version: 1;
  clusters: Record<string, LedgerCluster>;
}

export const LEDGER_FILE = JSON_LEDGER_FILE;
export const LOCK_FILE = JSON_LEDGER_LOCK_FILE;

export interface LedgerOptions {
  /** How long to wait for another process's lock before giving up. */
  lockTimeoutMs?: number;
  /** A lock file older than this whose holder cannot be checked is taken as abandoned. */
  staleMs?: number;
}

function parse(data: unknown): LedgerData | undefined {
  const ledger = data as Partial<LedgerData> | null;
  if (ledger === null || typeof ledger !== 'object' || ledger.version !== 1 || typeof ledger.clusters !== 'object' || ledger.clusters === null) return undefined;
  return ledger as LedgerData;
}

/**
 * The local driver's record of what every cluster under `root` holds: one JSON file, replaced
 * atomically and changed only under a lock file (plugin-api's {@link JsonLedger}), so two daemons
 * (or any two processes) sharing a root never book the same capacity twice.
 */
export class Ledger {
  readonly path: string;
  readonly lockPath: string;
  private readonly file: JsonLedger<LedgerData>;

  constructor(
    readonly root: string,
    options: LedgerOptions = {},
  ) {
    const path = join(root, LEDGER_FILE);
    this.file = new JsonLedger<LedgerData>({
      dir: root,
      owner: 'local driver',
      empty: () => ({ version: 1, clusters: {} }),
      parse,
      ...options,
      invalidJsonHint: `Stop every sky daemon using ${root}, then repair or remove ${path} (removing it forgets every local cluster's reservation).`,
      unknownFormatHint: `It was written by another version of sky-driver-local; use that version, or move ${path} aside.`,
    });
    this.path = this.file.path;
    this.lockPath = this.file.lockPath;
  }

  /** The current record. Needs no lock: the file is only ever replaced whole. */
  read(): Promise<LedgerData> {
    return this.file.read();
  }

  /**
   * Run `change` on the current record under the lock and save what it leaves, unless it throws
   * (then nothing is saved). Returns what `change` returns.
   */
  update<T>(signal: AbortSignal, change: (data: LedgerData) => T | Promise<T>): Promise<T> {
    return this.file.update(signal, change);
  }
}
