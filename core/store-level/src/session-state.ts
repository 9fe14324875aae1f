import type { SessionRecord } from '@sky/protocol';
import type { Sublevels } from './layout.js';

/**
 * The committed browser sessions (few: they expire within hours and are pruned), kept
 * current by the writer like AuthState, with the hash lookup loaded from the session-hashes
 * index that the writer keeps in the same batches as the sessions.
 */
export class SessionState {
  readonly sessions = new Map<string, SessionRecord>();
  /** hash → session id. */
  readonly byHash = new Map<string, string>();

  static async load(subs: Sublevels): Promise<SessionState> {
    const state = new SessionState();
    const [sessions, hashes] = await Promise.all([subs.sessions.iterator().all(), subs.sessionHashes.iterator().all()]);
    for (const [id, session] of sessions) state.sessions.set(id, session);
    for (const [hash, id] of hashes) state.byHash.set(hash, id);
    return state;
  }

  /** Publish a committed group's changes; null marks a deletion. */
  apply(delta: ReadonlyMap<string, SessionRecord | null>): void {
    for (const [id, next] of delta) {
      const previous = this.sessions.get(id);
      if (previous !== undefined && this.byHash.get(previous.hash) === id) this.byHash.delete(previous.hash);
      if (next === null) {
        this.sessions.delete(id);
      } else {
        this.sessions.set(id, next);
        this.byHash.set(next.hash, id);
      }
    }
  }
}
