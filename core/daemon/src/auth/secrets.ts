import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new bearer token secret (shown once) and the hash that is stored. */
export function newToken(): { secret: string; hash: string } {
  const secret = `sky_${randomBytes(32).toString('base64url')}`;
  return { secret, hash: tokenHash(secret) };
}

/** Tokens (and session and login-link secrets) are long random secrets, so a fast hash is enough; the store only matches it. */
export function tokenHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A random secret with a recognisable prefix (e.g. `sks_` for sessions). */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** Compare two secrets in constant time (whatever their lengths). */
export function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db) && a.length === b.length;
}

export function newId(prefix: string): string {
  return `${prefix}${randomBytes(6).toString('hex')}`;
}
