import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as Ssh2 from 'ssh2';
import type { Duplex } from 'node:stream';
import type { Client as ClientType, ClientChannel, ConnectConfig, PseudoTtyOptions, SFTPWrapper } from 'ssh2';
import { SkyError } from '@sky/protocol';
import { appendKnownHost, fingerprint, hostKeyAlgorithmsFor, knownKeysFor, pinnedKeys } from './ssh-known-hosts.js';
import { connectError, hostKeyChanged, hostKeyNotPinned, hostKeyRevoked, hostKeyUnknown, lostError, type SshErrorContext } from './ssh-errors.js';

/**
 * ssh2 is loaded on first use, with Node's own require: a daemon that only has local nodes never
 * loads it, and the daemon's bundle leaves it (and its optional native addons) in node_modules.
 */
let ssh2Module: typeof Ssh2 | undefined;
export function ssh2(): typeof Ssh2 {
  ssh2Module ??= createRequire(import.meta.url)('ssh2') as typeof Ssh2;
  return ssh2Module;
}

/** What SshConnection.session opens. */
export type SessionOpen =
  | { kind: 'shell'; pty: PseudoTtyOptions | undefined; env: Readonly<Record<string, string>> }
  | { kind: 'exec'; command: string; pty: PseudoTtyOptions | undefined; env: Readonly<Record<string, string>> }
  | { kind: 'subsystem'; name: string };

/** One SSH endpoint. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key file (unencrypted; keys with a passphrase belong in ssh-agent). */
  identityFile?: string | undefined;
  /** The private key from elsewhere (a driver's sealed document in the state store), instead of identityFile; `what` names it in errors. */
  identityKey?: { what: string; read: () => Promise<Buffer> } | undefined;
  /**
   * Host keys the node's driver pinned (OpenSSH public key lines): when set, the host must
   * present one of them, and known_hosts and trust on first use are not consulted.
   */
  hostKeys?: readonly string[] | undefined;
}

/**
 * Opens the byte stream SSH runs over, instead of TCP to host:port (a node reached through its
 * driver, e.g. the Kubernetes API server's port-forward). `signal` aborts at the connect timeout.
 * Rejects with SkyError NODE_UNREACHABLE saying why.
 */
export type SocketOpener = (signal: AbortSignal) => Promise<Duplex>;

/** How connections are made and watched; the same for every host of a pool. */
export interface SshOptions {
  /** The known_hosts file host keys are checked against. Default ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /**
   * Trust on first use: a host with no line in known_hosts is accepted and its key appended.
   * Off by default — then an unknown host is refused with its fingerprint. A known host whose
   * key differs is refused either way.
   */
  trustOnFirstUse?: boolean;
  /** ssh-agent socket; default $SSH_AUTH_SOCK when set. `null`: never use an agent. */
  agentSocket?: string | null;
  /** Time allowed for TCP connect + SSH handshake + auth. Default 10 s. */
  connectTimeoutMs?: number;
  /** SSH-level keepalive period. Default 5 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection is declared dead. Default 3. */
  keepaliveCountMax?: number;
  /** Concurrent session channels (exec, sftp) per connection; sshd's MaxSessions defaults to 10. Default 8. */
  maxChannels?: number;
}

export const SSH_DEFAULTS = {
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 5_000,
  keepaliveCountMax: 3,
  maxChannels: 8,
} as const;

/**
 * The longest a dead host (link cut, machine gone) goes unnoticed on an open connection:
 * ssh2 sends a keepalive every interval and gives up when more than `keepaliveCountMax` in a row
 * are unanswered, counted from the last answer: (keepaliveCountMax + 1) × keepaliveInterval.
 * With the defaults, 4 × 5 s = 20 s. Operations in flight then reject with NODE_UNREACHABLE.
 */
export function detectionBoundMs(options: SshOptions = {}): number {
  const interval = options.keepaliveIntervalMs ?? SSH_DEFAULTS.keepaliveIntervalMs;
  const count = options.keepaliveCountMax ?? SSH_DEFAULTS.keepaliveCountMax;
  return (count + 1) * interval;
}

export function sshLabel(target: SshTarget): string {
  return `${target.user}@${target.host}:${target.port}`;
}

/**
 * sshd frees a session a moment after its channel closed, so a channel opened right then can be
 * refused ("no more sessions" past MaxSessions, SSH_OPEN_CONNECT_FAILED): such refusals are
 * retried, for up to ~2 s.
 */
const REFUSAL_RETRIES = 12;

function isSessionRefusal(err: unknown): boolean {
  return (err as { reason?: number }).reason === 2 || /open failed/i.test((err as Error)?.message ?? '');
}

function refusalBackoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(5 * 2 ** attempt, 250)));
}

/** One live ssh2 client and what hangs off it. */
interface Live {
  client: ClientType;
  closed: boolean;
  /** Why the connection ended while in use, when known (keepalive timeout, socket error). */
  lostReason: SkyError | undefined;
  sftp: Promise<SFTPWrapper> | undefined;
}

/** A counting semaphore: at most `limit` holders. */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    if (this.used >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.used += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.used -= 1;
    };
  }
}

/**
 * One pooled SSH connection to a host: opened on first use, shared by every operation
 * (each command is a channel on it, file transfers share one SFTP session), watched by
 * keepalives, and opened again on the next use after it dropped. Host keys are checked
 * against known_hosts; auth is by identity file and/or ssh-agent.
 */
export class SshConnection {
  readonly label: string;
  /** TCP connections opened so far (1 for a healthy host, +1 per reconnect). */
  opened = 0;
  private current: Promise<Live> | undefined;
  private currentLive: Live | undefined;
  private readonly slots: Slots;
  private closing = false;
  private readonly knownHostsFile: string;
  private readonly ctx: SshErrorContext;

  constructor(
    readonly target: SshTarget,
    private readonly options: SshOptions = {},
    /** A connection to the jump host to go through (ProxyJump). */
    private readonly via?: SshConnection,
    /** Where the stream comes from when not TCP (nor a jump host): the node's driver. */
    private readonly opener?: SocketOpener,
  ) {
    this.label = sshLabel(target);
    this.knownHostsFile = options.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
    this.slots = new Slots(options.maxChannels ?? SSH_DEFAULTS.maxChannels);
    this.ctx = {
      label: this.label,
      host: target.host,
      port: target.port,
      identityFile: target.identityFile,
      agent: this.agentSocket() !== undefined,
      connectTimeoutMs: options.connectTimeoutMs ?? SSH_DEFAULTS.connectTimeoutMs,
      detectionBoundMs: detectionBoundMs(options),
      via: via?.label,
    };
  }

  get errorContext(): SshErrorContext {
    return this.ctx;
  }

  private agentSocket(): string | undefined {
    if (this.options.agentSocket === null) return undefined;
    const socket = this.options.agentSocket ?? process.env.SSH_AUTH_SOCK;
    return socket ? socket : undefined;
  }

  /** The live connection, opening it when there is none (or the last one dropped). */
  private live(): Promise<Live> {
    if (this.closing) return Promise.reject(new SkyError('NODE_UNREACHABLE', `the SSH connection to ${this.label} is closed (the daemon is stopping)`));
    if (this.current === undefined) {
      const attempt = this.open();
      this.current = attempt;
      attempt.catch(() => {
        if (this.current === attempt) this.current = undefined;
      });
    }
    return this.current;
  }

  /** Whether a connection is open (or being opened) right now; asking does not open one. */
  get isOpen(): boolean {
    return this.current !== undefined;
  }

  private async privateKey(): Promise<Buffer | undefined> {
    const source = this.target.identityKey;
    const file = source?.what ?? this.target.identityFile;
    if (file === undefined) return undefined;
    let key: Buffer;
    try {
      key = source !== undefined ? await source.read() : await readFile(file);
    } catch (err) {
      const code = source !== undefined ? (err instanceof Error ? err.message : String(err)) : ((err as NodeJS.ErrnoException).code ?? 'unreadable');
      throw new SkyError('NODE_UNREACHABLE', `cannot read the identity ${source !== undefined ? 'key' : 'file'} ${file} for ${this.label}: ${code}`, {
        hint: source !== undefined ? 'The key is a document of the driver that made the node, in the state store: check that the store answers and holds the same secrets key on every replica.' : 'Check the identity_file path and that the daemon may read it.',
        details: { host: this.target.host, port: this.target.port },
      });
    }
    const parsed = ssh2().utils.parseKey(key);
    if (parsed instanceof Error) {
      const encrypted = /passphrase|encrypted/i.test(parsed.message);
      throw new SkyError(
        'NODE_UNREACHABLE',
        encrypted
          ? `the identity file ${file} for ${this.label} is protected by a passphrase`
          : `the identity file ${file} for ${this.label} is not a private key sky can read`,
        {
          hint: encrypted ? `Load it into ssh-agent (ssh-add ${file}) and let the daemon see SSH_AUTH_SOCK.` : 'Give an OpenSSH or PEM private key (ed25519, ECDSA or RSA).',
          details: { host: this.target.host, port: this.target.port },
        },
      );
    }
    return key;
  }

  private async open(): Promise<Live> {
    const { host, port, user } = this.target;
    const privateKey = await this.privateKey();
    const agent = this.agentSocket();
    if (privateKey === undefined && agent === undefined) {
      throw new SkyError('NODE_UNREACHABLE', `no way to authenticate to ${this.label}: no identity file and no ssh-agent (SSH_AUTH_SOCK)`, {
        hint: 'Set identity_file for the host or pool, or run the daemon with an ssh-agent holding the key.',
        details: { host, port },
      });
    }
    const pinned = this.target.hostKeys === undefined ? undefined : pinnedKeys(this.target.hostKeys);
    const known = pinned ?? (await knownKeysFor(this.knownHostsFile, host, port));
    let hostKeyProblem: SkyError | undefined;
    let tofuKey: Buffer | undefined;
    const verify = (key: Buffer): boolean => {
      const got = fingerprint(key);
      if (pinned !== undefined) {
        if (pinned.some((k) => k.blob.equals(key))) return true;
        hostKeyProblem = hostKeyNotPinned(host, port, pinned.map((k) => fingerprint(k.blob)), got);
        return false;
      }
      if (known.some((k) => k.revoked && k.blob.equals(key))) {
        hostKeyProblem = hostKeyRevoked(host, port, this.knownHostsFile, got);
        return false;
      }
      const trusted = known.filter((k) => !k.revoked);
      if (trusted.some((k) => k.blob.equals(key))) return true;
      if (trusted.length > 0) {
        hostKeyProblem = hostKeyChanged(host, port, this.knownHostsFile, trusted.map((k) => fingerprint(k.blob)), got);
        return false;
      }
      if (this.options.trustOnFirstUse) {
        tofuKey = Buffer.from(key);
        return true;
      }
      hostKeyProblem = hostKeyUnknown(host, port, this.knownHostsFile, got);
      return false;
    };

    const sock = this.opener
      ? await this.opener(AbortSignal.timeout(this.ctx.connectTimeoutMs))
      : this.via
        ? await this.via.forward(host, port, this.ctx)
        : undefined;
    const algorithms = hostKeyAlgorithmsFor(known);
    const config: ConnectConfig = {
      host,
      port,
      username: user,
      readyTimeout: this.ctx.connectTimeoutMs,
      keepaliveInterval: this.options.keepaliveIntervalMs ?? SSH_DEFAULTS.keepaliveIntervalMs,
      keepaliveCountMax: this.options.keepaliveCountMax ?? SSH_DEFAULTS.keepaliveCountMax,
      hostVerifier: verify,
      ...(privateKey ? { privateKey } : {}),
      ...(agent ? { agent } : {}),
      ...(algorithms ? { algorithms: { serverHostKey: algorithms as never } } : {}),
      ...(sock ? { sock } : {}),
    };

    const client = new (ssh2().Client)();
    const live: Live = { client, closed: false, lostReason: undefined, sftp: undefined };
    this.opened += 1;
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      // Requests and answers are small and sequential: without TCP_NODELAY, Nagle's algorithm
      // and delayed ACKs add ~40 ms stalls to each round trip.
      client.on('connect', () => client.setNoDelay(true));
      client.on('ready', () => {
        ready = true;
        this.currentLive = live;
        resolve();
      });
      client.on('error', (err: Error) => {
        if (!ready) {
          if (!hostKeyProblem && known.length > 0 && /no matching host key/i.test(err.message)) {
            // known_hosts restricts the offer to the key types it holds, and the host has none of them.
            const expected = known.filter((k) => !k.revoked).map((k) => fingerprint(k.blob));
            hostKeyProblem = pinned !== undefined ? hostKeyNotPinned(host, port, expected, 'a key of another type') : hostKeyChanged(host, port, this.knownHostsFile, expected, 'a key of another type');
          }
          reject(hostKeyProblem ?? connectError(err, this.ctx));
          client.end();
          return;
        }
        live.lostReason ??= connectError(err, this.ctx);
      });
      client.on('close', () => {
        live.closed = true;
        if (this.currentLive === live) {
          this.currentLive = undefined;
          this.current = undefined;
        }
        if (!ready) reject(hostKeyProblem ?? connectError(new Error('connection closed during the handshake'), this.ctx));
      });
      client.connect(config);
    });
    if (tofuKey) await appendKnownHost(this.knownHostsFile, host, port, tofuKey);
    return live;
  }

  /** Why the connection behind `live` went away, as NODE_UNREACHABLE. */
  private lost(live: Live): SkyError {
    return live.lostReason ?? lostError(this.ctx, 'the connection closed');
  }

  /** Run `fn` on the live connection; a drop while it runs becomes NODE_UNREACHABLE. */
  private async withLive<T>(fn: (live: Live) => Promise<T>): Promise<T> {
    const live = await this.live();
    try {
      return await fn(live);
    } catch (err) {
      if (live.closed && !(err instanceof SkyError && err.code === 'NODE_UNREACHABLE')) throw this.lost(live);
      throw err;
    }
  }

  /**
   * Open an exec channel for `command` (as the remote login shell will run it). `done` must be
   * called when the channel has closed, to free its slot. `lost()` says why, when the channel
   * ended because the connection dropped. `urgent` skips the channel limit (for the few
   * commands that end others, which must not wait behind them, and the host's first streams, which
   * have sessions of their own beside the limit). `attach` is called with the
   * channel synchronously, before any of its events can fire: listen there (ssh2 emits `exit`
   * as a plain event, which a listener added a tick later can miss).
   */
  async exec(
    command: string,
    attach: (channel: ClientChannel) => void,
    urgent = false,
  ): Promise<{ channel: ClientChannel; done: () => void; lost: () => SkyError | undefined }> {
    const release = urgent ? () => undefined : await this.slots.acquire();
    try {
      return await this.withLive(async (live) => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await new Promise<{ channel: ClientChannel; done: () => void; lost: () => SkyError | undefined }>((resolve, reject) => {
              live.client.exec(command, (err, channel) => {
                if (err) {
                  reject(err);
                  return;
                }
                attach(channel);
                resolve({ channel, done: release, lost: () => (live.closed ? this.lost(live) : undefined) });
              });
            });
          } catch (err) {
            if (live.closed) throw this.lost(live);
            if (isSessionRefusal(err) && attempt < REFUSAL_RETRIES) {
              await refusalBackoff(attempt);
              continue;
            }
            const message = err instanceof Error ? err.message : String(err);
            throw new SkyError('NODE_UNREACHABLE', `cannot run a command on ${this.label}: ${message}`, {
              hint: 'sshd refused a new session; check MaxSessions in its sshd_config.',
              cause: err,
            });
          }
        }
      });
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The connection's SFTP session (one per connection, opened on first use) and a way to tell a drop from a file error. */
  async sftp(): Promise<{ sftp: SFTPWrapper; lost: () => SkyError | undefined }> {
    return this.withLive(async (live) => {
      if (live.sftp === undefined) {
        const opening = (async () => {
          const release = await this.slots.acquire();
          for (let attempt = 0; ; attempt++) {
            try {
              const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
                live.client.sftp((err, session) => (err ? reject(err) : resolve(session)));
              });
              sftp.on('error', () => undefined);
              sftp.on('close', () => {
                release();
                if (live.sftp === opening) live.sftp = undefined;
              });
              return sftp;
            } catch (err) {
              if (!live.closed && isSessionRefusal(err) && attempt < REFUSAL_RETRIES) {
                await refusalBackoff(attempt);
                continue;
              }
              release();
              if (live.closed) throw this.lost(live);
              const message = err instanceof Error ? err.message : String(err);
              throw new SkyError('NODE_UNREACHABLE', `cannot open SFTP on ${this.label}: ${message}`, {
                hint: 'Check that sshd on the host has the sftp subsystem enabled.',
                cause: err,
              });
            }
          }
        })();
        live.sftp = opening;
        opening.catch(() => {
          if (live.sftp === opening) live.sftp = undefined;
        });
      }
      const sftp = await live.sftp;
      return { sftp, lost: () => (live.closed ? this.lost(live) : undefined) };
    });
  }

  /**
   * A session channel the SSH gateway asked for on a user's behalf: a login shell, a command
   * (each with the pty and environment the user's client sent) or a subsystem. Outside the
   * channel limit: the gateway opens a connection of its own per tunnel.
   */
  async session(open: SessionOpen): Promise<ClientChannel> {
    return this.withLive(
      (live) =>
        new Promise((resolve, reject) => {
          const done = (err: Error | undefined, channel: ClientChannel): void => {
            if (err) reject(live.closed ? this.lost(live) : new SkyError('NODE_UNREACHABLE', `${this.label} refused the session: ${err.message}`, { cause: err }));
            else resolve(channel);
          };
          const env = open.kind === 'subsystem' ? {} : { env: { ...open.env } };
          if (open.kind === 'shell') live.client.shell(open.pty ?? false, env, done);
          else if (open.kind === 'exec') live.client.exec(open.command, { ...env, ...(open.pty ? { pty: open.pty } : {}) }, done);
          else live.client.subsys(open.name, done);
        }),
    );
  }

  /** A TCP stream from this host to host:port (direct-tcpip), for jumping through it. */
  async forward(host: string, port: number, ctx: SshErrorContext): Promise<ClientChannel> {
    return this.withLive(
      (live) =>
        new Promise((resolve, reject) => {
          live.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
            if (err) reject(live.closed ? this.lost(live) : connectError(err, ctx));
            else resolve(stream);
          });
        }),
    );
  }

  /** Close the connection (if open). Later use reconnects, unless `final`. */
  async close(final = false): Promise<void> {
    if (final) this.closing = true;
    const current = this.current;
    this.current = undefined;
    this.currentLive = undefined;
    if (current === undefined) return;
    const live = await current.catch(() => undefined);
    if (live === undefined || live.closed) return;
    await new Promise<void>((resolve) => {
      live.client.once('close', () => resolve());
      live.client.end();
      setTimeout(() => {
        live.client.destroy();
        resolve();
      }, 2000).unref();
    });
  }
}
