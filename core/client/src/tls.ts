import { readFile } from 'node:fs/promises';
import type { ClientRequestArgs } from 'node:http';
import { connect, type Certificate } from 'node:tls';
import { SkyError } from '@sky/protocol/wire';
import { CA_ENV, type CaSetting } from './endpoint.js';

const CA_HINT = `Point api_server.ca_file in ~/.sky/config.yaml (or $${CA_ENV}) at the PEM certificate of the CA that signed the API server's certificate.`;

/** Read a CA bundle: a readable file with at least one PEM certificate, or a CONFIG_INVALID naming where it was set. */
export async function loadCa(ca: CaSetting): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(ca.file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? String(err));
    throw new SkyError('CONFIG_INVALID', `${ca.source}: cannot read the CA bundle ${ca.file}: ${why}`, { hint: CA_HINT });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new SkyError('CONFIG_INVALID', `${ca.source}: ${ca.file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, { hint: CA_HINT });
  }
  return pem;
}

type CreateConnection = NonNullable<ClientRequestArgs['createConnection']>;

/**
 * Connections that trust exactly one certificate, by its SHA-256 fingerprint (the one a local
 * daemon wrote to daemon.json): no CA and no host name is consulted, and no byte of the request
 * is sent before the fingerprint matched.
 */
export function pinnedConnection(fingerprint256: string, timeoutMs: number): CreateConnection {
  const want = fingerprint256.toUpperCase();
  return (options, oncreate) => {
    const host = options.host ?? '127.0.0.1';
    const socket = connect({ host, port: Number(options.port), rejectUnauthorized: false, ...serverName(host) });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS connection within ${timeoutMs} ms`), { code: 'SKY_CONNECT_TIMEOUT' })), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      oncreate(err, socket);
    };
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      const got = socket.getPeerCertificate().fingerprint256.toUpperCase();
      if (got !== want) {
        socket.destroy();
        oncreate(Object.assign(new Error(`certificate ${got} is not the pinned ${want}`), { code: 'SKY_PIN_MISMATCH' }), socket);
        return;
      }
      oncreate(null, socket);
    });
    return undefined;
  };
}

/** SNI for a host name (never for an IP address, which TLS forbids there). */
function serverName(host: string): { servername?: string } {
  return /^[\d.:]+$/.test(host) ? {} : { servername: host };
}

const UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
]);

const CERT_CODES = new Set([...UNKNOWN_CA, 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_REJECTED', 'SKY_PIN_MISMATCH']);

/** Whether a connection error is a failed verification of the server's certificate. */
export function isCertificateError(code: string | undefined): boolean {
  return code !== undefined && CERT_CODES.has(code);
}

interface PeerCert {
  subject: string;
  issuer: string;
  validFrom: string;
  validTo: string;
  names: string;
}

/** The server's certificate as it presents it (verification off, nothing sent), for explaining why it was refused. */
export function peekCertificate(host: string, port: number, timeoutMs = 2_000): Promise<PeerCert | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ...serverName(host) });
    const done = (value: PeerCert | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once('error', () => done(undefined));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      if (cert.valid_to === undefined) return done(undefined);
      done({ subject: dn(cert.subject), issuer: dn(cert.issuer), validFrom: cert.valid_from, validTo: cert.valid_to, names: cert.subjectaltname ?? '' });
    });
  });
}

/** The parts of a distinguished name people recognise a certificate by. */
function dn(name: Certificate | undefined): string {
  if (name === undefined) return '';
  return [name.CN && `CN=${name.CN}`, name.O && `O=${name.O}`].filter((part) => typeof part === 'string' && part !== '').join(', ');
}

export interface TlsTarget {
  url: string;
  host: string;
  port: number;
  ca: CaSetting | undefined;
}

/** A SERVER_CERT_INVALID that says what is wrong with the certificate, and how to fix it. */
export async function describeCertificateError(code: string, err: Error, target: TlsTarget): Promise<SkyError> {
  const peer = code === 'SKY_PIN_MISMATCH' ? undefined : await peekCertificate(target.host, target.port);
  const trust = target.ca === undefined ? 'the system CAs' : `the CA bundle ${target.ca.file} (${target.ca.source})`;
  const details: Record<string, unknown> = { reason: code };
  if (peer !== undefined) Object.assign(details, { subject: peer.subject, issuer: peer.issuer, validTo: peer.validTo, names: peer.names });
  let message: string;
  let hint: string;
  if (UNKNOWN_CA.has(code)) {
    const by = peer === undefined ? '' : ` (issued by ${peer.issuer || 'itself'})`;
    message = `the API server at ${target.url} presented a certificate signed by an unknown CA${by}: it is not trusted by ${trust}`;
    hint = target.ca === undefined ? CA_HINT : `Check that ${target.ca.file} is the CA that signed the server's certificate (and that the server sends its intermediates).`;
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = peer?.names || peer?.subject || 'other names';
    message = `the API server's certificate is for ${names}, not for ${target.host}`;
    hint = 'Use a host name the certificate names in the endpoint URL, or have the certificate reissued with this name in its subjectAltName.';
  } else if (code === 'CERT_HAS_EXPIRED') {
    message = `the API server's certificate at ${target.url} expired${peer === undefined ? '' : ` on ${peer.validTo}`}`;
    hint = 'The server operator must renew the certificate (listen.tls.cert) and restart the daemon; check this machine\'s clock too.';
  } else if (code === 'CERT_NOT_YET_VALID') {
    message = `the API server's certificate at ${target.url} is not valid yet${peer === undefined ? '' : ` (from ${peer.validFrom})`}`;
    hint = "Check this machine's clock and the server's.";
  } else if (code === 'SKY_PIN_MISMATCH') {
    message = `the server at ${target.url} presented another certificate than the one the local daemon recorded in daemon.json: it is not that daemon`;
    hint = 'Another process may hold the port; check with sky daemon status and restart the daemon.';
  } else {
    message = `the API server's certificate at ${target.url} was rejected (${err.message})`;
    hint = 'Ask the server operator to check listen.tls.cert.';
  }
  return new SkyError('SERVER_CERT_INVALID', message, { hint, details, cause: err });
}
