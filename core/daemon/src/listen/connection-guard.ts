import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { budgetKey, normalizeAddress, type TrustedProxies } from './addresses.js';

const LOG_WINDOW_MS = 10_000;
const TOP_ADDRESSES = 5;

export type RefusalReason = 'per_address' | 'total';

/**
 * Counts refused connections and logs them at most once per window: the first refusal at once,
 * then one summary line per window while refusals go on (a flood never floods the log).
 */
export class RefusalLog {
  private readonly byAddress = new Map<string, number>();
  private readonly byReason = { per_address: 0, total: 0 };
  private pending = 0;
  private window: NodeJS.Timeout | undefined;
  /** Every refusal since start. */
  refused = 0;

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = LOG_WINDOW_MS,
  ) {}

  note(reason: RefusalReason, address: string | undefined): void {
    this.refused++;
    this.pending++;
    this.byReason[reason]++;
    if (address !== undefined) this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
    if (this.window === undefined) this.flush();
  }

  private flush(): void {
    if (this.pending === 0) {
      this.window = undefined;
      return;
    }
    const top = [...this.byAddress].sort((a, b) => b[1] - a[1]).slice(0, TOP_ADDRESSES);
    this.logger.warn(
      { refused: this.pending, overPerAddressCap: this.byReason.per_address, overTotalCap: this.byReason.total, addresses: Object.fromEntries(top), refusedSinceStart: this.refused },
      'refused connections over the connection caps (listen.max_connections_per_address / listen.max_connections)',
    );
    this.pending = 0;
    this.byReason.per_address = 0;
    this.byReason.total = 0;
    this.byAddress.clear();
    this.window = setTimeout(() => this.flush(), this.windowMs);
    this.window.unref();
  }

  stop(): void {
    clearTimeout(this.window);
    this.window = undefined;
  }
}

/**
 * The per-client connection budget. A direct connection is charged to its peer address when it
 * opens; a connection from a trusted proxy is charged, request by request, to the client its
 * X-Forwarded-For header names (so everyone behind one proxy or NAT gateway that is declared a
 * proxy does not share one budget). A connection gives its charge back when it closes.
 */
export class ConnectionGuard {
  private readonly counts = new Map<string, number>();
  private readonly charged = new WeakMap<Socket, string>();
  private readonly watched = new WeakSet<Socket>();
  private readonly clients = new WeakMap<IncomingMessage, string>();

  constructor(
    private readonly perAddress: number,
    private readonly trusted: TrustedProxies,
    private readonly refusals: RefusalLog,
  ) {}

  /** A new connection: false when its peer already holds its whole budget (the caller refuses it). */
  admit(socket: Socket): boolean {
    const peer = normalizeAddress(socket.remoteAddress);
    if (this.trusted.has(peer)) return true;
    return this.charge(socket, budgetKey(peer));
  }

  /**
   * A request: records its client address and, on a trusted proxy's connection, moves the charge
   * to that client. False when the client is over its budget (the caller answers 503).
   */
  attribute(req: IncomingMessage): boolean {
    const { socket } = req;
    const peer = normalizeAddress(socket.remoteAddress);
    const client = this.trusted.clientOf(peer, req.headers['x-forwarded-for']);
    this.clients.set(req, client);
    if (!this.trusted.has(peer)) return true;
    const key = budgetKey(client);
    if (this.charged.get(socket) === key) return true;
    this.release(socket);
    return this.charge(socket, key);
  }

  /** The client address of a request (the peer, or the forwarded client behind a trusted proxy). */
  clientOf(req: IncomingMessage): string {
    return this.clients.get(req) ?? normalizeAddress(req.socket.remoteAddress);
  }

  /** Connections currently charged to a client's budget. */
  count(address: string): number {
    return this.counts.get(budgetKey(address)) ?? 0;
  }

  private charge(socket: Socket, key: string): boolean {
    const used = this.counts.get(key) ?? 0;
    if (used >= this.perAddress) {
      this.refusals.note('per_address', key);
      return false;
    }
    this.counts.set(key, used + 1);
    this.charged.set(socket, key);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => this.release(socket));
    }
    return true;
  }

  private release(socket: Socket): void {
    const key = this.charged.get(socket);
    if (key === undefined) return;
    this.charged.delete(socket);
    const left = (this.counts.get(key) ?? 1) - 1;
    if (left <= 0) this.counts.delete(key);
    else this.counts.set(key, left);
  }
}
