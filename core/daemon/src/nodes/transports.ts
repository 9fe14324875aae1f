import { SkyError, type NodeRecord } from '@sky/protocol';
import { AccountTransport } from './account-transport.js';
import { LocalTransport, type LocalOptions } from './local-transport.js';
import type { NodeHelperConnection } from './node-helper.js';
import { SshConnection, type SocketOpener, type SshOptions, type SshTarget } from './ssh-connection.js';
import { SshTransport } from './ssh-transport.js';
import type { NodeTransport } from './transport.js';

export type SshReach = Extract<NodeRecord['reach'], { kind: 'ssh' }>;

/**
 * How SSH nodes with a `tunnel` are reached: the opener of their stream, from the driver named by
 * `reach.tunnel.driver` (plugin API TunnelExtension); throws SkyError NODE_UNREACHABLE naming the
 * node when that driver is not loaded or opens no tunnels.
 */
export type TunnelResolver = (reach: SshReach & { tunnel: { driver: string; id: string } }, label: string) => SocketOpener;

/** Reads a node's private key kept as a driver's document in the state store (`reach.identityDocument`). */
export type IdentityKeyResolver = (document: { driver: string; name: string }) => Promise<Buffer>;

/**
 * One transport per node, kept for the daemon's lifetime. Local ones are stateless (those of an
 * OS account go through the daemon's one connection to sky-node-helper); SSH ones
 * hold one pooled connection per host (user@host:port, identity, jump), opened on first use,
 * shared by every cluster and job on that host, and closed by closeAll() when the daemon stops.
 * Jump hosts (ProxyJump) are pooled connections too, shared by every host behind them.
 */
export class TransportPool {
  private readonly byNode = new Map<string, NodeTransport>();
  private readonly jumps = new Map<string, SshConnection>();
  private closed = false;

  /**
   * `ssh`: how SSH connections are made (known_hosts file, trust on first use, keepalives);
   * `helper`: the connection to sky-node-helper, for local nodes that belong to an OS account;
   * `local`: how commands on local nodes of the daemon's own account run (the umask their processes start with).
   */
  constructor(
    private readonly ssh: SshOptions = {},
    private readonly helper?: NodeHelperConnection,
    /** A team server: a local node without an OS account is refused (its jobs would run as the daemon). */
    private readonly multiUser = false,
    private readonly local: LocalOptions = {},
    /** Nodes reached through their driver (a `tunnel` in the reach); absent: such nodes are refused. */
    private readonly tunnels?: TunnelResolver,
    /** Keys kept in the state store (an `identityDocument` in the reach); absent: such nodes have no key but the agent's. */
    private readonly keys?: IdentityKeyResolver,
  ) {}

  for(node: NodeRecord): NodeTransport {
    return this.forReach(node.reach, node.address);
  }

  /** The transport for a way of reaching a host (`label` names it in errors). */
  forReach(reach: NodeRecord['reach'], label: string): NodeTransport {
    const key = reachKey(reach);
    let transport = this.byNode.get(key);
    if (transport === undefined) {
      if (reach.kind === 'local' && reach.account !== undefined) {
        const helper = this.helper?.client;
        if (helper === undefined) {
          throw new SkyError('NODE_UNREACHABLE', `node ${label} belongs to OS account ${reach.account} and is reached through sky-node-helper, but node_helper.socket is not set in the daemon config`, {
            hint: 'Start sky-node-helper as root and set node_helper.socket (see plugins/driver-local/README.md).',
          });
        }
        transport = new AccountTransport(helper, reach.account, reach.root);
      } else if (reach.kind === 'local') {
        if (this.multiUser) {
          throw new SkyError('FORBIDDEN', `node ${label} (${reach.root}) is a local node without an OS account: on a team server no job runs as the daemon's own account`, {
            hint: 'Give drivers.local an accounts: block (see plugins/driver-local/README.md); clusters made before that must be torn down (sky down) and launched again.',
          });
        }
        transport = new LocalTransport(reach.root, this.local);
      }
      else {
        if (this.closed) throw new SkyError('NODE_UNREACHABLE', `node ${label}: the daemon is stopping and opens no SSH connections`);
        transport = new SshTransport(this.sshTarget(reach), this.ssh, this.jumpChain(reach), this.opener(reach, label));
      }
      this.byNode.set(key, transport);
    }
    return transport;
  }

  /**
   * A new SSH connection to a node's host, made like the pooled ones (known_hosts, keepalives,
   * the pooled jump hosts) but owned by the caller: the SSH gateway opens one per tunnel.
   */
  dedicatedSsh(reach: SshReach, label: string): SshConnection {
    if (this.closed) throw new SkyError('NODE_UNREACHABLE', `node ${label}: the daemon is stopping and opens no SSH connections`);
    return new SshConnection(this.sshTarget(reach), this.ssh, this.jumpChain(reach), this.opener(reach, label));
  }

  private sshTarget(reach: SshReach): SshTarget {
    const target: SshTarget = { host: reach.host, port: reach.port, user: reach.user, identityFile: reach.identityFile, hostKeys: reach.hostKeys };
    const document = reach.identityDocument;
    const keys = this.keys;
    if (document !== undefined && keys !== undefined) target.identityKey = { what: `${document.driver}/${document.name}`, read: () => keys(document) };
    return target;
  }

  /** The stream opener of a node reached through its driver; undefined for TCP (direct or through jump hosts). */
  private opener(reach: SshReach, label: string): SocketOpener | undefined {
    const tunnel = reach.tunnel;
    if (tunnel === undefined) return undefined;
    if (reach.proxyJump) {
      throw new SkyError('NODE_UNREACHABLE', `node ${label} is reached through driver ${tunnel.driver} and through jump hosts (${reach.proxyJump}): only one of them can carry the connection`, {
        hint: 'This is a driver bug: a node reached through its driver has no proxy jump.',
      });
    }
    if (this.tunnels === undefined) {
      throw new SkyError('NODE_UNREACHABLE', `node ${label} is reached through driver ${tunnel.driver}, and this daemon opens no driver tunnels`, {
        hint: 'Run the node through a daemon that loads the driver.',
      });
    }
    return this.tunnels({ ...reach, tunnel }, label);
  }

  /** The connection to the last jump host of `reach.proxyJump` (`[user@]host[:port]`, comma-separated for a chain). */
  private jumpChain(reach: SshReach): SshConnection | undefined {
    if (!reach.proxyJump) return undefined;
    let via: SshConnection | undefined;
    let chainKey = '';
    for (const spec of reach.proxyJump.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const target = parseJump(spec, reach);
      chainKey += `>${target.user}@${target.host}:${target.port}|${target.identityFile ?? ''}`;
      let connection = this.jumps.get(chainKey);
      if (connection === undefined) {
        connection = new SshConnection(target, this.ssh, via);
        this.jumps.set(chainKey, connection);
      }
      via = connection;
    }
    return via;
  }

  /** SSH connections currently open (for tests and metrics). */
  get openSshConnections(): number {
    let n = 0;
    for (const t of this.byNode.values()) if (t instanceof SshTransport && t.connection.isOpen) n += 1;
    for (const c of this.jumps.values()) if (c.isOpen) n += 1;
    return n;
  }

  /**
   * Close every SSH connection and local launcher (jobs on the nodes keep running: they are detached). Called once
   * when the daemon stops; later SSH use is refused.
   */
  async closeAll(): Promise<void> {
    this.closed = true;
    for (const t of this.byNode.values()) if (t instanceof LocalTransport) t.closeLauncher();
    const transports = [...this.byNode.values()].filter((t): t is SshTransport => t instanceof SshTransport);
    await Promise.all(transports.map((t) => t.close(true)));
    // Jump connections last: the hosts behind them are closed by now.
    await Promise.all([...this.jumps.values()].map((c) => c.close(true)));
    for (const [key, t] of this.byNode) if (t instanceof SshTransport) this.byNode.delete(key);
    this.jumps.clear();
  }
}

/**
 * One key per way of reaching a host: what a transport (and a journal follower) is shared by.
 * An SSH host reached with other credentials, other pinned host keys or through another tunnel
 * is another host (a pod IP reused by a new pod is a new node).
 */
export function reachKey(reach: NodeRecord['reach']): string {
  if (reach.kind === 'local') return reach.account !== undefined ? `account:${reach.account}:${reach.root}` : `local:${reach.root}`;
  const tunnel = reach.tunnel === undefined ? '' : `${reach.tunnel.driver}:${reach.tunnel.id}`;
  const key = reach.identityDocument === undefined ? (reach.identityFile ?? '') : `doc:${reach.identityDocument.driver}/${reach.identityDocument.name}`;
  return `ssh:${reach.user}@${reach.host}:${reach.port}|${key}|${reach.proxyJump ?? ''}|${reach.hostKeys?.join(',') ?? ''}|${tunnel}`;
}

/** `[user@]host[:port]` or `[user@][v6]:port`; user defaults to the target's, port to 22, identity to the target's. */
export function parseJump(spec: string, reach: SshReach): SshTarget {
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : reach.user;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  let host = rest;
  let port = 22;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2]) port = Number(bracketed[2]);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0 && rest.indexOf(':') === colon) {
      host = rest.slice(0, colon);
      port = Number(rest.slice(colon + 1));
    }
  }
  if (!host || !user || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SkyError('CONFIG_INVALID', `proxy jump ${JSON.stringify(spec)} of ${reach.user}@${reach.host} is not [user@]host[:port]`, {
      hint: 'Write the jump host as user@host:port (several separated by commas).',
    });
  }
  return { host, port, user, identityFile: reach.identityFile };
}
