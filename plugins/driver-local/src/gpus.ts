import { execFile } from 'node:child_process';
import { NVIDIA_SMI_ARGS, parseNvidiaSmi, type IndexedNvidiaGpu } from '@sky/plugin-api';

/** One GPU of this machine, as nvidia-smi lists it (named and parsed by plugin-api's helpers). */
export type HostGpu = IndexedNvidiaGpu;

export { canonicalGpuName, NVIDIA_SMI_ARGS, parseNvidiaSmi } from '@sky/plugin-api';

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
