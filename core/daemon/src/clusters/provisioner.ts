import { randomBytes } from 'node:crypto';
import { driverUnavailable, unavailableDriver, unavailableDrivers, whatWentWrong } from './plugin-failures.js';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { feasibilityExtension, type Driver, type NodeHandle, type ProvisionedCluster, type StateStore } from '@sky/plugin-api';
import { decideFields, formatInfra, formatPort, resourceCandidates, SkyError, type ClusterRecord, type NodeRecord, type ResourceFields, type Task } from '@sky/protocol';
import { TOKENS, type Clock, type PluginRegistry } from '../tokens.js';
import { NodeRuntime } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { callDriver } from './driver-calls.js';
import { ClusterUpdates } from './cluster-updates.js';
import { describeNodes, toResourceRequest } from './resources.js';
import { describeSource, TaskFilesResolver, type FileSource, type TaskFiles } from '../uploads/task-files.js';
import { fileDestination, nodeDestination } from '../uploads/node-destination.js';

export interface Candidate {
  driverId: string;
  driver: Driver;
  fields: ResourceFields;
  /** What follows the driver id in infra (`ssh/pool` → `pool`). */
  infraRest?: string;
  infra: string;
  /** Fields of this candidate ignored on its driver (decideFields), for the plan. */
  warnings: string[];
}

/** The candidates a driver could ever provision, and why the others were left out. */
export interface Feasible {
  candidates: Candidate[];
  refused: string[];
}

export interface Progress {
  signal: AbortSignal;
  log: (line: string) => void;
}

export interface Owner {
  id: string;
  name: string;
  workspace: string;
}

/** A driver's node as the daemon records it; a tunnel id and an identity document get the id of the driver they belong to. */
function toNodeRecord(node: NodeHandle, driverId: string): NodeRecord {
  return {
    id: node.id,
    rank: node.rank,
    address: node.address,
    reach:
      node.reach.kind === 'local'
        ? {
            kind: 'local',
            root: node.reach.root,
            ...(node.reach.gpuIndices ? { gpuIndices: node.reach.gpuIndices } : {}),
            ...(node.reach.account !== undefined ? { account: node.reach.account } : {}),
          }
        : (({ tunnel, identityDocument, ...rest }) => ({
            ...rest,
            ...(tunnel !== undefined ? { tunnel: { driver: driverId, id: tunnel } } : {}),
            ...(identityDocument !== undefined ? { identityDocument: { driver: driverId, name: identityDocument } } : {}),
          }))(node.reach),
    resources: { cpus: node.resources.cpus, memoryGb: node.resources.memoryGb, accelerators: node.resources.accelerators.map((a) => ({ ...a })) },
  };
}

export function provisioned(cluster: ClusterRecord): ProvisionedCluster {
  const nodes: NodeHandle[] = cluster.nodes.map((n) => {
    if (n.reach.kind === 'local') return { ...n, reach: { ...n.reach } };
    const { tunnel, identityDocument, ...rest } = n.reach;
    return { ...n, reach: { ...rest, ...(tunnel !== undefined ? { tunnel: tunnel.id } : {}), ...(identityDocument !== undefined ? { identityDocument: identityDocument.name } : {}) } };
  });
  return { nodes, state: (cluster.driverState ?? null) as ProvisionedCluster['state'] };
}

/** Chooses drivers for a task, provisions with fail-over, prepares nodes (runtime, workdir, file mounts), and tears down. */
@injectable()
export class Provisioner {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Plugins) private readonly plugins: PluginRegistry,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
    @inject(TaskFilesResolver) private readonly taskFiles: TaskFilesResolver,
    @inject(ClusterUpdates) private readonly updates: ClusterUpdates,
    @inject(TOKENS.ReplicaId) private readonly replica: string,
  ) {}

  private enabledDrivers(): string[] {
    return [...this.plugins.drivers().keys()];
  }

  driver(id: string): Driver {
    const driver = this.plugins.drivers().get(id);
    if (!driver) {
      const unavailable = unavailableDriver(this.plugins, id);
      if (unavailable !== undefined) throw driverUnavailable(unavailable);
      throw new SkyError('NO_DRIVER', `driver ${id} is not enabled on this API server`, {
        hint: `Enabled infra: ${this.enabledDrivers().join(', ') || 'none'}. Enable it under drivers: in the daemon config.`,
      });
    }
    return driver;
  }

  /** Drivers × resource candidates to try, in order: the task's infra picks the driver, else every enabled one. */
  candidates(task: Task): Candidate[] {
    const drivers = [...this.plugins.drivers()];
    const { candidates } = resourceCandidates(task.resources);
    const out: Candidate[] = [];
    const refused: string[] = [];
    for (const fields of candidates) {
      const cloud = fields.infra?.cloud;
      for (const [driverId, driver] of drivers) {
        if (cloud !== undefined && cloud !== driverId) continue;
        // The same decision for a dry run and a launch: a candidate this driver cannot satisfy is never planned.
        const decision = decideFields(fields, driverId);
        if (decision.refusals.length > 0) {
          refused.push(...decision.refusals);
          continue;
        }
        const rest = fields.infra?.region;
        out.push({ driverId, driver, fields, infra: rest ? `${driverId}/${rest}` : driverId, warnings: decision.warnings, ...(rest ? { infraRest: rest } : {}) });
      }
    }
    if (out.length === 0 && refused.length > 0) {
      throw new SkyError('RESOURCES_UNAVAILABLE', [...new Set(refused)].join('\n'), {
        hint: 'Change or remove the resource fields named above; sky drivers run on machines that already exist.',
      });
    }
    if (out.length === 0) {
      for (const fields of candidates) {
        const unavailable = fields.infra?.cloud === undefined ? undefined : unavailableDriver(this.plugins, fields.infra.cloud);
        if (unavailable !== undefined) throw driverUnavailable(unavailable);
      }
      const wanted = candidates.map((c) => (c.infra ? formatInfra(c.infra) : undefined)).filter((x) => x !== undefined);
      const down = unavailableDrivers(this.plugins).map((d) => `${d.id} (${whatWentWrong(d)})`);
      throw new SkyError('NO_DRIVER', `no enabled driver can run this task${wanted.length ? ` (infra: ${wanted.join(', ')})` : ''}`, {
        hint:
          `Enabled infra: ${this.enabledDrivers().join(', ') || 'none'}.${down.length > 0 ? ` Configured but not serving: ${down.join(', ')}; sky check says why.` : ''} An admin enables drivers under drivers: in the daemon config: ` +
          'drivers: {local: {}} on a personal server; on a team server e.g. drivers: {ssh: {}}, or the local driver with an accounts: block ' +
          'and sky-node-helper so jobs run as each user\'s own OS account (sky.config.example.yaml).',
      });
    }
    return out;
  }

  /**
   * The candidates whose driver could ever provision them, asked of each driver that answers
   * feasibility (an accelerator, disk or node count no node of it has is refused here). The dry
   * run and the launch both plan through this, so a dry run refuses what the launch would.
   * None left: RESOURCES_UNAVAILABLE with every driver's reasons. The reasons of the candidates
   * left out go into provision's NO_CAPACITY, should every kept one be busy.
   */
  async feasible(task: Task, candidates: readonly Candidate[], progress: Progress): Promise<Feasible> {
    const kept: Candidate[] = [];
    const refused: string[] = [];
    for (const candidate of candidates) {
      const ext = feasibilityExtension(candidate.driver);
      if (ext === undefined) {
        kept.push(candidate);
        continue;
      }
      const req = { numNodes: task.num_nodes, resources: toResourceRequest(candidate.fields), ...(candidate.infraRest !== undefined ? { infra: candidate.infraRest } : {}) };
      const reasons = await callDriver(candidate.driverId, candidate.driver, 'feasible', progress, (_d, o) => ext.feasible(req, o));
      if (reasons.length === 0) kept.push(candidate);
      else refused.push(...reasons.map((r) => `${candidate.infra}: ${r}`));
    }
    if (kept.length > 0) return { candidates: kept, refused: [...new Set(refused)] };
    throw new SkyError('RESOURCES_UNAVAILABLE', `no enabled infra could ever run ${task.num_nodes} node(s) of this task:\n  ${[...new Set(refused)].join('\n  ')}`, {
      hint: 'Ask for resources a node of the infra has (sky show-gpus, sky check), fewer nodes, or another --infra.',
      details: { reasons: [...new Set(refused)] },
    });
  }

  /**
   * Record the cluster (INIT) first, so a crash leaves it visible; then try each candidate
   * until one has capacity. On any failure nothing is left behind: nodes terminated, record deleted.
   */
  async provision(name: string, owner: Owner, task: Task, candidates: Candidate[], progress: Progress, files: TaskFiles, infeasible: readonly string[] = []): Promise<ClusterRecord> {
    const clusterId = `${name.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
    const now = this.clock.now();
    const first = candidates[0]!;
    const { record: initial, created } = await this.store.clusters.create({
      name,
      clusterId,
      owner: owner.id,
      ownerName: owner.name,
      workspace: owner.workspace,
      driver: first.driverId,
      infra: first.infra,
      status: 'INIT',
      statusReason: 'provisioning',
      numNodes: task.num_nodes,
      nodes: [],
      resources: '-',
      driverState: null,
      launchedAt: now,
      updatedAt: now,
      lastActiveAt: now,
      ...(task.run ? { lastCommand: task.run.split('\n')[0]!.slice(0, 200) } : {}),
      ...(task.resources.ports !== undefined ? { ports: task.resources.ports.map((p) => String(formatPort(p))) } : {}),
      // The replica that launches a cluster owns it (see ClusterOwners).
      replica: this.replica,
    });
    if (!created) throw new SkyError('CLUSTER_NAME_TAKEN', `cluster ${name} already exists (owned by ${initial.ownerName})`);
    const refusals: string[] = [];
    for (const candidate of candidates) {
      progress.log(`Provisioning ${task.num_nodes} node${task.num_nodes > 1 ? 's' : ''} on ${candidate.infra}...`);
      let result: ProvisionedCluster;
      try {
        result = await callDriver(candidate.driverId, candidate.driver, 'provision', progress, (d, o) =>
          d.provision(
            {
              clusterName: name,
              clusterId,
              owner: owner.id,
              ownerName: owner.name,
              workspace: owner.workspace,
              numNodes: task.num_nodes,
              resources: toResourceRequest(candidate.fields),
              ...(candidate.infraRest !== undefined ? { infra: candidate.infraRest } : {}),
            },
            o,
          ),
        );
      } catch (err) {
        if (err instanceof SkyError && err.code === 'NO_CAPACITY') {
          refusals.push(err.message);
          progress.log(`  ${err.message}`);
          continue;
        }
        await this.store.clusters.delete(name);
        throw err;
      }
      const nodes = result.nodes.map((n) => toNodeRecord(n, candidate.driverId));
      try {
        await this.prepare(nodes, files, progress);
      } catch (err) {
        progress.log('Preparing the nodes failed; tearing them down.');
        await callDriver(candidate.driverId, candidate.driver, 'terminate', { signal: new AbortController().signal, log: progress.log }, (d, o) => d.terminate(result, o)).catch(
          (e: unknown) => this.logger.error({ err: e, cluster: name }, 'terminate after a failed launch failed'),
        );
        await this.store.clusters.delete(name);
        throw err;
      }
      const now = this.clock.now();
      // Only this incarnation, still INIT: nothing else changes a cluster while it is provisioned (the cluster gate).
      const up = await this.updates.update(name, (c) =>
        c.clusterId !== clusterId || c.status !== 'INIT'
          ? undefined
          : { status: 'UP', statusReason: undefined, driver: candidate.driverId, infra: candidate.infra, nodes, driverState: result.state, resources: describeNodes(candidate.infra, nodes), lastActiveAt: now },
      );
      if (up?.clusterId !== clusterId || up.status !== 'UP') {
        await callDriver(candidate.driverId, candidate.driver, 'terminate', { signal: new AbortController().signal, log: progress.log }, (d, o) => d.terminate(result, o)).catch(
          (e: unknown) => this.logger.error({ err: e, cluster: name }, 'terminate of nodes whose cluster record is gone failed'),
        );
        throw new SkyError('CLUSTER_NOT_FOUND', `cluster ${name} was removed while it was being provisioned; its nodes were released`, { hint: 'Launch it again.' });
      }
      progress.log(`Cluster ${name} is UP: ${up.resources}.`);
      return up;
    }
    await this.store.clusters.delete(name);
    throw new SkyError('NO_CAPACITY', `no enabled infra can fit ${task.num_nodes} node(s) for this task:\n  ${[...refusals, ...infeasible].join('\n  ')}`, {
      hint: 'Ask for fewer or smaller nodes, free capacity (sky down), or enable more infra.',
    });
  }

  /** Install the runtime on every node, then sync the workdir and the file mounts (through NodeTransport.syncFiles only). */
  async prepare(nodes: readonly NodeRecord[], files: TaskFiles, progress: Progress): Promise<void> {
    await Promise.all(nodes.map((n) => this.runtime.install(this.transports.for(n), n.address)));
    if (files.workdir !== undefined) {
      const written = await this.place(nodes, files.workdir, '~/sky_workdir', 'workdir');
      progress.log(`Synced workdir ${describeSource(files.workdir)} to ~/sky_workdir (${written} changed file(s) per node).`);
    }
    for (const { dest, source } of files.mounts) {
      const written = await this.place(nodes, source, dest, `file_mounts[${JSON.stringify(dest)}]`);
      progress.log(`Copied ${describeSource(source)} to ${dest} (${written} changed file(s) per node).`);
    }
  }

  /** Sync one source to `dest` on every node; resolves with the files written on the first. */
  private async place(nodes: readonly NodeRecord[], source: FileSource, dest: string, field: string): Promise<number> {
    const tree = await this.taskFiles.tree(source);
    const written = await Promise.all(
      nodes.map((n) => {
        const transport = this.transports.for(n);
        if (tree.kind === 'dir') return transport.syncFiles(nodeDestination(n.reach, dest), tree.files, tree.dirs);
        const { dir, name } = fileDestination(dest, field);
        return transport.syncFiles(nodeDestination(n.reach, dir), tree.files.map((f) => ({ ...f, path: name })));
      }),
    );
    return written[0] ?? 0;
  }

  async terminate(cluster: ClusterRecord, progress: Progress): Promise<void> {
    if (cluster.nodes.length === 0 && cluster.driverState === null) return; // never got nodes
    await callDriver(cluster.driver, this.driver(cluster.driver), 'terminate', progress, (d, o) => d.terminate(provisioned(cluster), o));
  }
}
