import type { AcceleratorCount, PluginSsh, SshTarget } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';
import { countGpus, parseGpuLine, type HostGpu } from './gpus.js';

/** What one look at a pool host found. */
export interface HostProbe {
  /** An SSH connection was made (whatever happened next). */
  reachable: boolean;
  /** The host accepted the credentials and ran the probe. */
  authOk: boolean;
  cpus: number;
  /** Physical memory, GB (2^30 bytes), to one decimal, rounded down. */
  memoryGb: number;
  gpus: HostGpu[];
  /** `gpus` counted by SkyPilot name. */
  accelerators: AcceleratorCount[];
  /** Free space in the login user's home directory, GB (absent when df could not tell). */
  diskFreeGb?: number;
  /** Why the host cannot be used, in a few words (`connection refused`); absent when it can. */
  error?: string;
  /**
   * The host did not answer in time (a connect or the probe timed out): it may answer later, so
   * what it has is unknown, not absent. Refused connections and credentials are not transient.
   */
  transient?: boolean;
  /** nvidia-smi exists on the host but failed: the host is usable, without GPUs. */
  gpuNote?: string;
}

/** Marks the probe's own lines, so what a user's shell rc files print around them is ignored. */
export const PROBE_MARK = 'sky-probe';

/**
 * The probe as a POSIX sh script, one line and free of single quotes so it can be wrapped in
 * `sh -c '…'` (the remote login shell may be fish or csh). It prints, each line prefixed with
 * `sky-probe:`: `cpus=` (nproc, else getconf), `mem_kb=` (MemTotal from /proc/meminfo; BSD and
 * macOS: `mem_bytes=` from sysctl), one `gpu=<nvidia-smi csv line>` per GPU when nvidia-smi is
 * installed (or `gpu_error=` when it fails), `disk_kb=` (free in $HOME, from df -P), and finally `ok`. Needs nothing but sh and coreutils.
 */
export const PROBE_SCRIPT = [
  `p=${PROBE_MARK}`,
  'c=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)',
  'echo "$p:cpus=$c"',
  'if [ -r /proc/meminfo ]; then while read -r k v rest; do if [ "$k" = "MemTotal:" ]; then echo "$p:mem_kb=$v"; fi; done < /proc/meminfo; ' +
    'else echo "$p:mem_bytes=$(sysctl -n hw.memsize 2>/dev/null)"; fi',
  'if command -v nvidia-smi >/dev/null 2>&1; then o=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>&1); r=$?; ' +
    'if [ "$r" -eq 0 ]; then printf "%s\\n" "$o" | while IFS= read -r l; do if [ -n "$l" ]; then echo "$p:gpu=$l"; fi; done; ' +
    'else echo "$p:gpu_error=exit $r: $(printf "%s" "$o" | head -n 1)"; fi; fi',
  'set -- $(df -Pk "$HOME" 2>/dev/null | tail -n 1); echo "$p:disk_kb=$4"',
  'echo "$p:ok"',
].join('; ');

/** The one command a probe runs on a host. */
export const PROBE_COMMAND = `sh -c '${PROBE_SCRIPT}'`;

/** The command status() runs: proves the host answers and runs sh, nothing more. */
export const PING_COMMAND = `sh -c 'echo ${PROBE_MARK}:ok'`;

export interface ParsedProbe {
  cpus: number;
  memoryGb: number;
  gpus: HostGpu[];
  diskFreeGb?: number;
  gpuNote?: string;
}

/** GB (2^30 bytes) to one decimal, rounded down, from kB. */
function gbFromKb(kb: number): number {
  return Math.floor((kb / 2 ** 20) * 10) / 10;
}

/**
 * Read the probe's output. Lines without the `sky-probe:` mark (a login banner, rc-file noise)
 * are ignored. Throws a plain Error saying what is missing when the output is not a complete probe.
 */
export function parseProbeOutput(stdout: string): ParsedProbe {
  const values = new Map<string, string>();
  const gpus: HostGpu[] = [];
  let ok = false;
  let gpuNote: string | undefined;
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (!line.startsWith(`${PROBE_MARK}:`)) continue;
    const body = line.slice(PROBE_MARK.length + 1);
    if (body === 'ok') {
      ok = true;
      continue;
    }
    const eq = body.indexOf('=');
    if (eq === -1) continue;
    const key = body.slice(0, eq);
    const value = body.slice(eq + 1);
    if (key === 'gpu') {
      const gpu = parseGpuLine(value);
      if (gpu !== undefined) gpus.push(gpu);
    } else if (key === 'gpu_error') {
      gpuNote = `nvidia-smi failed (${value.trim() || 'no output'}), so no GPUs are offered`;
    } else {
      values.set(key, value.trim());
    }
  }
  if (!ok) throw new Error('the probe did not finish (no "sky-probe:ok" line)');
  const cpus = Number(values.get('cpus'));
  if (!Number.isInteger(cpus) || cpus < 1) throw new Error(`cannot read the CPU count (nproc and getconf gave ${JSON.stringify(values.get('cpus') ?? '')})`);
  let memoryGb: number;
  const kb = Number(values.get('mem_kb'));
  const bytes = Number(values.get('mem_bytes'));
  if (values.has('mem_kb') && Number.isFinite(kb) && kb > 0) memoryGb = gbFromKb(kb);
  else if (values.has('mem_bytes') && Number.isFinite(bytes) && bytes > 0) memoryGb = gbFromKb(bytes / 1024);
  else throw new Error('cannot read the memory size (no MemTotal in /proc/meminfo, no sysctl hw.memsize)');
  const parsed: ParsedProbe = { cpus, memoryGb, gpus };
  const diskKb = Number(values.get('disk_kb'));
  if (values.get('disk_kb') !== undefined && values.get('disk_kb') !== '' && Number.isFinite(diskKb) && diskKb >= 0) parsed.diskFreeGb = gbFromKb(diskKb);
  if (gpuNote !== undefined && gpus.length === 0) parsed.gpuNote = gpuNote;
  return parsed;
}

/** Whether an SSH failure is the host refusing our credentials (it was reached). */
export function isAuthFailure(message: string): boolean {
  return /authentication failed|permission denied|all configured authentication methods failed|auth(?:entication)? (?:was )?refused/i.test(message);
}

/**
 * A failure message from the daemon's SSH layer, shortened for a host listing: `cannot connect
 * to u@h:22: connection refused` → `connection refused`; `authentication failed for u@h:22: check …`
 * → `authentication failed: check …`.
 */
export function shortReason(message: string): string {
  const first = (message.split('\n')[0] ?? message).trim();
  const connect = /^cannot (?:connect to|reach) \S+(?: through jump host \S+)?: (.+)$/.exec(first);
  if (connect?.[1] !== undefined) return connect[1];
  const auth = /^authentication failed for \S+?(?:: (.+))?$/.exec(first);
  if (auth !== null) return auth[1] === undefined ? 'authentication failed' : `authentication failed: ${auth[1]}`;
  const lost = /^node \S+ unreachable: (.+)$/.exec(first);
  if (lost?.[1] !== undefined) return lost[1];
  return first || 'unreachable';
}

function failed(reachable: boolean, authOk: boolean, error: string, transient = false): HostProbe {
  return { reachable, authOk, cpus: 0, memoryGb: 0, gpus: [], accelerators: [], error, ...(transient ? { transient } : {}) };
}

/** The exit code the daemon's SSH layer gives a command it stopped at its timeout. */
const TIMED_OUT = 124;

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
}

export const DEFAULT_PROBE_TIMEOUT_MS = 20_000;

/**
 * Look at one host with a single command over the daemon's SSH connection: whether it is
 * reachable, whether auth works, and its CPUs, memory and GPUs. Never rejects for the host's
 * sake (the answer says what went wrong); rejects with SkyError `CANCELLED` only when `signal`
 * aborts.
 */
export async function probeHost(ssh: PluginSsh, target: SshTarget, signal: AbortSignal, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<HostProbe> {
  if (signal.aborted) throw new SkyError('CANCELLED', `probing ${target.host} was cancelled`, { cause: signal.reason });
  let result;
  try {
    result = await ssh.run(target, PROBE_COMMAND, { signal, timeoutMs });
  } catch (error) {
    if (signal.aborted) throw new SkyError('CANCELLED', `probing ${target.host} was cancelled`, { cause: signal.reason });
    const message = error instanceof Error ? error.message : String(error);
    if (isAuthFailure(message)) return failed(true, false, shortReason(message));
    return failed(false, false, shortReason(message), /timed out|timeout|no answer within/i.test(message));
  }
  if (signal.aborted) throw new SkyError('CANCELLED', `probing ${target.host} was cancelled`, { cause: signal.reason });
  if (result.code !== 0) {
    const why = firstLine(result.stderr) || firstLine(result.stdout);
    if (result.code === 127) return failed(true, true, `no POSIX shell: sh was not found on the host${why ? ` (${why})` : ''}`);
    return failed(true, true, `the probe exited with ${result.code}${why ? `: ${why}` : ''}`, result.code === TIMED_OUT);
  }
  try {
    const parsed = parseProbeOutput(result.stdout);
    const probe: HostProbe = {
      reachable: true,
      authOk: true,
      cpus: parsed.cpus,
      memoryGb: parsed.memoryGb,
      gpus: parsed.gpus,
      accelerators: countGpus(parsed.gpus),
    };
    if (parsed.gpuNote !== undefined) probe.gpuNote = parsed.gpuNote;
    if (parsed.diskFreeGb !== undefined) probe.diskFreeGb = parsed.diskFreeGb;
    return probe;
  } catch (error) {
    const stderr = firstLine(result.stderr);
    return failed(true, true, `unreadable probe output: ${(error as Error).message}${stderr ? ` (stderr: ${stderr})` : ''}`);
  }
}

/**
 * A quick liveness check (status): the host answers over SSH and runs sh. Resolves with undefined
 * when it does, else with the reason; rejects with `CANCELLED` only when `signal` aborts.
 */
export async function pingHost(ssh: PluginSsh, target: SshTarget, signal: AbortSignal, timeoutMs: number): Promise<string | undefined> {
  try {
    const result = await ssh.run(target, PING_COMMAND, { signal, timeoutMs });
    if (result.code === 0 && result.stdout.includes(`${PROBE_MARK}:ok`)) return undefined;
    const why = firstLine(result.stderr) || firstLine(result.stdout);
    return `the check command exited with ${result.code}${why ? `: ${why}` : ''}`;
  } catch (error) {
    if (signal.aborted) throw new SkyError('CANCELLED', `checking ${target.host} was cancelled`, { cause: signal.reason });
    return shortReason(error instanceof Error ? error.message : String(error));
  }
}
