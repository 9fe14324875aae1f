import type { Duplex } from 'node:stream';

/**
 * Optional driver extension (plugin API 1.6): streams to the nodes of this driver whose SSH reach
 * carries a `tunnel` id (SshReach.tunnel), for nodes the daemon cannot reach by TCP — pods behind
 * the Kubernetes API server's port-forward. The daemon calls it for every SSH connection to such
 * a node (pooled ones, the SSH gateway's) and speaks SSH over the stream; host keys are checked
 * as for any SSH node. `port` is the reach's port (the node's sshd). The stream must end when the
 * far side closes, and closing it (destroy) must release what the driver holds for it. Failures
 * reject with a SkyError saying why (the daemon reports them as NODE_UNREACHABLE naming the node);
 * `signal` aborts the opening.
 */
export interface TunnelExtension {
  openTunnel(tunnel: string, port: number, opts: { signal: AbortSignal }): Promise<Duplex>;
}

/** Whether a driver opens tunnels to its nodes. */
export function tunnelExtension(driver: object): TunnelExtension | undefined {
  const d = driver as Partial<TunnelExtension>;
  return typeof d.openTunnel === 'function' ? (d as TunnelExtension) : undefined;
}
