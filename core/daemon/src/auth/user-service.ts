import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import {
  canonicalUserName,
  SkyError,
  type CreateTokenBody,
  type CreateUserBody,
  type ImportUsersBody,
  type ImportUsersResult,
  type NewToken,
  type PasswordBody,
  type Role,
  type TokenRecord,
  type TokenView,
  type UserRecord,
  type UserView,
  type WhoAmI,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { Caller } from './caller.js';
import { PasswordHasher } from './password-hasher.js';
import { RateWindow } from './rate-window.js';
import { newId, newToken } from './secrets.js';
import { findUserByName } from './user-names.js';
import { AccessPolicy } from './policy.js';

const DAY_MS = 86_400_000;

/** Days as the CLI's --expires-in-days takes them, rounded down to a hundredth. */
function days(ms: number): string {
  return String(Math.max(0, Math.floor((ms / DAY_MS) * 100) / 100));
}

/**
 * A credential never mints one that outlives it: a token or a session that expires can create
 * (or rotate into) only tokens expiring no later than itself, and never a permanent one.
 */
function assertWithinCredential(caller: Caller, expiresAt: number | undefined, now: number): void {
  const limit = caller.credential?.expiresAt;
  if (limit === undefined || (expiresAt !== undefined && expiresAt <= limit)) return;
  const what = caller.credential?.kind === 'session' ? 'browser session' : 'token';
  throw new SkyError('FORBIDDEN', `the ${what} you are using expires ${new Date(limit).toISOString()}; a token it creates cannot outlive it`, {
    hint: `Ask for --expires-in-days ${days(limit - now)} or less, or log in with your password to create a longer-lived token.`,
    details: { credentialExpiresAt: limit },
  });
}

function view(user: UserRecord): UserView {
  return { id: user.id, name: user.name, role: user.role, createdAt: user.createdAt, ...(user.disabled ? { disabled: true } : {}) };
}

/**
 * Users and their bearer tokens: admins manage everyone, users themselves. Who may do what is
 * the access policy's: admin-only routes are refused before they get here (route table), and
 * the per-user rules (own password, own tokens) are asked of it.
 */
@injectable()
export class UserService {
  private readonly passwordChanges: RateWindow;
  private readonly personal: boolean;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Config) config: DaemonConfig,
    @inject(PasswordHasher) private readonly hasher: PasswordHasher,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
  ) {
    this.personal = config.auth.mode === 'none';
    this.passwordChanges = new RateWindow(config.auth.max_password_changes, config.auth.password_change_window_seconds * 1000, 'changes of your password');
  }

  whoami(caller: Caller): WhoAmI {
    const expiresAt = caller.credential?.expiresAt;
    return { id: caller.id, name: caller.name, role: caller.role, via: caller.via, ...(expiresAt !== undefined ? { expiresAt } : {}) };
  }

  async list(): Promise<{ items: UserView[] }> {
    return { items: (await this.store.users.list()).map(view) };
  }

  async byName(name: string): Promise<UserRecord> {
    const user = await findUserByName(this.store, name);
    if (!user) throw new SkyError('USER_NOT_FOUND', `no user named ${name}`, { hint: 'List users with: sky users list' });
    return user;
  }

  async create(body: CreateUserBody): Promise<UserView> {
    const name = canonicalUserName(body.name);
    if (name === undefined) throw new SkyError('VALIDATION_FAILED', `"${body.name.slice(0, 64)}" is not a user name: ASCII letters, digits, ".", "_", "@" or "-"`);
    const taken = await findUserByName(this.store, name);
    if (taken) throw new SkyError('USER_EXISTS', `a user named ${taken.name} already exists (names are case-insensitive)`, { hint: 'Choose another name, or reset their password.' });
    const now = this.clock.now();
    const passwordHash = body.password === undefined ? undefined : await this.hasher.hash(body.password);
    const { record, created } = await this.store.users.create({
      id: newId('u-'),
      name,
      role: body.role ?? 'user',
      createdAt: now,
      updatedAt: now,
      ...(passwordHash ? { passwordHash } : {}),
    });
    if (!created) throw new SkyError('USER_EXISTS', `a user named ${name} already exists`, { hint: 'Choose another name, or reset their password.' });
    return view(record);
  }

  async import(body: ImportUsersBody): Promise<ImportUsersResult> {
    const result: ImportUsersResult = { created: [], skipped: [] };
    for (const u of body.users) {
      try {
        await this.create(u);
        result.created.push(u.name);
      } catch (err) {
        result.skipped.push({ name: u.name, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    return result;
  }

  async setRole(name: string, role: Role): Promise<UserView> {
    const user = await this.byName(name);
    if (user.role === 'admin' && role !== 'admin') await this.assertNotLastAdmin(user);
    return view((await this.store.users.update(user.id, { role, updatedAt: this.clock.now() }))!);
  }

  /**
   * Set a password. An admin sets anyone else's without more; changing one's own needs the
   * current password (so a stolen token or browser session cannot take the account over) and
   * is limited to a few changes per window.
   */
  async resetPassword(caller: Caller, name: string, body: PasswordBody): Promise<UserView> {
    const user = await this.byName(name);
    if (user.id !== caller.id) {
      await this.policy.assertSelfOrAdmin(caller, user, 'setting the password', { action: 'user.password', target: name });
    } else {
      this.passwordChanges.take(user.id, this.clock.now());
      if (body.current_password === undefined) {
        throw new SkyError('FORBIDDEN', 'changing your own password needs your current password', {
          hint: 'Send it as current_password (sky users reset-password asks for it).',
        });
      }
      if (!(await this.hasher.verify(body.current_password, user.passwordHash))) {
        throw new SkyError('FORBIDDEN', 'the current password is wrong', { hint: 'Give your current password; an admin can reset a forgotten one.' });
      }
    }
    return view((await this.store.users.update(user.id, { passwordHash: await this.hasher.hash(body.password), updatedAt: this.clock.now() }))!);
  }

  async assertNotLastAdmin(user: UserRecord): Promise<void> {
    if (user.role !== 'admin') return;
    const admins = (await this.store.users.list()).filter((u) => u.role === 'admin' && !u.disabled);
    if (admins.length <= 1) throw new SkyError('FORBIDDEN', `${user.name} is the last admin`, { hint: 'Make another user admin first.' });
  }

  private async tokenView(token: TokenRecord): Promise<TokenView> {
    const owner = await this.store.users.get(token.userId);
    const out: TokenView = { id: token.id, name: token.name, userId: token.userId, userName: owner?.name ?? token.userId, createdAt: token.createdAt };
    if (token.expiresAt !== undefined) out.expiresAt = token.expiresAt;
    if (token.lastUsedAt !== undefined) out.lastUsedAt = token.lastUsedAt;
    if (token.revokedAt !== undefined) out.revokedAt = token.revokedAt;
    return out;
  }

  /** The user a token call is about: the caller, or (admins only) the named one. */
  private async subject(caller: Caller, name: string | undefined, action: string): Promise<{ id: string; name: string }> {
    if (name === undefined || canonicalUserName(name) === caller.name) {
      // A personal daemon's owner has no user record to hang tokens on.
      if (caller.via === 'none' || caller.via === 'local' || (caller.via === 'session' && this.personal)) {
        throw await this.policy.refuse(caller, { action, target: caller.name }, 'tokens need an authenticating API server (auth mode basic, token or proxy)', 'Start the API server with --auth basic, token or proxy.');
      }
      return { id: caller.id, name: caller.name };
    }
    const user = await this.byName(name);
    await this.policy.assertSelfOrAdmin(caller, user, 'managing the tokens', { action, target: name });
    return { id: user.id, name: user.name };
  }

  async listTokens(caller: Caller, user: string | undefined): Promise<{ items: TokenView[] }> {
    const subject = await this.subject(caller, user, 'token.list');
    return { items: await Promise.all((await this.store.tokens.listByUser(subject.id)).map((t) => this.tokenView(t))) };
  }

  async createToken(caller: Caller, body: CreateTokenBody): Promise<NewToken> {
    const subject = await this.subject(caller, body.user, 'token.create');
    const lifetime = body.expires_in_days === undefined ? undefined : body.expires_in_days * DAY_MS;
    const now = this.clock.now();
    assertWithinCredential(caller, lifetime === undefined ? undefined : now + lifetime, now);
    return this.issue(subject.id, body.name, lifetime);
  }

  private async issue(userId: string, name: string, lifetimeMs: number | undefined): Promise<NewToken> {
    const { secret, hash } = newToken();
    const now = this.clock.now();
    const record = await this.store.tokens.create({
      id: newId('tok-'),
      userId,
      name,
      hash,
      createdAt: now,
      ...(lifetimeMs !== undefined ? { expiresAt: now + lifetimeMs } : {}),
    });
    return { token: secret, record: await this.tokenView(record) };
  }

  private async ownedToken(caller: Caller, id: string, action: string): Promise<TokenRecord> {
    const token = await this.store.tokens.get(id);
    if (!token) throw new SkyError('TOKEN_NOT_FOUND', `no token with id ${id}`, { hint: 'List tokens with: sky users token list' });
    await this.policy.assertToken(caller, token, { action, target: id });
    return token;
  }

  async revokeToken(caller: Caller, id: string): Promise<TokenView> {
    await this.ownedToken(caller, id, 'token.revoke');
    return this.tokenView((await this.store.tokens.revoke(id, this.clock.now()))!);
  }

  async rotateToken(caller: Caller, id: string): Promise<NewToken> {
    const token = await this.ownedToken(caller, id, 'token.rotate');
    const lifetime = token.expiresAt === undefined ? undefined : token.expiresAt - token.createdAt;
    const now = this.clock.now();
    assertWithinCredential(caller, lifetime === undefined ? undefined : now + lifetime, now);
    await this.store.tokens.revoke(id, now);
    return this.issue(token.userId, token.name, lifetime);
  }
}
