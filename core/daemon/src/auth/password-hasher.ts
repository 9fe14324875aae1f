import { randomBytes, timingSafeEqual } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { ScryptPool, type ScryptParams } from './scrypt-pool.js';

const SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1, keylen: 64 };
const MAX_N = 1 << 20;

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

/** `scrypt$N$r$p$salt$hash` (base64url), or undefined for anything else. */
function parse(stored: string): ParsedHash | undefined {
  const [kind, n, r, p, salt, hash, ...rest] = stored.split('$');
  if (kind !== 'scrypt' || !n || !r || !p || !salt || !hash || rest.length > 0) return undefined;
  const params = { N: Number(n), r: Number(r), p: Number(p), keylen: 0 };
  if (![params.N, params.r, params.p].every((v) => Number.isInteger(v) && v > 0) || params.N > MAX_N || params.r > 32 || params.p > 16) return undefined;
  const key = Buffer.from(hash, 'base64url');
  if (key.length === 0) return undefined;
  return { params: { ...params, keylen: key.length }, salt: Buffer.from(salt, 'base64url'), key };
}

function format(params: ScryptParams, salt: Buffer, key: Buffer): string {
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/**
 * Password hashing (scrypt, memory-hard) on a few worker threads of its own, so that many
 * logins or password changes at once never starve the state store of libuv's thread pool.
 * Unknown users are checked against a dummy hash of the same cost, so a login takes as long
 * whether or not the name exists.
 */
@injectable()
export class PasswordHasher {
  private readonly pool: ScryptPool;
  /** A hash no password matches (random salt and key), with the parameters of real hashes. */
  private readonly dummy = format(SCRYPT, randomBytes(16), randomBytes(SCRYPT.keylen));

  constructor(@inject(TOKENS.Config) config: DaemonConfig) {
    this.pool = new ScryptPool(config.auth.hash_workers, config.auth.hash_queue);
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    return format(SCRYPT, salt, await this.pool.derive(password, salt, SCRYPT));
  }

  /** Constant-time check of a password against a stored hash; false for a malformed hash (after the same work as a real one). */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    const parsed = stored === undefined ? undefined : parse(stored);
    if (parsed === undefined) {
      await this.verifyDummy(password);
      return false;
    }
    const key = await this.pool.derive(password, parsed.salt, parsed.params);
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  }

  /** The work of a real check, for a user that does not exist (or has no password): always false. */
  async verifyDummy(password: string): Promise<false> {
    const parsed = parse(this.dummy)!;
    await this.pool.derive(password, parsed.salt, parsed.params);
    return false;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
