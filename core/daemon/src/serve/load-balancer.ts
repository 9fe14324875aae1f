import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SkyError, type LoadBalancingPolicy } from '@sky/protocol';
import { ProxyExchange, type ExchangeHooks } from './proxy-exchange.js';
import { ReplicaPool, type PoolReplica } from './replica-pool.js';
import { RequestRate } from './request-rate.js';

export interface LoadBalancerOptions {
  /** Address to listen on (serve.host). */
  host: string;
  /** Port to listen on (the service's lbPort); 0 picks a free one, read back from `port`. */
  port: number;
  policy: LoadBalancingPolicy;
  /** Bearer token clients must send; absent: open endpoint. */
  token?: string;
  log?: (line: string) => void;
}

export interface LoadBalancerStats {
  /** Client requests being answered now. */
  inFlight: number;
  /** Client requests received since start (refused ones included). */
  total: number;
  /** Requests answered 502 (no replica answered) or 503 (no ready replica). */
  failed: number;
  /** Requests sent to each replica, by replica id (retries count for each replica tried). */
  perReplica: Record<number, number>;
}

/** Seconds a client is told to wait when no replica is ready (a replica takes at least that long to come up). */
const RETRY_AFTER_SECONDS = 5;

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/**
 * The HTTP load balancer of one service: a reverse proxy on its own port, inside the daemon
 * process, in front of the service's READY replicas (which its controller keeps current with
 * `setReplicas`). It counts requests for the autoscaler (`qps`) and keeps out clients without
 * the service's bearer token when it has one.
 */
export class ServiceLoadBalancer {
  private readonly server: Server;
  private readonly pool: ReplicaPool;
  private readonly rate = new RequestRate();
  private readonly hooks: ExchangeHooks;
  private tokenDigest: Buffer | undefined;
  private listeningPort: number | undefined;
  private inFlight = 0;
  private total = 0;
  private failed = 0;

  constructor(private readonly options: LoadBalancerOptions) {
    this.pool = new ReplicaPool(options.policy);
    this.setToken(options.token);
    this.hooks = {
      replicaFailed: (replica: PoolReplica, error: NodeJS.ErrnoException) => {
        if (this.pool.skip(replica)) this.options.log?.(`replica ${replica.id} (${replica.endpoint}) failed a request (${error.code ?? error.message}); passed over for a while`);
      },
      gaveUp: () => this.failed++,
      done: () => this.inFlight--,
    };
    // Long uploads and streams are the replica's business: no overall request deadline here.
    this.server = createServer({ requestTimeout: 0, noDelay: true }, (req, res) => this.handle(req, res));
  }

  /** The port listened on (the one given, or the one picked when 0 was given). */
  get port(): number {
    return this.listeningPort ?? this.options.port;
  }

  start(): Promise<void> {
    const { host, port } = this.options;
    const server = this.server;
    return new Promise((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException): void => {
        if (err.code === 'EADDRINUSE') {
          reject(new SkyError('PORT_IN_USE', `the service's load balancer cannot listen on ${host}:${port}: the port is already in use`, {
            hint: 'Another process holds that port: stop it, or keep it out of serve.ports in the daemon config so services are given other ports.',
            details: { host, port },
          }));
        } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
          reject(new SkyError('CONFIG_INVALID', `the service's load balancer cannot listen on ${host}:${port}: ${err.code}`, {
            hint: 'Check serve.host (an address of this host) and serve.ports (ports this account may open) in the daemon config.',
            details: { host, port },
          }));
        } else reject(err);
      };
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        server.on('error', (err) => this.options.log?.(`load balancer on ${host}:${this.port}: ${err.message}`));
        const address = server.address();
        this.listeningPort = typeof address === 'object' && address !== null ? address.port : port;
        resolve();
      });
    });
  }

  /** The READY replicas; requests in flight to a replica that leaves finish where they are. */
  setReplicas(replicas: ReadonlyArray<{ id: number; endpoint: string }>): void {
    this.pool.set(replicas);
  }

  setPolicy(policy: LoadBalancingPolicy): void {
    this.pool.policy = policy;
  }

  setToken(token: string | undefined): void {
    this.tokenDigest = token === undefined || token === '' ? undefined : digest(token);
  }

  /** The same, from the SHA-256 (hex) of the token: what a service keeps, never the token itself. */
  setTokenDigest(hex: string | undefined): void {
    if (hex === undefined) this.tokenDigest = undefined;
    // A digest not of this form fails closed: no token matches it.
    else this.tokenDigest = /^[0-9a-f]{64}$/.test(hex) ? Buffer.from(hex, 'hex') : randomBytes(32);
  }

  /** Requests per second over the last `windowSeconds` (default 60, at most 600). */
  qps(windowSeconds = 60): number {
    return this.rate.perSecond(windowSeconds);
  }

  stats(): LoadBalancerStats {
    return { inFlight: this.inFlight, total: this.total, failed: this.failed, perReplica: Object.fromEntries(this.pool.served) };
  }

  /** Stop listening and close every connection, client and replica side, at once. */
  async stop(): Promise<void> {
    const server = this.server;
    const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    server.closeAllConnections();
    this.pool.close();
    await closed;
  }

  private authorized(req: IncomingMessage): boolean {
    const expected = this.tokenDigest;
    if (expected === undefined) return true;
    const header = req.headers.authorization;
    if (header === undefined || !/^bearer /i.test(header)) return false;
    // Digests of equal length, compared in constant time: neither the token nor its length leaks through timing.
    return timingSafeEqual(digest(header.slice(7).trim()), expected);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.total++;
    if (!this.authorized(req)) {
      plain(res, 401, 'Unauthorized: this service needs Authorization: Bearer <token>.\n', { 'www-authenticate': 'Bearer' });
      return;
    }
    // Counted before the pool is looked at: requests to a service with no replica are what scales it up from zero.
    this.rate.record();
    const order = this.pool.order();
    if (order.length === 0) {
      this.failed++;
      plain(res, 503, 'Service unavailable: the service has no ready replica yet; retry shortly.\n', { 'retry-after': String(RETRY_AFTER_SECONDS) });
      return;
    }
    this.inFlight++;
    new ProxyExchange(req, res, order, this.pool, this.hooks, this.tokenDigest !== undefined).start();
  }
}
