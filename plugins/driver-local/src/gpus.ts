import { execFile } from 'node:child_process';

/** One GPU of this machine, as nvidia-smi lists it. */
export interface HostGpu {
  /** nvidia-smi's index, the number CUDA_VISIBLE_DEVICES takes. */
  index: number;
  /** SkyPilot's name for it (`A100`, `A100-80GB`, `H100`, `RTX4090`, …): what task YAMLs ask for. */
  name: string;
  /** The product name nvidia-smi reports, e.g. `NVIDIA A100-SXM4-80GB`. */
  model: string;
  memoryMiB: number;
}

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
 * (`A100-80GB`, `V100-32GB`).
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
 * Parse `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader`: one GPU per line, in
 * index order (`NVIDIA A100-SXM4-80GB, 81920 MiB`). A line whose memory is unreadable (`[N/A]`)
 * still counts as a GPU, with memory 0.
 */
export function parseNvidiaSmi(output: string): HostGpu[] {
  const gpus: HostGpu[] = [];
  const lines = output.split(/\r?\n/).filter((l) => l.trim() !== '');
  lines.forEach((line, index) => {
    const comma = line.lastIndexOf(',');
    const model = (comma === -1 ? line : line.slice(0, comma)).trim();
    const memory = comma === -1 ? '' : line.slice(comma + 1);
    const mib = /(\d+(?:\.\d+)?)\s*MiB/i.exec(memory);
    const memoryMiB = mib?.[1] === undefined ? 0 : Math.round(Number(mib[1]));
    if (model === '') return;
    gpus.push({ index, name: canonicalGpuName(model, memoryMiB), model, memoryMiB });
  });
  return gpus;
}

export interface GpuDetection {
  gpus: HostGpu[];
  /** Why no GPUs were found when nvidia-smi exists but failed; undefined otherwise. */
  note?: string;
}

/** Ask nvidia-smi for this machine's GPUs: none when it is not installed, none plus a note when it fails. */
export function detectGpus(signal: AbortSignal, command = 'nvidia-smi', timeoutMs = 10_000): Promise<GpuDetection> {
  return new Promise((resolve) => {
    execFile(command, [...NVIDIA_SMI_ARGS], { signal, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ gpus: parseNvidiaSmi(stdout) });
        return;
      }
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        resolve({ gpus: [] });
        return;
      }
      const why = stderr.trim().split('\n')[0] || error.message;
      resolve({ gpus: [], note: `${command} failed, so no GPUs are offered: ${why}` });
    });
  });
}
