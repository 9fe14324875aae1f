import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { canonicalUserName, SkyError } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import { expandHome } from '../config/load.js';
import type { Credentials } from './caller.js';
import { sameSecret } from './secrets.js';

type ProxyConfig = DaemonConfig['auth']['proxy'];

/** The address as the allow-list compares it: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as plain IPv4. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(plainAddress(address), isIP(plainAddress(address)) === 6 ? 'ipv6' : 'ipv4');
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** Why a proxy header was not believed. */
export type ProxyProblem = 'untrusted address' | 'missing or wrong proxy secret';

export type ProxyVerdict = { kind: 'absent' } | { kind: 'refused'; problem: ProxyProblem } | { kind: 'user'; name: string };

/**
 * The trusted SSO proxy: its user header counts only from a listed address (no default: the
 * config must name them) and with the shared secret the proxy adds (compared in constant
 * time). Anything else is ignored — and reported, so the refusal can be logged and audited.
 */
export class ProxyAuth {
  private readonly trusted: BlockList;
  private readonly secret: string;

  private constructor(
    private readonly config: ProxyConfig,
    secret: string,
  ) {
    this.trusted = allowList(config.trusted_addresses);
    this.secret = secret;
  }

  /** Check the proxy settings (at start, in proxy mode): refuse to run without trusted addresses or a secret. */
  static fromConfig(config: ProxyConfig): ProxyAuth {
    if (config.trusted_addresses.length === 0) {
      throw new SkyError('CONFIG_INVALID', 'auth mode proxy needs auth.proxy.trusted_addresses: the addresses of the proxy, whose user header is believed', {
        hint: 'List the proxy\'s address(es), e.g. auth.proxy.trusted_addresses: [10.0.0.5]; no address is trusted by default.',
      });
    }
    let secret = config.secret;
    if (secret === undefined && config.secret_file !== undefined) {
      const file = expandHome(config.secret_file);
      try {
        secret = readFileSync(file, 'utf8').trim();
      } catch (err) {
        throw new SkyError('CONFIG_INVALID', `auth.proxy.secret_file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
          hint: 'Point it at a readable file holding the shared secret.',
        });
      }
      if (secret.length < 16) throw new SkyError('CONFIG_INVALID', `auth.proxy.secret_file: ${file} must hold a secret of at least 16 characters`);
    }
    if (secret === undefined) {
      throw new SkyError('CONFIG_INVALID', `auth mode proxy needs a shared secret (auth.proxy.secret or auth.proxy.secret_file) that the proxy sends in ${config.secret_header}`, {
        hint: 'Generate one (openssl rand -base64 32), configure the proxy to add it as a request header, and give it to the daemon.',
      });
    }
    return new ProxyAuth(config, secret);
  }

  /** What the request's proxy header says, if anything, and whether it may be believed. */
  check(creds: Credentials): ProxyVerdict {
    const name = creds.header(this.config.header);
    if (name === '') return { kind: 'absent' };
    // The proxy is the peer that sent the request, whatever client it forwards for.
    const peer = creds.peerAddress ?? creds.remoteAddress;
    const from = peer === undefined ? undefined : plainAddress(peer);
    if (from === undefined || !this.trusted.check(from, isIP(from) === 6 ? 'ipv6' : 'ipv4')) return { kind: 'refused', problem: 'untrusted address' };
    if (!sameSecret(creds.header(this.config.secret_header), this.secret)) return { kind: 'refused', problem: 'missing or wrong proxy secret' };
    return { kind: 'user', name };
  }

  /** The canonical form of the name the proxy sent, or a 401 when it has none. */
  static canonical(name: string, header: string): string {
    const canonical = canonicalUserName(name);
    if (canonical === undefined) {
      throw new SkyError('UNAUTHENTICATED', `the proxy's ${header} header is not a user name sky accepts`, {
        hint: 'User names are ASCII letters, digits, ".", "_", "@" or "-" (after NFKC normalisation); configure the proxy to send such a name.',
      });
    }
    return canonical;
  }
}
