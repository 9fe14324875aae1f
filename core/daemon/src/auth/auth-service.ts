import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { SkyError, USER_ID_HEADER, USER_NAME_HEADER, type Role, type UserRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { hashPassword, newId, tokenHash, verifyPassword } from './secrets.js';
import { LoginLimiter } from './login-limiter.js';

export type AuthVia = 'none' | 'basic' | 'token' | 'proxy';

/** Who is calling, as the daemon established it. */
export interface Caller {
  id: string;
  name: string;
  role: Role;
  via: AuthVia;
}

/** What identification looks at: the request's headers and the peer address. */
export interface Credentials {
  header(name: string): string;
  remoteAddress: string | undefined;
}

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_PATTERN = /^[^\x00-\x1f\x7f]{1,64}$/;
const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;
const ANONYMOUS: Caller = { id: 'anonymous', name: 'anonymous', role: 'user', via: 'none' };

function unauthenticated(message: string, hint = 'Log in with: sky api login -e http://USER:PASSWORD@HOST:PORT (or --token TOKEN)'): SkyError {
  return new SkyError('UNAUTHENTICATED', message, { hint });
}

/**
 * Authentication: who a request comes from, per the configured mode, with passwords hashed by
 * scrypt, tokens matched by hash, constant-time comparisons and rate-limited failures.
 */
@injectable()
export class AuthService {
  private readonly limiter: LoginLimiter;
  /**
   * Basic credentials verified recently: digest of name+password → the password hash they matched.
   * scrypt is deliberately slow (tens of ms); a CLI sends the same credentials on every call, so a
   * match stays valid while the stored hash is unchanged (a password reset invalidates it) and for
   * at most VERIFIED_TTL_MS.
   */
  private readonly verified = new Map<string, { passwordHash: string; until: number }>();

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {
    this.limiter = new LoginLimiter(config.auth.max_failed_logins, config.auth.failed_login_window_seconds * 1000);
  }

  get mode(): AuthVia {
    return this.config.auth.mode;
  }

  /** Make sure someone can log in: create the first admin from the environment or the config when there is none. */
  async bootstrap(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    if (this.mode === 'none') return;
    const users = await this.store.users.list();
    if (users.some((u) => u.role === 'admin' && !u.disabled)) return;
    const username = env.SKY_ADMIN_USERNAME ?? this.config.auth.admin.username;
    const password = env.SKY_ADMIN_PASSWORD ?? this.config.auth.admin.password;
    if (username === undefined || (this.mode !== 'proxy' && password === undefined)) {
      throw new SkyError('CONFIG_INVALID', `auth mode ${this.mode} has no admin to log in with`, {
        hint: 'Set SKY_ADMIN_USERNAME and SKY_ADMIN_PASSWORD (or auth.admin in the daemon config) for the first start.',
      });
    }
    if (password !== undefined && password.length < 8) throw new SkyError('CONFIG_INVALID', 'the first admin password must have at least 8 characters');
    const now = this.clock.now();
    const existing = await this.store.users.getByName(username);
    const passwordHash = password === undefined ? undefined : await hashPassword(password);
    if (existing) {
      await this.store.users.update(existing.id, { role: 'admin', updatedAt: now, ...(passwordHash ? { passwordHash } : {}) });
    } else {
      await this.store.users.create({ id: newId('u-'), name: username, role: 'admin', createdAt: now, updatedAt: now, ...(passwordHash ? { passwordHash } : {}) });
    }
    this.logger.info({ user: username }, 'created the first admin');
  }

  /** The caller of a request, or 401. Health checks pass `optional` and get anonymous instead. */
  async identify(creds: Credentials, optional = false): Promise<Caller> {
    const authorization = creds.header('authorization');
    if (this.mode === 'none') return authorization ? await this.fromAuthorization(authorization, creds) : this.declared(creds);
    if (authorization) return this.fromAuthorization(authorization, creds);
    if (this.mode === 'proxy') {
      const proxied = await this.fromProxy(creds);
      if (proxied) return proxied;
    }
    if (optional) return ANONYMOUS;
    throw unauthenticated(`this API server requires authentication (${this.mode})`);
  }

  /** Loopback, no auth: the client says who it is. */
  private declared(creds: Credentials): Caller {
    const id = creds.header(USER_ID_HEADER);
    const name = creds.header(USER_NAME_HEADER);
    if (id !== '' && !ID_PATTERN.test(id)) throw new SkyError('VALIDATION_FAILED', `header ${USER_ID_HEADER} must be 1-64 letters, digits, "_", "." or "-"`);
    if (name !== '' && !NAME_PATTERN.test(name)) throw new SkyError('VALIDATION_FAILED', `header ${USER_NAME_HEADER} must be 1-64 printable characters`);
    return id === '' ? ANONYMOUS : { id, name: name === '' ? id : name, role: 'user', via: 'none' };
  }

  private async fromAuthorization(value: string, creds: Credentials): Promise<Caller> {
    const [scheme, rest = ''] = value.split(/\s+/, 2);
    if (/^bearer$/i.test(scheme ?? '')) return this.fromToken(rest.trim(), creds);
    if (/^basic$/i.test(scheme ?? '') && this.mode !== 'token') return this.fromPassword(rest.trim(), creds);
    throw unauthenticated(`authorization scheme ${scheme ?? '(none)'} is not accepted in auth mode ${this.mode}`);
  }

  private async fromPassword(encoded: string, creds: Credentials): Promise<Caller> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    const key = `${creds.remoteAddress ?? '?'}|${name}`;
    const now = this.clock.now();
    this.limiter.check(key, now);
    const user = await this.store.users.getByName(name);
    const ok = user !== undefined && !user.disabled && user.passwordHash !== undefined && (await this.passwordMatches(decoded, password, user.passwordHash, now));
    if (!ok) {
      this.limiter.fail(key, now);
      this.logger.warn({ user: name, from: creds.remoteAddress }, 'failed login');
      throw unauthenticated(`authentication failed for ${name}`, 'Check the user name and password (sky api login -e http://USER:PASSWORD@HOST:PORT).');
    }
    this.limiter.succeed(key);
    return { id: user.id, name: user.name, role: user.role, via: 'basic' };
  }

  private async passwordMatches(credentials: string, password: string, passwordHash: string, now: number): Promise<boolean> {
    const key = tokenHash(credentials);
    const known = this.verified.get(key);
    if (known && known.passwordHash === passwordHash && known.until > now) return true;
    if (!(await verifyPassword(password, passwordHash))) return false;
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, { passwordHash, until: now + VERIFIED_TTL_MS });
    return true;
  }

  private async fromToken(secret: string, creds: Credentials): Promise<Caller> {
    const key = `${creds.remoteAddress ?? '?'}|token`;
    const now = this.clock.now();
    this.limiter.check(key, now);
    const token = secret === '' ? undefined : await this.store.tokens.findByHash(tokenHash(secret));
    const user = token ? await this.store.users.get(token.userId) : undefined;
    let problem: string | undefined;
    if (!token || !user || user.disabled) problem = 'the token is not valid';
    else if (token.revokedAt !== undefined) problem = 'the token was revoked';
    else if (token.expiresAt !== undefined && token.expiresAt <= now) problem = 'the token has expired';
    if (problem !== undefined || !token || !user) {
      this.limiter.fail(key, now);
      throw unauthenticated(problem ?? 'the token is not valid', 'Create a new token (sky users token create) and log in with it (sky api login --token TOKEN).');
    }
    this.limiter.succeed(key);
    if (token.lastUsedAt === undefined || now - token.lastUsedAt > 60_000) void this.store.tokens.touch(token.id, now).catch(() => undefined);
    return { id: user.id, name: user.name, role: user.role, via: 'token' };
  }

  /** SSO: a trusted proxy names the user in a header; only from the configured addresses. Unknown users are created as `user`. */
  private async fromProxy(creds: Credentials): Promise<Caller | undefined> {
    const { header, trusted_addresses: trusted } = this.config.auth.proxy;
    const name = creds.header(header);
    if (name === '') return undefined;
    if (!creds.remoteAddress || !trusted.includes(creds.remoteAddress)) {
      this.logger.warn({ from: creds.remoteAddress }, 'proxy auth header from an untrusted address ignored');
      return undefined;
    }
    if (!NAME_PATTERN.test(name)) throw unauthenticated(`the proxy's ${header} header is not a user name`);
    let user: UserRecord | undefined = await this.store.users.getByName(name);
    if (!user) {
      const now = this.clock.now();
      user = (await this.store.users.create({ id: newId('u-'), name, role: 'user', createdAt: now, updatedAt: now })).record;
    }
    if (user.disabled) throw unauthenticated(`user ${name} is disabled`);
    return { id: user.id, name: user.name, role: user.role, via: 'proxy' };
  }
}
