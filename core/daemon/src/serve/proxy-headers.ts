import type { IncomingMessage } from 'node:http';

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1): never passed on by a proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Request headers the proxy sets itself: Host (the replica's), the X-Forwarded-* trio, and
 * Expect (node already answered 100-continue to the client before the handler ran).
 */
const REPLACED = new Set(['host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/** Extra names a message's Connection header declares hop-by-hop; usually none. */
function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && name !== 'close' && name !== 'keep-alive') (listed ??= new Set()).add(name);
    }
  }
  return listed;
}

export interface ForwardedRequest {
  /** Flat [name, value, …] as http.request takes it; the value after index `hostAt` is set per replica. */
  headers: string[];
  hostAt: number;
  /** Whether the request carries a body (a length above 0, or a chunked one). */
  hasBody: boolean;
}

/**
 * The headers to send to a replica, built once per request from the raw ones (names keep
 * their case; repeated headers stay repeated). `dropAuthorization` keeps the service's bearer
 * token from reaching the replica.
 */
export function forwardedRequestHeaders(req: IncomingMessage, dropAuthorization: boolean): ForwardedRequest {
  const raw = req.rawHeaders;
  const listed = connectionListed(raw);
  const headers: string[] = ['Host', ''];
  let forwardedFor: string | undefined;
  let chunked = false;
  let length = false;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'transfer-encoding') chunked = true;
    else if (lower === 'content-length') length = value.trim() !== '0';
    else if (lower === 'host') host = value;
    else if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
    if (HOP_BY_HOP.has(lower) || REPLACED.has(lower) || listed?.has(lower) === true) continue;
    if (dropAuthorization && lower === 'authorization') continue;
    headers.push(name, value);
  }
  // The body arrives de-chunked; a body of unknown length goes on chunked whatever the method.
  if (chunked) headers.push('Transfer-Encoding', 'chunked');
  const client = req.socket.remoteAddress ?? '';
  headers.push('X-Forwarded-For', forwardedFor === undefined ? client : `${forwardedFor}, ${client}`);
  headers.push('X-Forwarded-Proto', 'http');
  if (host !== undefined) headers.push('X-Forwarded-Host', host);
  return { headers, hostAt: 1, hasBody: chunked || length };
}

/** A replica's response headers for the client, hop-by-hop ones removed (node frames the body again itself). */
export function forwardedResponseHeaders(raw: readonly string[]): string[] {
  const listed = connectionListed(raw);
  const headers: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower) === true) continue;
    headers.push(raw[i]!, raw[i + 1]!);
  }
  return headers;
}
