import { sameAccelerator, type AcceleratorCount, type NvidiaGpu } from '@sky/plugin-api';

/** One GPU of a pool host, as its nvidia-smi lists it (named and parsed by plugin-api's helpers). */
export type HostGpu = NvidiaGpu;

export { canonicalGpuName, parseNvidiaSmiLine as parseGpuLine } from '@sky/plugin-api';

/** GPUs counted by SkyPilot name, in order of first appearance: `[{name: 'A100-80GB', count: 8}]`. */
export function countGpus(gpus: readonly HostGpu[]): AcceleratorCount[] {
  const counts = new Map<string, number>();
  for (const g of gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  return [...counts].map(([name, count]) => ({ name, count }));
}

/** How many of a host's GPUs answer to `name` (its SkyPilot name or its nvidia-smi product name). */
export function gpusNamed(gpus: readonly HostGpu[], name: string): number {
  return gpus.filter((g) => sameAccelerator(g.name, name) || sameAccelerator(g.model, name)).length;
}
