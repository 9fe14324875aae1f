import { chmodSync, closeSync, lstatSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SkyError } from '@sky/protocol';
import { newSecret, sameSecret } from './secrets.js';

const TOKEN_PATTERN = /^skl_[A-Za-z0-9_-]{43}$/;

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/** The token in `file` when the file is a regular file of ours that no one else may read; else undefined. */
function readTrusted(file: string): string | undefined {
  let stat;
  try {
    stat = lstatSync(file);
  } catch {
    return undefined;
  }
  const uid = currentUid();
  if (!stat.isFile() || (stat.mode & 0o777) !== 0o600 || (uid !== undefined && stat.uid !== uid)) return undefined;
  const text = readFileSync(file, 'utf8').trim();
  return TOKEN_PATTERN.test(text) ? text : undefined;
}

/**
 * The personal daemon's local token: a random secret in `<state_dir>/local_token`, mode
 * 0600 in a 0700 directory, so only the OS account that runs the daemon (and root) can read
 * it. Clients of that account send it with every request; other accounts cannot, and get 401.
 * Kept across restarts; made anew when the file is missing, not a regular file of this
 * account, readable by others, or not a token.
 */
export class LocalToken {
  private value: string | undefined;

  constructor(readonly file: string) {}

  /** Read or create the token file; returns the token. */
  ensure(): string {
    const dir = dirname(this.file);
    try {
      const mode = statSync(dir).mode & 0o777;
      if ((mode & 0o077) !== 0) chmodSync(dir, 0o700);
    } catch (err) {
      throw new SkyError('STATE_UNAVAILABLE', `cannot secure the state directory ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        hint: 'Choose a state_dir this account owns.',
      });
    }
    const existing = readTrusted(this.file);
    if (existing !== undefined) {
      this.value = existing;
      return existing;
    }
    const token = newSecret('skl_');
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      rmSync(tmp, { force: true });
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        writeSync(fd, `${token}\n`);
      } finally {
        closeSync(fd);
      }
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new SkyError('STATE_UNAVAILABLE', `cannot write the local token ${this.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        hint: 'Check that the state directory is writable by this account.',
      });
    }
    this.value = token;
    return token;
  }

  /** Whether `given` is the token (constant time). False before ensure(). */
  matches(given: string): boolean {
    return this.value !== undefined && given !== '' && sameSecret(given, this.value);
  }
}
