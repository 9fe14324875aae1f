import type Router from '@koa/router';
import type { Context } from 'koa';
import type { StateStore } from '@sky/plugin-api';
import { ClusterNameParamsSchema, parseOrThrow, ROUTES, SkyError, SSH_TUNNEL_PATH, SSH_TUNNEL_PROTOCOL, SshTunnelQuerySchema } from '@sky/protocol';
import type { AuthService } from '../../auth/auth-service.js';
import type { TransportPool } from '../../nodes/transports.js';
import { clusterNotFound } from '../../clusters/cluster-updates.js';
import type { SshGateway } from '../../ssh-gateway/gateway.js';
import { backendFor, nodeOfRank } from '../../ssh-gateway/backends.js';
import { upgradeOf } from '../../listen/upgrade.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { policyOf } from '../access.js';

export interface SshRouteDeps {
  gateway: SshGateway;
  store: StateStore;
  transports: TransportPool;
  auth: AuthService;
  clientAddress: (ctx: Context) => string;
  maxBodyBytes: number;
}

function queryOf(ctx: Context): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(ctx.query)) out[key] = Array.isArray(value) ? value.join(',') : value;
  return out;
}

/** The SSH gateway's host key, and the tunnel to a node (`sky ssh-proxy`, run by ssh's ProxyCommand). */
export function sshRoutes(router: Router, deps: SshRouteDeps): void {
  const { gateway, store, transports, auth } = deps;
  bindRoute(router, ROUTES.sshHostKey, deps.maxBodyBytes, async (ctx) => {
    ctx.body = gateway.publicKey();
  });

  router.get('sshTunnel', SSH_TUNNEL_PATH, async (ctx) => {
    const upgrade = upgradeOf(ctx.req);
    if (upgrade === undefined || ctx.get('upgrade').toLowerCase() !== SSH_TUNNEL_PROTOCOL) {
      throw new SkyError('UPGRADE_REQUIRED', `${ctx.path} carries an SSH tunnel and must be called with "Connection: Upgrade" and "Upgrade: ${SSH_TUNNEL_PROTOCOL}"`, {
        hint: 'Use ssh CLUSTER (its generated config runs sky ssh-proxy), not a plain HTTP client.',
      });
    }
    const { name } = parseOrThrow(ClusterNameParamsSchema, ctx.params, 'path');
    const rank = parseOrThrow(SshTunnelQuerySchema, queryOf(ctx), 'query').rank ?? 0;
    const caller = callerOf(ctx);
    const policy = policyOf(ctx);
    const target = `${name}/${rank}`;
    // A browser cannot send this Upgrade, and a dashboard session is not meant to hold shells: refused outright.
    if (caller.via === 'session') {
      throw await policy.refuse(caller, { action: 'ssh', target }, 'an SSH tunnel cannot be opened with a browser session', 'Run ssh CLUSTER where the sky CLI is logged in (sky api login).');
    }
    // Authorized exactly like sky exec on the cluster: its owner or an admin, while they may use its workspace.
    const cluster = await store.clusters.get(name);
    if (!cluster) throw clusterNotFound(name);
    await policy.assertOperateCluster(caller, cluster, { action: 'ssh', target });
    if (cluster.status !== 'UP') {
      throw new SkyError('CLUSTER_NOT_UP', `cluster ${name} is ${cluster.status}: there is no node to log in to`, {
        hint: cluster.status === 'STOPPED' ? `Start it with: sky start ${name}` : `Wait until sky status shows it UP.`,
      });
    }
    const node = nodeOfRank(cluster, rank);
    const slot = gateway.reserve(caller);
    let backend;
    try {
      backend = backendFor(transports, node);
    } catch (err) {
      slot.release();
      throw err;
    }
    // While the tunnel is open, the same credentials are checked again now and then: a revoked
    // token, a deleted user, a removal from the workspace or a cluster torn down ends it.
    const headers = { ...ctx.headers };
    const remoteAddress = deps.clientAddress(ctx);
    const peerAddress = ctx.req.socket.remoteAddress;
    const stillAllowed = async (): Promise<boolean> => {
      const again = await auth.identify({ header: (h) => String(headers[h.toLowerCase()] ?? ''), remoteAddress, peerAddress });
      const now = await store.clusters.get(name);
      return now !== undefined && now.clusterId === cluster.clusterId && now.status === 'UP' && (await policy.mayOperateCluster(again, now));
    };
    ctx.respond = false;
    upgrade.socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${SSH_TUNNEL_PROTOCOL}\r\n\r\n`);
    gateway.serve(upgrade.socket, upgrade.head, { user: { id: caller.id, name: caller.name }, cluster: name, rank, from: remoteAddress, backend, stillAllowed }, slot);
  });
}
