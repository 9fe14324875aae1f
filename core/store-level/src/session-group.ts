import { SkyError } from '@sky/protocol';
import type { SessionRecord } from '@sky/protocol';
import { copyJson, revokedSession, sessionPrunable } from '@sky/plugin-api';
import type { Settle } from './cluster-group.js';
import type { Sublevels, WriteOp } from './layout.js';
import type { SessionState } from './session-state.js';

/** Session writes waiting in the writer's queue. Inputs are private copies. */
export type SessionWriteRequest =
  | { kind: 'session-create'; record: SessionRecord; settle: Settle<SessionRecord> }
  | { kind: 'session-revoke'; id: string; at: number; settle: Settle<SessionRecord | undefined> }
  | { kind: 'session-revoke-user'; userId: string; at: number; settle: Settle<number> }
  | { kind: 'session-prune'; before: number; settle: Settle<number> };

export function isSessionWrite(req: { kind: string }): req is SessionWriteRequest {
  return req.kind.startsWith('session-');
}

function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', message, { details: { field } });
}

/**
 * The session part of one group commit: decided in queue order against the committed
 * SessionState overlaid with the group's own earlier writes, each session with its hash
 * index entry in the same batch.
 */
export class SessionGroup {
  readonly #sessions = new Map<string, SessionRecord | null>();

  constructor(
    private readonly subs: Sublevels,
    private readonly state: SessionState,
    private readonly ops: WriteOp[],
    private readonly outcomes: Array<() => void>,
  ) {}

  get delta(): ReadonlyMap<string, SessionRecord | null> {
    return this.#sessions;
  }

  apply(req: SessionWriteRequest): void {
    switch (req.kind) {
      case 'session-create':
        return this.#create(req.record, req.settle);
      case 'session-revoke':
        return this.#revoke(req.id, req.at, req.settle);
      case 'session-revoke-user':
        return this.#revokeUser(req.userId, req.at, req.settle);
      case 'session-prune':
        return this.#prune(req.before, req.settle);
    }
  }

  /** Every session as this group sees it: committed ones overlaid with the group's writes. */
  *#all(): Generator<SessionRecord> {
    for (const [id, session] of this.state.sessions) if (!this.#sessions.has(id)) yield session;
    for (const session of this.#sessions.values()) if (session !== null) yield session;
  }

  #session(id: string): SessionRecord | undefined {
    const overlaid = this.#sessions.get(id);
    if (overlaid !== undefined) return overlaid ?? undefined;
    return this.state.sessions.get(id);
  }

  #hashTaken(hash: string): boolean {
    for (const session of this.#sessions.values()) if (session !== null && session.hash === hash) return true;
    const id = this.state.byHash.get(hash);
    return id !== undefined && !this.#sessions.has(id);
  }

  #put(record: SessionRecord): SessionRecord {
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as SessionRecord;
    this.#sessions.set(stored.id, stored);
    this.ops.push({ type: 'put', sublevel: this.subs.sessions, key: stored.id, value: json, valueEncoding: 'utf8' });
    return stored;
  }

  #create(input: SessionRecord, settle: Settle<SessionRecord>): void {
    if (this.#session(input.id) !== undefined) {
      this.outcomes.push(() => settle.reject(invalid(`session id ${JSON.stringify(input.id)} is already used`, 'id')));
      return;
    }
    // The hash is a secret's digest: never put it in an error.
    if (this.#hashTaken(input.hash)) {
      this.outcomes.push(() => settle.reject(invalid('a session with this hash already exists', 'hash')));
      return;
    }
    const stored = this.#put(input);
    this.ops.push({ type: 'put', sublevel: this.subs.sessionHashes, key: stored.hash, value: stored.id });
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #revoke(id: string, at: number, settle: Settle<SessionRecord | undefined>): void {
    const current = this.#session(id);
    if (current === undefined) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const stored = this.#put(revokedSession(current, at));
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #revokeUser(userId: string, at: number, settle: Settle<number>): void {
    const targets = [...this.#all()].filter((s) => s.userId === userId && s.revokedAt === undefined);
    for (const session of targets) this.#put(revokedSession(session, at));
    this.outcomes.push(() => settle.resolve(targets.length));
  }

  #prune(before: number, settle: Settle<number>): void {
    const targets = [...this.#all()].filter((s) => sessionPrunable(s, before));
    for (const session of targets) {
      this.#sessions.set(session.id, null);
      this.ops.push({ type: 'del', sublevel: this.subs.sessions, key: session.id }, { type: 'del', sublevel: this.subs.sessionHashes, key: session.hash });
    }
    this.outcomes.push(() => settle.resolve(targets.length));
  }
}
