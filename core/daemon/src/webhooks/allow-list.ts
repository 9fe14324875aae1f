import { BlockList, isIP } from 'node:net';

/**
 * One entry of `webhooks.allow`:
 * - a URL prefix (`https://hooks.example.com/sky/`): the webhook URL starts with it, at a path boundary;
 * - a host, optionally with a port (`hooks.example.com`, `hooks.example.com:8443`, `10.0.0.5:80`, `[::1]:9000`);
 * - an address or CIDR range (`10.0.0.0/8`, `fd00::/8`): the URL's host is such an address, or resolves only to such addresses.
 * An entry that names an address (an IP host entry or a range) also admits that address after
 * resolution, which is the only way a webhook may reach a loopback, private or link-local address.
 */
export type AllowEntry =
  | { kind: 'prefix'; prefix: URL; text: string }
  | { kind: 'host'; host: string; port?: number; text: string }
  | { kind: 'range'; list: BlockList; text: string };

/** Parse one entry; throws an Error saying what is wrong (the config schema shows it). */
export function parseAllowEntry(text: string): AllowEntry {
  const value = text.trim();
  if (value === '') throw new Error('an empty webhooks.allow entry');
  if (/^https?:\/\//i.test(value)) {
    let prefix: URL;
    try {
      prefix = new URL(value);
    } catch {
      throw new Error(`webhooks.allow entry ${JSON.stringify(text)} is not a valid URL`);
    }
    if (prefix.username !== '' || prefix.password !== '') throw new Error(`webhooks.allow entry ${JSON.stringify(text)} must not carry credentials`);
    return { kind: 'prefix', prefix, text };
  }
  if (value.includes('/')) {
    const [address = '', bits = ''] = value.split('/', 2);
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    if (family === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new Error(`webhooks.allow entry ${JSON.stringify(text)} is not a CIDR range (e.g. 10.0.0.0/8, fd00::/8)`);
    const list = new BlockList();
    list.addSubnet(address, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    return { kind: 'range', list, text };
  }
  // host, host:port, IPv6, [IPv6]:port
  let host = value;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (isIP(value) !== 6) {
    const colon = value.lastIndexOf(':');
    if (colon >= 0) {
      host = value.slice(0, colon);
      const portText = value.slice(colon + 1);
      if (!/^\d{1,5}$/.test(portText)) throw new Error(`webhooks.allow entry ${JSON.stringify(text)} has an invalid port`);
      port = Number(portText);
    }
  }
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`webhooks.allow entry ${JSON.stringify(text)} has an invalid port`);
  const normalized = normalizeHost(host);
  if (normalized === undefined) throw new Error(`webhooks.allow entry ${JSON.stringify(text)} is not a URL prefix, host[:port], address or CIDR range`);
  return port === undefined ? { kind: 'host', host: normalized, text } : { kind: 'host', host: normalized, port, text };
}

/** A host as URLs compare it: lower case, IPv6 without brackets, IPv4 in dotted form (the URL parser turns 2130706433 into 127.0.0.1). */
function normalizeHost(host: string): string | undefined {
  if (host === '') return undefined;
  if (isIP(host) === 6) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  try {
    const parsed = new URL(`http://${host}/`);
    if (parsed.port !== '' || parsed.pathname !== '/') return undefined;
    return parsed.hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined;
  }
}

/** The URL's host as entries compare it (IPv6 without brackets). */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function urlPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Addresses a webhook never reaches unless an entry names them: loopback, private, link-local (cloud metadata), and the like. */
const SPECIAL = (() => {
  const list = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const)
    list.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [
    ['::', 128],
    ['::1', 128],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
    ['64:ff9b::', 96],
  ] as const)
    list.addSubnet(net, bits, 'ipv6');
  return list;
})();

/** An address in the form the checks compare: an IPv4-mapped IPv6 address (::ffff:127.0.0.1) as its IPv4 one. */
export function plainAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped?.[1] !== undefined) return { address: mapped[1], family: 'ipv4' };
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hexMapped?.[1] !== undefined && hexMapped[2] !== undefined) {
    const high = parseInt(hexMapped[1], 16);
    const low = parseInt(hexMapped[2], 16);
    return { address: `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, family: 'ipv4' };
  }
  return { address: lower, family: isIP(lower) === 4 ? 'ipv4' : 'ipv6' };
}

/** Whether an address is loopback, private, link-local, multicast or otherwise not a public one. */
export function isSpecialAddress(address: string): boolean {
  const plain = plainAddress(address);
  return SPECIAL.check(plain.address, plain.family);
}

/** The verdict on a URL (before resolution): allowed by which entry, or why not. */
export type UrlVerdict = { allowed: true; entry: AllowEntry } | { allowed: false; reason: string };

/** The allow list of `webhooks.allow`: which URLs a webhook may have, and which addresses it may then reach. */
export class WebhookAllowList {
  readonly entries: readonly AllowEntry[];

  constructor(entries: readonly string[]) {
    this.entries = entries.map(parseAllowEntry);
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** Whether the URL matches an entry (its resolved addresses are checked by addressAllowed). */
  checkUrl(raw: string): UrlVerdict {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { allowed: false, reason: 'it is not a valid URL' };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { allowed: false, reason: 'only http and https URLs are delivered to' };
    if (url.username !== '' || url.password !== '') return { allowed: false, reason: 'a webhook URL must not carry credentials' };
    const host = urlHost(url);
    const port = urlPort(url);
    for (const entry of this.entries) {
      if (entry.kind === 'prefix' && prefixMatches(entry.prefix, url)) return { allowed: true, entry };
      if (entry.kind === 'host' && entry.host === host && (entry.port === undefined || entry.port === port)) return { allowed: true, entry };
      if (entry.kind === 'range' && isIP(host) !== 0 && inRange(entry.list, host)) return { allowed: true, entry };
      // A range also admits a host name, when every address it resolves to is in a range (addressAllowed decides).
      if (entry.kind === 'range' && isIP(host) === 0) return { allowed: true, entry };
    }
    return { allowed: false, reason: `no webhooks.allow entry admits ${url.protocol}//${url.host}` };
  }

  /**
   * Whether a resolved address may be connected to for this URL: a public address when a
   * prefix or host entry admitted the URL; otherwise (loopback, private, link-local,
   * metadata) only when an entry names the address itself (an IP host entry or a range).
   */
  addressAllowed(raw: string, address: string): boolean {
    const url = new URL(raw);
    const host = urlHost(url);
    const plain = plainAddress(address);
    const port = urlPort(url);
    const named = this.entries.some((entry) =>
      entry.kind === 'range'
        ? inRange(entry.list, plain.address)
        : entry.kind === 'host' && isIP(entry.host) !== 0 && plainAddress(entry.host).address === plain.address && (entry.port === undefined || entry.port === port),
    );
    if (named) return true;
    // Reached through a range entry only: every address must be in a range.
    const byName = this.entries.some((entry) => (entry.kind === 'prefix' && prefixMatches(entry.prefix, url)) || (entry.kind === 'host' && entry.host === host && (entry.port === undefined || entry.port === port)));
    return byName && !isSpecialAddress(plain.address);
  }
}

function inRange(list: BlockList, address: string): boolean {
  const plain = plainAddress(address);
  return list.check(plain.address, plain.family);
}

/** A URL prefix matches at a boundary: same origin, and the path continues after a "/" (or the prefix ends with one). */
function prefixMatches(prefix: URL, url: URL): boolean {
  if (prefix.protocol !== url.protocol || prefix.host !== url.host) return false;
  const want = prefix.pathname;
  const path = url.pathname;
  if (path === want) return prefix.search === '' || url.search.startsWith(prefix.search);
  if (prefix.search !== '') return false;
  return path.startsWith(want.endsWith('/') ? want : `${want}/`);
}
