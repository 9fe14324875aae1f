import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkyError, type SshHostKey } from '@sky/protocol';
import { ssh2 } from '../nodes/ssh-connection.js';
import { fingerprint } from '../nodes/ssh-known-hosts.js';

/** The SSH gateway's host key: the private key (OpenSSH format) and what clients pin. */
export interface GatewayHostKey {
  privateKey: Buffer;
  pub: SshHostKey;
}

export const HOST_KEY_FILE = 'ssh_gateway_host_key';

function describe(privateKey: Buffer, file: string): GatewayHostKey {
  const parsed = ssh2().utils.parseKey(privateKey);
  if (parsed instanceof Error || Array.isArray(parsed)) {
    throw new SkyError('CONFIG_INVALID', `the SSH gateway host key ${file} is not a private key sky can read`, {
      hint: 'Delete the file: the API server makes a new one when it starts (clients then run sky launch or sky start again to pin it).',
    });
  }
  const blob = parsed.getPublicSSH();
  return { privateKey, pub: { publicKey: `${parsed.type} ${blob.toString('base64')}`, fingerprint: fingerprint(blob) } };
}

/**
 * The daemon's own SSH host key, made once (ed25519) in the state directory, readable by the
 * daemon's account only. Every `ssh CLUSTER` session is with this key: the CLI pins it in the
 * generated known_hosts file, so a tunnel that ends anywhere else is refused by the ssh client.
 */
export function loadOrCreateHostKey(stateDir: string): GatewayHostKey {
  const file = join(stateDir, HOST_KEY_FILE);
  let existing: Buffer | undefined;
  try {
    existing = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing !== undefined) {
    chmodSync(file, 0o600);
    return describe(existing, file);
  }
  const { privateKey, key } = newHostKey(file);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, privateKey, { mode: 0o600 });
  renameSync(tmp, file);
  return key;
}

/** Tries at making a key ssh2 can read back (see newHostKey). */
const KEY_TRIES = 8;

/**
 * A new ed25519 key that ssh2 reads back. ssh2's generator now and then writes an OpenSSH key its
 * own parser calls malformed (about 3 in 1,000 measured); its Server would refuse that key too,
 * so such a key is never kept: another is made.
 */
function newHostKey(file: string): { privateKey: Buffer; key: GatewayHostKey } {
  for (let attempt = 1; ; attempt++) {
    const privateKey = Buffer.from(ssh2().utils.generateKeyPairSync('ed25519', { comment: 'sky API server SSH gateway' }).private);
    try {
      return { privateKey, key: describe(privateKey, file) };
    } catch (err) {
      if (attempt >= KEY_TRIES) throw err;
    }
  }
}
