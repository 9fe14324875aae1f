import type { Logger } from 'pino';
import { SkyError } from '@sky/protocol';
import type { DaemonConfig } from '../config/schema.js';
import type { TlsMaterial } from './tls.js';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** Modes whose callers send a secret (a password or a bearer token) with every request. */
const SECRET_MODES = new Set(['basic', 'token']);

/**
 * What the daemon refuses to listen with, and what it warns about at every start: no
 * authentication on a non-loopback address; passwords or tokens over plain HTTP on a non-loopback
 * address (unless a TLS-terminating proxy is declared, or the insecure switch is set); timeouts
 * that would cut the daemon's own long-polls; a certificate that clients will reject.
 */
export function checkListenPolicy(config: DaemonConfig, tls: TlsMaterial | undefined, logger: Logger, now = Date.now()): void {
  const { listen, auth } = config;
  const loopback = isLoopbackHost(listen.host);
  if (!loopback && auth.mode === 'none') {
    if (!listen.allow_remote_without_auth) {
      throw new SkyError('CONFIG_INVALID', `refusing to listen on ${listen.host} without authentication`, {
        hint: 'Choose an auth mode (sky daemon start --auth basic|token|proxy), listen on 127.0.0.1, or set listen.allow_remote_without_auth: true if a proxy in front of the daemon authenticates users.',
      });
    }
    logger.warn({ host: listen.host }, 'LISTENING ON A NON-LOOPBACK ADDRESS WITHOUT AUTHENTICATION: anyone who can reach it can act as any user');
  }
  if (!loopback && tls === undefined && SECRET_MODES.has(auth.mode)) {
    if (listen.tls_terminated_by_proxy) {
      logger.warn(
        { host: listen.host, mode: auth.mode },
        'serving plain HTTP on a non-loopback address because listen.tls_terminated_by_proxy is set: passwords and tokens are safe only if every client reaches the daemon through that TLS proxy',
      );
    } else if (listen.allow_insecure_basic_auth) {
      logger.warn(
        { host: listen.host, mode: auth.mode },
        'PASSWORDS AND TOKENS TRAVEL IN THE CLEAR: plain HTTP on a non-loopback address with listen.allow_insecure_basic_auth set; anyone on the network path can read them',
      );
    } else {
      throw new SkyError('CONFIG_INVALID', `refusing to accept ${auth.mode === 'basic' ? 'passwords' : 'tokens'} over plain HTTP on ${listen.host}: they would travel in the clear`, {
        hint: 'Serve HTTPS (listen.tls: {cert: FILE, key: FILE}, or sky daemon start --tls-cert FILE --tls-key FILE), or, if a TLS-terminating proxy is the only way in, set listen.tls_terminated_by_proxy: true (listen.allow_insecure_basic_auth: true accepts clear-text credentials anyway).',
      });
    }
  }
  if (listen.request_timeout_seconds < listen.header_timeout_seconds) {
    throw new SkyError('CONFIG_INVALID', `listen.request_timeout_seconds (${listen.request_timeout_seconds}) is shorter than listen.header_timeout_seconds (${listen.header_timeout_seconds})`, {
      hint: 'The whole request includes its headers: make request_timeout_seconds at least header_timeout_seconds.',
    });
  }
  if (listen.idle_timeout_seconds <= config.requests.max_wait_seconds) {
    throw new SkyError('CONFIG_INVALID', `listen.idle_timeout_seconds (${listen.idle_timeout_seconds}) must be longer than requests.max_wait_seconds (${config.requests.max_wait_seconds})`, {
      hint: 'A long-poll sends nothing while it waits; raise listen.idle_timeout_seconds or lower requests.max_wait_seconds.',
    });
  }
  if (tls !== undefined) {
    if (tls.validTo.getTime() < now) {
      logger.warn({ cert: tls.certFile, validTo: tls.validTo.toISOString() }, 'the TLS certificate has EXPIRED: clients will refuse to connect until it is renewed');
    } else if (tls.validFrom.getTime() > now) {
      logger.warn({ cert: tls.certFile, validFrom: tls.validFrom.toISOString() }, 'the TLS certificate is not valid yet: clients will refuse to connect (check the clock)');
    }
    if (tls.keyExposed) logger.warn({ key: tls.keyFile }, 'the TLS private key file is readable by other accounts: chmod 600 it');
  }
}
