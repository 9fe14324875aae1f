import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { API_VERSION, API_VERSION_HEADER, SkyError } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { budgetKey, normalizeAddress, TrustedProxies } from './addresses.js';
import { ConnectionGuard, RefusalLog } from './connection-guard.js';
import type { TlsMaterial } from './tls.js';
import { upgradeListener } from './upgrade.js';

export interface Listening {
  host: string;
  port: number;
  url: string;
}

export interface ListenerOptions {
  listen: DaemonConfig['listen'];
  logger: Logger;
  handler: RequestListener;
  tls?: TlsMaterial;
  /** Path of /proc/self/limits (tests point it elsewhere). */
  limitsFile?: string;
}

/** File descriptors kept out of the connection budget: the store, logs, SSH connections, plugins. */
const FD_RESERVE = 256;
/** How long a refused plain-HTTP connection may take to read its 503 before it is cut. */
const REFUSED_LINGER_MS = 2_000;
const RETRY_AFTER_SECONDS = 5;

/** The soft open-file limit of this process (Linux), or undefined when it cannot be read. */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limitsFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

function errorResponse(error: SkyError, reason: string, extra: Record<string, string> = {}): string {
  const body = JSON.stringify(error.toBody());
  const headers = Object.entries({
    'content-type': 'application/json; charset=utf-8',
    [API_VERSION_HEADER]: String(API_VERSION),
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...extra,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `HTTP/1.1 ${error.status} ${reason}\r\n${headers}\r\n${body}`;
}

function tooManyConnections(client: string, cap: number): SkyError {
  return new SkyError('TOO_MANY_CONNECTIONS', `too many connections from ${client}: at most ${cap} at a time`, {
    hint: 'Close idle connections (or let them time out) and retry; an operator can raise listen.max_connections_per_address.',
  });
}

const isTlsError = (code: string | undefined): boolean => code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));

/** Requests node's HTTP parser rejects never reach koa: answer them in the same error shape. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex & { bytesRead?: number }): void {
  if (isTlsError(err.code)) return; // the TLS layer reports and closes these (tlsClientError)
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A connection that never sent a byte gets no answer: it is only closed.
    if (socket.bytesRead === 0) {
      socket.destroy();
      return;
    }
    const timeout = new SkyError('REQUEST_TIMEOUT', 'the request line, headers or body did not arrive in time', {
      hint: 'Send the whole request promptly (listen.header_timeout_seconds and listen.request_timeout_seconds bound it).',
    });
    socket.end(errorResponse(timeout, 'Request Timeout'));
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const error = tooLarge
    ? new SkyError('HEADERS_TOO_LARGE', 'the request line or headers exceed the 16 KiB limit', { hint: 'Send shorter URLs and headers.' })
    : new SkyError('MALFORMED_HTTP', `malformed HTTP request (${err.code ?? 'parse error'})`, { hint: 'Send a well-formed HTTP/1.1 request.' });
  socket.end(errorResponse(error, tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'));
}

/**
 * The daemon's socket: HTTP or HTTPS (listen.tls), header/request/keep-alive/idle timeouts, a
 * connection budget per client address and a total cap (kept below the open-file limit).
 * Over-cap connections are refused cheaply (a canned 503 on plain HTTP, a reset on TLS) and
 * counted in the log at most once per 10 s.
 */
export class HttpListener {
  readonly guard: ConnectionGuard;
  readonly refusals: RefusalLog;
  /** The total connection cap in force (listen.max_connections, or less under a low open-file limit). */
  readonly maxConnections: number;
  private readonly server: Server;
  private readonly refused = new WeakSet<Socket>();
  /** Raw sockets of TLS connections by peer, to answer a plain-HTTP request on the TLS port in plain HTTP. */
  private readonly rawByPeer = new Map<string, Socket>();

  constructor(private readonly options: ListenerOptions) {
    const { listen, logger, tls } = options;
    this.refusals = new RefusalLog(logger);
    this.guard = new ConnectionGuard(listen.max_connections_per_address, new TrustedProxies(listen.trusted_proxies), this.refusals);
    const limit = openFileLimit(options.limitsFile);
    const byFds = limit === undefined ? Infinity : Math.max(limit - FD_RESERVE, 64);
    this.maxConnections = Math.min(listen.max_connections, byFds);
    if (this.maxConnections < listen.max_connections) {
      logger.warn({ configured: listen.max_connections, openFileLimit: limit, maxConnections: this.maxConnections }, 'listen.max_connections lowered to stay below the open-file limit (raise it with ulimit -n)');
    }
    const headersMs = listen.header_timeout_seconds * 1000;
    const common = {
      headersTimeout: headersMs,
      requestTimeout: listen.request_timeout_seconds * 1000,
      // How often node looks for connections past those timeouts.
      connectionsCheckingInterval: Math.min(1_000, Math.max(Math.floor(headersMs / 4), 50)),
    };
    const handler = this.guarded(options.handler);
    this.server =
      tls === undefined
        ? createHttpServer(common, handler)
        : createHttpsServer({ ...common, cert: tls.cert, key: tls.key, handshakeTimeout: headersMs }, handler);
    this.server.keepAliveTimeout = listen.keep_alive_timeout_seconds * 1000;
    this.server.timeout = listen.idle_timeout_seconds * 1000;
    this.server.maxConnections = this.maxConnections;
    this.server.prependListener('connection', (socket: Socket) => this.onConnection(socket));
    this.server.on('drop', (data?: { remoteAddress?: string }) => {
      this.refusals.note('total', data?.remoteAddress === undefined ? undefined : budgetKey(data.remoteAddress));
    });
    this.server.on('upgrade', upgradeListener(handler));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));
    if (tls !== undefined) this.server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => this.onTlsError(err, socket));
  }

  private onConnection(socket: Socket): void {
    if (this.guard.admit(socket)) {
      if (this.options.tls !== undefined) this.trackRaw(socket);
      return;
    }
    this.refused.add(socket);
    if (this.options.tls !== undefined) {
      socket.resetAndDestroy();
      return;
    }
    const client = budgetKey(normalizeAddress(socket.remoteAddress));
    socket.end(errorResponse(tooManyConnections(client, this.options.listen.max_connections_per_address), 'Service Unavailable', { 'retry-after': String(RETRY_AFTER_SECONDS) }));
    const cut = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
    cut.unref();
    socket.once('close', () => clearTimeout(cut));
  }

  private trackRaw(socket: Socket): void {
    const peer = `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
    this.rawByPeer.set(peer, socket);
    socket.once('close', () => {
      if (this.rawByPeer.get(peer) === socket) this.rawByPeer.delete(peer);
    });
  }

  /** A plain-HTTP request on the TLS port gets a readable answer instead of a reset. */
  private onTlsError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code !== 'ERR_SSL_HTTP_REQUEST') return;
    const raw = this.rawByPeer.get(`${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`);
    if (raw === undefined || !raw.writable) return;
    const error = new SkyError('HTTPS_REQUIRED', 'this API server speaks HTTPS only; the request came as plain HTTP', {
      hint: 'Use an https:// endpoint URL (sky api login -e https://HOST:PORT).',
    });
    raw.end(errorResponse(error, 'Bad Request'));
  }

  private guarded(handler: RequestListener): RequestListener {
    return (req: IncomingMessage, res: ServerResponse) => {
      // A refused connection was answered when it opened; whatever it sends is not served.
      if (this.refused.has(req.socket)) return;
      if (!this.guard.attribute(req)) {
        const error = tooManyConnections(budgetKey(this.guard.clientOf(req)), this.options.listen.max_connections_per_address);
        const body = JSON.stringify(error.toBody());
        res.shouldKeepAlive = false;
        res.writeHead(error.status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          [API_VERSION_HEADER]: String(API_VERSION),
          'retry-after': String(RETRY_AFTER_SECONDS),
          connection: 'close',
        });
        res.end(body);
        return;
      }
      handler(req, res);
    };
  }

  listen(host: string, port: number): Promise<Listening> {
    const server = this.server;
    const scheme = this.options.tls === undefined ? 'http' : 'https';
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(new SkyError('PORT_IN_USE', `${host}:${port} is already in use`, {
            hint: 'Another sky API server may be running there (sky api info / sky api stop), or choose another port with --port.',
          }));
        } else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES') {
          reject(new SkyError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${err.code}`, { hint: 'Check listen.host and listen.port.' }));
        } else reject(err);
      });
      server.listen(port, host, () => {
        const address = server.address();
        const actual = typeof address === 'object' && address !== null ? address.port : port;
        const urlHost = host.includes(':') ? `[${host}]` : host;
        resolve({ host, port: actual, url: `${scheme}://${urlHost}:${actual}` });
      });
    });
  }

  /** Stop accepting; idle connections close now, busy ones get up to 2 s. */
  async close(): Promise<void> {
    const server = this.server;
    this.refusals.stop();
    if (!server.listening) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      setTimeout(() => {
        server.closeAllConnections();
        resolve();
      }, 2000).unref();
    });
  }
}
