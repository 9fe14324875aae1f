import type { Duplex } from 'node:stream';
import { tunnelExtension, type Driver } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { SocketOpener } from './ssh-connection.js';
import type { TunnelResolver } from './transports.js';

/**
 * Tunnels to nodes reached through their driver (plugin API 1.6 TunnelExtension): the opener asks
 * the driver named in the reach for a stream to the node's sshd. The drivers are looked up on each
 * opening (they load after the transport pool exists). Every failure is NODE_UNREACHABLE naming
 * the node, the driver and its reason.
 */
export function driverTunnels(drivers: () => ReadonlyMap<string, Driver>): TunnelResolver {
  return (reach, label): SocketOpener => {
    const { driver: driverId, id } = reach.tunnel;
    return async (signal: AbortSignal): Promise<Duplex> => {
      const driver = drivers().get(driverId);
      if (driver === undefined) {
        throw new SkyError('NODE_UNREACHABLE', `node ${label} is reached through driver ${driverId}, which is not loaded`, {
          hint: `Configure driver ${driverId} in the daemon config again (it made this node), or tear the cluster down.`,
          details: { host: reach.host, port: reach.port },
        });
      }
      const ext = tunnelExtension(driver);
      if (ext === undefined) {
        throw new SkyError('NODE_UNREACHABLE', `node ${label} is reached through driver ${driverId}, which opens no tunnels (it has no openTunnel)`, {
          hint: 'Update the driver plugin to one that supports its own reach mode.',
          details: { host: reach.host, port: reach.port },
        });
      }
      try {
        return await ext.openTunnel(id, reach.port, { signal });
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new SkyError('NODE_UNREACHABLE', `cannot reach node ${label} through driver ${driverId} (tunnel ${id}): ${reason}`, {
          hint: err instanceof SkyError && err.hint !== undefined ? err.hint : `Check the node with \`sky status\` and driver ${driverId} with \`sky check ${driverId}\`.`,
          details: { host: reach.host, port: reach.port },
          cause: err,
        });
      }
    };
  };
}
