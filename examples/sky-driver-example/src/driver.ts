import { connect } from 'node:net';
import {
  describeResources,
  SkyError,
  throwIfAborted,
  type Driver,
  type DriverCallOptions,
  type NodeHandle,
  type NodeStatusReport,
  type PluginLogger,
  type ProvisionedCluster,
  type ProvisionRequest,
  type Resources,
} from '@sky/plugin-api';
import type { ExampleConfig, HostConfig } from './config.js';
import { HoldsFile } from './holds.js';

const hostId = (h: HostConfig): string => `${h.host}:${h.port}`;

/** What a node gets of its host: the amounts asked for exactly, or the whole host for "N+" or no request. */
function nodeResources(h: HostConfig, req: ProvisionRequest): Resources | undefined {
  const { cpus, memoryGb, accelerators } = req.resources;
  if ((accelerators ?? []).length > 0) return undefined;
  if (cpus !== undefined && h.cpus < cpus.min) return undefined;
  if (memoryGb !== undefined && h.memoryGb < memoryGb.min) return undefined;
  return {
    cpus: cpus !== undefined && !cpus.orMore ? cpus.min : h.cpus,
    memoryGb: memoryGb !== undefined && !memoryGb.orMore ? memoryGb.min : h.memoryGb,
    accelerators: [],
  };
}

/**
 * A node reached over SSH, with the host key the config pins: the daemon then accepts exactly
 * this key from the host (known_hosts is not consulted), which is how a driver that knows its
 * hosts' keys (it made them, or an inventory lists them) keeps the connection safe.
 */
function handle(h: HostConfig, rank: number, config: ExampleConfig, resources: Resources): NodeHandle {
  return {
    id: hostId(h),
    rank,
    address: h.host,
    reach: { kind: 'ssh', host: h.host, port: h.port, user: config.user, identityFile: config.identityFile, hostKeys: [h.hostKey] },
    resources,
  };
}

/** Whether something accepts TCP connections at host:port within `ms`. */
function listening(host: string, port: number, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), ms);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function stateOf(cluster: ProvisionedCluster): { clusterId: string } {
  const state = cluster.state;
  if (typeof state === 'object' && state !== null && !Array.isArray(state) && typeof state['clusterId'] === 'string') return { clusterId: state['clusterId'] };
  throw new SkyError('DRIVER_FAILED', 'this cluster was not made by sky-driver-example (its state has no clusterId)');
}

/** The driver: a fixed list of SSH hosts, one cluster node per host, lent out whole and given back at terminate. */
export function createDriver(config: ExampleConfig, dataDir: string, logger: PluginLogger): Driver {
  const holds = new HoldsFile(dataDir);
  const byId = new Map(config.hosts.map((h) => [hostId(h), h]));
  const total: Resources = {
    cpus: config.hosts.reduce((n, h) => n + h.cpus, 0),
    memoryGb: config.hosts.reduce((n, h) => n + h.memoryGb, 0),
    accelerators: [],
  };

  const heldBy = async (clusterId: string): Promise<HostConfig[]> => {
    const current = await holds.read();
    return Object.entries(current)
      .filter(([, owner]) => owner === clusterId)
      .map(([id]) => byId.get(id))
      .filter((h): h is HostConfig => h !== undefined);
  };

  return {
    async capacity(_opts: DriverCallOptions) {
      const current = await holds.read();
      const free = config.hosts.filter((h) => current[hostId(h)] === undefined);
      return {
        total,
        free: { cpus: free.reduce((n, h) => n + h.cpus, 0), memoryGb: free.reduce((n, h) => n + h.memoryGb, 0), accelerators: [] },
        detail: `${free.length} of ${config.hosts.length} hosts free`,
      };
    },

    async provision(req: ProvisionRequest, opts: DriverCallOptions) {
      throwIfAborted(opts.signal, `provisioning ${req.clusterName}`);
      const nodes = await holds.update((current) => {
        // Idempotent: a cluster that already holds hosts gets them back.
        const mine = config.hosts.filter((h) => current[hostId(h)] === req.clusterId);
        const pick = mine.length > 0 ? mine : config.hosts.filter((h) => current[hostId(h)] === undefined && nodeResources(h, req) !== undefined).slice(0, req.numNodes);
        if (pick.length < req.numNodes) {
          const free = config.hosts.filter((h) => current[hostId(h)] === undefined);
          throw new SkyError(
            'NO_CAPACITY',
            `requested ${req.numNodes} node(s) of ${describeRequest(req)}; ${free.length} of ${config.hosts.length} hosts are free and ${pick.length} of them fit`,
          );
        }
        const next = { ...current };
        for (const h of pick) next[hostId(h)] = req.clusterId;
        return { holds: next, result: pick.map((h, rank) => handle(h, rank, config, nodeResources(h, req) ?? { cpus: h.cpus, memoryGb: h.memoryGb, accelerators: [] })) };
      });
      opts.log(`reserved ${nodes.map((n) => n.id).join(', ')}`);
      logger.info({ cluster: req.clusterName, hosts: nodes.map((n) => n.id) }, 'provisioned');
      return { nodes, state: { clusterId: req.clusterId } };
    },

    async status(cluster: ProvisionedCluster, opts: DriverCallOptions) {
      const { clusterId } = stateOf(cluster);
      const held = new Set((await heldBy(clusterId)).map(hostId));
      const reports: NodeStatusReport[] = [];
      for (const node of cluster.nodes) {
        if (!held.has(node.id)) {
          reports.push({ nodeId: node.id, status: 'TERMINATED' });
          continue;
        }
        const h = byId.get(node.id);
        const up = h !== undefined && (await listening(h.host, h.port, 3000, opts.signal));
        reports.push(up ? { nodeId: node.id, status: 'UP' } : { nodeId: node.id, status: 'UNREACHABLE', reason: `nothing answers at ${node.id}` });
      }
      return reports;
    },

    async stop(_cluster: ProvisionedCluster, _opts: DriverCallOptions) {
      throw new SkyError('NOT_SUPPORTED', 'sky-driver-example hosts are whole machines: they cannot be stopped, only given back (sky down)');
    },

    async start(cluster: ProvisionedCluster, _opts: DriverCallOptions) {
      const { clusterId } = stateOf(cluster);
      const held = await heldBy(clusterId);
      if (held.length < cluster.nodes.length) throw new SkyError('NO_CAPACITY', 'the hosts of this cluster were given back; launch it again');
      return cluster;
    },

    async terminate(cluster: ProvisionedCluster, opts: DriverCallOptions) {
      const { clusterId } = stateOf(cluster);
      const released = await holds.update((current) => {
        const next = { ...current };
        const freed: string[] = [];
        for (const [id, owner] of Object.entries(current)) {
          if (owner === clusterId) {
            delete next[id];
            freed.push(id);
          }
        }
        return { holds: next, result: freed };
      });
      if (released.length > 0) opts.log(`gave back ${released.join(', ')}`);
    },

    async close() {
      // Nothing to release: every call opens and closes what it uses.
    },
  };
}

function describeRequest(req: ProvisionRequest): string {
  const r = req.resources;
  return describeResources({ cpus: r.cpus?.min ?? 1, memoryGb: r.memoryGb?.min ?? 0, accelerators: r.accelerators ?? [] });
}
