import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { SkyError } from '@sky/protocol';

/** AES-256: the key is 32 random bytes, kept base64-encoded on one line. */
export const KEY_BYTES = 32;

/** A short, non-secret fingerprint of a key, stored with every value it seals. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('sky secrets key id\0').update(key).digest('hex').slice(0, 16);
}

export type KeyFileRead = { kind: 'key'; key: Buffer } | { kind: 'missing' };

function unavailable(path: string, reason: string, hint: string): SkyError {
  return new SkyError('SECRETS_KEY_UNAVAILABLE', `the secrets key ${path} ${reason}`, { hint, details: { path } });
}

/** Read the key file: its key, `missing` when there is none, or a clear error when it cannot be used. */
export function readKeyFile(path: string): KeyFileRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (code === 'ENOENT') return { kind: 'missing' };
    throw unavailable(path, `cannot be read (${code})`, 'The key file must be readable by the account the daemon runs as (chmod 600, owned by that account).');
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text.trim()) {
    throw unavailable(path, `does not hold a ${KEY_BYTES}-byte base64 key`, 'Restore the key file the daemon created (it is never rewritten), or point secrets.key_file at it.');
  }
  return { kind: 'key', key };
}

/**
 * Create the key file (0600) holding a fresh random key, or, when another process created it
 * meanwhile (replicas starting at once on one shared key file), take the key it wrote. The key is
 * written to a private temporary file first and linked into place, so no reader ever sees a
 * partly written key file.
 */
export function createKeyFile(path: string): Buffer {
  const key = randomBytes(KEY_BYTES);
  const temp = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw unavailable(path, `cannot be created (${code})`, 'The directory of secrets.key_file must exist and be writable by the daemon account.');
  }
  try {
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, `${key.toString('base64')}\n`);
      fsyncSync(fd);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw unavailable(path, `could not be written (${code})`, 'Free space on the filesystem that holds the key file, then start the daemon again.');
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code !== 'EEXIST') throw unavailable(path, `cannot be created (${code})`, 'The directory of secrets.key_file must be writable by the daemon account.');
      // Another process won the race: its key is complete (it was linked whole), use it.
      const theirs = readKeyFile(path);
      if (theirs.kind === 'key') return theirs.key;
      throw unavailable(path, 'disappeared while it was being created', 'Start the daemon again.');
    }
    return key;
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
  }
}
