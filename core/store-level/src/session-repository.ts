import { SkyError } from '@sky/protocol';
import type { SessionRecord } from '@sky/protocol';
import { byIdAscending, copyJson, type SessionRepository } from '@sky/plugin-api';
import { isKeySafe } from './keys.js';
import type { SessionState } from './session-state.js';
import type { Writer } from './writer.js';

/** What the session repository needs of an open store. */
export interface OpenSessions {
  writer: Writer;
  sessions: SessionState;
}

/** Sessions: writes go to the single writer, reads to the committed cache. */
export class LevelSessionRepository implements SessionRepository {
  constructor(private readonly open: () => Promise<OpenSessions>) {}

  async create(record: SessionRecord): Promise<SessionRecord> {
    const open = await this.open();
    if (!isKeySafe(record.id)) throw new SkyError('VALIDATION_FAILED', `session id ${JSON.stringify(record.id)} is not a valid key`, { details: { field: 'id' } });
    if (typeof record.hash !== 'string' || record.hash === '') {
      throw new SkyError('VALIDATION_FAILED', 'a session hash must be a non-empty string', { details: { field: 'hash' } });
    }
    return open.writer.createSession(record);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const session = (await this.open()).sessions.sessions.get(id);
    return session === undefined ? undefined : copyJson(session);
  }

  async findByHash(hash: string): Promise<SessionRecord | undefined> {
    const { sessions } = await this.open();
    const id = sessions.byHash.get(hash);
    const session = id === undefined ? undefined : sessions.sessions.get(id);
    return session === undefined ? undefined : copyJson(session);
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    return [...(await this.open()).sessions.sessions.values()].filter((s) => s.userId === userId).sort(byIdAscending).map(copyJson);
  }

  async revoke(id: string, at: number): Promise<SessionRecord | undefined> {
    return (await this.open()).writer.revokeSession(id, at);
  }

  async revokeByUser(userId: string, at: number): Promise<number> {
    return (await this.open()).writer.revokeUserSessions(userId, at);
  }

  async prune(before: number): Promise<number> {
    return (await this.open()).writer.pruneSessions(before);
  }
}
