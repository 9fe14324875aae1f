import { resourceCandidates, type NodeRecord, type NodeResources, type ResourceFields, type Task } from '@sky/protocol';
import type { ResourceRequest } from '@sky/plugin-api';

/** A job that names no CPUs takes half of one, as in SkyPilot, so several fit on a node. */
export const DEFAULT_JOB_CPUS = 0.5;

/** The driver-facing request for one resource candidate of a task. */
export function toResourceRequest(fields: ResourceFields): ResourceRequest {
  const req: ResourceRequest = {};
  if (fields.cpus) req.cpus = { ...fields.cpus };
  if (fields.memory) req.memoryGb = { ...fields.memory };
  if (fields.accelerators && fields.accelerators.length > 0) req.accelerators = fields.accelerators.map((a) => ({ ...a }));
  if (fields.disk_size !== undefined) req.diskGb = fields.disk_size;
  if (fields.ports && fields.ports.length > 0) {
    req.ports = fields.ports.flatMap((r) => (r.to - r.from <= 1024 ? Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i) : [r.from]));
  }
  if (fields.use_spot !== undefined) req.useSpot = fields.use_spot;
  if (fields.labels) req.labels = { ...fields.labels };
  if (typeof fields.image_id === 'string' && fields.image_id.startsWith('docker:')) req.image = fields.image_id.slice('docker:'.length);
  return req;
}

/** What one node of a job uses while it runs, for FIFO-with-fit scheduling on the cluster. */
export function jobDemand(fields: ResourceFields): NodeResources {
  const first = fields.accelerators?.[0];
  return {
    cpus: fields.cpus?.min ?? DEFAULT_JOB_CPUS,
    memoryGb: fields.memory?.min ?? 0,
    accelerators: first ? [{ ...first }] : [],
  };
}

/** Whether what is left on a node covers a demand (accelerators by name, case-insensitive). */
export function fits(free: NodeResources, demand: NodeResources): boolean {
  if (free.cpus + 1e-9 < demand.cpus || free.memoryGb + 1e-9 < demand.memoryGb) return false;
  return demand.accelerators.every((want) =>
    free.accelerators.some((have) => have.name.toLowerCase() === want.name.toLowerCase() && have.count + 1e-9 >= want.count),
  );
}

export function subtract(free: NodeResources, used: NodeResources): NodeResources {
  return {
    cpus: free.cpus - used.cpus,
    memoryGb: free.memoryGb - used.memoryGb,
    accelerators: free.accelerators.map((a) => {
      const taken = used.accelerators.find((u) => u.name.toLowerCase() === a.name.toLowerCase());
      return { name: a.name, count: a.count - (taken?.count ?? 0) };
    }),
  };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** SkyPilot-style resources column: `2x local(cpus=4, mem=8GB, H100:1)`. */
export function describeNodes(infra: string, nodes: readonly NodeRecord[]): string {
  const first = nodes[0];
  if (!first) return '-';
  const { cpus, memoryGb, accelerators } = first.resources;
  const parts = [`cpus=${fmt(cpus)}`, `mem=${fmt(memoryGb)}GB`, ...accelerators.map((a) => `${a.name}:${fmt(a.count)}`)];
  return `${nodes.length}x ${infra}(${parts.join(', ')})`;
}

/** Which task fields a job on an existing cluster asks for, checked against the cluster's nodes. */
export function unmetByCluster(nodes: readonly NodeRecord[], numNodes: number, demand: NodeResources): string | undefined {
  if (numNodes > nodes.length) return `the task wants ${numNodes} nodes; the cluster has ${nodes.length}`;
  const node = nodes[0];
  if (node && !fits(node.resources, demand)) {
    const accel = demand.accelerators.map((a) => `${a.name}:${fmt(a.count)}`).join(', ');
    return `the task wants cpus=${fmt(demand.cpus)}, mem=${fmt(demand.memoryGb)}GB${accel ? `, ${accel}` : ''} per node; each node has cpus=${fmt(node.resources.cpus)}, mem=${fmt(node.resources.memoryGb)}GB`;
  }
  return undefined;
}

/** The task's first resource candidate (the one jobs on an existing cluster are checked with). */
export function primaryFields(task: Task): ResourceFields {
  const { any_of, ordered, ...defaults } = task.resources;
  return { ...defaults, ...(ordered?.[0] ?? any_of?.[0] ?? {}) };
}

/**
 * The candidate a job runs with on existing nodes: the first any_of / ordered candidate whose
 * demand a whole node covers (so an any_of task that was placed by its second candidate asks
 * for what that candidate asks, not the first's), else the first candidate.
 */
export function fieldsForNodes(task: Task, nodes: readonly NodeRecord[]): ResourceFields {
  const node = nodes[0];
  if (node === undefined) return primaryFields(task);
  const { candidates } = resourceCandidates(task.resources);
  return candidates.find((c) => fits(node.resources, jobDemand(c))) ?? primaryFields(task);
}
