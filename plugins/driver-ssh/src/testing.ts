import type { PluginSsh, SshCommandResult, SshTarget } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';

/** How a fake host answers: like a real one (a probe's output), or failing as the daemon's SSH layer reports it. */
export type FakeHost =
  | { kind: 'host'; cpus: number; memKb: number; gpus?: string[]; diskKb?: number; nvidiaSmiError?: string; noise?: string; user?: string }
  | { kind: 'refused' }
  | { kind: 'timeout' }
  | { kind: 'auth' }
  | { kind: 'no-shell' }
  | { kind: 'answer'; result: SshCommandResult };

/** The probe output a real Linux host prints for the driver's probe command. */
export function probeOutput(host: Extract<FakeHost, { kind: 'host' }>): string {
  const lines = [`sky-probe:cpus=${host.cpus}`, `sky-probe:mem_kb=${host.memKb}`];
  if (host.nvidiaSmiError !== undefined) lines.push(`sky-probe:gpu_error=exit 9: ${host.nvidiaSmiError}`);
  else for (const gpu of host.gpus ?? []) lines.push(`sky-probe:gpu=${gpu}`);
  lines.push(`sky-probe:disk_kb=${host.diskKb ?? 100 * 2 ** 20}`, 'sky-probe:ok');
  return `${host.noise ?? ''}${lines.join('\n')}\n`;
}

/** One call the fake saw (never the password). */
export interface FakeCall {
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  proxyJump?: string;
  usedPassword: boolean;
  command: string;
}

/**
 * A stand-in for the daemon's PluginSsh in tests: a map of `host` or `host:port` to how that host
 * answers. Commands take `delayMs` (and honour the abort signal meanwhile); a host missing from
 * the map is refused, as a machine with no sshd would be. Error messages are the daemon's.
 */
export class FakeSsh implements PluginSsh {
  readonly calls: FakeCall[] = [];

  constructor(
    readonly hosts: Map<string, FakeHost>,
    private readonly delayMs = 1,
  ) {}

  async run(target: SshTarget, command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SshCommandResult> {
    const call: FakeCall = { host: target.host, port: target.port, user: target.user, usedPassword: target.password !== undefined, command };
    if (target.identityFile !== undefined) call.identityFile = target.identityFile;
    if (target.proxyJump !== undefined) call.proxyJump = target.proxyJump;
    this.calls.push(call);
    await delay(this.delayMs, options.signal);
    const label = `${target.user}@${target.host}:${target.port}`;
    const host = this.hosts.get(`${target.host}:${target.port}`) ?? this.hosts.get(target.host);
    if (host === undefined || host.kind === 'refused') {
      throw new SkyError('NODE_UNREACHABLE', `cannot connect to ${label}: connection refused`, { details: { host: target.host, port: target.port } });
    }
    if (host.kind === 'timeout') {
      throw new SkyError('NODE_UNREACHABLE', `cannot connect to ${label}: no answer within ${(options.timeoutMs ?? 10_000) / 1000} s`);
    }
    if (host.kind === 'auth') {
      throw new SkyError('NODE_UNREACHABLE', `authentication failed for ${label}: check the identity file (${target.identityFile ?? 'none'})`);
    }
    if (host.kind === 'no-shell') return { code: 127, stdout: '', stderr: 'exec: sh: not found\n' };
    if (host.kind === 'answer') return host.result;
    if (host.user !== undefined && host.user !== target.user) {
      throw new SkyError('NODE_UNREACHABLE', `authentication failed for ${label}: check the identity file (${target.identityFile ?? 'none'})`);
    }
    if (command.includes('nproc')) return { code: 0, stdout: probeOutput(host), stderr: '' };
    return { code: 0, stdout: `${host.noise ?? ''}sky-probe:ok\n`, stderr: '' };
  }
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new SkyError('CANCELLED', 'ssh command cancelled', { cause: signal.reason }));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new SkyError('CANCELLED', 'ssh command cancelled', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
