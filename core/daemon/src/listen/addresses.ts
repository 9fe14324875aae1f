import { BlockList, isIP } from 'node:net';

/** A peer address as node reports it, with IPv4-mapped IPv6 (::ffff:1.2.3.4) reduced to plain IPv4. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown';
  const lower = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped?.[1] ?? lower;
}

/** An X-Forwarded-For hop without the port some proxies append (1.2.3.4:5678, [::1]:5678). */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  return v4?.[1] ?? hop;
}

/** The eight 16-bit groups of an IPv6 address (which isIP has already accepted). */
function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0] ?? address;
  const [head = '', tail] = bare.split('::');
  const toGroups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  let left = toGroups(head);
  let right = tail === undefined ? [] : toGroups(tail);
  // A trailing dotted quad (::1.2.3.4) stands for two groups.
  const expandQuad = (groups: string[]): string[] => {
    const last = groups.at(-1);
    if (last === undefined || !last.includes('.')) return groups;
    const [a = 0, b = 0, c = 0, d = 0] = last.split('.').map(Number);
    return [...groups.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  };
  if (tail === undefined) left = expandQuad(left);
  else right = expandQuad(right);
  const missing = 8 - left.length - right.length;
  return [...left, ...Array.from({ length: Math.max(missing, 0) }, () => '0'), ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}

/**
 * The key a client's connection budget is kept under: an IPv4 address as is, an IPv6 address by
 * its /64 (one subscriber usually holds a whole /64, so counting single addresses would let one
 * client open as many budgets as it likes).
 */
export function budgetKey(address: string): string {
  const normalized = normalizeAddress(address);
  if (isIP(normalized) !== 6) return normalized;
  return `${ipv6Groups(normalized).slice(0, 4).join(':')}::/64`;
}

/** The proxies whose X-Forwarded-For header is believed (listen.trusted_proxies): addresses and CIDR blocks. */
export class TrustedProxies {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const [address = '', bits] = entry.split('/');
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(bits), type);
    }
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const normalized = normalizeAddress(address);
    const family = isIP(normalized);
    if (family === 0) return false;
    return this.list.check(normalized, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client a request comes from: the socket peer, unless the peer is a trusted proxy; then
   * the right-most X-Forwarded-For entry that is not itself a trusted proxy (entries further left
   * were written by the client and prove nothing). A malformed entry ends the walk at the proxy.
   */
  clientOf(peer: string, forwardedFor: string | string[] | undefined): string {
    const from = normalizeAddress(peer);
    if (forwardedFor === undefined || !this.has(from)) return from;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((hop) => hop.trim())
      .filter((hop) => hop !== '');
    let client = from;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalizeAddress(stripPort(hops[i] ?? ''));
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!this.has(hop)) return hop;
    }
    return client;
  }
}
