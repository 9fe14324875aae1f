import type { NodeRecord } from '@sky/protocol';

/**
 * Which host GPUs of each node are free, so every job gets its own devices through
 * CUDA_VISIBLE_DEVICES. Only nodes whose driver pins GPU indices (local nodes) take part;
 * jobs on other nodes get no pinning. A job asking for no GPU on a GPU node sees none;
 * a fraction of a GPU shares the node's first device.
 */
export class GpuPins {
  private readonly free: number[][];
  private readonly pinning: boolean;

  constructor(nodes: readonly NodeRecord[]) {
    this.free = nodes.map((n) => (n.reach.kind === 'local' ? [...(n.reach.gpuIndices ?? [])] : []));
    this.pinning = nodes.some((n) => n.reach.kind === 'local' && (n.reach.gpuIndices?.length ?? 0) > 0);
  }

  /** Mark a running job's devices as taken. */
  hold(indices: readonly (readonly number[])[] | undefined): void {
    indices?.forEach((rank, r) => {
      const free = this.free[r];
      if (free) this.free[r] = free.filter((i) => !rank.includes(i));
    });
  }

  /** Devices for a job about to start on ranks 0..numNodes-1, or undefined when nothing is pinned. */
  take(numNodes: number, count: number): number[][] | undefined {
    if (!this.pinning) return undefined;
    const out: number[][] = [];
    for (let r = 0; r < numNodes; r++) {
      const free = this.free[r] ?? [];
      if (count <= 0) out.push([]);
      else if (count < 1) out.push(free.slice(0, 1));
      else {
        const whole = Math.ceil(count);
        out.push(free.slice(0, whole));
        this.free[r] = free.slice(whole);
      }
    }
    return out;
  }
}
