import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { ERROR_CATALOGUE, isErrorCode } from '@sky/protocol';
import { localTokenFor } from './daemon-process.js';

/** mulberry32: a tiny seeded PRNG, so every fuzz run with the same seed generates the same inputs. */
export class Rng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Pick by weight: [[weight, value], ...]. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    const total = table.reduce((sum, [w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [w, value] of table) {
      roll -= w;
      if (roll < 0) return value;
    }
    return table[table.length - 1]![1];
  }

  string(alphabet: string, min: number, max: number): string {
    const chars = [...alphabet];
    let out = '';
    const n = this.int(min, max);
    for (let i = 0; i < n; i++) out += this.pick(chars);
    return out;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }
}

export const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
/** Strings chosen to break parsers, encoders and key-value stores. */
export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\t',
  '0',
  '-1',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '0x10',
  'true',
  '__proto__',
  'constructor',
  'toString',
  '../../etc/passwd',
  '..\\..\\windows',
  '%00',
  '\u0000',
  '\u0001',
  '\u007f',
  'é',
  'ß',
  '日本語',
  '🚀',
  '👩‍👩‍👧‍👦',
  '\u202eRTL',
  '\ufeff',
  '\ud800',
  '\udfff',
  'a\nb',
  '"quoted"',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '${HOME}',
  '$(id)',
  'x'.repeat(201),
  'y'.repeat(5000),
];

/** encodeURIComponent that never throws: lone surrogates are sent as their UTF-8 replacement. */
export function encodeComponent(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
}

/** What the daemon's router sees for a path segment: decoded, or the raw text when it is not valid percent-encoding. */
export function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export interface WireRequest {
  method: string;
  /** Path and query, exactly as sent on the request line. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

export interface WireAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The event stream was cut by the client after its first bytes (it was still open). */
  streamCut: boolean;
  ms: number;
}

export class HangError extends Error {
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = 'HangError';
  }
}

export interface SendOptions {
  timeoutMs: number;
  agent?: Agent;
  /** How long to read an event stream before cutting it (streams with follow never end by themselves). */
  streamPeekMs?: number;
}

/** One HTTP exchange with a hard deadline; event streams and log downloads are read briefly and then cut. */
export function send(baseUrl: string, req: WireRequest, options: SendOptions): Promise<WireAnswer> {
  const url = new URL(baseUrl);
  const started = Date.now();
  const peekMs = options.streamPeekMs ?? 300;
  return new Promise((resolve, reject) => {
    let settled = false;
    const token = localTokenFor(baseUrl);
    const headers: Record<string, string> = { ...(token === undefined ? {} : { 'x-sky-local-token': token }), ...req.headers };
    if (req.body !== undefined && !req.chunked) headers['content-length'] = String(req.body.length);
    // Said outright: node frames a DELETE's body as chunks only when asked to.
    else if (req.body !== undefined) headers['transfer-encoding'] = 'chunked';
    const clientReq = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        // Event streams, and log downloads (a followed log is as open-ended as its stream).
        const type = String(res.headers['content-type'] ?? '');
        const isStream = type.startsWith('text/event-stream') || (type.startsWith('text/plain') && String(res.headers['content-disposition'] ?? '').startsWith('attachment'));
        let peek: NodeJS.Timeout | undefined;
        const finish = (streamCut: boolean): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (peek) clearTimeout(peek);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            streamCut,
            ms: Date.now() - started,
          });
          if (streamCut) res.destroy();
        };
        if (isStream) peek = setTimeout(() => finish(true), peekMs);
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(false));
        res.on('error', (err) => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(err);
          }
        });
      },
    );
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      clientReq.destroy();
      reject(new HangError(options.timeoutMs));
    }, options.timeoutMs);
    clientReq.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    if (req.body !== undefined && req.body.length > 0) {
      if (req.chunked) {
        const half = Math.floor(req.body.length / 2);
        clientReq.write(req.body.subarray(0, half));
        clientReq.write(req.body.subarray(half));
      } else {
        clientReq.write(req.body);
      }
    }
    clientReq.end();
  });
}

/**
 * A client that announces a body, sends part of it, and disconnects. Resolves once the
 * socket is gone; the daemon must shrug this off.
 */
export function abortedUpload(baseUrl: string, path: string, declared: number, sent: Buffer): Promise<void> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      socket.write(sent);
      setTimeout(() => socket.destroy(), 20);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
    socket.setTimeout(3000, () => socket.destroy());
  });
}

/**
 * The error contract: `{"error": {"code", "message", "hint"?, "details"?}}`, a code from the
 * catalogue, and the HTTP status the catalogue gives that code. Returns what is wrong, or undefined.
 */
export function errorBodyProblem(status: number, text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `error answer ${status} is not JSON: ${JSON.stringify(text.slice(0, 200))}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return `error answer ${status} is not a JSON object`;
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `error answer ${status} has top-level keys ${JSON.stringify(keys)}, want only "error"`;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return `error answer ${status}: "error" is not an object`;
  const { code, message, hint, details } = error as Record<string, unknown>;
  if (typeof code !== 'string') return `error answer ${status}: error.code is not a string`;
  if (typeof message !== 'string' || message.length === 0) return `error answer ${status}: error.message is missing or empty`;
  if (hint !== undefined && typeof hint !== 'string') return `error answer ${status}: error.hint is not a string`;
  if (details !== undefined && (typeof details !== 'object' || details === null || Array.isArray(details))) {
    return `error answer ${status}: error.details is not an object`;
  }
  const extra = Object.keys(error).filter((k) => !['code', 'message', 'hint', 'details'].includes(k));
  if (extra.length > 0) return `error answer ${status}: unexpected keys in error: ${extra.join(', ')}`;
  if (!isErrorCode(code)) return `error answer ${status}: code ${code} is not in ERROR_CATALOGUE`;
  const want = ERROR_CATALOGUE[code].status;
  if (want !== status) return `error answer: code ${code} came with HTTP ${status}, the catalogue says ${want}`;
  return undefined;
}

/** A compact, replayable description of a request for failure messages. */
export function describeRequest(req: WireRequest): string {
  const lines = [`${req.method} ${req.path}`];
  for (const [k, v] of Object.entries(req.headers)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  if (req.chunked) lines.push('  (body sent chunked)');
  if (req.body !== undefined) {
    const text = req.body.toString('utf8');
    const printable = Buffer.from(text, 'utf8').equals(req.body);
    const shown = printable ? JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}…` : text) : `base64:${req.body.toString('base64').slice(0, 800)}`;
    lines.push(`  body (${req.body.length} bytes): ${shown}`);
  }
  return lines.join('\n');
}
