import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Identity } from '@sky/protocol';
import type { Endpoint } from './endpoint.js';
import { API_VERSION, API_VERSION_HEADER, DEFAULT_ENDPOINT, LOCAL_TOKEN_HEADER, SkyError, USER_ID_HEADER, USER_NAME_HEADER } from '@sky/protocol/wire';
import { isErrorBody } from './errors.js';

export interface TransportOptions {
  endpoint: Endpoint;
  identity: Identity;
  /** Give up on a connection (DNS + TCP + TLS) after this long. */
  connectTimeoutMs?: number;
  /**
   * Trust exactly the certificate with this SHA-256 fingerprint instead of a CA (an https
   * endpoint of the local daemon, whose daemon.json records it).
   */
  pinnedFingerprint256?: string;
  /** Reads the personal daemon's local token; sent only to a loopback endpoint without other credentials. */
  localToken?: () => Promise<string | undefined>;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Raw bytes to send instead of a JSON body. */
  raw?: { data: Buffer; contentType: string };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Fail when the connection carries no bytes for this long (default 60 s). */
  idleTimeoutMs?: number;
}

interface HttpModule {
  request(options: RequestOptions, callback: (res: IncomingMessage) => void): ClientRequest;
  agent: Agent | undefined;
  createConnection?: RequestOptions['createConnection'];
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  SKY_CONNECT_TIMEOUT: 'connection timed out',
  SKY_IDLE_TIMEOUT: 'no answer in time',
};

interface ConnectionFailure extends NodeJS.ErrnoException {
  reusedSocket: boolean;
}

function isConnectionFailure(err: unknown): err is ConnectionFailure {
  return err instanceof Error && typeof (err as Partial<ConnectionFailure>).reusedSocket === 'boolean';
}

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** The whole body as text: raw chunks collected and decoded once (large listings stay cheap). */
function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the response was cut off')));
  });
}

/** HTTP over node:http(s) with a keep-alive agent: one place for headers, timeouts and error mapping. */
export class Transport {
  readonly endpoint: Endpoint;
  private readonly identity: Identity;
  private readonly connectTimeoutMs: number;
  private readonly pinned: string | undefined;
  private readonly readLocalToken: (() => Promise<string | undefined>) | undefined;
  private localToken: string | undefined;
  private http: Promise<HttpModule> | undefined;

  constructor(options: TransportOptions) {
    this.endpoint = options.endpoint;
    this.identity = options.identity;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.pinned = options.pinnedFingerprint256;
    // The local token proves to a personal daemon that this is its owner's account: it never
    // leaves this machine, and never goes along with a team server's credentials.
    this.readLocalToken = this.endpoint.local && this.endpoint.auth === 'none' ? options.localToken : undefined;
  }

  /** The local token to send, read once it exists (the daemon writes it when it starts); `fresh` reads it again. */
  private async currentLocalToken(fresh: boolean): Promise<string | undefined> {
    if (this.readLocalToken === undefined) return undefined;
    if (fresh || this.localToken === undefined) this.localToken = await this.readLocalToken();
    return this.localToken;
  }

  private module(): Promise<HttpModule> {
    this.http ??= (async () => {
      if (this.endpoint.protocol === 'https:') {
        const tls = await import('./tls.js');
        if (this.pinned !== undefined) {
          // The TLS connection is made and checked first; HTTP then runs over it.
          const http = await import('node:http');
          return { request: http.request, agent: undefined, createConnection: tls.pinnedConnection(this.pinned, this.connectTimeoutMs) };
        }
        const https = await import('node:https');
        const ca = this.endpoint.ca === undefined ? undefined : await tls.loadCa(this.endpoint.ca);
        return { request: https.request, agent: new https.Agent({ keepAlive: true, ...(ca === undefined ? {} : { ca }) }) };
      }
      const http = await import('node:http');
      return { request: http.request, agent: new http.Agent({ keepAlive: true }) };
    })();
    // A CA bundle that cannot be read is reported on every call, not cached as a broken module.
    this.http.catch(() => {
      this.http = undefined;
    });
    return this.http;
  }

  /** Release pooled connections (idle ones never keep the process alive anyway). */
  close(): void {
    void this.http?.then(
      (m) => m.agent?.destroy(),
      () => undefined,
    );
  }

  /** Send a request; resolves with a 2xx response whose body the caller reads, rejects with a SkyError otherwise. */
  async open(call: CallOptions): Promise<IncomingMessage> {
    const sent = await this.currentLocalToken(false);
    try {
      return await this.send(call);
    } catch (err) {
      // A personal daemon that made a new local token (or was just started): read it again and retry once.
      if (!(err instanceof SkyError) || err.code !== 'UNAUTHENTICATED' || this.readLocalToken === undefined) throw err;
      const fresh = await this.currentLocalToken(true);
      if (fresh === undefined || fresh === sent) throw err;
      return this.send(call);
    }
  }

  private async send(call: CallOptions): Promise<IncomingMessage> {
    try {
      return await this.attempt(call);
    } catch (err) {
      if (!isConnectionFailure(err)) throw err;
      // A pooled connection the server closed while idle: retry reads once on a fresh one.
      const stalePooled = err.reusedSocket && err.code === 'ECONNRESET' && (call.method ?? 'GET') === 'GET';
      if (!stalePooled) throw await this.unreachable(err);
      try {
        return await this.attempt(call);
      } catch (again) {
        throw isConnectionFailure(again) ? await this.unreachable(again) : again;
      }
    }
  }

  /** Send a request and parse its JSON answer. */
  async json<T>(call: CallOptions): Promise<T> {
    const res = await this.open(call);
    let text: string;
    try {
      text = await readText(res);
    } catch (err) {
      throw await this.unreachable(err as Error);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SkyError('INTERNAL', `the API server at ${this.endpoint.url} answered ${call.path} with invalid JSON`, {
        hint: 'Check that the endpoint points at a sky API server.',
      });
    }
  }

  private url(call: CallOptions): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) params.set(key, String(value));
    }
    const query = params.toString();
    return `${this.endpoint.basePath}${call.path}${query === '' ? '' : `?${query}`}`;
  }

  private headers(call: CallOptions, body: string | Buffer | undefined): Record<string, string> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      [API_VERSION_HEADER]: String(API_VERSION),
      [USER_NAME_HEADER]: this.identity.name,
      [USER_ID_HEADER]: this.identity.id,
      ...call.headers,
    };
    if (this.endpoint.authorization !== undefined) headers.authorization = this.endpoint.authorization;
    if (this.localToken !== undefined && this.readLocalToken !== undefined) headers[LOCAL_TOKEN_HEADER] = this.localToken;
    if (body !== undefined) {
      headers['content-type'] = call.raw?.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return headers;
  }

  /** One try; connection failures reject with the raw error tagged with reusedSocket, for open() to map. */
  private async attempt(call: CallOptions): Promise<IncomingMessage> {
    const { request, agent, createConnection } = await this.module();
    const body = call.raw !== undefined ? call.raw.data : call.body === undefined ? undefined : JSON.stringify(call.body);
    const { signal } = call;
    signal?.throwIfAborted();
    return new Promise<IncomingMessage>((resolve, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const req = request(
        {
          host: this.endpoint.host,
          port: this.endpoint.port,
          path: this.url(call),
          method: call.method ?? 'GET',
          headers: this.headers(call, body),
          ...(agent === undefined ? {} : { agent }),
          ...(createConnection === undefined ? {} : { createConnection }),
          ...(signal === undefined ? {} : { signal }),
        },
        (res) => {
          clearTimeout(connectTimer);
          this.checkResponse(res, call).then(() => resolve(res), reject);
        },
      );
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(
          () => req.destroy(codedError('SKY_CONNECT_TIMEOUT', `no connection within ${this.connectTimeoutMs} ms`)),
          this.connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.setTimeout(call.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
        req.destroy(codedError('SKY_IDLE_TIMEOUT', 'the API server did not answer in time'));
      });
      req.on('error', (err) => {
        clearTimeout(connectTimer);
        if (signal?.aborted) reject(signal.reason);
        else reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
      });
      req.end(body);
    });
  }

  /**
   * Ask the server to turn this call's connection into a raw byte stream (`Upgrade: protocol`):
   * resolves with the socket (and any bytes that came with the 101) once it switched, rejects
   * with the server's error otherwise. Always a connection of its own, never a pooled one.
   */
  async upgrade(call: CallOptions, protocol: string): Promise<{ socket: Duplex; head: Buffer }> {
    const sent = await this.currentLocalToken(false);
    try {
      return await this.upgradeOnce(call, protocol);
    } catch (err) {
      if (!(err instanceof SkyError) || err.code !== 'UNAUTHENTICATED' || this.readLocalToken === undefined) throw err;
      const fresh = await this.currentLocalToken(true);
      if (fresh === undefined || fresh === sent) throw err;
      return this.upgradeOnce(call, protocol);
    }
  }

  private async upgradeOnce(call: CallOptions, protocol: string): Promise<{ socket: Duplex; head: Buffer }> {
    const { request, agent, createConnection } = await this.module();
    const pooled = agent as (Agent & { options?: { ca?: unknown } }) | undefined;
    const ca = pooled?.options?.ca;
    return new Promise((resolve, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const req = request(
        {
          host: this.endpoint.host,
          port: this.endpoint.port,
          path: this.url(call),
          method: 'GET',
          headers: { ...this.headers(call, undefined), connection: 'Upgrade', upgrade: protocol },
          agent: false,
          ...(ca === undefined ? {} : { ca }),
          ...(createConnection === undefined ? {} : { createConnection }),
        } as RequestOptions,
        (res) => {
          clearTimeout(connectTimer);
          // No switch: the server's answer is an error (or a server that does not know the route).
          this.checkResponse(res, call).then(
            () => reject(new SkyError('INTERNAL', `the API server at ${this.endpoint.url} did not switch ${call.path} to ${protocol}`, { hint: 'Upgrade the API server to a release that has this route.' })),
            reject,
          );
        },
      );
      req.on('upgrade', (res, socket, head) => {
        clearTimeout(connectTimer);
        const header = res.headers[API_VERSION_HEADER];
        if (typeof header === 'string' && Number(header) !== API_VERSION) {
          socket.destroy();
          void this.versionMismatch(header).then(reject);
          return;
        }
        socket.setTimeout(0);
        resolve({ socket, head });
      });
      req.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => req.destroy(codedError('SKY_CONNECT_TIMEOUT', `no connection within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      req.on('error', (err) => {
        clearTimeout(connectTimer);
        this.unreachable(err).then(reject, reject);
      });
      req.end();
    });
  }

  /** Reject a response from another API version or with an error status. */
  private async checkResponse(res: IncomingMessage, call: CallOptions): Promise<void> {
    const header = res.headers[API_VERSION_HEADER];
    if (typeof header === 'string' && Number(header) !== API_VERSION) {
      res.resume();
      throw await this.versionMismatch(header);
    }
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return;
    const text = await readText(res).catch(() => '');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (isErrorBody(parsed)) {
      const err = SkyError.fromBody(parsed);
      const retryAfter = Number(res.headers['retry-after']);
      if (status !== 429 || !Number.isFinite(retryAfter)) throw err;
      throw new SkyError(err.code, err.message, {
        hint: err.hint ?? `Wait ${Math.ceil(retryAfter)} s before trying again.`,
        details: { ...err.details, retryAfterSeconds: retryAfter },
      });
    }
    throw new SkyError('INTERNAL', `the API server at ${this.endpoint.url} answered ${call.method ?? 'GET'} ${call.path} with HTTP ${status}`, {
      hint: 'Check that the endpoint points at a sky API server.',
      details: { status },
    });
  }

  private async versionMismatch(header: string): Promise<SkyError> {
    const server = Number(header);
    const clientNewer = Number.isFinite(server) && API_VERSION > server;
    const fix = clientNewer ? 'upgrade the API server' : 'upgrade this client';
    return new SkyError('VERSION_MISMATCH', `this client speaks API v${API_VERSION} but the API server at ${this.endpoint.url} speaks v${header}: ${fix}`, {
      hint: clientNewer
        ? `Upgrade the API server to a release that speaks API v${API_VERSION}.`
        : `Upgrade this client (the sky CLI / @sky/client) to a release that speaks API v${header}.`,
      details: { client: API_VERSION, server: header },
    });
  }

  /** A connection-level failure: the server was not reached, its certificate was refused, or the connection broke. */
  private async unreachable(err: Error): Promise<SkyError> {
    const code = (err as NodeJS.ErrnoException).code ?? 'UNKNOWN';
    const { url, local, autoStart, source, protocol, host, port, ca } = this.endpoint;
    if (protocol === 'https:') {
      const tls = await import('./tls.js');
      if (tls.isCertificateError(code)) return tls.describeCertificateError(code, err, { url, host, port, ca });
      if (/wrong version number|packet length too long|unknown protocol/i.test(err.message)) {
        return new SkyError('SERVER_UNREACHABLE', `the server at ${url} does not speak TLS`, {
          hint: `If it serves plain HTTP, use ${url.replace(/^https:/, 'http:')} (${source}).`,
          details: { reason: 'NOT_TLS' },
          cause: err,
        });
      }
    }
    const reason = REASONS[code] ?? err.message;
    if (local && !autoStart) {
      return new SkyError('SERVER_UNREACHABLE', `no API server at ${url} (${reason})`, {
        hint:
          `Nothing answers there. If it is an SSH tunnel or port-forward, check that it is up; check that ${source} names the right URL` +
          (protocol === 'http:' ? `; to run a local server there, start it explicitly: sky api start --port ${port}` : '') +
          `. Only ${DEFAULT_ENDPOINT} is started automatically.`,
        details: { reason: code },
        cause: err,
      });
    }
    return new SkyError('SERVER_UNREACHABLE', `cannot reach API server at ${url} (${reason})`, {
      hint: local
        ? 'Start it with: sky api start'
        : `Check that the API server is up and that ${source} names it; a remote API server is never started automatically.`,
      details: { reason: code },
      cause: err,
    });
  }
}

/** Whether an error says the server was never reached (so retrying after starting it is safe). */
export function isConnectionRefused(err: unknown): boolean {
  const e = err as { code?: unknown; details?: { reason?: unknown } } | undefined;
  return e?.code === 'SERVER_UNREACHABLE' && e.details?.reason === 'ECONNREFUSED';
}
