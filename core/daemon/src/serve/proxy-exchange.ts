import { request, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { forwardedRequestHeaders, forwardedResponseHeaders, type ForwardedRequest } from './proxy-headers.js';
import type { PoolReplica, ReplicaPool } from './replica-pool.js';

/** Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2), so a retry is safe. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * How much of a request body is kept until the replica starts answering, so the request can
 * go to another replica if this one fails first. Bodies beyond it still stream through; such
 * a request is simply not retried once more than this was sent.
 */
export const REPLAY_LIMIT_BYTES = 64 * 1024;

/** A replica that does not accept the connection within this long counts as failed (a dead host drops SYNs). */
export const CONNECT_TIMEOUT_MS = 5_000;

export interface ExchangeHooks {
  /** The replica failed (it is passed over for a while). */
  replicaFailed(replica: PoolReplica, error: NodeJS.ErrnoException): void;
  /** No replica gave an answer: the client got 502. */
  gaveUp(): void;
  /** The exchange is over, whichever way. */
  done(): void;
}

/**
 * One client request proxied to the replicas in `order`, the first one first. The body
 * streams to the replica as it arrives and the answer streams back as it comes (headers
 * flushed at once), so server-sent events and chunked answers pass token by token. Before
 * the replica's first response byte, a failure moves the request to the next replica when
 * nothing can have reached the failed one (the connection was refused) or the request may
 * safely be repeated (an idempotent method or no body), and its body so far is still held.
 */
export class ProxyExchange {
  private readonly forwarded: ForwardedRequest;
  private readonly retryable: boolean;
  private replay: Buffer[] | null = [];
  private replayBytes = 0;
  private bodyEnded: boolean;
  private current: ClientRequest | undefined;
  private next = 0;
  private answered = false;
  private over = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly order: readonly PoolReplica[],
    private readonly pool: ReplicaPool,
    private readonly hooks: ExchangeHooks,
    dropAuthorization: boolean,
  ) {
    this.forwarded = forwardedRequestHeaders(req, dropAuthorization);
    this.retryable = IDEMPOTENT.has(req.method ?? '') || !this.forwarded.hasBody;
    this.bodyEnded = !this.forwarded.hasBody;
  }

  start(): void {
    const { req, res } = this;
    if (this.forwarded.hasBody) {
      req.on('data', (chunk: Buffer) => this.onBody(chunk));
      req.on('end', () => {
        this.bodyEnded = true;
        this.current?.end();
      });
    }
    res.on('close', () => {
      // The answer is complete, or the client went away: then nothing more is fetched, and
      // the replica's request is dropped without counting against it.
      const upstream = this.current;
      this.current = undefined;
      this.finish();
      if (!res.writableFinished) upstream?.destroy();
    });
    this.attempt();
  }

  private onBody(chunk: Buffer): void {
    if (this.replay !== null) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > REPLAY_LIMIT_BYTES) this.replay = null;
      else this.replay.push(chunk);
    }
    const target = this.current;
    if (target !== undefined) this.send(target, chunk);
  }

  private send(target: ClientRequest, chunk: Buffer): void {
    if (target.write(chunk)) return;
    this.req.pause();
    target.once('drain', () => {
      if (target === this.current) this.req.resume();
    });
  }

  private attempt(): void {
    const replica = this.order[this.next++]!;
    const headers = this.forwarded.headers;
    headers[this.forwarded.hostAt] = `${replica.host.includes(':') ? `[${replica.host}]` : replica.host}:${replica.port}`;
    replica.inFlight++;
    this.pool.count(replica);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      replica.inFlight--;
    };
    let connected = false;
    const upstream = request({ host: replica.host, port: replica.port, method: this.req.method, path: this.req.url, headers, agent: replica.agent });
    this.current = upstream;
    upstream.on('socket', (socket: Socket) => {
      if (!socket.connecting) {
        connected = true;
        return;
      }
      const timer = setTimeout(() => upstream.destroy(Object.assign(new Error(`connect to ${replica.endpoint} timed out`), { code: 'ETIMEDOUT' })), CONNECT_TIMEOUT_MS);
      socket.once('connect', () => {
        connected = true;
        clearTimeout(timer);
      });
      socket.once('close', () => clearTimeout(timer));
    });
    upstream.on('response', (answer: IncomingMessage) => this.relay(answer, upstream, replica, release));
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      release();
      if (upstream !== this.current) return;
      this.hooks.replicaFailed(replica, error);
      if (this.answered) {
        // The answer had begun: the client sees it cut short, never a spliced one.
        this.res.destroy();
        return;
      }
      this.current = undefined;
      if (this.over || this.res.destroyed) return;
      const canRetry = this.replay !== null && (this.retryable || !connected) && this.next < this.order.length;
      if (canRetry) {
        this.attempt();
        return;
      }
      const why = error.code ?? error.message;
      let reason = `every ready replica tried failed (last: ${why})`;
      if (this.replay === null) reason = `the replica failed (${why}) before answering, after more of the body than is kept to send again`;
      else if (!this.retryable && connected) reason = `the replica failed (${why}) before answering and the request may have reached it, so it was not sent to another`;
      this.badGateway(reason);
    });
    if (this.replay !== null) for (const chunk of this.replay) this.send(upstream, chunk);
    if (this.bodyEnded) upstream.end();
    else if (this.req.isPaused() && upstream.writableNeedDrain === false) this.req.resume();
  }

  private relay(answer: IncomingMessage, upstream: ClientRequest, replica: PoolReplica, release: () => void): void {
    const { res } = this;
    this.answered = true;
    this.replay = null;
    answer.once('end', release);
    answer.once('close', release);
    if (res.destroyed) {
      answer.destroy();
      return;
    }
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardedResponseHeaders(answer.rawHeaders));
    // The headers leave in this turn of the event loop: with the first body bytes when those
    // came in the same packet (one write instead of two for a small answer), else on their
    // own, so a stream's client sees its answer start before its first event.
    let bodyStarted = false;
    answer.once('data', () => (bodyStarted = true));
    setImmediate(() => {
      if (!bodyStarted && !res.destroyed) res.flushHeaders();
    });
    answer.on('error', (error: NodeJS.ErrnoException) => {
      // Not the replica's fault when the proxy itself dropped the exchange (the client left).
      if (upstream === this.current) this.hooks.replicaFailed(replica, error);
      res.destroy();
    });
    answer.once('close', () => {
      if (!answer.complete) res.destroy();
    });
    answer.pipe(res);
  }

  private badGateway(reason: string): void {
    const { res } = this;
    this.hooks.gaveUp();
    const body = `Bad gateway: ${reason}.\n`;
    // A body still arriving would have to be read to the end to keep the connection.
    if (!this.bodyEnded) res.shouldKeepAlive = false;
    res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.hooks.done();
  }
}
