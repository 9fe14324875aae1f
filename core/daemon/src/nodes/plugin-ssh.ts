import type { PluginSsh, SshCommandResult, SshTarget } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { TransportPool } from './transports.js';

/** What plugins get as `ctx.ssh`: commands on hosts over the daemon's pooled connections. */
export class PooledPluginSsh implements PluginSsh {
  constructor(private readonly pool: TransportPool) {}

  run(target: SshTarget, command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<SshCommandResult> {
    if (target.password !== undefined) {
      return Promise.reject(
        new SkyError('NODE_UNREACHABLE', `${target.user}@${target.host}:${target.port}: password authentication is not supported yet`, {
          hint: 'Give the host an identity_file (key auth) in the pool.',
        }),
      );
    }
    const reach = {
      kind: 'ssh' as const,
      host: target.host,
      port: target.port,
      user: target.user,
      ...(target.identityFile !== undefined ? { identityFile: target.identityFile } : {}),
      ...(target.proxyJump !== undefined ? { proxyJump: target.proxyJump } : {}),
    };
    return this.pool.forReach(reach, `${target.user}@${target.host}:${target.port}`).run(command, options);
  }
}
