import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { urlHost, type WebhookAllowList } from './allow-list.js';

/** What one attempt got: the receiver's status (absent when no answer came), an error, the first bytes of the answer. */
export interface AttemptResult {
  status?: number;
  error?: string;
  excerpt?: string;
}

/** Resolves a host name to its addresses (injectable, so tests can play DNS). */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** How much of an answer's body is kept in the delivery log. */
export const EXCERPT_BYTES = 256;

export interface SendOptions {
  allow: WebhookAllowList;
  resolve: Resolver;
  timeoutMs: number;
}

/**
 * The address to connect to for a URL, after the allow list has its say on the URL and on
 * every address its host resolves to (all of them: a name that also resolves to a refused
 * address is refused, whichever a connection would pick). The connection then goes to this
 * address and no other, so the name cannot be re-resolved elsewhere in between (DNS rebinding).
 */
export async function vetAddress(url: string, options: Pick<SendOptions, 'allow' | 'resolve'>): Promise<{ address: string } | { refused: string }> {
  const verdict = options.allow.checkUrl(url);
  if (!verdict.allowed) return { refused: verdict.reason };
  const host = urlHost(new URL(url));
  let addresses: string[];
  try {
    addresses = isIP(host) !== 0 ? [host] : await options.resolve(host);
  } catch (err) {
    return { refused: `cannot resolve ${host}: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (addresses.length === 0) return { refused: `${host} resolves to no address` };
  const bad = addresses.find((address) => !options.allow.addressAllowed(url, address));
  if (bad !== undefined) return { refused: `${host} resolves to ${bad}, which webhooks.allow does not admit (loopback, private and link-local addresses must be named by an address or CIDR entry)` };
  return { address: addresses[0]! };
}

/** POST one body, once: no redirect is followed (a 3xx is an answer like any other), the answer is read only up to EXCERPT_BYTES. */
export async function sendOnce(url: string, body: string, headers: Record<string, string>, options: SendOptions): Promise<AttemptResult> {
  const vetted = await vetAddress(url, options);
  if ('refused' in vetted) return { error: vetted.refused };
  const target = new URL(url);
  const family = isIP(vetted.address) === 6 ? 6 : 4;
  const pinned: LookupFunction = (_host, opts, callback) => {
    if (opts.all === true) (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, [{ address: vetted.address, family }]);
    else callback(null, vetted.address, family);
  };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (result: AttemptResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const req = send(
      target,
      {
        method: 'POST',
        lookup: pinned,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'sky-webhooks/1', ...headers },
        ...(target.protocol === 'https:' && isIP(urlHost(target)) === 0 ? { servername: urlHost(target) } : {}),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = (): void => {
          const excerpt = Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8');
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          done({ status, ...(ok ? {} : { error: status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}` }), ...(excerpt === '' ? {} : { excerpt }) });
          res.destroy();
        };
        res.on('data', (chunk: Buffer) => {
          if (size < EXCERPT_BYTES) chunks.push(chunk);
          size += chunk.length;
          if (size >= EXCERPT_BYTES) finish();
        });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.on('error', (err) => done({ error: err.message }));
    req.end(body);
  });
}
