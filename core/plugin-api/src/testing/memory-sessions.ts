import { SkyError } from '@sky/protocol';
import type { SessionRecord } from '@sky/protocol';
import type { SessionRepository } from '../store.js';
import { byIdAscending, copyJson, revokedSession, sessionPrunable } from '../records.js';

function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', message, { details: { field } });
}

/** Browser sessions of the in-memory store, with their hash index. */
export class MemorySessionRepository implements SessionRepository {
  readonly #sessions = new Map<string, SessionRecord>();
  /** hash → session id. */
  readonly #byHash = new Map<string, string>();

  constructor(private readonly assertOpen: () => void) {}

  /** Every session by id (state export); a copy. */
  raw(): SessionRecord[] {
    return [...this.#sessions.values()].sort(byIdAscending).map(copyJson);
  }

  /** Store a session as it is, with its hash index (state import). */
  putRaw(record: SessionRecord): void {
    this.#sessions.set(record.id, copyJson(record));
    this.#byHash.set(record.hash, record.id);
  }

  async create(record: SessionRecord): Promise<SessionRecord> {
    this.assertOpen();
    if (this.#sessions.has(record.id)) throw invalid(`session id ${JSON.stringify(record.id)} is already used`, 'id');
    // The hash is a secret's digest: never put it in an error.
    if (this.#byHash.has(record.hash)) throw invalid('a session with this hash already exists', 'hash');
    const stored = copyJson(record);
    this.#sessions.set(stored.id, stored);
    this.#byHash.set(stored.hash, stored.id);
    return copyJson(stored);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    this.assertOpen();
    const session = this.#sessions.get(id);
    return session === undefined ? undefined : copyJson(session);
  }

  async findByHash(hash: string): Promise<SessionRecord | undefined> {
    this.assertOpen();
    const id = this.#byHash.get(hash);
    const session = id === undefined ? undefined : this.#sessions.get(id);
    return session === undefined ? undefined : copyJson(session);
  }

  async listByUser(userId: string): Promise<SessionRecord[]> {
    this.assertOpen();
    return [...this.#sessions.values()].filter((s) => s.userId === userId).sort(byIdAscending).map(copyJson);
  }

  async revoke(id: string, at: number): Promise<SessionRecord | undefined> {
    this.assertOpen();
    const current = this.#sessions.get(id);
    if (current === undefined) return undefined;
    const next = revokedSession(current, at);
    this.#sessions.set(id, next);
    return copyJson(next);
  }

  async revokeByUser(userId: string, at: number): Promise<number> {
    this.assertOpen();
    let count = 0;
    for (const session of [...this.#sessions.values()]) {
      if (session.userId !== userId || session.revokedAt !== undefined) continue;
      this.#sessions.set(session.id, revokedSession(session, at));
      count += 1;
    }
    return count;
  }

  async prune(before: number): Promise<number> {
    this.assertOpen();
    let count = 0;
    for (const session of [...this.#sessions.values()]) {
      if (!sessionPrunable(session, before)) continue;
      this.#sessions.delete(session.id);
      if (this.#byHash.get(session.hash) === session.id) this.#byHash.delete(session.hash);
      count += 1;
    }
    return count;
  }
}
