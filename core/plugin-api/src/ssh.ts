/** A host a plugin reaches over SSH through the daemon (plugins never open connections themselves). */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key on the daemon's machine. */
  identityFile?: string;
  /** `user@host:port` of a jump host, as OpenSSH's ProxyJump. */
  proxyJump?: string;
  /** Only where key auth is impossible; never logged. */
  password?: string;
}

export interface SshCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The daemon's pooled SSH connections, lent to plugins through PluginContext: one multiplexed
 * connection per host, host keys verified against the daemon's known_hosts. Failures reject
 * with SkyError NODE_UNREACHABLE naming the host (refused, timed out, auth failed, host key changed).
 */
export interface PluginSsh {
  run(target: SshTarget, command: string, options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<SshCommandResult>;
}
