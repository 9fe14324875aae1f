import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { FeasibilityRequest, Resources, TargetNode } from '@sky/plugin-api';
import { sameAccelerator } from '@sky/plugin-api';
import { GIB, parseQuantity } from './quantity.js';
import { DEFAULT_CPUS, DEFAULT_MEMORY_GB, GPU_RESOURCE } from './spec.js';

/** A Kubernetes node: what it can hold, what is requested on it, and its GPU type. */
export interface NodeView {
  name: string;
  ready: boolean;
  allocatable: { cpus: number; memoryGb: number; gpus: number };
  requested: { cpus: number; memoryGb: number; gpus: number };
  /** The GPU type from the first of the GPU label keys the node carries. */
  gpuType: string | undefined;
  /** That label key. */
  gpuLabelKey: string | undefined;
}

function isReady(node: V1Node): boolean {
  if (node.spec?.unschedulable === true) return false;
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  // A node without a Ready condition (no kubelet reports one) counts as ready when it is schedulable.
  if (ready !== undefined && ready.status !== 'True') return false;
  return !(node.spec?.taints ?? []).some((t) => t.effect === 'NoSchedule' && t.key.startsWith('node.kubernetes.io/'));
}

function podRequests(pod: V1Pod): { cpus: number; memoryGb: number; gpus: number } {
  const sum = { cpus: 0, memoryGb: 0, gpus: 0 };
  for (const c of pod.spec?.containers ?? []) {
    const r = c.resources?.requests ?? c.resources?.limits ?? {};
    sum.cpus += parseQuantity(r['cpu']) || 0;
    sum.memoryGb += (parseQuantity(r['memory']) || 0) / GIB;
    sum.gpus += parseQuantity(r[GPU_RESOURCE] ?? c.resources?.limits?.[GPU_RESOURCE]) || 0;
  }
  return sum;
}

/** Nodes with what non-terminated pods request on them. */
export function nodeViews(nodes: readonly V1Node[], pods: readonly V1Pod[], gpuLabelKeys: readonly string[]): NodeView[] {
  const requested = new Map<string, { cpus: number; memoryGb: number; gpus: number }>();
  for (const pod of pods) {
    const phase = pod.status?.phase;
    const node = pod.spec?.nodeName;
    if (node === undefined || node === '' || phase === 'Succeeded' || phase === 'Failed') continue;
    const r = podRequests(pod);
    const sum = requested.get(node) ?? { cpus: 0, memoryGb: 0, gpus: 0 };
    sum.cpus += r.cpus;
    sum.memoryGb += r.memoryGb;
    sum.gpus += r.gpus;
    requested.set(node, sum);
  }
  return nodes.map((node) => {
    const name = node.metadata?.name ?? '?';
    const a = node.status?.allocatable ?? node.status?.capacity ?? {};
    const labels = node.metadata?.labels ?? {};
    const gpuLabelKey = gpuLabelKeys.find((k) => labels[k] !== undefined);
    return {
      name,
      ready: isReady(node),
      allocatable: { cpus: parseQuantity(a['cpu']) || 0, memoryGb: (parseQuantity(a['memory']) || 0) / GIB, gpus: parseQuantity(a[GPU_RESOURCE]) || 0 },
      requested: requested.get(name) ?? { cpus: 0, memoryGb: 0, gpus: 0 },
      gpuType: gpuLabelKey === undefined ? undefined : labels[gpuLabelKey],
      gpuLabelKey,
    };
  });
}

const round = (n: number): number => Math.round(n * 100) / 100;

/** A node as `sky check` / `sky show-gpus` print it. */
export function targetNode(v: NodeView): TargetNode {
  const gpus =
    v.allocatable.gpus > 0 ? [{ name: v.gpuType ?? 'GPU', total: v.allocatable.gpus, free: Math.max(0, v.allocatable.gpus - v.requested.gpus) }] : [];
  return { name: v.name, cpus: round(v.allocatable.cpus), memoryGb: round(v.allocatable.memoryGb), gpus, ready: v.ready };
}

/** Totals and what is free over ready nodes. */
export function capacityOf(views: readonly NodeView[]): { total: Resources; free: Resources } {
  const total: Resources = { cpus: 0, memoryGb: 0, accelerators: [] };
  const free: Resources = { cpus: 0, memoryGb: 0, accelerators: [] };
  const add = (list: Resources['accelerators'], name: string, count: number): void => {
    if (count <= 0) return;
    const existing = list.find((a) => sameAccelerator(a.name, name));
    if (existing !== undefined) existing.count += count;
    else list.push({ name, count });
  };
  for (const v of views) {
    total.cpus += v.allocatable.cpus;
    total.memoryGb += v.allocatable.memoryGb;
    add(total.accelerators, v.gpuType ?? 'GPU', v.allocatable.gpus);
    if (!v.ready) continue;
    free.cpus += Math.max(0, v.allocatable.cpus - v.requested.cpus);
    free.memoryGb += Math.max(0, v.allocatable.memoryGb - v.requested.memoryGb);
    add(free.accelerators, v.gpuType ?? 'GPU', Math.max(0, v.allocatable.gpus - v.requested.gpus));
  }
  total.cpus = round(total.cpus);
  total.memoryGb = round(total.memoryGb);
  free.cpus = round(free.cpus);
  free.memoryGb = round(free.memoryGb);
  return { total, free };
}

/**
 * Why no node of a context could ever hold one node of `req` (all of its capacity free): one
 * line each, [] when some node could.
 */
export function infeasibility(views: readonly NodeView[], req: FeasibilityRequest, context: string): string[] {
  if (views.length === 0) return [`Kubernetes context ${context} has no nodes`];
  const cpus = req.resources.cpus?.min ?? DEFAULT_CPUS;
  const mem = req.resources.memoryGb?.min ?? DEFAULT_MEMORY_GB;
  const gpuAlternatives = req.resources.accelerators ?? [];
  const problems: string[] = [];
  const maxCpus = Math.max(...views.map((v) => v.allocatable.cpus));
  const maxMem = Math.max(...views.map((v) => v.allocatable.memoryGb));
  if (cpus > maxCpus) problems.push(`${cpus} CPUs per node requested; the largest node of context ${context} has ${round(maxCpus)}`);
  if (mem > maxMem) problems.push(`${mem} GB memory per node requested; the largest node of context ${context} has ${round(maxMem)} GB`);
  if (gpuAlternatives.length > 0) {
    const fits = gpuAlternatives.some((alt) => views.some((v) => v.gpuType !== undefined && sameAccelerator(v.gpuType, alt.name) && v.allocatable.gpus >= alt.count));
    if (!fits) {
      const have = [...new Set(views.filter((v) => v.allocatable.gpus > 0).map((v) => `${v.gpuType ?? 'unlabelled GPU'}:${v.allocatable.gpus}`))];
      problems.push(
        `no node of context ${context} has ${gpuAlternatives.map((a) => `${a.name}:${a.count}`).join(' or ')} (its nodes have ${have.length === 0 ? 'no GPUs' : have.join(', ')})`,
      );
    }
  }
  if (req.resources.useSpot === true) problems.push(`Kubernetes context ${context} has no spot capacity`);
  return problems;
}

/** The node label key carrying GPU types on these nodes: the first configured key any node has, else the first configured. */
export function gpuLabelKeyOf(views: readonly NodeView[], gpuLabelKeys: readonly string[]): string {
  for (const key of gpuLabelKeys) if (views.some((v) => v.gpuLabelKey === key)) return key;
  return gpuLabelKeys[0] ?? 'nvidia.com/gpu.product';
}
