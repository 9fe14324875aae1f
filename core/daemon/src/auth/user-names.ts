import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { canonicalUserName, type UserRecord } from '@sky/protocol';

/**
 * The user a name means: the record with exactly this (NFKC-normalised) name, else the one
 * with its canonical form (case-folded). Every record is stored canonical, except one an
 * older release created that would collide with another after folding: that one is still
 * found by its exact name.
 */
export async function findUserByName(store: StateStore, raw: string): Promise<UserRecord | undefined> {
  const nfkc = raw.normalize('NFKC');
  const exact = await store.users.getByName(nfkc);
  if (exact !== undefined) return exact;
  const canonical = canonicalUserName(nfkc);
  return canonical === undefined || canonical === nfkc ? undefined : store.users.getByName(canonical);
}

/**
 * Rename users an older release stored with another spelling (capitals, full-width
 * characters) to their canonical name, so names compare case-insensitively. A name whose
 * canonical form is taken by another user, or that has no canonical form (characters the
 * ASCII pattern refuses), is left as it is and reported: it keeps working by its exact name.
 */
export async function canonicaliseUserNames(store: StateStore, now: number, logger: Logger): Promise<void> {
  for (const user of await store.users.list()) {
    const canonical = canonicalUserName(user.name);
    if (canonical === user.name) continue;
    if (canonical === undefined) {
      logger.warn({ userId: user.id }, 'a user name has characters outside the allowed ASCII set; it keeps working, but new names like it are refused');
      continue;
    }
    const holder = await store.users.getByName(canonical);
    if (holder !== undefined) {
      logger.warn({ userId: user.id, collidesWith: holder.id }, 'two users differ only in case; the second keeps its old spelling (rename or delete one of them)');
      continue;
    }
    await store.users.update(user.id, { name: canonical, updatedAt: now });
    logger.info({ userId: user.id, name: canonical }, 'user name stored in its canonical (lowercase) form');
  }
}
