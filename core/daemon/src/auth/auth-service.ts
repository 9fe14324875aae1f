import { join } from 'node:path';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { canonicalUserName, LOCAL_TOKEN_FILE, LOCAL_TOKEN_HEADER, SESSION_COOKIE, SkyError, USER_ID_HEADER, USER_NAME_HEADER, type UserRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig, DaemonPaths } from '../config/schema.js';
import { ANONYMOUS, type AuthVia, type Caller, type Credentials } from './caller.js';
import { LocalToken } from './local-token.js';
import { LoginLimiter, type LoginAttempt } from './login-limiter.js';
import { PasswordHasher } from './password-hasher.js';
import { ProxyAuth, plainAddress } from './proxy-auth.js';
import { Refusals } from './refusals.js';
import { SessionService } from './session-service.js';
import { newId, tokenHash } from './secrets.js';
import { canonicaliseUserNames, findUserByName } from './user-names.js';
import { cookieValue } from './cookies.js';
import { readPasswordFile, takeAdminEnv, type AdminEnv } from './admin-seed.js';
import { absolutePath } from '../config/load.js';

export type { AuthVia, Caller, Credentials };

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const NAME_PATTERN = /^[^\x00-\x1f\x7f]{1,64}$/;
const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 10_000;
/** How much of a bearer token keys its failures: enough to tell tokens apart, far too little to use one. */
const TOKEN_PREFIX_CHARS = 12;

/**
 * One outcome for the name's key and the address's: a failure counts for both (the first lock
 * answers), a success clears the name's key only — a team member's own good logins must not
 * wipe their address's record of sprayed names.
 */
function both(name: LoginAttempt, address: LoginAttempt): LoginAttempt {
  return {
    fail: (now) => {
      const byName = name.fail(now);
      const byAddress = address.fail(now);
      return byName ?? byAddress;
    },
    succeed: () => {
      name.succeed();
      address.abandon();
    },
    abandon: () => {
      name.abandon();
      address.abandon();
    },
  };
}

/** How a password check went: the caller, or the error to answer (with the named user, when one exists, for the audit log only). */
export type PasswordCheck = { ok: true; caller: Caller } | { ok: false; error: SkyError; user?: { id: string; name: string } };

function unauthenticated(message: string, hint = 'Log in with: sky api login -e http://USER:PASSWORD@HOST:PORT (or --token TOKEN)'): SkyError {
  return new SkyError('UNAUTHENTICATED', message, { hint });
}

/**
 * Authentication: who a request comes from, per the configured mode. The personal daemon
 * (none) believes only its owner's local token; passwords are checked with scrypt on worker
 * threads (a dummy hash for unknown names); tokens and sessions are matched by hash; the
 * proxy header only from trusted addresses with the shared secret; failures are slowed
 * down per client and name (tokens: per prefix), and refusals are logged and audited.
 */
@injectable()
export class AuthService {
  /** Failed logins per client address and user name, and per token prefix. */
  private readonly limiter: LoginLimiter;
  /** Failed password logins per client address, whatever the names: spraying names from one place is slowed down too. */
  private readonly addresses: LoginLimiter;
  private readonly localToken: LocalToken;
  private proxy: ProxyAuth | undefined;
  /**
   * Basic credentials verified recently: digest of name+password → the password hash they matched.
   * scrypt is deliberately slow (tens of ms); a CLI sends the same credentials on every call, so a
   * match stays valid while the stored hash is unchanged (a password reset invalidates it) and for
   * at most VERIFIED_TTL_MS.
   */
  private readonly verified = new Map<string, { passwordHash: string; until: number }>();

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Paths) paths: DaemonPaths,
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(PasswordHasher) private readonly hasher: PasswordHasher,
    @inject(SessionService) private readonly sessions: SessionService,
    @inject(Refusals) private readonly refusals: Refusals,
  ) {
    const windowMs = config.auth.failed_login_window_seconds * 1000;
    const maxDelayMs = config.auth.max_login_delay_seconds * 1000;
    this.limiter = new LoginLimiter({ max: config.auth.max_failed_logins, windowMs, maxDelayMs, baseDelayMs: Math.min(1000, maxDelayMs) });
    this.addresses = new LoginLimiter({ max: config.auth.max_failed_logins_per_address, windowMs, maxDelayMs, baseDelayMs: Math.min(1000, maxDelayMs) });
    this.localToken = new LocalToken(join(paths.stateDir, LOCAL_TOKEN_FILE));
  }

  get mode(): DaemonConfig['auth']['mode'] {
    return this.config.auth.mode;
  }

  /**
   * Get ready to authenticate: the local token (mode none), the proxy's settings (proxy),
   * user names in canonical form, and a first admin when there is none (from the
   * environment or the config). The bootstrap variables are read here and nowhere else: the
   * SKY_ADMIN_* variables are removed from `env` first, in every mode and whether or not they
   * are needed, so no process the daemon starts inherits them.
   */
  async bootstrap(env: NodeJS.ProcessEnv = process.env): Promise<void> {
    const fromEnv = takeAdminEnv(env);
    if (this.mode === 'proxy') this.proxy = ProxyAuth.fromConfig(this.config.auth.proxy);
    await canonicaliseUserNames(this.store, this.clock.now(), this.logger);
    if (this.mode === 'none') {
      this.localToken.ensure();
      return;
    }
    const users = await this.store.users.list();
    if (users.some((u) => u.role === 'admin' && !u.disabled)) return;
    const rawName = fromEnv.username ?? this.config.auth.admin.username;
    const password = this.firstAdminPassword(fromEnv);
    if (rawName === undefined || (this.mode !== 'proxy' && password === undefined)) {
      throw new SkyError('CONFIG_INVALID', `auth mode ${this.mode} has no admin to log in with`, {
        hint: 'Set SKY_ADMIN_USERNAME and SKY_ADMIN_PASSWORD_FILE (a file only the daemon account can read; or SKY_ADMIN_PASSWORD, or auth.admin in the daemon config) for the first start.',
      });
    }
    const username = canonicalUserName(rawName);
    if (username === undefined) {
      throw new SkyError('CONFIG_INVALID', 'the first admin\'s user name must be ASCII letters, digits, ".", "_", "@" or "-"', {
        hint: 'Choose another SKY_ADMIN_USERNAME (or auth.admin.username).',
      });
    }
    if (password !== undefined && password.length < 8) throw new SkyError('CONFIG_INVALID', 'the first admin password must have at least 8 characters');
    const now = this.clock.now();
    const existing = await findUserByName(this.store, username);
    const passwordHash = password === undefined ? undefined : await this.hasher.hash(password);
    if (existing) {
      await this.store.users.update(existing.id, { role: 'admin', updatedAt: now, ...(passwordHash ? { passwordHash } : {}) });
    } else {
      await this.store.users.create({ id: newId('u-'), name: username, role: 'admin', createdAt: now, updatedAt: now, ...(passwordHash ? { passwordHash } : {}) });
    }
    this.logger.info({ user: username }, 'created the first admin');
  }

  /** The first admin's password: SKY_ADMIN_PASSWORD, SKY_ADMIN_PASSWORD_FILE, auth.admin.password_file or auth.admin.password. */
  private firstAdminPassword(fromEnv: AdminEnv): string | undefined {
    const admin = this.config.auth.admin;
    if (fromEnv.password !== undefined && fromEnv.passwordFile !== undefined) {
      throw new SkyError('CONFIG_INVALID', 'both SKY_ADMIN_PASSWORD and SKY_ADMIN_PASSWORD_FILE are set', { hint: 'Set only SKY_ADMIN_PASSWORD_FILE (preferred) or SKY_ADMIN_PASSWORD.' });
    }
    if (admin.password !== undefined && admin.password_file !== undefined) {
      throw new SkyError('CONFIG_INVALID', 'both auth.admin.password and auth.admin.password_file are set', { hint: 'Keep only auth.admin.password_file (preferred) or auth.admin.password.' });
    }
    if (fromEnv.password !== undefined) return fromEnv.password;
    if (fromEnv.passwordFile !== undefined) return readPasswordFile(absolutePath(fromEnv.passwordFile), 'SKY_ADMIN_PASSWORD_FILE');
    if (admin.password_file !== undefined) return readPasswordFile(absolutePath(admin.password_file), 'auth.admin.password_file');
    return admin.password;
  }

  /** The caller of a request, or 401. Health checks (and the login link's exchange) pass `optional` and get anonymous instead. */
  async identify(creds: Credentials, optional = false): Promise<Caller> {
    const authorization = creds.header('authorization');
    if (authorization) return this.fromAuthorization(authorization, creds);
    if (this.mode === 'none') {
      const local = creds.header(LOCAL_TOKEN_HEADER);
      if (local !== '') return this.fromLocalToken(local, creds, optional);
    }
    const cookie = cookieValue(creds.header('cookie'), SESSION_COOKIE);
    const session = cookie === undefined ? undefined : await this.fromSession(cookie);
    if (session !== undefined) return session;
    if (this.mode === 'proxy') {
      const proxied = await this.fromProxy(creds);
      if (proxied) return proxied;
    }
    if (optional) return ANONYMOUS;
    if (cookie !== undefined) throw unauthenticated('your browser session expired or was revoked', 'Run sky dashboard for a new login link.');
    if (this.mode === 'none') {
      this.refusals.record({ action: 'auth.local', reason: 'no local token', from: creds.remoteAddress });
      throw unauthenticated(
        'this is a personal API server: requests must carry its local token',
        `Run sky as the OS account that started the server: its clients read the token from ${this.localToken.file} (readable only by that account). Another account runs its own server (or use a team server: sky daemon start --auth basic).`,
      );
    }
    throw unauthenticated(`this API server requires authentication (${this.mode})`);
  }

  /** The owner of the personal daemon: role admin; the declared identity headers name the view (the CLI's user hash and login name). */
  private fromLocalToken(token: string, creds: Credentials, optional: boolean): Caller {
    if (!this.localToken.matches(token)) {
      this.refusals.record({ action: 'auth.local', reason: 'wrong local token', from: creds.remoteAddress });
      if (optional) return ANONYMOUS;
      throw unauthenticated('the local token is wrong (the API server may have made a new one)', `Clients read it from ${this.localToken.file}; restart the client, or the server (sky api stop) if the file was removed.`);
    }
    const declared = this.declared(creds);
    return { ...declared, role: 'admin', via: 'local' };
  }

  /** The identity the owner's client declares (x-sky-user-id / x-sky-user-name); anonymous without one. */
  private declared(creds: Credentials): Pick<Caller, 'id' | 'name'> {
    const id = creds.header(USER_ID_HEADER);
    const name = creds.header(USER_NAME_HEADER);
    if (id !== '' && !ID_PATTERN.test(id)) throw new SkyError('VALIDATION_FAILED', `header ${USER_ID_HEADER} must be 1-64 letters, digits, "_", "." or "-"`);
    if (name !== '' && !NAME_PATTERN.test(name)) throw new SkyError('VALIDATION_FAILED', `header ${USER_NAME_HEADER} must be 1-64 printable characters`);
    return id === '' ? { id: ANONYMOUS.id, name: ANONYMOUS.name } : { id, name: name === '' ? id : name };
  }

  private async fromSession(secret: string): Promise<Caller | undefined> {
    const session = await this.sessions.find(secret);
    if (session === undefined) return undefined;
    const credential = { kind: 'session' as const, id: session.id, expiresAt: session.expiresAt };
    if (this.mode === 'none') return { id: session.userId, name: session.userName, role: 'admin', via: 'session', credential };
    const user = await this.store.users.get(session.userId);
    if (user === undefined || user.disabled) return undefined;
    return { id: user.id, name: user.name, role: user.role, via: 'session', credential };
  }

  private async fromAuthorization(value: string, creds: Credentials): Promise<Caller> {
    const [scheme, rest = ''] = value.split(/\s+/, 2);
    if (/^bearer$/i.test(scheme ?? '')) return this.fromToken(rest.trim());
    if (/^basic$/i.test(scheme ?? '') && this.mode !== 'token') return this.fromPassword(rest.trim(), creds);
    throw unauthenticated(`authorization scheme ${scheme ?? '(none)'} is not accepted in auth mode ${this.mode}`);
  }

  private async fromPassword(encoded: string, creds: Credentials): Promise<Caller> {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const typed = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const password = colon >= 0 ? decoded.slice(colon + 1) : '';
    const checked = await this.checkPassword(typed, password, creds);
    if (!checked.ok) throw checked.error;
    return checked.caller;
  }

  /**
   * Check a user name and password exactly as basic auth does (the same limiter, a dummy hash
   * for unknown names, the same answer whether or not the user exists). A refusal comes back
   * with the error to answer and, for the audit log only, the user the name belongs to when
   * there is one. A busy limiter (429 before any check) throws.
   */
  async checkPassword(typed: string, password: string, creds: Credentials): Promise<PasswordCheck> {
    const decoded = `${typed}:${password}`;
    const user = await findUserByName(this.store, typed);
    const now = this.clock.now();
    // Credentials verified a moment ago (the CLI sends them with every call) need no limiter and no scrypt.
    const cached = user?.passwordHash === undefined ? undefined : this.verified.get(tokenHash(decoded));
    if (user && !user.disabled && cached && cached.passwordHash === user.passwordHash && cached.until > now) {
      return { ok: true, caller: { id: user.id, name: user.name, role: user.role, via: 'basic' } };
    }
    const address = creds.remoteAddress === undefined ? '?' : plainAddress(creds.remoteAddress);
    const fromAddress = await this.addresses.admit(address, () => this.clock.now());
    let attempt: LoginAttempt;
    try {
      attempt = await this.limiter.admit(`p|${address}|${canonicalUserName(typed) ?? '#invalid'}`, () => this.clock.now());
    } catch (err) {
      fromAddress.abandon();
      throw err;
    }
    const { ok, locked } = await this.settle(both(attempt, fromAddress), async () => {
      if (user === undefined || user.disabled || user.passwordHash === undefined) return this.hasher.verifyDummy(password);
      return this.hasher.verify(password, user.passwordHash);
    });
    if (!ok || user === undefined || user.passwordHash === undefined) {
      // Never the typed name: it may be a password typed into the wrong field.
      this.logger.warn({ user: user?.name, knownUser: user !== undefined, from: creds.remoteAddress, locked: locked !== undefined }, 'failed login');
      const error = locked ?? unauthenticated(`authentication failed for ${typed.slice(0, 64)}`, 'Check the user name and password (sky api login -e http://USER:PASSWORD@HOST:PORT).');
      return { ok: false, error, ...(user === undefined ? {} : { user: { id: user.id, name: user.name } }) };
    }
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(tokenHash(decoded), { passwordHash: user.passwordHash, until: now + VERIFIED_TTL_MS });
    return { ok: true, caller: { id: user.id, name: user.name, role: user.role, via: 'basic' } };
  }

  /** Run a check for an admitted attempt and report its outcome to the limiter (a failure may lock the key: then its 429 comes back). */
  private async settle(attempt: LoginAttempt, check: () => Promise<boolean>): Promise<{ ok: boolean; locked?: SkyError }> {
    let ok: boolean;
    try {
      ok = await check();
    } catch (err) {
      attempt.abandon();
      throw err;
    }
    if (ok) {
      attempt.succeed();
      return { ok };
    }
    const locked = attempt.fail(this.clock.now());
    return locked === undefined ? { ok } : { ok, locked };
  }

  private async fromToken(secret: string): Promise<Caller> {
    const attempt = await this.limiter.admit(`t|${secret.slice(0, TOKEN_PREFIX_CHARS)}`, () => this.clock.now());
    const now = this.clock.now();
    let problem: string | undefined;
    let caller: Caller | undefined;
    try {
      const token = secret === '' ? undefined : await this.store.tokens.findByHash(tokenHash(secret));
      const user = token ? await this.store.users.get(token.userId) : undefined;
      if (!token || !user || user.disabled) problem = 'the token is not valid';
      else if (token.revokedAt !== undefined) problem = 'the token was revoked';
      else if (token.expiresAt !== undefined && token.expiresAt <= now) problem = 'the token has expired';
      else {
        caller = { id: user.id, name: user.name, role: user.role, via: 'token', credential: { kind: 'token', id: token.id, ...(token.expiresAt !== undefined ? { expiresAt: token.expiresAt } : {}) } };
        if (token.lastUsedAt === undefined || now - token.lastUsedAt > 60_000) void this.store.tokens.touch(token.id, now).catch(() => undefined);
      }
    } catch (err) {
      attempt.abandon();
      throw err;
    }
    if (caller === undefined) {
      const locked = attempt.fail(now);
      if (locked !== undefined) throw locked;
      throw unauthenticated(problem ?? 'the token is not valid', 'Create a new token (sky users token create) and log in with it (sky api login --token TOKEN).');
    }
    attempt.succeed();
    return caller;
  }

  /** SSO: a trusted proxy names the user in a header (trusted address and shared secret). Unknown users are created as `user`. */
  private async fromProxy(creds: Credentials): Promise<Caller | undefined> {
    const proxy = this.proxy;
    if (proxy === undefined) return undefined;
    const verdict = proxy.check(creds);
    if (verdict.kind === 'absent') return undefined;
    if (verdict.kind === 'refused') {
      this.refusals.record({ action: 'auth.proxy', reason: `proxy header ignored: ${verdict.problem}`, from: creds.peerAddress ?? creds.remoteAddress });
      return undefined;
    }
    const header = this.config.auth.proxy.header;
    let user: UserRecord | undefined = await findUserByName(this.store, verdict.name);
    if (!user) {
      let name: string;
      try {
        name = ProxyAuth.canonical(verdict.name, header);
      } catch (err) {
        this.refusals.record({ action: 'auth.proxy', reason: 'proxy header holds no valid user name', from: creds.remoteAddress });
        throw err;
      }
      const now = this.clock.now();
      user = (await this.store.users.create({ id: newId('u-'), name, role: 'user', createdAt: now, updatedAt: now })).record;
    }
    if (user.disabled) throw unauthenticated(`user ${user.name} is disabled`);
    return { id: user.id, name: user.name, role: user.role, via: 'proxy' };
  }
}
