import type { AuthVia, Role } from '@sky/protocol';

export type { AuthVia };

/** The token or session a caller authenticated with. */
export interface CallerCredential {
  kind: 'token' | 'session';
  id: string;
  /** When it expires; a credential never mints another that outlives it. */
  expiresAt?: number;
}

/**
 * Who is calling, as the daemon established it. `via` says how: none (anonymous), local (the
 * personal daemon's owner, proven by the local token; role admin), basic, token, proxy, or
 * session (a browser's cookie).
 */
export interface Caller {
  id: string;
  name: string;
  role: Role;
  via: AuthVia;
  credential?: CallerCredential;
}

/** What identification looks at: the request's headers, the client's address and the connection's peer. */
export interface Credentials {
  header(name: string): string;
  /** The client: the socket peer, or the client a trusted proxy (listen.trusted_proxies) forwards for. */
  remoteAddress: string | undefined;
  /** The socket peer itself (the SSO proxy, in proxy mode); the client address when not given. */
  peerAddress?: string | undefined;
}

export const ANONYMOUS: Caller = { id: 'anonymous', name: 'anonymous', role: 'user', via: 'none' };
