import { SkyError } from '@sky/protocol';
import type { AuditRecord, TokenRecord, UserRecord, WorkspaceRecord } from '@sky/protocol';
import type {
  AuditFilter,
  AuditPageResult,
  AuditRepository,
  TokenRepository,
  UserPatch,
  UserRepository,
  WorkspacePatch,
  WorkspaceRepository,
} from '../store.js';
import {
  applyUserPatch,
  applyWorkspacePatch,
  byIdAscending,
  byIdDescending,
  byName,
  copyJson,
  matchesAuditFilter,
  revokedToken,
  touchedToken,
} from '../records.js';

function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', message, { details: { field } });
}

/** Users and tokens of the in-memory store (shared: deleting a user deletes its tokens). */
export class MemoryAuthData {
  readonly users = new Map<string, UserRecord>();
  readonly tokens = new Map<string, TokenRecord>();
  /** hash → token id. */
  readonly byHash = new Map<string, string>();

  constructor(readonly assertOpen: () => void) {}

  userByName(name: string): UserRecord | undefined {
    for (const user of this.users.values()) if (user.name === name) return user;
    return undefined;
  }

  deleteToken(id: string): boolean {
    const token = this.tokens.get(id);
    if (token === undefined) return false;
    this.tokens.delete(id);
    if (this.byHash.get(token.hash) === id) this.byHash.delete(token.hash);
    return true;
  }
}

export class MemoryUserRepository implements UserRepository {
  constructor(private readonly data: MemoryAuthData) {}

  async create(record: UserRecord): Promise<{ record: UserRecord; created: boolean }> {
    const { data } = this;
    data.assertOpen();
    const existing = data.userByName(record.name);
    if (existing !== undefined) return { record: copyJson(existing), created: false };
    if (data.users.has(record.id)) throw invalid(`user id ${JSON.stringify(record.id)} is already used`, 'id');
    const stored = copyJson(record);
    data.users.set(stored.id, stored);
    return { record: copyJson(stored), created: true };
  }

  async get(id: string): Promise<UserRecord | undefined> {
    this.data.assertOpen();
    const user = this.data.users.get(id);
    return user === undefined ? undefined : copyJson(user);
  }

  async getByName(name: string): Promise<UserRecord | undefined> {
    this.data.assertOpen();
    const user = this.data.userByName(name);
    return user === undefined ? undefined : copyJson(user);
  }

  async list(): Promise<UserRecord[]> {
    this.data.assertOpen();
    return [...this.data.users.values()].sort(byName).map(copyJson);
  }

  async update(id: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const { data } = this;
    data.assertOpen();
    const current = data.users.get(id);
    if (current === undefined) return undefined;
    const next = applyUserPatch(current, patch);
    const holder = data.userByName(next.name);
    if (holder !== undefined && holder.id !== id) throw invalid(`user name ${JSON.stringify(next.name)} is taken`, 'name');
    data.users.set(id, next);
    return copyJson(next);
  }

  async delete(id: string): Promise<boolean> {
    const { data } = this;
    data.assertOpen();
    if (!data.users.delete(id)) return false;
    for (const token of [...data.tokens.values()]) if (token.userId === id) data.deleteToken(token.id);
    return true;
  }
}

export class MemoryTokenRepository implements TokenRepository {
  constructor(private readonly data: MemoryAuthData) {}

  async create(record: TokenRecord): Promise<TokenRecord> {
    const { data } = this;
    data.assertOpen();
    if (!data.users.has(record.userId)) throw invalid(`cannot add a token to user ${JSON.stringify(record.userId)}: no such user`, 'userId');
    if (data.tokens.has(record.id)) throw invalid(`token id ${JSON.stringify(record.id)} is already used`, 'id');
    // The hash is a secret's digest: never put it in an error.
    if (data.byHash.has(record.hash)) throw invalid('a token with this hash already exists', 'hash');
    const stored = copyJson(record);
    data.tokens.set(stored.id, stored);
    data.byHash.set(stored.hash, stored.id);
    return copyJson(stored);
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    this.data.assertOpen();
    const token = this.data.tokens.get(id);
    return token === undefined ? undefined : copyJson(token);
  }

  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    this.data.assertOpen();
    const id = this.data.byHash.get(hash);
    const token = id === undefined ? undefined : this.data.tokens.get(id);
    return token === undefined ? undefined : copyJson(token);
  }

  async listByUser(userId: string): Promise<TokenRecord[]> {
    this.data.assertOpen();
    return [...this.data.tokens.values()]
      .filter((t) => t.userId === userId)
      .sort(byIdAscending)
      .map(copyJson);
  }

  async revoke(id: string, at: number): Promise<TokenRecord | undefined> {
    return this.#change(id, (t) => revokedToken(t, at));
  }

  async touch(id: string, at: number): Promise<TokenRecord | undefined> {
    return this.#change(id, (t) => touchedToken(t, at));
  }

  async delete(id: string): Promise<boolean> {
    this.data.assertOpen();
    return this.data.deleteToken(id);
  }

  #change(id: string, change: (t: TokenRecord) => TokenRecord): TokenRecord | undefined {
    this.data.assertOpen();
    const current = this.data.tokens.get(id);
    if (current === undefined) return undefined;
    const next = change(current);
    this.data.tokens.set(id, next);
    return copyJson(next);
  }
}

export class MemoryWorkspaceRepository implements WorkspaceRepository {
  readonly #workspaces = new Map<string, WorkspaceRecord>();

  constructor(private readonly assertOpen: () => void) {}

  /** Every workspace as stored (state export); a copy. */
  raw(): WorkspaceRecord[] {
    return [...this.#workspaces.values()].sort(byName).map(copyJson);
  }

  /** Store a workspace as it is (state import). */
  putRaw(record: WorkspaceRecord): void {
    this.#workspaces.set(record.name, copyJson(record));
  }

  async create(record: WorkspaceRecord): Promise<{ record: WorkspaceRecord; created: boolean }> {
    this.assertOpen();
    const existing = this.#workspaces.get(record.name);
    if (existing !== undefined) return { record: copyJson(existing), created: false };
    const stored = copyJson(record);
    this.#workspaces.set(stored.name, stored);
    return { record: copyJson(stored), created: true };
  }

  async get(name: string): Promise<WorkspaceRecord | undefined> {
    this.assertOpen();
    const record = this.#workspaces.get(name);
    return record === undefined ? undefined : copyJson(record);
  }

  async list(): Promise<WorkspaceRecord[]> {
    this.assertOpen();
    return [...this.#workspaces.values()].sort(byName).map(copyJson);
  }

  async update(name: string, patch: WorkspacePatch): Promise<WorkspaceRecord | undefined> {
    this.assertOpen();
    const current = this.#workspaces.get(name);
    if (current === undefined) return undefined;
    const next = applyWorkspacePatch(current, patch);
    this.#workspaces.set(name, next);
    return copyJson(next);
  }

  async delete(name: string): Promise<boolean> {
    this.assertOpen();
    return this.#workspaces.delete(name);
  }
}

const CURSOR_PREFIX = 'ma1:';

export class MemoryAuditRepository implements AuditRepository {
  readonly #records = new Map<string, AuditRecord>();

  constructor(private readonly assertOpen: () => void) {}

  /** Every audit entry, oldest first (state export); a copy. */
  raw(): AuditRecord[] {
    return [...this.#records.values()].sort(byIdAscending).map(copyJson);
  }

  /** Store an entry as it is (state import). */
  putRaw(record: AuditRecord): void {
    this.#records.set(record.id, copyJson(record));
  }

  async append(record: AuditRecord): Promise<void> {
    this.assertOpen();
    if (this.#records.has(record.id)) throw invalid(`audit entry ${JSON.stringify(record.id)} already exists`, 'id');
    this.#records.set(record.id, copyJson(record));
  }

  async list(filter: AuditFilter): Promise<AuditPageResult> {
    this.assertOpen();
    if (!Number.isInteger(filter.limit) || filter.limit < 1) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}`, { details: { field: 'limit' } });
    }
    let below: string | undefined;
    if (filter.cursor !== undefined) {
      const raw = Buffer.from(filter.cursor, 'base64url').toString('utf8');
      if (!raw.startsWith(CURSOR_PREFIX) || raw.length === CURSOR_PREFIX.length) {
        throw new SkyError('VALIDATION_FAILED', `cursor "${filter.cursor}" is not a cursor this store issued`, {
          hint: 'pass the nextCursor of the previous page unchanged',
          details: { field: 'cursor' },
        });
      }
      below = raw.slice(CURSOR_PREFIX.length);
    }
    const found = [...this.#records.values()]
      .filter((r) => (below === undefined || r.id < below) && matchesAuditFilter(r, filter))
      .sort(byIdDescending);
    const items = found.slice(0, filter.limit).map(copyJson);
    const last = items[items.length - 1];
    if (found.length > filter.limit && last !== undefined) {
      return { items, nextCursor: Buffer.from(CURSOR_PREFIX + last.id, 'utf8').toString('base64url') };
    }
    return { items };
  }

  async prune(before: number): Promise<number> {
    this.assertOpen();
    let count = 0;
    for (const record of [...this.#records.values()]) {
      if (record.at < before) {
        this.#records.delete(record.id);
        count += 1;
      }
    }
    return count;
  }
}
