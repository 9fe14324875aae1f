import { createHash } from 'node:crypto';
import { ACCOUNT_NAME } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import { foldUserName, type AccountsConfig } from './config.js';

/** Characters of the user-id hash at the end of a derived account name. */
export const ACCOUNT_HASH_CHARS = 6;
const MAX_ACCOUNT = 32;

/**
 * The OS account created for a sky user: `<prefix><name>-<hash>`, where name is the user name
 * reduced to a-z, 0-9 and "-" (shortened so the whole is at most 32 characters) and hash is the
 * first 6 hex digits of SHA-256 of the user id. Deterministic (the same user always gets the same
 * account), valid everywhere useradd runs, and distinct for two users whose names reduce alike
 * (`Ann.Lee`, `ann_lee`) or for a user deleted and created again under the same name.
 */
export function deriveAccountName(prefix: string, userName: string, userId: string): string {
  const hash = createHash('sha256').update(userId).digest('hex').slice(0, ACCOUNT_HASH_CHARS);
  const room = MAX_ACCOUNT - prefix.length - ACCOUNT_HASH_CHARS - 1;
  const reduced = userName
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, Math.max(0, room))
    .replace(/-+$/, '');
  const name = reduced === '' ? `${prefix}${hash}` : `${prefix}${reduced}-${hash}`;
  if (!ACCOUNT_NAME.test(name)) {
    throw new SkyError('INTERNAL', `local driver: derived account name ${JSON.stringify(name)} is not a valid account name`);
  }
  return name;
}

/** Which OS account a sky user's local clusters run as: the admin's map first, else a derived account when allowed. */
export function accountFor(config: AccountsConfig, user: { id: string; name?: string | undefined }): string {
  const name = user.name ?? user.id;
  const mapped = config.map[foldUserName(name)];
  if (mapped !== undefined) return mapped;
  if (config.create && config.prefix !== undefined) return deriveAccountName(config.prefix, name, user.id);
  throw new SkyError('FORBIDDEN', `local driver: sky user ${name} has no OS account to run jobs as on this server`, {
    hint: `An admin maps the user in drivers.local.accounts.map (e.g. ${JSON.stringify(foldUserName(name))}: <account>), or sets accounts.create: true with a prefix.`,
  });
}
