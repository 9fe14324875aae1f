import {
  describeResources,
  formatNumber,
  throwIfAborted,
  unmetResources,
  type AcceleratorCount,
  type AmountRequest,
  type Driver,
  type DriverCallOptions,
  type FeasibilityRequest,
  type DriverCapacity,
  type HostCheck as ApiHostCheck,
  type JsonValue,
  type NodeHandle,
  type NodeStatusReport,
  type PluginSsh,
  type PoolDriverExtensions,
  type PoolHost as ApiPoolHost,
  type ProvisionedCluster,
  type ProvisionRequest,
  type ResourceRequest,
  type Resources,
  type SshReach,
  type SshTarget,
  type PluginDocuments,
} from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';
import { countGpus, gpusNamed, type HostGpu } from './gpus.js';
import { holders, Ledger, type LedgerCluster, type LedgerData, type LedgerNode, type LedgerProbe } from './ledger.js';
import { DEFAULT_PROBE_TIMEOUT_MS, pingHost, probeHost, type HostProbe } from './probe.js';
import { loadPools, type Pool, type PoolHost, type PoolSources } from './pools.js';

export const DEFAULT_STATUS_TIMEOUT_MS = 5_000;
/** capacity() probes again a host whose last probe failed once this much time has passed. */
export const PROBE_RETRY_MS = 60_000;
/** Hosts probed at once. */
export const PROBE_CONCURRENCY = 8;

export interface SshDriverOptions {
  /** The daemon's SSH connections (PluginContext.ssh). */
  ssh: PluginSsh;
  /** Where the ledger lives (PluginContext.dataDir)... */
  dataDir: string;
  /** ...unless the state store keeps plugin documents (PluginContext.documents, shared by replicas). */
  documents?: PluginDocuments | undefined;
  /** Where pools come from; read again on every operation, so edits apply without a restart. */
  sources: PoolSources;
  probeTimeoutMs?: number;
  statusTimeoutMs?: number;
  lockTimeoutMs?: number;
  /** For tests: the home directory `~` stands for. */
  home?: string;
}

/** What the daemon persists for an SSH cluster, as ProvisionedCluster.state. */
export interface SshClusterState {
  driver: 'ssh';
  version: 1;
  clusterId: string;
  pool: string;
}

/** The last probe of a host, as pools() and check() report it. */
export interface HostFindings {
  at: string;
  reachable: boolean;
  authOk: boolean;
  error?: string;
  cpus?: number;
  memoryGb?: number;
  gpus?: HostGpu[];
  accelerators?: AcceleratorCount[];
}

/** Who holds a host: plugin-api's holder plus the cluster id. */
export interface HostHolder extends NonNullable<ApiHostCheck['heldBy']> {
  clusterId: string;
}

/** One host of a pool as pools() reports it (never its password). */
export interface PoolHostReport extends ApiPoolHost {
  /** Node id when a cluster holds it: `<pool>/<label>`. */
  id: string;
  heldBy?: HostHolder;
  /** The last probe, if any (from provision, capacity or check). */
  lastProbe?: HostFindings;
}

export interface PoolReport {
  name: string;
  /** The pools file, or `drivers.<id>.pools`. */
  source: string;
  hosts: PoolHostReport[];
}

/** One host as check() found it: what `sky check ssh` and `sky show-gpus --infra ssh` print. */
export interface HostCheck extends ApiHostCheck {
  gpus: HostGpu[];
  /** nvidia-smi exists but failed. */
  gpuNote?: string;
  heldBy?: HostHolder;
}

export interface CheckOptions {
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** The driver-ssh extensions beside the driver contract (see the README). */
export interface SshDriverExtensions extends PoolDriverExtensions {
  /** Every pool with its hosts resolved, who holds each and its last probe. */
  pools(): Promise<PoolReport[]>;
  /** Probe every host of `pool` (or of every pool) now; one report per host. */
  check(pool?: string, opts?: CheckOptions): Promise<HostCheck[]>;
  /** How to reach a node of an SSH cluster, with the pool's password where one is configured. */
  sshTarget(node: NodeHandle): Promise<SshTarget>;
}

function plural(n: number, word: string): string {
  return `${formatNumber(n)} ${word}${n === 1 ? '' : 's'}`;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function targetOf(host: PoolHost): SshTarget {
  const target: SshTarget = { host: host.host, port: host.port, user: host.user };
  if (host.identityFile !== undefined) target.identityFile = host.identityFile;
  if (host.proxyJump !== undefined) target.proxyJump = host.proxyJump;
  if (host.password !== undefined) target.password = host.password;
  return target;
}

function reachOf(host: PoolHost): SshReach {
  const reach: SshReach = { kind: 'ssh', host: host.host, port: host.port, user: host.user };
  if (host.identityFile !== undefined) reach.identityFile = host.identityFile;
  if (host.proxyJump !== undefined) reach.proxyJump = host.proxyJump;
  return reach;
}

function amount(a: AmountRequest): string {
  return `${formatNumber(a.min)}${a.orMore ? '+' : ''}`;
}

/**
 * Why a host cannot give a node of the request, or `[]` when it can. A host is allocated whole,
 * so an amount asked exactly (`cpus: 4`) is met by any host with at least that much, and an
 * accelerator alternative by a host with at least that many GPUs of that name.
 */
export function hostShortfalls(probe: Pick<HostProbe, 'cpus' | 'memoryGb' | 'gpus'> & { diskFreeGb?: number }, want: ResourceRequest): string[] {
  const out: string[] = [];
  if (want.cpus !== undefined && probe.cpus < want.cpus.min) out.push(`cpus: has ${formatNumber(probe.cpus)}, requested ${amount(want.cpus)}`);
  if (want.memoryGb !== undefined && probe.memoryGb < want.memoryGb.min - 1e-9) {
    out.push(`memory: has ${formatNumber(probe.memoryGb)} GB, requested ${amount(want.memoryGb)} GB`);
  }
  const alternatives = want.accelerators ?? [];
  if (alternatives.length > 0 && pickAccelerator(probe.gpus, alternatives) === undefined) {
    const have = countGpus(probe.gpus);
    const haveText = have.length === 0 ? 'no GPUs' : have.map((a) => `${a.name}:${a.count}`).join(', ');
    out.push(`accelerators: has ${haveText}, requested ${alternatives.map((a) => `${a.name}:${formatNumber(a.count)}`).join(' or ')}`);
  }
  if (want.diskGb !== undefined && probe.diskFreeGb !== undefined && probe.diskFreeGb < want.diskGb) {
    out.push(`disk: ${formatNumber(probe.diskFreeGb)} GB free in the home directory, requested ${formatNumber(want.diskGb)} GB`);
  }
  return out;
}

function pickAccelerator(gpus: readonly HostGpu[], alternatives: readonly AcceleratorCount[]): AcceleratorCount | undefined {
  return alternatives.find((alt) => alt.count > 0 && gpusNamed(gpus, alt.name) >= alt.count);
}

/**
 * The resources a node reports for a request: what was asked where the request is exact (the
 * cluster is sized as requested, as on any SkyPilot cluster), the host's own where it is open or
 * `N+`; for accelerators the alternative that matched, or every GPU of the host when none were asked.
 */
export function nodeResources(probe: Pick<HostProbe, 'cpus' | 'memoryGb' | 'gpus'>, want: ResourceRequest): Resources {
  const cpus = want.cpus !== undefined && !want.cpus.orMore ? want.cpus.min : probe.cpus;
  const memoryGb = want.memoryGb !== undefined && !want.memoryGb.orMore ? want.memoryGb.min : probe.memoryGb;
  const alternatives = want.accelerators ?? [];
  const picked = alternatives.length > 0 ? pickAccelerator(probe.gpus, alternatives) : undefined;
  const accelerators = alternatives.length > 0 ? (picked === undefined ? [] : [{ name: picked.name, count: picked.count }]) : countGpus(probe.gpus);
  return { cpus, memoryGb, accelerators };
}

function describeRequest(req: Pick<ProvisionRequest, 'numNodes' | 'resources'>): string {
  const parts: string[] = [];
  const r = req.resources;
  if (r.cpus !== undefined) parts.push(`${amount(r.cpus)} CPUs`);
  if (r.memoryGb !== undefined) parts.push(`${amount(r.memoryGb)} GB memory`);
  if (r.accelerators !== undefined && r.accelerators.length > 0) parts.push(r.accelerators.map((a) => `${formatNumber(a.count)}× ${a.name}`).join(' or '));
  if (r.diskGb !== undefined) parts.push(`${formatNumber(r.diskGb)} GB disk`);
  return `${plural(req.numNodes, 'node')}${parts.length > 0 ? ` × ${parts.join(', ')}` : ''}`;
}

function findings(probe: LedgerProbe): HostFindings {
  const out: HostFindings = { at: probe.at, reachable: probe.reachable, authOk: probe.authOk };
  if (probe.error !== undefined) out.error = probe.error;
  if (probe.found !== undefined) {
    out.cpus = probe.found.cpus;
    out.memoryGb = probe.found.memoryGb;
    out.gpus = probe.found.gpus;
    out.accelerators = countGpus(probe.found.gpus);
  }
  return out;
}

function recordProbe(data: LedgerData, endpoint: string, probe: HostProbe, at: string): void {
  const previous = data.probes[endpoint];
  const rec: LedgerProbe = { at, reachable: probe.reachable, authOk: probe.authOk };
  if (probe.error !== undefined) {
    rec.error = probe.error;
    if (previous?.found !== undefined) rec.found = previous.found;
  } else {
    rec.found = { at, cpus: probe.cpus, memoryGb: probe.memoryGb, gpus: probe.gpus };
  }
  data.probes[endpoint] = rec;
}

function addResources(into: Resources, found: { cpus: number; memoryGb: number; gpus: HostGpu[] }): void {
  into.cpus += found.cpus;
  into.memoryGb = Math.round((into.memoryGb + found.memoryGb) * 10) / 10;
  for (const a of countGpus(found.gpus)) {
    const same = into.accelerators.find((x) => x.name === a.name);
    if (same) same.count += a.count;
    else into.accelerators.push({ ...a });
  }
}

function zero(): Resources {
  return { cpus: 0, memoryGb: 0, accelerators: [] };
}

/** Whether a host counts as free capacity: nobody holds it and its last probe could use it. */
function usable(probe: LedgerProbe | undefined): probe is LedgerProbe & { found: NonNullable<LedgerProbe['found']> } {
  return probe !== undefined && probe.error === undefined && probe.found !== undefined;
}

/**
 * SSH node pools as a driver: each node of a cluster is a whole host of one pool, allocated
 * exclusively (recorded in a ledger in the plugin's data directory) and probed over the daemon's
 * SSH connections for reachability, CPUs, memory and GPUs before it is handed out. Hosts cannot
 * be powered off, so stop is refused; terminate gives the hosts back.
 */
export class SshDriver implements Driver, SshDriverExtensions {
  readonly ledger: Ledger;
  private readonly ssh: PluginSsh;
  private readonly sources: PoolSources;
  private readonly probeTimeoutMs: number;
  private readonly statusTimeoutMs: number;
  private readonly home: string | undefined;

  constructor(options: SshDriverOptions) {
    this.ssh = options.ssh;
    this.sources = options.sources;
    this.probeTimeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.statusTimeoutMs = options.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;
    this.home = options.home;
    this.ledger = new Ledger(options.dataDir, options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }, options.documents);
  }

  /** Every pool, read afresh (pools file, inline pools, ssh config). Throws CONFIG_INVALID naming each problem. */
  loadPools(): Promise<Pool[]> {
    return this.home === undefined ? loadPools(this.sources) : loadPools(this.sources, this.home);
  }

  // ---- the driver contract ---------------------------------------------------------------

  async capacity(opts: DriverCallOptions): Promise<DriverCapacity> {
    throwIfAborted(opts.signal, 'ssh driver: capacity');
    const pools = await this.loadPools();
    if (pools.length === 0) return { total: zero(), free: zero(), detail: `no SSH node pools (${this.sources.poolsFile} does not exist or lists none)` };
    const unique = new Map<string, PoolHost>();
    for (const pool of pools) for (const host of pool.hosts) if (!unique.has(host.endpoint)) unique.set(host.endpoint, host);

    let data = await this.ledger.read();
    const now = Date.now();
    const stale = [...unique.values()].filter((h) => {
      const p = data.probes[h.endpoint];
      return p === undefined || (p.error !== undefined && now - Date.parse(p.at) > PROBE_RETRY_MS);
    });
    if (stale.length > 0) {
      const results = await mapLimit(stale, PROBE_CONCURRENCY, (h) => probeHost(this.ssh, targetOf(h), opts.signal, this.probeTimeoutMs));
      const at = new Date().toISOString();
      data = await this.ledger.update(opts.signal, (d) => {
        stale.forEach((h, i) => recordProbe(d, h.endpoint, results[i] as HostProbe, at));
        return d;
      });
    }
    const held = holders(data);
    const total = zero();
    const free = zero();
    for (const host of unique.values()) {
      const probe = data.probes[host.endpoint];
      if (probe?.found !== undefined) addResources(total, probe.found);
      if (!held.has(host.endpoint) && usable(probe)) addResources(free, probe.found);
    }
    const parts = pools.map((pool) => {
      const freeHosts = pool.hosts.filter((h) => !held.has(h.endpoint) && usable(data.probes[h.endpoint])).length;
      const down = pool.hosts.filter((h) => !held.has(h.endpoint) && data.probes[h.endpoint]?.error !== undefined).length;
      return `${freeHosts} of ${plural(pool.hosts.length, 'host')} free in pool ${pool.name}${down > 0 ? ` (${down} unreachable)` : ''}`;
    });
    return { total, free, detail: parts.join('; ') };
  }

  /**
   * What provision would refuse with every host of the pool free: an unknown pool, spot, or fewer
   * hosts than nodes that can hold a node of the request. Hosts probed before are judged by what
   * that probe found; the others (and all of them when a disk size is asked, which is not kept)
   * are probed now, and the probes recorded.
   */
  async feasible(req: FeasibilityRequest, opts: DriverCallOptions): Promise<string[]> {
    throwIfAborted(opts.signal, 'ssh driver: feasible');
    let pool: Pool;
    try {
      pool = choosePool(await this.loadPools(), req.infra, this.sources);
    } catch (err) {
      if (err instanceof SkyError) return [err.message];
      throw err;
    }
    if (req.resources.useSpot === true) return [`ssh driver: pool ${pool.name} has no spot capacity (use_spot)`];
    const recorded = (await this.ledger.read()).probes;
    const probeNow = pool.hosts.filter((h) => req.resources.diskGb !== undefined || !usable(recorded[h.endpoint]));
    const fresh = new Map<string, HostProbe>();
    if (probeNow.length > 0) {
      const results = await mapLimit(probeNow, PROBE_CONCURRENCY, (h) => probeHost(this.ssh, targetOf(h), opts.signal, this.probeTimeoutMs));
      probeNow.forEach((h, i) => fresh.set(h.endpoint, results[i] as HostProbe));
      const at = new Date().toISOString();
      await this.ledger.update(opts.signal, (d) => {
        for (const [endpoint, probe] of fresh) recordProbe(d, endpoint, probe, at);
      });
    }
    const why: string[] = [];
    let fitting = 0;
    // A host that did not answer in time is not known never to fit: it may answer by the launch
    // (or a --retry-until-up round). A refused connection or refused credentials rule it out.
    let unknown = 0;
    for (const host of pool.hosts) {
      const probe = fresh.get(host.endpoint);
      const found = probe === undefined ? recorded[host.endpoint]?.found : probe.error === undefined ? probe : undefined;
      if (found === undefined) {
        if (probe?.transient === true) unknown += 1;
        why.push(`${host.label}: unreachable (${probe?.error ?? recorded[host.endpoint]?.error ?? 'not probed'})`);
        continue;
      }
      const short = [...hostShortfalls({ ...found, ...(probe?.diskFreeGb !== undefined ? { diskFreeGb: probe.diskFreeGb } : {}) }, req.resources), ...unmetResources(nodeResources(found, req.resources), req.resources)];
      if (short.length === 0) fitting += 1;
      else why.push(`${host.label}: ${short.join('; ')}`);
    }
    if (fitting + unknown >= req.numNodes) return [];
    return [`ssh driver: pool ${pool.name} has ${plural(fitting, 'host')} that can hold a node of ${describeRequest({ numNodes: req.numNodes, resources: req.resources })} (${why.join('; ')})`];
  }

  async provision(req: ProvisionRequest, opts: DriverCallOptions): Promise<ProvisionedCluster> {
    checkRequest(req);
    throwIfAborted(opts.signal, `ssh driver: provisioning ${req.clusterName}`);
    const existing = (await this.ledger.read()).clusters[req.clusterId];
    if (existing !== undefined) {
      opts.log(`cluster ${req.clusterName} (${req.clusterId}) already holds ${existing.nodes.map((n) => n.label).join(', ')} of pool ${existing.pool}`);
      return toCluster(existing);
    }
    const pools = await this.loadPools();
    const pool = choosePool(pools, req.infra, this.sources);
    if (req.resources.useSpot === true) {
      throw new SkyError('NO_CAPACITY', `ssh driver: pool ${pool.name} has no spot capacity (use_spot); free: 0 spot hosts`, {
        hint: 'SSH node pools are the team’s own machines: drop use_spot to run on them.',
      });
    }

    // Probe free hosts in pool order until enough fit, then commit under the lock; a host another
    // process took meanwhile is left out and the search goes on (hosts probed once are not probed again).
    const probes = new Map<string, HostProbe>();
    const fits = (probe: HostProbe | undefined): boolean =>
      probe !== undefined &&
      probe.error === undefined &&
      hostShortfalls(probe, req.resources).length === 0 &&
      unmetResources(nodeResources(probe, req.resources), req.resources).length === 0;
    for (;;) {
      const held = holders(await this.ledger.read());
      const chosen = pool.hosts.filter((h) => !held.has(h.endpoint) && fits(probes.get(h.endpoint))).slice(0, req.numNodes);
      const need = req.numNodes - chosen.length;
      if (need > 0) {
        const unprobed = pool.hosts.filter((h) => !held.has(h.endpoint) && !probes.has(h.endpoint));
        if (chosen.length + unprobed.length < req.numNodes) break; // cannot fit however the probes go
        // A few spare hosts per round, so one unreachable host does not cost a round of its own.
        const batch = unprobed.slice(0, Math.max(need, Math.min(4, unprobed.length)));
        opts.log(`probing ${batch.map((h) => h.label).join(', ')} of pool ${pool.name}`);
        const results = await mapLimit(batch, PROBE_CONCURRENCY, (h) => probeHost(this.ssh, targetOf(h), opts.signal, this.probeTimeoutMs));
        batch.forEach((host, i) => {
          const probe = results[i] as HostProbe;
          probes.set(host.endpoint, probe);
          if (probe.error !== undefined) {
            opts.log(`skipping ${host.label}: ${probe.reachable && probe.authOk ? 'unusable' : 'unreachable'} (${probe.error})`);
            return;
          }
          const short = hostShortfalls(probe, req.resources);
          if (short.length > 0) opts.log(`skipping ${host.label}: too small (${short.join('; ')})`);
        });
        continue;
      }
      const at = new Date().toISOString();
      const outcome = await this.ledger.update(opts.signal, (d): { entry: LedgerCluster } | { lost: string[] } => {
        const already = d.clusters[req.clusterId];
        if (already !== undefined) return { entry: already };
        const heldNow = holders(d);
        for (const [endpoint, probe] of probes) recordProbe(d, endpoint, probe, at);
        const lost = chosen.filter((h) => heldNow.has(h.endpoint)).map((h) => h.label);
        if (lost.length > 0) return { lost };
        throwIfAborted(opts.signal, `ssh driver: provisioning ${req.clusterName}`);
        const nodes: LedgerNode[] = chosen.map((host, rank) => ({
          id: host.id,
          rank,
          pool: pool.name,
          label: host.label,
          endpoint: host.endpoint,
          address: host.host,
          reach: reachOf(host),
          resources: nodeResources(probes.get(host.endpoint) as HostProbe, req.resources),
        }));
        const entry: LedgerCluster = { clusterId: req.clusterId, clusterName: req.clusterName, owner: req.ownerName ?? req.owner, pool: pool.name, createdAt: at, nodes };
        d.clusters[req.clusterId] = entry;
        return { entry };
      });
      if ('lost' in outcome) {
        opts.log(`${outcome.lost.join(', ')} went to another cluster meanwhile; looking further`);
        continue;
      }
      const entry = outcome.entry;
      opts.log(`allocated ${entry.nodes.map((n) => `${n.label} (rank ${n.rank})`).join(', ')} of pool ${pool.name} to ${req.clusterName}`);
      return toCluster(entry);
    }

    const at = new Date().toISOString();
    const data = await this.ledger.update(opts.signal, (d) => {
      for (const [endpoint, probe] of probes) recordProbe(d, endpoint, probe, at);
      return d;
    });
    throw noCapacity(req, pool, data, probes, this.sources);
  }

  async status(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<NodeStatusReport[]> {
    throwIfAborted(opts.signal, 'ssh driver: status');
    const state = readState(cluster.state);
    const entry = (await this.ledger.read()).clusters[state.clusterId];
    const nodes: Pick<NodeHandle, 'id' | 'reach'>[] = cluster.nodes.length > 0 ? cluster.nodes : (entry?.nodes ?? []);
    const passwords = await this.passwords();
    return mapLimit(nodes, PROBE_CONCURRENCY, async (node): Promise<NodeStatusReport> => {
      const held = entry?.nodes.find((n) => n.id === node.id);
      if (entry === undefined || held === undefined) return { nodeId: node.id, status: 'TERMINATED' };
      const reason = await pingHost(this.ssh, withPassword(held.reach, passwords.get(held.endpoint)), opts.signal, this.statusTimeoutMs);
      return reason === undefined ? { nodeId: node.id, status: 'UP' } : { nodeId: node.id, status: 'UNREACHABLE', reason: `${held.label}: ${reason}` };
    });
  }

  async stop(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void> {
    throwIfAborted(opts.signal, 'ssh driver: stop');
    readState(cluster.state);
    throw new SkyError('NOT_SUPPORTED', 'SSH node pool clusters cannot be stopped; use sky down to release the hosts', {
      hint: 'The hosts of an SSH node pool cannot be powered off by sky; sky down ends the jobs and gives the hosts back to the pool.',
    });
  }

  /**
   * There is no stopped SSH cluster to start: a cluster that still holds its hosts is UP and comes
   * back unchanged (as the contract asks of starting an UP cluster); one whose hosts were released
   * is refused with NOT_SUPPORTED.
   */
  async start(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<ProvisionedCluster> {
    throwIfAborted(opts.signal, 'ssh driver: start');
    const state = readState(cluster.state);
    const entry = (await this.ledger.read()).clusters[state.clusterId];
    if (entry !== undefined) return toCluster(entry);
    throw new SkyError('NOT_SUPPORTED', `SSH node pool clusters cannot be stopped or started; cluster ${state.clusterId} no longer holds hosts of pool ${state.pool}: launch it again`, {
      hint: 'Run sky launch again to allocate hosts from the pool.',
    });
  }

  async terminate(cluster: ProvisionedCluster, opts: DriverCallOptions): Promise<void> {
    throwIfAborted(opts.signal, 'ssh driver: terminate');
    const state = readState(cluster.state);
    const released = await this.ledger.update(new AbortController().signal, (data) => {
      const entry = data.clusters[state.clusterId];
      delete data.clusters[state.clusterId];
      return entry;
    });
    if (released !== undefined) {
      opts.log(`released ${released.nodes.map((n) => n.label).join(', ')} back to pool ${released.pool}`);
    }
  }

  async close(): Promise<void> {
    // Nothing held between calls: connections belong to the daemon.
  }

  // ---- driver-ssh extensions -------------------------------------------------------------

  async pools(): Promise<PoolReport[]> {
    const pools = await this.loadPools();
    const data = await this.ledger.read();
    const held = holders(data);
    return pools.map((pool) => ({
      name: pool.name,
      source: pool.source,
      hosts: pool.hosts.map((host) => {
        const report: PoolHostReport = { id: host.id, label: host.label, host: host.host, port: host.port, user: host.user, usesPassword: host.password !== undefined };
        if (host.identityFile !== undefined) report.identityFile = host.identityFile;
        if (host.proxyJump !== undefined) report.proxyJump = host.proxyJump;
        const holder = held.get(host.endpoint);
        if (holder !== undefined) report.heldBy = holderOf(holder.cluster);
        const probe = data.probes[host.endpoint];
        if (probe !== undefined) report.lastProbe = findings(probe);
        return report;
      }),
    }));
  }

  async check(poolName?: string, opts: CheckOptions = {}): Promise<HostCheck[]> {
    const signal = opts.signal ?? new AbortController().signal;
    const all = await this.loadPools();
    const pools = poolName === undefined || poolName === '' ? all : [choosePool(all, poolName, this.sources)];
    const hosts = pools.flatMap((p) => p.hosts);
    const results = await mapLimit(hosts, PROBE_CONCURRENCY, async (host) => {
      const probe = await probeHost(this.ssh, targetOf(host), signal, this.probeTimeoutMs);
      opts.log?.(`${host.pool}/${host.label}: ${probe.error === undefined ? `ok, ${describeResources({ cpus: probe.cpus, memoryGb: probe.memoryGb, accelerators: probe.accelerators })}` : probe.error}`);
      return probe;
    });
    const at = new Date().toISOString();
    const data = await this.ledger.update(signal, (d) => {
      hosts.forEach((h, i) => recordProbe(d, h.endpoint, results[i] as HostProbe, at));
      return d;
    });
    const held = holders(data);
    return hosts.map((host, i) => {
      const probe = results[i] as HostProbe;
      const report: HostCheck = {
        pool: host.pool,
        label: host.label,
        host: host.host,
        port: host.port,
        user: host.user,
        reachable: probe.reachable,
        authOk: probe.authOk,
        cpus: probe.cpus,
        memoryGb: probe.memoryGb,
        gpus: probe.gpus,
        accelerators: probe.accelerators,
      };
      if (probe.error !== undefined) report.error = probe.error;
      if (probe.gpuNote !== undefined) report.gpuNote = probe.gpuNote;
      const holder = held.get(host.endpoint);
      if (holder !== undefined) report.heldBy = holderOf(holder.cluster);
      return report;
    });
  }

  async sshTarget(node: NodeHandle): Promise<SshTarget> {
    if (node.reach.kind !== 'ssh') throw new SkyError('DRIVER_FAILED', `ssh driver: node ${node.id} is not an SSH node (reach ${node.reach.kind})`);
    const reach = node.reach;
    const passwords = await this.passwords();
    const endpoint = `${reach.host}:${reach.port}${reach.proxyJump === undefined ? '' : ` via ${reach.proxyJump}`}`;
    return withPassword(reach, passwords.get(endpoint));
  }

  // ---- internals -------------------------------------------------------------------------

  /** Passwords by endpoint from the current pools; none when the pools cannot be read (status must still answer). */
  private async passwords(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let pools: Pool[];
    try {
      pools = await this.loadPools();
    } catch {
      return out;
    }
    for (const pool of pools) for (const host of pool.hosts) if (host.password !== undefined) out.set(host.endpoint, host.password);
    return out;
  }
}

function withPassword(reach: SshReach, password: string | undefined): SshTarget {
  const target: SshTarget = { host: reach.host, port: reach.port, user: reach.user };
  if (reach.identityFile !== undefined) target.identityFile = reach.identityFile;
  if (reach.proxyJump !== undefined) target.proxyJump = reach.proxyJump;
  if (password !== undefined) target.password = password;
  return target;
}

function holderOf(cluster: LedgerCluster): HostHolder {
  return { owner: cluster.owner, clusterName: cluster.clusterName, clusterId: cluster.clusterId };
}

function checkRequest(req: ProvisionRequest): void {
  if (typeof req.clusterId !== 'string' || req.clusterId === '') throw new SkyError('VALIDATION_FAILED', 'ssh driver: the cluster id is empty');
  if (!Number.isInteger(req.numNodes) || req.numNodes < 1) throw new SkyError('VALIDATION_FAILED', `ssh driver: numNodes must be a positive integer, got ${req.numNodes}`);
}

/** The pool a request (or check) names; with none named, the only pool. */
function choosePool(pools: readonly Pool[], infra: string | undefined, sources: PoolSources): Pool {
  const names = pools.map((p) => p.name);
  if (infra !== undefined && infra !== '') {
    const pool = pools.find((p) => p.name === infra);
    if (pool !== undefined) return pool;
    throw new SkyError(
      'VALIDATION_FAILED',
      names.length === 0
        ? `ssh driver: no SSH node pool named ${JSON.stringify(infra)}: no pools are defined`
        : `ssh driver: no SSH node pool named ${JSON.stringify(infra)}; the pools are ${names.join(', ')}`,
      { hint: names.length === 0 ? `Define pools in ${sources.poolsFile}.` : `Use --infra ssh/${names[0]} (or another pool listed).` },
    );
  }
  if (pools.length === 1 && pools[0] !== undefined) return pools[0];
  if (pools.length === 0) {
    throw new SkyError('NO_CAPACITY', `ssh driver: no SSH node pools are defined (${sources.poolsFile} does not exist or lists none); free: 0 hosts`, {
      hint: `Create ${sources.poolsFile} with your hosts, e.g. "my-pool: {user: ubuntu, identity_file: ~/.ssh/id_ed25519, hosts: [10.0.0.1]}".`,
    });
  }
  throw new SkyError('VALIDATION_FAILED', `ssh driver: ${pools.length} SSH node pools exist (${names.join(', ')}); name one with --infra ssh/<pool>`, {
    hint: `For example --infra ssh/${names[0]}.`,
  });
}

function noCapacity(req: ProvisionRequest, pool: Pool, data: LedgerData, probes: Map<string, HostProbe>, sources: PoolSources): SkyError {
  const held = holders(data);
  const hosts = pool.hosts.map((host) => {
    const holder = held.get(host.endpoint);
    if (holder !== undefined) {
      return { host: host.label, state: 'held', text: `${host.label} held by ${holder.cluster.owner} (cluster ${holder.cluster.clusterName})` };
    }
    // This round's probe, else the last one on record (a host not probed now because the pool cannot fit anyway).
    const probe = probes.get(host.endpoint) ?? fromLedger(data.probes[host.endpoint]);
    if (probe?.error !== undefined) {
      const word = probe.reachable && probe.authOk ? 'unusable' : 'unreachable';
      return { host: host.label, state: word, text: `${host.label} ${word} (${probe.error})` };
    }
    if (probe !== undefined) {
      const short = hostShortfalls(probe, req.resources);
      if (short.length > 0) return { host: host.label, state: 'too small', text: `${host.label} too small (${short.join('; ')})` };
    }
    return { host: host.label, state: 'free', text: `${host.label} free` };
  });
  const free = zero();
  let freeHosts = 0;
  for (const host of pool.hosts) {
    const probe = data.probes[host.endpoint];
    if (!held.has(host.endpoint) && usable(probe)) {
      freeHosts += 1;
      addResources(free, probe.found);
    }
  }
  const message =
    `ssh driver: cannot provision ${req.clusterName}: pool ${pool.name} has ${plural(pool.hosts.length, 'host')}: ` +
    `${hosts.map((h) => h.text).join(', ')}; requested ${describeRequest(req)}; ` +
    `free: ${freeHosts} of ${plural(pool.hosts.length, 'host')} (${describeResources(free)})`;
  return new SkyError('NO_CAPACITY', message, {
    hint: `Wait for a holder to run sky down, ask for fewer or smaller nodes, or add hosts to pool ${pool.name} in ${pool.source === sources.poolsFile ? sources.poolsFile : pool.source}.`,
    details: { pool: pool.name, requested: { numNodes: req.numNodes }, hosts: hosts.map(({ host, state }) => ({ host, state })), free: { hosts: freeHosts, ...free } },
  });
}

function fromLedger(rec: LedgerProbe | undefined): HostProbe | undefined {
  if (rec === undefined) return undefined;
  const found = rec.error === undefined ? rec.found : undefined;
  const probe: HostProbe = {
    reachable: rec.reachable,
    authOk: rec.authOk,
    cpus: found?.cpus ?? 0,
    memoryGb: found?.memoryGb ?? 0,
    gpus: found?.gpus ?? [],
    accelerators: countGpus(found?.gpus ?? []),
  };
  if (rec.error !== undefined) probe.error = rec.error;
  return probe;
}

function toCluster(entry: LedgerCluster): ProvisionedCluster {
  const nodes: NodeHandle[] = [...entry.nodes]
    .sort((a, b) => a.rank - b.rank)
    .map((n) => ({
      id: n.id,
      rank: n.rank,
      address: n.address,
      reach: { ...n.reach },
      resources: { cpus: n.resources.cpus, memoryGb: n.resources.memoryGb, accelerators: n.resources.accelerators.map((a) => ({ ...a })) },
    }));
  const state: SshClusterState = { driver: 'ssh', version: 1, clusterId: entry.clusterId, pool: entry.pool };
  return { nodes, state: { ...state } satisfies JsonValue };
}

/** Check the opaque state the daemon hands back. */
export function readState(state: JsonValue): SshClusterState {
  const s = state as Partial<SshClusterState> | null;
  if (s === null || typeof s !== 'object' || Array.isArray(s) || s.driver !== 'ssh' || s.version !== 1 || typeof s.clusterId !== 'string' || typeof s.pool !== 'string') {
    throw new SkyError('DRIVER_FAILED', `ssh driver: the cluster state ${JSON.stringify(state)} was not written by sky-driver-ssh`, {
      hint: 'The cluster record names the wrong driver; check the cluster in the state store.',
    });
  }
  return { driver: 'ssh', version: 1, clusterId: s.clusterId, pool: s.pool };
}
