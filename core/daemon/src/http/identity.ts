import type { Context, Next } from 'koa';
import { SkyError, USER_ID_HEADER, USER_NAME_HEADER, type Identity } from '@sky/protocol';

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_PATTERN = /^[^\x00-\x1f\x7f]{1,64}$/;
const ANONYMOUS: Identity = { id: 'anonymous', name: 'anonymous' };

export interface IdentityState {
  identity: Identity;
}

/**
 * Resolve who is calling. Without authentication (loopback only) the client declares its
 * user in headers; callers that send none (curl, orchestrators) act as "anonymous".
 */
export async function identityMiddleware(ctx: Context, next: Next): Promise<void> {
  const id = ctx.get(USER_ID_HEADER);
  const name = ctx.get(USER_NAME_HEADER);
  if (id !== '' && !ID_PATTERN.test(id)) {
    throw new SkyError('VALIDATION_FAILED', `header ${USER_ID_HEADER} must be 1-64 letters, digits, "_", "." or "-"`);
  }
  if (name !== '' && !NAME_PATTERN.test(name)) {
    throw new SkyError('VALIDATION_FAILED', `header ${USER_NAME_HEADER} must be 1-64 printable characters`);
  }
  (ctx.state as IdentityState).identity = id === '' ? ANONYMOUS : { id, name: name === '' ? id : name };
  await next();
}

export function callerOf(ctx: Context): Identity {
  return (ctx.state as IdentityState).identity;
}
