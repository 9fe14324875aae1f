import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import {
  SkyError,
  type CreateTokenBody,
  type CreateUserBody,
  type ImportUsersBody,
  type ImportUsersResult,
  type NewToken,
  type Role,
  type TokenRecord,
  type TokenView,
  type UserRecord,
  type UserView,
  type WhoAmI,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { Caller } from './auth-service.js';
import { hashPassword, newId, newToken } from './secrets.js';

const DAY_MS = 86_400_000;

function view(user: UserRecord): UserView {
  return { id: user.id, name: user.name, role: user.role, createdAt: user.createdAt, ...(user.disabled ? { disabled: true } : {}) };
}

function forbidden(what: string): SkyError {
  return new SkyError('FORBIDDEN', `${what} needs the admin role`, { hint: 'Ask an admin of this API server.' });
}

/** Users and their bearer tokens: admins manage everyone, users themselves. */
@injectable()
export class UserService {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  whoami(caller: Caller): WhoAmI {
    return { id: caller.id, name: caller.name, role: caller.role, via: caller.via };
  }

  async list(): Promise<{ items: UserView[] }> {
    return { items: (await this.store.users.list()).map(view) };
  }

  private requireAdmin(caller: Caller, what: string): void {
    if (caller.role !== 'admin') throw forbidden(what);
  }

  private async byName(name: string): Promise<UserRecord> {
    const user = await this.store.users.getByName(name);
    if (!user) throw new SkyError('USER_NOT_FOUND', `no user named ${name}`, { hint: 'List users with: sky users list' });
    return user;
  }

  async create(caller: Caller, body: CreateUserBody): Promise<UserView> {
    this.requireAdmin(caller, 'creating users');
    const now = this.clock.now();
    const passwordHash = body.password === undefined ? undefined : await hashPassword(body.password);
    const { record, created } = await this.store.users.create({
      id: newId('u-'),
      name: body.name,
      role: body.role ?? 'user',
      createdAt: now,
      updatedAt: now,
      ...(passwordHash ? { passwordHash } : {}),
    });
    if (!created) throw new SkyError('USER_EXISTS', `a user named ${body.name} already exists`, { hint: 'Choose another name, or reset their password.' });
    return view(record);
  }

  async import(caller: Caller, body: ImportUsersBody): Promise<ImportUsersResult> {
    this.requireAdmin(caller, 'importing users');
    const result: ImportUsersResult = { created: [], skipped: [] };
    for (const u of body.users) {
      try {
        await this.create(caller, u);
        result.created.push(u.name);
      } catch (err) {
        result.skipped.push({ name: u.name, reason: err instanceof Error ? err.message : String(err) });
      }
    }
    return result;
  }

  async delete(caller: Caller, name: string): Promise<UserView> {
    this.requireAdmin(caller, 'deleting users');
    const user = await this.byName(name);
    if (user.id === caller.id) throw new SkyError('FORBIDDEN', 'you cannot delete yourself', { hint: 'Ask another admin.' });
    await this.assertNotLastAdmin(user);
    await this.store.users.delete(user.id);
    return view(user);
  }

  async setRole(caller: Caller, name: string, role: Role): Promise<UserView> {
    this.requireAdmin(caller, 'changing roles');
    const user = await this.byName(name);
    if (user.role === 'admin' && role !== 'admin') await this.assertNotLastAdmin(user);
    return view((await this.store.users.update(user.id, { role, updatedAt: this.clock.now() }))!);
  }

  async resetPassword(caller: Caller, name: string, password: string): Promise<UserView> {
    const user = await this.byName(name);
    if (user.id !== caller.id) this.requireAdmin(caller, "setting another user's password");
    return view((await this.store.users.update(user.id, { passwordHash: await hashPassword(password), updatedAt: this.clock.now() }))!);
  }

  private async assertNotLastAdmin(user: UserRecord): Promise<void> {
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
  private async subject(caller: Caller, name: string | undefined): Promise<{ id: string; name: string }> {
    if (name === undefined || name === caller.name) {
      if (caller.via === 'none') throw new SkyError('FORBIDDEN', 'tokens need an authenticating API server (auth mode basic, token or proxy)');
      return { id: caller.id, name: caller.name };
    }
    this.requireAdmin(caller, "managing another user's tokens");
    const user = await this.byName(name);
    return { id: user.id, name: user.name };
  }

  async listTokens(caller: Caller, user: string | undefined): Promise<{ items: TokenView[] }> {
    const subject = await this.subject(caller, user);
    return { items: await Promise.all((await this.store.tokens.listByUser(subject.id)).map((t) => this.tokenView(t))) };
  }

  async createToken(caller: Caller, body: CreateTokenBody): Promise<NewToken> {
    const subject = await this.subject(caller, body.user);
    return this.issue(subject.id, body.name, body.expires_in_days === undefined ? undefined : body.expires_in_days * DAY_MS);
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

  private async ownedToken(caller: Caller, id: string): Promise<TokenRecord> {
    const token = await this.store.tokens.get(id);
    if (!token) throw new SkyError('TOKEN_NOT_FOUND', `no token with id ${id}`, { hint: 'List tokens with: sky users token list' });
    if (token.userId !== caller.id) this.requireAdmin(caller, "revoking another user's token");
    return token;
  }

  async revokeToken(caller: Caller, id: string): Promise<TokenView> {
    await this.ownedToken(caller, id);
    return this.tokenView((await this.store.tokens.revoke(id, this.clock.now()))!);
  }

  async rotateToken(caller: Caller, id: string): Promise<NewToken> {
    const token = await this.ownedToken(caller, id);
    await this.store.tokens.revoke(id, this.clock.now());
    const lifetime = token.expiresAt === undefined ? undefined : token.expiresAt - token.createdAt;
    return this.issue(token.userId, token.name, lifetime);
  }
}
