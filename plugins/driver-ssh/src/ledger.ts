import { join } from 'node:path';
import { JSON_LEDGER_FILE, JSON_LEDGER_LOCK_FILE, JsonLedger, type Resources, type SshReach } from '@sky/plugin-api';
import type { HostGpu } from './gpus.js';

/** A host held by a cluster. */
export interface LedgerNode {
  /** `<pool>/<label>`: stable per pool and host. */
  id: string;
  rank: number;
  pool: string;
  /** The host as the pool file names it. */
  label: string;
  /** The machine (`host:port[ via jump]`): what is held. */
  endpoint: string;
  address: string;
  reach: SshReach;
  resources: Resources;
}

export interface LedgerCluster {
  clusterId: string;
  clusterName: string;
  owner: string;
  pool: string;
  createdAt: string;
  nodes: LedgerNode[];
}

/** The last look at a host (by endpoint). */
export interface LedgerProbe {
  at: string;
  reachable: boolean;
  authOk: boolean;
  /** Why the last probe could not use the host; absent when it could. */
  error?: string;
  /** What the last successful probe found (kept while the host is unreachable, for totals). */
  found?: { at: string; cpus: number; memoryGb: number; gpus: HostGpu[] };
}

export interface LedgerData {
  version: 1;
  clusters: Record<string, LedgerCluster>;
  probes: Record<string, LedgerProbe>;
}

export const LEDGER_FILE = JSON_LEDGER_FILE;
export const LOCK_FILE = JSON_LEDGER_LOCK_FILE;

export interface LedgerOptions {
  /** How long to wait for another process's lock before giving up. Default 15 s. */
  lockTimeoutMs?: number;
  /** A lock file older than this whose holder cannot be checked is taken as abandoned. Default 60 s. */
  staleMs?: number;
}

function parse(data: unknown): LedgerData | undefined {
  const ledger = data as Partial<LedgerData> | null;
  if (ledger === null || typeof ledger !== 'object' || ledger.version !== 1 || typeof ledger.clusters !== 'object' || ledger.clusters === null) return undefined;
  return { version: 1, clusters: ledger.clusters, probes: typeof ledger.probes === 'object' && ledger.probes !== null ? ledger.probes : {} };
}

/**
 * Which hosts every SSH cluster holds, and the last probe of each host: one JSON file in the
 * plugin's data directory, replaced atomically and changed only under a lock file (plugin-api's
 * {@link JsonLedger}), so two processes sharing the directory never hand the same host to two
 * clusters.
 */
export class Ledger {
  readonly path: string;
  readonly lockPath: string;
  private readonly file: JsonLedger<LedgerData>;

  constructor(
    readonly dir: string,
    options: LedgerOptions = {},
  ) {
    const path = join(dir, LEDGER_FILE);
    this.file = new JsonLedger<LedgerData>({
      dir,
      owner: 'ssh driver',
      empty: () => ({ version: 1, clusters: {}, probes: {} }),
      parse,
      ...options,
      createDir: true,
      invalidJsonHint: `Stop every sky daemon using ${dir}, then repair or remove ${path} (removing it forgets which cluster holds which host).`,
      unknownFormatHint: `It was written by another version of sky-driver-ssh; use that version, or move ${path} aside.`,
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

/** Which cluster holds each endpoint. */
export function holders(data: LedgerData): Map<string, { cluster: LedgerCluster; node: LedgerNode }> {
  const out = new Map<string, { cluster: LedgerCluster; node: LedgerNode }>();
  for (const cluster of Object.values(data.clusters)) {
    for (const node of cluster.nodes) out.set(node.endpoint, { cluster, node });
  }
  return out;
}
