import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { ROUTE_PATHS, SkyError, type LoginLink, type SessionRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { Caller } from './caller.js';
import { newId, newSecret, tokenHash } from './secrets.js';

/** A login link not used yet: who asked for it, and until when it works. */
interface PendingLogin {
  userId: string;
  userName: string;
  expiresAt: number;
  sessionExpiresAt: number;
}

const MAX_PENDING = 1_000;

/** A session as the daemon needs it to authenticate a browser. */
export interface OpenedSession {
  secret: string;
  record: SessionRecord;
}

/**
 * Browser sessions. `sky dashboard` asks for a login link as an authenticated caller: a
 * one-time code, valid for a short while, kept (hashed) in this process only. Visiting the
 * link exchanges the code, exactly once, for a session: a random secret in an HttpOnly
 * cookie whose hash the state store keeps, valid until it expires or is revoked. A session
 * never outlives the credential that asked for its link.
 */
@injectable()
export class SessionService {
  private readonly pending = new Map<string, PendingLogin>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
  ) {}

  private get local(): boolean {
    return this.config.auth.mode === 'none';
  }

  /** A one-time login link for the caller's browser. */
  createLink(caller: Caller): LoginLink {
    if (caller.via === 'none') throw new SkyError('UNAUTHENTICATED', 'a login link needs an authenticated caller', { hint: 'Run sky dashboard.' });
    const now = this.clock.now();
    this.dropExpired(now);
    if (this.pending.size >= MAX_PENDING) {
      throw new SkyError('TOO_MANY_ATTEMPTS', `${this.pending.size} login links are waiting to be used; retry in a minute`, {
        hint: 'Use the links already asked for, or wait until they expire.',
        details: { retryAfterSeconds: 60 },
      });
    }
    const { session } = this.config.auth;
    const lifetime = session.lifetime_hours * 3_600_000;
    const cap = caller.credential?.expiresAt;
    const sessionExpiresAt = cap === undefined ? now + lifetime : Math.min(now + lifetime, cap);
    const expiresAt = Math.min(now + session.link_seconds * 1000, sessionExpiresAt);
    const code = newSecret('skc_');
    this.pending.set(tokenHash(code), { userId: caller.id, userName: caller.name, expiresAt, sessionExpiresAt });
    return { path: `${ROUTE_PATHS.openSession}?code=${encodeURIComponent(code)}`, expiresAt, sessionExpiresAt };
  }

  /** Exchange a login link's code for a session; the code works once. */
  async open(code: string): Promise<OpenedSession> {
    const now = this.clock.now();
    const hash = tokenHash(code);
    const login = this.pending.get(hash);
    this.pending.delete(hash);
    if (login === undefined || login.expiresAt <= now) {
      throw new SkyError('UNAUTHENTICATED', 'this login link is not valid: it was already used, it expired, or the API server restarted since', {
        hint: 'Run sky dashboard again for a new link.',
      });
    }
    const secret = newSecret('sks_');
    const record: SessionRecord = {
      id: newId('ses-'),
      userId: login.userId,
      userName: login.userName,
      hash: tokenHash(secret),
      createdAt: now,
      expiresAt: login.sessionExpiresAt,
      ...(this.local ? { local: true } : {}),
    };
    return { secret, record: await this.store.sessions.create(record) };
  }

  /** A session for a caller who just proved who they are (a password login in the browser): it lasts auth.session.lifetime_hours. */
  async openFor(caller: Caller): Promise<OpenedSession> {
    const now = this.clock.now();
    const secret = newSecret('sks_');
    const record: SessionRecord = {
      id: newId('ses-'),
      userId: caller.id,
      userName: caller.name,
      hash: tokenHash(secret),
      createdAt: now,
      expiresAt: now + this.config.auth.session.lifetime_hours * 3_600_000,
      ...(this.local ? { local: true } : {}),
    };
    return { secret, record: await this.store.sessions.create(record) };
  }

  /**
   * The live session a cookie's secret belongs to, or undefined (unknown, expired, revoked,
   * or opened under another auth mode: a personal daemon's sessions never count on a team
   * daemon sharing its state, nor the other way round).
   */
  async find(secret: string): Promise<SessionRecord | undefined> {
    if (!secret.startsWith('sks_')) return undefined;
    const session = await this.store.sessions.findByHash(tokenHash(secret));
    if (session === undefined || session.revokedAt !== undefined || session.expiresAt <= this.clock.now()) return undefined;
    if ((session.local === true) !== this.local) return undefined;
    return session;
  }

  /** Log one session out. */
  async close(id: string): Promise<boolean> {
    return (await this.store.sessions.revoke(id, this.clock.now())) !== undefined;
  }

  /** Revoke every session of a user (when they are deleted, disabled or offboarded); returns how many. */
  async revokeUser(userId: string): Promise<number> {
    for (const [hash, login] of this.pending) if (login.userId === userId) this.pending.delete(hash);
    return this.store.sessions.revokeByUser(userId, this.clock.now());
  }

  private dropExpired(now: number): void {
    for (const [hash, login] of this.pending) if (login.expiresAt <= now) this.pending.delete(hash);
  }
}
