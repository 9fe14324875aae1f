import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { SkyError } from '@sky/protocol';

/** The certificate and key the daemon serves HTTPS with (listen.tls), read and checked at start. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
  /** SHA-256 fingerprint of the leaf certificate (AA:BB:…), written to daemon.json for local probes. */
  fingerprint256: string;
  validFrom: Date;
  validTo: Date;
  /** The subjectAltName entries (or the subject when there are none), for messages. */
  names: string;
  /** Whether the key file can be read by other accounts (group or world bits set). */
  keyExposed: boolean;
}

const HOW_TO_MAKE = 'Give listen.tls.cert a PEM certificate (the server certificate first, then any intermediates) and listen.tls.key its PEM private key, unencrypted and readable only by the daemon (chmod 600).';

function readPem(file: string, key: 'cert' | 'key'): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (code ?? String(err));
    throw new SkyError('CONFIG_INVALID', `listen.tls.${key}: cannot read ${file}: ${why}`, {
      hint: code === 'EACCES' ? `Make ${file} readable by the account that runs the daemon.` : HOW_TO_MAKE,
      details: { key: `listen.tls.${key}`, file },
    });
  }
}

function parseCert(pem: Buffer, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new SkyError('CONFIG_INVALID', `listen.tls.cert: ${file} does not hold a PEM certificate (-----BEGIN CERTIFICATE-----)`, {
      hint: HOW_TO_MAKE,
      details: { key: 'listen.tls.cert', file },
    });
  }
}

function parseKey(pem: Buffer, file: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    // OpenSSL reports a missing passphrase in more than one way; the PEM label says it plainly.
    const encrypted =
      (err as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE' || pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type: 4,ENCRYPTED/.test(pem.toString('latin1'));
    throw new SkyError(
      'CONFIG_INVALID',
      encrypted ? `listen.tls.key: ${file} is encrypted with a passphrase` : `listen.tls.key: ${file} does not hold a PEM private key (-----BEGIN … PRIVATE KEY-----)`,
      {
        hint: encrypted ? `Store the key unencrypted and readable only by the daemon: openssl pkey -in ${file} -out key.pem && chmod 600 key.pem` : HOW_TO_MAKE,
        details: { key: 'listen.tls.key', file },
      },
    );
  }
}

/**
 * Read listen.tls: both files must exist and be readable, hold a PEM certificate and a PEM
 * private key, and the key must be the certificate's; each failure is a CONFIG_INVALID naming the
 * key and the file.
 */
export function loadTls(certFile: string, keyFile: string): TlsMaterial {
  const cert = readPem(certFile, 'cert');
  const key = readPem(keyFile, 'key');
  const x509 = parseCert(cert, certFile);
  const privateKey = parseKey(key, keyFile);
  if (!x509.checkPrivateKey(privateKey)) {
    throw new SkyError('CONFIG_INVALID', `listen.tls.key: ${keyFile} is not the private key of the certificate in ${certFile}`, {
      hint: 'Pair the certificate with the key it was issued for (their public keys must match: openssl x509 -noout -pubkey -in CERT vs openssl pkey -pubout -in KEY).',
      details: { key: 'listen.tls.key', file: keyFile },
    });
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new SkyError('CONFIG_INVALID', `listen.tls: ${certFile} and ${keyFile} cannot be used for TLS: ${(err as Error).message}`, { hint: HOW_TO_MAKE });
  }
  let keyExposed = false;
  try {
    keyExposed = (statSync(keyFile).mode & 0o077) !== 0;
  } catch {
    // read above; a race with its removal changes nothing here
  }
  return {
    cert,
    key,
    certFile,
    keyFile,
    fingerprint256: x509.fingerprint256,
    validFrom: new Date(x509.validFrom),
    validTo: new Date(x509.validTo),
    names: x509.subjectAltName ?? x509.subject.replace(/\n/g, ', '),
    keyExposed,
  };
}
