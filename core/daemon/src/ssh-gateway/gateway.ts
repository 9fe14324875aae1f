import type { Duplex } from 'node:stream';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { SkyError, type SshHostKey } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig, DaemonPaths } from '../config/schema.js';
import { AuditLog } from '../audit/audit-log.js';
import { ssh2 } from '../nodes/ssh-connection.js';
import { loadOrCreateHostKey, type GatewayHostKey } from './host-key.js';
import type { NodeBackend } from './node-backend.js';
import { serveConnection, type ChannelTracker } from './session.js';

/** Failed re-authorizations in a row (errors, not refusals) that end a tunnel. */
const RECHECK_FAILURES_TOLERATED = 3;

/** Who opened a tunnel to which node, and how to ask again whether they still may. */
export interface TunnelTarget {
  user: { id: string; name: string };
  cluster: string;
  rank: number;
  /** The client address, for the log. */
  from: string;
  backend: NodeBackend;
  /** Authorization asked again while the tunnel is open: false ends it. */
  stillAllowed: () => Promise<boolean>;
}

/** A place in a user's tunnel budget; give it back with release(). */
export interface TunnelSlot {
  release(): void;
}

class Tracker implements ChannelTracker {
  private readonly ends = new Set<() => void>();
  add(end: () => void): () => void {
    this.ends.add(end);
    return () => this.ends.delete(end);
  }
  endAll(): void {
    for (const end of [...this.ends]) end();
    this.ends.clear();
  }
}

/**
 * The SSH gateway: `ssh CLUSTER` reaches a node through a tunnel the API server authorized
 * (the route does that, as for `sky exec`), carrying an SSH session with this server — its own
 * host key, pinned by the CLI — whose shells, commands, SFTP and port forwards are served on
 * the node. Bounds: tunnels per user, an idle time, a total time; open and close are audited.
 */
@injectable()
export class SshGateway {
  private hostKey: GatewayHostKey | undefined;
  private readonly perUser = new Map<string, number>();
  private readonly open = new Set<() => void>();
  private stopped = false;

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Paths) private readonly paths: DaemonPaths,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  private key(): GatewayHostKey {
    this.hostKey ??= loadOrCreateHostKey(this.paths.stateDir);
    return this.hostKey;
  }

  publicKey(): SshHostKey {
    return this.key().pub;
  }

  /** Take a place in the user's tunnel budget, or refuse with TOO_MANY_TUNNELS. */
  reserve(user: { id: string; name: string }): TunnelSlot {
    if (this.stopped) throw new SkyError('SHUTTING_DOWN', 'the API server is stopping and opens no SSH tunnels', { hint: 'Retry once it is back.' });
    const cap = this.config.ssh_gateway.max_tunnels_per_user;
    const used = this.perUser.get(user.id) ?? 0;
    if (used >= cap) {
      throw new SkyError('TOO_MANY_TUNNELS', `${user.name} already has ${used} SSH ${used === 1 ? 'session' : 'sessions'} open through this API server (at most ${cap} at a time)`, {
        hint: 'Close one (exit the shell, end the ssh -L), or share one connection with ControlMaster; an admin can raise ssh_gateway.max_tunnels_per_user.',
      });
    }
    this.perUser.set(user.id, used + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.perUser.get(user.id) ?? 1) - 1;
        if (left <= 0) this.perUser.delete(user.id);
        else this.perUser.set(user.id, left);
      },
    };
  }

  /** Tunnels open now (for tests and metrics). */
  get openTunnels(): number {
    return this.open.size;
  }

  /** Serve an upgraded connection: the SSH server side of one tunnel, until either end closes it or a bound ends it. */
  serve(socket: Duplex, head: Buffer, target: TunnelTarget, slot: TunnelSlot): void {
    const { ssh_gateway: bounds } = this.config;
    const tracker = new Tracker();
    const openedAt = this.clock.now();
    const label = `${target.cluster}/${target.rank}`;
    let reason: string | undefined;
    const timers: NodeJS.Timeout[] = [];

    const close = (why: string): void => {
      if (reason !== undefined) return;
      reason = why;
      for (const timer of timers) clearTimeout(timer);
      this.open.delete(stop);
      tracker.endAll();
      socket.destroy();
      slot.release();
      void target.backend.close().catch(() => undefined);
      const seconds = Math.round((this.clock.now() - openedAt) / 1000);
      this.logger.info({ user: target.user.name, node: label, seconds, reason: why }, 'SSH tunnel closed');
      void this.audit.record({ user: target.user.id, userName: target.user.name, action: 'ssh.close', target: label, result: 'SUCCEEDED', detail: `${why} after ${seconds} s` });
    };
    const stop = (): void => close('the API server stopped');
    this.open.add(stop);

    const idle = setTimeout(() => close(`no traffic for ${bounds.idle_timeout_seconds} s`), bounds.idle_timeout_seconds * 1000);
    const total = setTimeout(() => close(`open for the maximum of ${bounds.max_tunnel_seconds} s`), bounds.max_tunnel_seconds * 1000);
    // One check at a time (a slow store must not pile them up); a definite "no" ends the tunnel at
    // once, a check that fails (the store busy or away) only after three in a row, so that a
    // passing fault does not cut a user's session.
    let checking = false;
    let failedChecks = 0;
    const recheck = setInterval(() => {
      if (checking) return;
      checking = true;
      target.stillAllowed().then(
        (ok) => {
          checking = false;
          failedChecks = 0;
          if (!ok) close('the user may no longer use this cluster');
        },
        () => {
          checking = false;
          failedChecks += 1;
          if (failedChecks >= RECHECK_FAILURES_TOLERATED) close('the user could not be authorized again');
        },
      );
    }, bounds.recheck_seconds * 1000);
    for (const timer of [idle, total, recheck]) {
      timer.unref();
      timers.push(timer);
    }
    socket.on('data', () => idle.refresh());
    socket.on('error', () => close('the connection failed'));
    // The client's end (a half-close included: the HTTP server allows those) ends the tunnel.
    socket.on('end', () => close('closed by the client'));
    socket.on('close', () => close('closed by the client'));

    void this.audit.record({ user: target.user.id, userName: target.user.name, action: 'ssh.open', target: label, result: 'SUCCEEDED', detail: `from ${target.from}` });
    this.logger.info({ user: target.user.name, node: label, from: target.from }, 'SSH tunnel opened');

    const key = this.key();
    const server = new (ssh2().Server)({ hostKeys: [key.privateKey], ident: 'sky' }, (conn) => serveConnection(conn, target.backend, tracker));
    server.on('error', () => close('the SSH session failed'));
    if (head.length > 0) socket.unshift(head);
    server.injectSocket(socket as Parameters<typeof server.injectSocket>[0]);
  }

  /** End every tunnel (the daemon stops). */
  closeAll(): void {
    this.stopped = true;
    for (const stop of [...this.open]) stop();
  }
}
