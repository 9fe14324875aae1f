import { mkdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import {
  describeResources,
  formatNumber,
  sameAccelerator,
  throwIfAborted,
  type AcceleratorCount,
  type Driver,
  type DriverCallOptions,
  type DriverCapacity,
  type FeasibilityRequest,
  type JsonValue,
  type NodeHandle,
  type NodeHelper,
  type NodeStatusReport,
  type ProvisionedCluster,
  type ProvisionRequest,
  type ResourceRequest,
  type Resources,
} from '@sky/plugin-api';
import { ACCOUNT_NAME } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import { accountFor } from './accounts.js';
import type { AccountsConfig } from './config.js';
import type { HostGpu } from './gpus.js';
import { Ledger, type LedgerCluster, type LedgerData, type LedgerNode } from './ledger.js';
import { endAccountNodeProcesses, endNodeProcesses } from './processes.js';

/** A node's size when the request leaves CPUs or memory open. */
export const DEFAULT_NODE_CPUS = 1;
export const DEFAULT_NODE_MEMORY_GB = 1;
/** Every local node's address: all ranks are on this machine. */
export const LOCAL_ADDRESS = '127.0.0.1';

export interface LocalDriverOptions {
  /** Where nodes live: `<root>/<clusterId>/node-<rank>`, plus the ledger. */
  root: string;
  /** CPUs to hand out in total. */
  cpus: number;
  /** Memory to hand out in total, GB. */
  memoryGb: number;
  /** At most this many nodes UP at once. */
  maxNodes?: number | undefined;
  /** This machine's GPUs (detectGpus()); none when absent. */
  gpus?: HostGpu[];
  /** How long to wait for another process holding the ledger lock. */
  lockTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL when stop/terminate end a node's jobs. */
  killGraceMs?: number;
  /**
   * Team servers: each user's nodes belong to their own OS account and live under the helper's
   * node root (`<nodeRoot>/<account>/<clusterId>/node-<rank>`); the driver makes, inspects and
   * removes them, and ends their jobs, only through sky-node-helper.
   */
  accounts?: AccountNodes;
}

/** How a driver on a team server reaches account nodes. */
export interface AccountNodes {
  config: AccountsConfig;
  helper: NodeHelper;
  /** The helper's node root (from its hello). */
  nodeRoot: string;
}

/** What the daemon persists for a local cluster, as ProvisionedCluster.state. */
export interface LocalClusterState {
  driver: 'local';
  version: 1;
  root: string;
  clusterId: string;
  /** The OS account the nodes belong to (team servers). */
  account?: string;
}

/** Directory-safe: a cluster id becomes a directory name under root. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

interface NodeSize {
  cpus: number;
  memoryGb: number;
  /** Alternatives; empty for no GPUs. */
  accelerators: AcceleratorCount[];
}

interface Usage {
  cpus: number;
  memoryGb: number;
  gpuIndices: Set<number>;
  upNodes: number;
  stoppedNodes: number;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function plural(n: number, word: string): string {
  return `${formatNumber(n)} ${word}${n === 1 ? '' : 's'}`;
}

function countByName(gpus: HostGpu[]): AcceleratorCount[] {
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  return [...counts].map(([name, count]) => ({ name, count }));
}

function invalid(message: string, hint?: string): SkyError {
  return new SkyError('VALIDATION_FAILED', `local driver: ${message}`, hint === undefined ? {} : { hint });
}

/**
 * The embedded default driver: each node is a directory on this machine, and CPUs, memory and
 * GPUs are booked in a ledger under the root shared by every process that uses the same root.
 * Booking is accounting, not isolation: processes on a local node are not confined to what it holds.
 *
 * Stop releases a cluster's CPUs, memory and GPUs (as stopping a cloud VM releases its compute)
 * and keeps its directories; start books them again and can fail with NO_CAPACITY. Terminate
 * ends the nodes' jobs, removes the directories and frees everything.
 */
export class LocalDriver implements Driver {
  /** terminate ends every process of the cluster's nodes (endJobs) before it removes them. */
  readonly terminateEndsJobs = true;
  readonly root: string;
  readonly ledger: Ledger;
  private readonly total: { cpus: number; memoryGb: number };
  private readonly maxNodes: number | undefined;
  private readonly gpus: HostGpu[];
  private readonly killGraceMs: number;
  private readonly accounts: AccountNodes | undefined;

  constructor(options: LocalDriverOptions) {
    this.accounts = options.accounts;
    this.root = options.root;
    this.total = { cpus: options.cpus, memoryGb: options.memoryGb };
    this.maxNodes = options.maxNodes;
    this.gpus = options.gpus ?? [];
    this.killGraceMs = options.killGraceMs ?? 5_000;
    this.ledger = new Ledger(this.root, options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs });
  }

  async capacity(opts: DriverCallOptions): Promise<DriverCapacity> {
    throwIfAborted(opts.signal, 'local driver: capacity');
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const data = await this.ledger.read();
    const usage = this.usage(data);
    const parts = [`${plural(usage.upNodes, 'node')} up`, `${usage.stoppedNodes} stopped`];
    if (this.maxNodes !== undefined) parts.push(`${Math.max(0, this.maxNodes - usage.upNodes)} of ${this.maxNodes} node slots free`);
    return {
      total: { cpus: this.total.cpus, memoryGb: this.total.memoryGb, accelerators: countByName(this.gpus) },
      free: this.free(usage),
      detail: `${parts.join(', ')}, under ${this.root}`,
    };
  }

  /**
   * What provision would refuse with every CPU, GB and GPU free: more than this machine hands
   * out, a GPU kind or count it lacks, more nodes than max_nodes, a disk larger than the root's
   * free space, spot capacity, a sub-pool.
   */
  async feasible(req: FeasibilityRequest, opts: DriverCallOptions): Promise<string[]> {
    throwIfAborted(opts.signal, 'local driver: feasible');
    const out: string[] = [];
    if (req.infra !== undefined && req.infra !== '') out.push(`local driver: infra "local/${req.infra}" names a sub-pool, but the local driver has only this machine; use infra: local`);
    const size = nodeSize(req.resources);
    const nodes = plural(req.numNodes, 'node');
    const total = `this machine hands out ${describeResources({ cpus: this.total.cpus, memoryGb: this.total.memoryGb, accelerators: countByName(this.gpus) })}`;
    if (round(size.cpus * req.numNodes) > this.total.cpus) out.push(`local driver: ${nodes} × ${formatNumber(size.cpus)} CPUs is more than ${total}`);
    if (round(size.memoryGb * req.numNodes) > this.total.memoryGb) out.push(`local driver: ${nodes} × ${formatNumber(size.memoryGb)} GB memory is more than ${total}`);
    if (size.accelerators.length > 0 && this.pickGpus(size.accelerators, req.numNodes, new Set()) === undefined) {
      const have = this.gpus.length === 0 ? 'no GPUs' : countByName(this.gpus).map((a) => `${a.name}:${a.count}`).join(', ');
      const want = size.accelerators.map((a) => `${a.name}:${formatNumber(a.count)}`).join(' or ');
      out.push(`local driver: ${nodes} × ${want} cannot fit: this machine has ${have}`);
    }
    if (this.maxNodes !== undefined && req.numNodes > this.maxNodes) out.push(`local driver: ${nodes} is more than max_nodes (${this.maxNodes})`);
    if (req.resources.useSpot === true) out.push('local driver: has no spot capacity (use_spot)');
    const disk = await this.checkDisk(req.resources).catch(() => undefined);
    if (disk !== undefined) out.push(`local driver: not enough ${disk}`);
    return out;
  }

  async provision(req: ProvisionRequest, opts: DriverCallOptions): Promise<ProvisionedCluster> {
    this.checkRequest(req);
    throwIfAborted(opts.signal, `local driver: provisioning ${req.clusterName}`);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const size = nodeSize(req.resources);
    const diskNote = await this.checkDisk(req.resources);
    const account = this.accounts === undefined ? undefined : accountFor(this.accounts.config, { id: req.owner, name: req.ownerName });
    if (account !== undefined) {
      const ensured = await this.accounts!.helper.ensureAccount(account);
      if (ensured.created) opts.log(`created OS account ${account} for ${req.ownerName ?? req.owner}`);
    }

    const entry = await this.ledger.update(opts.signal, async (data) => {
      const existing = data.clusters[req.clusterId];
      if (existing !== undefined) {
        this.requireAccountWhenShared(existing);
        if (existing.status === 'STOPPED') this.book(data, existing, `start ${existing.clusterName}`);
        await this.makeDirs(existing, opts.signal);
        opts.log(`cluster ${req.clusterName} (${req.clusterId}) already exists under ${this.root}; reusing its ${plural(existing.nodes.length, 'node')}`);
        return existing;
      }
      const usage = this.usage(data);
      const shortfalls = this.shortfalls(size, req.numNodes, usage, req.resources);
      if (diskNote !== undefined) shortfalls.push(diskNote);
      const gpuPick = this.pickGpus(size.accelerators, req.numNodes, usage.gpuIndices);
      if (size.accelerators.length > 0 && gpuPick === undefined) shortfalls.push('GPUs');
      if (shortfalls.length > 0) {
        throw this.noCapacity(`cannot fit ${req.clusterName}`, req.numNodes, size, req.resources, usage, shortfalls);
      }
      const clusterDir = this.clusterDir(req.clusterId, account);
      const nodes: LedgerNode[] = Array.from({ length: req.numNodes }, (_, rank) => ({
        id: `${req.clusterId}-node-${rank}`,
        rank,
        dir: join(clusterDir, `node-${rank}`),
        cpus: size.cpus,
        memoryGb: size.memoryGb,
        gpuIndices: gpuPick?.indices[rank] ?? [],
        accelerators: gpuPick === undefined ? [] : [{ name: gpuPick.name, count: gpuPick.count }],
      }));
      const created: LedgerCluster = {
        clusterId: req.clusterId,
        clusterName: req.clusterName,
        owner: req.owner,
        status: 'UP',
        createdAt: new Date().toISOString(),
        nodes,
      };
      if (req.resources.ports !== undefined) created.ports = req.resources.ports;
      if (req.resources.labels !== undefined) created.labels = req.resources.labels;
      if (account !== undefined) created.account = account;
      try {
        await this.makeDirs(created, opts.signal);
        throwIfAborted(opts.signal, `local driver: provisioning ${req.clusterName}`);
      } catch (error) {
        await this.removeClusterDir(req.clusterId, account).catch(() => undefined);
        throw error;
      }
      data.clusters[req.clusterId] = created;
      opts.log(
        `reserved ${plural(req.numNodes, 'local node')} × ${describeSize(size, nodes[0]?.accelerators ?? [])} under ${clusterDir}${account === undefined ? '' : ` (OS account ${account})`}`,
      );
      return created;
    });
    return this.toCluster(entry);
  }

  async status(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<NodeStatusReport[]> {
    throwIfAborted(opts.signal, 'local driver: status');
    const state = readState(cluster.state);
    if (state.root !== this.root) {
      const reason = `the cluster lives under ${state.root}, but this local driver uses ${this.root}`;
      return cluster.nodes.map((n) => ({ nodeId: n.id, status: 'UNREACHABLE', reason }));
    }
    const entry = (await this.ledger.read()).clusters[state.clusterId];
    const ids = cluster.nodes.length > 0 ? cluster.nodes.map((n) => n.id) : (entry?.nodes.map((n) => n.id) ?? []);
    const reports: NodeStatusReport[] = [];
    for (const nodeId of ids) {
      const node = entry?.nodes.find((n) => n.id === nodeId);
      if (entry === undefined || node === undefined) {
        reports.push({ nodeId, status: 'TERMINATED' });
      } else if (entry.account !== undefined) {
        const exists = await this.helperOf(entry.account).statNodeDir(entry.account, node.dir).then(
          (found) => (found ? undefined : `its directory ${node.dir} is missing`),
          (err: unknown) => `sky-node-helper cannot check it: ${err instanceof Error ? err.message : String(err)}`,
        );
        reports.push(exists === undefined ? { nodeId, status: entry.status } : { nodeId, status: 'UNREACHABLE', reason: exists });
      } else if (!(await isDirectory(node.dir))) {
        reports.push({ nodeId, status: 'UNREACHABLE', reason: `its directory ${node.dir} is missing` });
      } else {
        reports.push({ nodeId, status: entry.status });
      }
    }
    return reports;
  }

  async stop(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void> {
    const state = this.ownState(cluster);
    throwIfAborted(opts.signal, `local driver: stopping ${state.clusterId}`);
    const entry = (await this.ledger.read()).clusters[state.clusterId];
    if (entry === undefined) throw gone(state.clusterId, 'stop');
    if (entry.status === 'STOPPED') return;
    await this.endJobs(entry, opts);
    await this.ledger.update(opts.signal, (data) => {
      const current = data.clusters[state.clusterId];
      if (current === undefined) return;
      current.status = 'STOPPED';
      for (const node of current.nodes) node.gpuIndices = [];
    });
    opts.log(`stopped ${entry.clusterName}: released its CPUs, memory and GPUs; its directories stay under ${this.clusterDir(entry.clusterId, entry.account)}`);
  }

  async start(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<ProvisionedCluster> {
    const state = this.ownState(cluster);
    throwIfAborted(opts.signal, `local driver: starting ${state.clusterId}`);
    const entry = await this.ledger.update(opts.signal, async (data) => {
      const current = data.clusters[state.clusterId];
      if (current === undefined) throw gone(state.clusterId, 'start');
      this.requireAccountWhenShared(current);
      if (current.status === 'UP') return current;
      this.book(data, current, `start ${current.clusterName}`);
      await this.makeDirs(current, opts.signal);
      opts.log(`started ${current.clusterName}: booked ${plural(current.nodes.length, 'node')} again`);
      return current;
    });
    return this.toCluster(entry);
  }

  async terminate(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void> {
    const state = this.ownState(cluster);
    throwIfAborted(opts.signal, `local driver: terminating ${state.clusterId}`);
    const entry = (await this.ledger.read()).clusters[state.clusterId];
    if (entry !== undefined) await this.endJobs(entry, opts);
    const account = entry?.account ?? state.account;
    const clusterDir = this.clusterDir(state.clusterId, account);
    await this.removeClusterDir(state.clusterId, account);
    await this.ledger.update(new AbortController().signal, (data) => {
      delete data.clusters[state.clusterId];
    });
    if (entry !== undefined) opts.log(`terminated ${entry.clusterName}: removed ${clusterDir} and freed its capacity`);
  }

  async close(): Promise<void> {
    // Nothing held between calls.
  }

  // ---- internals -------------------------------------------------------------------------

  private checkRequest(req: ProvisionRequest): void {
    if (!SAFE_ID.test(req.clusterId) || req.clusterId.includes('..')) {
      throw invalid(`cluster id ${JSON.stringify(req.clusterId)} cannot be a directory name`, 'Use letters, digits, ".", "_" and "-".');
    }
    if (!Number.isInteger(req.numNodes) || req.numNodes < 1) throw invalid(`numNodes must be a positive integer, got ${req.numNodes}`);
    if (req.infra !== undefined && req.infra !== '') {
      throw invalid(`infra "local/${req.infra}" names a sub-pool, but the local driver has only this machine`, 'Use infra: local.');
    }
    for (const [what, amount] of [['cpus', req.resources.cpus], ['memory', req.resources.memoryGb]] as const) {
      if (amount !== undefined && !(Number.isFinite(amount.min) && amount.min > 0)) throw invalid(`${what} must be a positive number, got ${amount.min}`);
    }
  }

  /** Refuse a disk_size the root's file system cannot hold (local nodes share it; nothing is reserved). */
  private async checkDisk(resources: ResourceRequest): Promise<string | undefined> {
    if (resources.diskGb === undefined) return undefined;
    const fs = await statfs(this.root);
    const freeGb = round((fs.bavail * fs.bsize) / 2 ** 30);
    return resources.diskGb > freeGb ? `disk (${formatNumber(resources.diskGb)} GB requested, ${formatNumber(Math.floor(freeGb))} GB free in ${this.root})` : undefined;
  }

  private usage(data: LedgerData, except?: string): Usage {
    const usage: Usage = { cpus: 0, memoryGb: 0, gpuIndices: new Set(), upNodes: 0, stoppedNodes: 0 };
    for (const cluster of Object.values(data.clusters)) {
      if (cluster.clusterId === except) continue;
      if (cluster.status !== 'UP') {
        usage.stoppedNodes += cluster.nodes.length;
        continue;
      }
      for (const node of cluster.nodes) {
        usage.cpus = round(usage.cpus + node.cpus);
        usage.memoryGb = round(usage.memoryGb + node.memoryGb);
        for (const i of node.gpuIndices) usage.gpuIndices.add(i);
        usage.upNodes += 1;
      }
    }
    return usage;
  }

  private free(usage: Usage): Resources {
    return {
      cpus: Math.max(0, round(this.total.cpus - usage.cpus)),
      memoryGb: Math.max(0, round(this.total.memoryGb - usage.memoryGb)),
      accelerators: countByName(this.gpus.filter((g) => !usage.gpuIndices.has(g.index))),
    };
  }

  private shortfalls(size: NodeSize, numNodes: number, usage: Usage, resources: ResourceRequest): string[] {
    const free = this.free(usage);
    const out: string[] = [];
    if (round(size.cpus * numNodes) > free.cpus) out.push('CPUs');
    if (round(size.memoryGb * numNodes) > free.memoryGb) out.push('memory');
    if (this.maxNodes !== undefined && usage.upNodes + numNodes > this.maxNodes) out.push('node slots');
    if (resources.useSpot === true) out.push('spot capacity (the local driver has none)');
    return out;
  }

  /** GPU indices for each rank from the first alternative that fits, or undefined. */
  private pickGpus(
    alternatives: AcceleratorCount[],
    numNodes: number,
    taken: Set<number>,
  ): { name: string; count: number; indices: number[][] } | undefined {
    for (const alt of alternatives) {
      if (!Number.isInteger(alt.count) || alt.count < 1) continue; // local nodes pin whole GPUs
      const candidates = this.gpus.filter((g) => !taken.has(g.index) && (sameAccelerator(g.name, alt.name) || sameAccelerator(g.model, alt.name)));
      if (candidates.length < alt.count * numNodes) continue;
      const indices = Array.from({ length: numNodes }, (_, rank) =>
        candidates.slice(rank * alt.count, (rank + 1) * alt.count).map((g) => g.index),
      );
      return { name: candidates[0]?.name ?? alt.name, count: alt.count, indices };
    }
    return undefined;
  }

  /** Book a stopped cluster's nodes again (same sizes; GPUs re-picked), or throw NO_CAPACITY. */
  private book(data: LedgerData, cluster: LedgerCluster, what: string): void {
    const usage = this.usage(data, cluster.clusterId);
    const first = cluster.nodes[0];
    const size: NodeSize = { cpus: first?.cpus ?? 0, memoryGb: first?.memoryGb ?? 0, accelerators: first?.accelerators ?? [] };
    const shortfalls = this.shortfalls(size, cluster.nodes.length, usage, {});
    const pick = this.pickGpus(size.accelerators, cluster.nodes.length, usage.gpuIndices);
    if (size.accelerators.length > 0 && pick === undefined) shortfalls.push('GPUs');
    if (shortfalls.length > 0) throw this.noCapacity(`cannot ${what}`, cluster.nodes.length, size, {}, usage, shortfalls);
    cluster.nodes.forEach((node, rank) => {
      node.gpuIndices = pick?.indices[rank] ?? [];
    });
    cluster.status = 'UP';
  }

  private noCapacity(what: string, numNodes: number, size: NodeSize, resources: ResourceRequest, usage: Usage, short: string[]): SkyError {
    const free = this.free(usage);
    let freeText = describeResources(free);
    if (this.gpus.length > 0 && free.accelerators.length === 0) freeText += ', no GPUs';
    if (this.maxNodes !== undefined) freeText += `, ${Math.max(0, this.maxNodes - usage.upNodes)} of ${this.maxNodes} node slots`;
    const requested = `${plural(numNodes, 'node')} × ${describeRequest(size, resources)}`;
    return new SkyError('NO_CAPACITY', `local driver ${what}: requested ${requested}; free: ${freeText} (short of ${short.join(', ')})`, {
      hint: 'Ask for fewer or smaller nodes, stop or tear down other local clusters (sky status), or raise drivers.local.cpus / memory_gb / max_nodes.',
      details: { requested: { numNodes, cpus: size.cpus, memoryGb: size.memoryGb, accelerators: size.accelerators }, free: { ...free }, short },
    });
  }

  private async makeDirs(cluster: LedgerCluster, signal: AbortSignal): Promise<void> {
    for (const node of cluster.nodes) {
      throwIfAborted(signal, `local driver: creating ${node.dir}`);
      if (cluster.account !== undefined) await this.helperOf(cluster.account).makeNodeDir(cluster.account, node.dir);
      else await mkdir(node.dir, { recursive: true, mode: 0o700 });
    }
  }

  private async endJobs(cluster: LedgerCluster, opts: DriverCallOptions): Promise<void> {
    for (const node of cluster.nodes) {
      const ended =
        cluster.account !== undefined
          ? await endAccountNodeProcesses(this.helperOf(cluster.account), cluster.account, node.dir, this.killGraceMs)
          : await endNodeProcesses(node.dir, this.killGraceMs);
      if (ended > 0) opts.log(`ended ${plural(ended, 'running job')} on ${node.id}`);
    }
  }

  /** With accounts configured, a cluster made before them (its nodes are the daemon's) is not used again, only torn down. */
  private requireAccountWhenShared(cluster: LedgerCluster): void {
    if (this.accounts === undefined || cluster.account !== undefined) return;
    throw new SkyError('FORBIDDEN', `local driver: cluster ${cluster.clusterName} was made before drivers.local.accounts, and its jobs would run as the daemon's own account`, {
      hint: `Tear it down (sky down ${cluster.clusterName}) and launch it again: new clusters run as their owner's OS account.`,
    });
  }

  /** Where a cluster's node directories live: under the helper's node root for an account, else under the driver's root. */
  private clusterDir(clusterId: string, account: string | undefined): string {
    if (account === undefined) return join(this.root, clusterId);
    return join(this.accountNodes(account).nodeRoot, account, clusterId);
  }

  private async removeClusterDir(clusterId: string, account: string | undefined): Promise<void> {
    if (account === undefined) await rm(join(this.root, clusterId), { recursive: true, force: true });
    else await this.helperOf(account).removeNodeDir(account, this.clusterDir(clusterId, account));
  }

  private accountNodes(account: string): AccountNodes {
    if (this.accounts !== undefined) return this.accounts;
    throw new SkyError('DRIVER_FAILED', `local driver: the cluster's nodes belong to OS account ${account}, but drivers.local has no accounts: block`, {
      hint: 'Configure drivers.local.accounts and sky-node-helper again to manage this cluster.',
    });
  }

  private helperOf(account: string): NodeHelper {
    return this.accountNodes(account).helper;
  }

  private ownState(cluster: ProvisionedCluster): LocalClusterState {
    const state = readState(cluster.state);
    if (state.root !== this.root) {
      throw new SkyError('DRIVER_FAILED', `local driver: cluster ${state.clusterId} lives under ${state.root}, but this driver uses ${this.root}`, {
        hint: `Set drivers.local.root back to ${state.root} to manage it.`,
      });
    }
    return state;
  }

  private toCluster(entry: LedgerCluster): ProvisionedCluster {
    const nodes: NodeHandle[] = entry.nodes.map((n) => ({
      id: n.id,
      rank: n.rank,
      address: LOCAL_ADDRESS,
      reach: {
        kind: 'local',
        root: n.dir,
        ...(n.gpuIndices.length > 0 ? { gpuIndices: [...n.gpuIndices] } : {}),
        ...(entry.account !== undefined ? { account: entry.account } : {}),
      },
      resources: { cpus: n.cpus, memoryGb: n.memoryGb, accelerators: n.accelerators.map((a) => ({ ...a })) },
    }));
    const state: LocalClusterState = { driver: 'local', version: 1, root: this.root, clusterId: entry.clusterId, ...(entry.account !== undefined ? { account: entry.account } : {}) };
    return { nodes, state: { ...state } satisfies JsonValue };
  }
}

function nodeSize(resources: ResourceRequest): NodeSize {
  return {
    cpus: resources.cpus?.min ?? DEFAULT_NODE_CPUS,
    memoryGb: resources.memoryGb?.min ?? DEFAULT_NODE_MEMORY_GB,
    accelerators: resources.accelerators ?? [],
  };
}

function describeSize(size: NodeSize, accelerators: AcceleratorCount[]): string {
  const parts = [plural(size.cpus, 'CPU'), `${formatNumber(size.memoryGb)} GB memory`];
  for (const a of accelerators) parts.push(`${a.count}× ${a.name}`);
  return parts.join(', ');
}

/** The request as the user asked it: CPUs always, memory when asked, GPU alternatives. */
function describeRequest(size: NodeSize, resources: ResourceRequest): string {
  const parts = [plural(size.cpus, 'CPU')];
  if (resources.memoryGb !== undefined) parts.push(`${formatNumber(size.memoryGb)} GB memory`);
  if (size.accelerators.length > 0) parts.push(size.accelerators.map((a) => `${a.count}× ${a.name}`).join(' or '));
  return parts.join(', ');
}

function gone(clusterId: string, op: string): SkyError {
  return new SkyError('DRIVER_FAILED', `local driver: cannot ${op} cluster ${clusterId}: it was terminated`, {
    hint: 'Launch it again.',
  });
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Check the opaque state the daemon hands back. */
export function readState(state: JsonValue): LocalClusterState {
  const s = state as Partial<LocalClusterState> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    Array.isArray(s) ||
    s.driver !== 'local' ||
    s.version !== 1 ||
    typeof s.root !== 'string' ||
    typeof s.clusterId !== 'string' ||
    !SAFE_ID.test(s.clusterId) ||
    s.clusterId.includes('..') ||
    (s.account !== undefined && (typeof s.account !== 'string' || !ACCOUNT_NAME.test(s.account)))
  ) {
    throw new SkyError('DRIVER_FAILED', `local driver: the cluster state ${JSON.stringify(state)} was not written by sky-driver-local`, {
      hint: 'The cluster record names the wrong driver; check the cluster in the state store.',
    });
  }
  return { driver: 'local', version: 1, root: s.root, clusterId: s.clusterId, ...(s.account !== undefined ? { account: s.account } : {}) };
}
