/** One GPU as nvidia-smi lists it. */
export interface NvidiaGpu {
  /** SkyPilot's name for it (`A100`, `A100-80GB`, `H100`, `RTX4090`, …): what task YAMLs ask for. */
  name: string;
  /** The product name nvidia-smi reports, e.g. `NVIDIA A100-SXM4-80GB`. */
  model: string;
  memoryMiB: number;
}

/** One GPU of this machine with nvidia-smi's index, the number CUDA_VISIBLE_DEVICES takes. */
export interface IndexedNvidiaGpu extends NvidiaGpu {
  index: number;
}

/** The nvidia-smi arguments whose output {@link parseNvidiaSmi} reads. */
export const NVIDIA_SMI_ARGS = ['--query-gpu=name,memory.total', '--format=csv,noheader'] as const;

const VENDOR_WORDS = new Set(['nvidia', 'tesla', 'geforce', 'quadro']);
/** Models SkyPilot tells apart by memory size: the name gets `-<size>GB` above the threshold. */
const BY_MEMORY: Record<string, { minMiB: number; suffix: string }> = {
  A100: { minMiB: 70_000, suffix: '-80GB' },
  V100: { minMiB: 30_000, suffix: '-32GB' },
};

/**
 * SkyPilot's accelerator name for an nvidia-smi product name: vendor words dropped, the model
 * token kept (`NVIDIA A100-SXM4-40GB` → `A100`, `Tesla T4` → `T4`, `NVIDIA H100 80GB HBM3` → `H100`,
 * `NVIDIA GeForce RTX 4090` → `RTX4090`), with the memory variant where SkyPilot has one
 * (`A100-80GB`, `V100-32GB`). Every driver names GPUs this way, so a task asks for a GPU the same
 * way on any of them.
 */
export function canonicalGpuName(model: string, memoryMiB: number): string {
  const words = model.trim().split(/\s+/).filter((w) => !VENDOR_WORDS.has(w.toLowerCase()));
  const [first = model.trim(), second] = words;
  let name: string;
  if (first.toUpperCase() === 'RTX' && second !== undefined) name = `RTX${second.split('-')[0] ?? second}`;
  else name = first.split('-')[0] ?? first;
  const variant = BY_MEMORY[name.toUpperCase()];
  if (variant !== undefined && memoryMiB >= variant.minMiB) name = `${name}${variant.suffix}`;
  return name;
}

/**
 * One line of `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader`
 * (`NVIDIA A100-SXM4-80GB, 81920 MiB`); undefined for a line without a model (a blank one).
 * Unreadable memory (`[N/A]`) still counts as a GPU, with memory 0.
 */
export function parseNvidiaSmiLine(line: string): NvidiaGpu | undefined {
  const comma = line.lastIndexOf(',');
  const model = (comma === -1 ? line : line.slice(0, comma)).trim();
  if (model === '') return undefined;
  const mib = /(\d+(?:\.\d+)?)\s*MiB/i.exec(comma === -1 ? '' : line.slice(comma + 1));
  const memoryMiB = mib?.[1] === undefined ? 0 : Math.round(Number(mib[1]));
  return { name: canonicalGpuName(model, memoryMiB), model, memoryMiB };
}

/**
 * Parse the whole output of `nvidia-smi` with {@link NVIDIA_SMI_ARGS}: one GPU per non-blank line,
 * in index order.
 */
export function parseNvidiaSmi(output: string): IndexedNvidiaGpu[] {
  const gpus: IndexedNvidiaGpu[] = [];
  const lines = output.split(/\r?\n/).filter((l) => l.trim() !== '');
  lines.forEach((line, index) => {
    const gpu = parseNvidiaSmiLine(line);
    if (gpu !== undefined) gpus.push({ index, ...gpu });
  });
  return gpus;
}
