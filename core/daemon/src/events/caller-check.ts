import type { StateStore } from '@sky/plugin-api';
import type { Caller } from '../auth/caller.js';
import type { Actor } from '../auth/policy.js';

/**
 * Whether a stream's caller may still receive events, checked again while the stream is
 * open: the token or session it came with is still there, not revoked, not expired, and its
 * user still exists and is not disabled. Returns the actor with its role as it is now (a
 * demoted admin is a user again), or undefined when the stream must end.
 */
export async function recheckCaller(store: StateStore, caller: Caller, now: number, authMode: string): Promise<Actor | undefined> {
  const credential = caller.credential;
  if (credential !== undefined) {
    const record = credential.kind === 'token' ? await store.tokens.get(credential.id) : await store.sessions.get(credential.id);
    if (record === undefined || record.revokedAt !== undefined) return undefined;
    if (record.expiresAt !== undefined && record.expiresAt <= now) return undefined;
  }
  // Without authentication (the personal daemon) there are no user records to check.
  if (authMode === 'none' || caller.via === 'none' || caller.via === 'local') return { id: caller.id, name: caller.name, role: caller.role };
  const user = await store.users.get(caller.id);
  if (user === undefined || user.disabled === true) return undefined;
  return { id: user.id, name: user.name, role: user.role };
}
