import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { JSON_LEDGER_FILE, JSON_LEDGER_LOCK_FILE, JsonLedger, type PluginDocument, type PluginDocuments, type Resources, type SshReach } from '@sky/plugin-api';
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

/** The name of the ledger among the plugin's documents in a shared state store. */
export const LEDGER_DOCUMENT = 'ledger';

/** What a ledger file becomes once moved into the state store (kept for the operator, never read again). */
export const MOVED_SUFFIX = '.moved-to-state-store';

/**
 * Which hosts every SSH cluster holds, and the last probe of each host. On a daemon whose state
 * store keeps plugin documents (PostgreSQL, shared by replicas), one document there, changed by
 * compare-and-set, so replicas on different machines never hand the same host to two clusters;
 * a ledger file left in the data directory by an earlier daemon is moved into it once.
 * Otherwise one JSON file in the plugin's data directory, replaced atomically and changed only
 * under a lock file (plugin-api's {@link JsonLedger}), so two processes sharing the directory
 * never hand the same host to two clusters.
 */
export class Ledger {
  readonly path: string;
  readonly lockPath: string;
  private readonly file: JsonLedger<LedgerData>;
  private readonly shared: PluginDocument<LedgerData> | undefined;
  private moved: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    options: LedgerOptions = {},
    documents?: PluginDocuments,
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
    this.shared = documents?.open(LEDGER_DOCUMENT, {
      empty: () => ({ version: 1, clusters: {}, probes: {} }),
      parse,
      unknownFormatHint: 'It was written by another version of sky-driver-ssh; run that version on every replica.',
    });
  }

  /** Where the ledger is kept: the state store, or the file. */
  get kept(): 'state store' | 'file' {
    return this.shared === undefined ? 'file' : 'state store';
  }

  /** The current record. Needs no lock: the file is only ever replaced whole, the document read whole. */
  async read(): Promise<LedgerData> {
    if (this.shared === undefined) return this.file.read();
    await this.moveFileIn();
    return this.shared.read();
  }

  /**
   * Run `change` on the current record and save what it leaves, unless it throws (then nothing
   * is saved). Returns what `change` returns. In the state store `change` may run again on a
   * newer record (another replica saved first), so it only looks at its argument.
   */
  async update<T>(signal: AbortSignal, change: (data: LedgerData) => T | Promise<T>): Promise<T> {
    if (this.shared === undefined) return this.file.update(signal, change);
    await this.moveFileIn();
    return this.shared.update(signal, change);
  }

  /**
   * Once per process: a ledger file an earlier daemon kept in the data directory goes into the
   * state store, unless the store's ledger already records something (then the file is stale:
   * another replica moved its own in first), and the file is renamed so it is never read again.
   */
  private moveFileIn(): Promise<void> {
    this.moved ??= (async () => {
      const shared = this.shared!;
      const fromFile = await this.file.read();
      if (Object.keys(fromFile.clusters).length === 0 && Object.keys(fromFile.probes).length === 0) return;
      await shared.update(new AbortController().signal, (data) => {
        if (Object.keys(data.clusters).length > 0 || Object.keys(data.probes).length > 0) return;
        data.clusters = fromFile.clusters;
        data.probes = fromFile.probes;
      });
      await rename(this.path, this.path + MOVED_SUFFIX);
    })().catch((err: unknown) => {
      this.moved = undefined;
      throw err;
    });
    return this.moved;
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
