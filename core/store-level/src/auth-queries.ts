import { SkyError } from '@sky/protocol';
import type { AuditRecord, TokenRecord, UserRecord, WorkspaceRecord } from '@sky/protocol';
import { byIdAscending, byName, copyJson, matchesAuditFilter, type AuditFilter, type AuditPageResult } from '@sky/plugin-api';
import type { AuthState } from './auth-state.js';
import { decodeCursor, encodeCursor, idOfIndexKey, isKeySafe, prefixRange } from './keys.js';
import { getMany, type Sublevels } from './layout.js';

const CHUNK = 256;

/** Reads of users, tokens and workspaces (from the AuthState cache) and of the audit log (from disk). */
export class AuthReader {
  constructor(
    private readonly subs: Sublevels,
    private readonly state: AuthState,
  ) {}

  getUser(id: string): UserRecord | undefined {
    const user = this.state.users.get(id);
    return user === undefined ? undefined : copyJson(user);
  }

  getUserByName(name: string): UserRecord | undefined {
    const id = this.state.userByName.get(name);
    return id === undefined ? undefined : this.getUser(id);
  }

  listUsers(): UserRecord[] {
    return [...this.state.users.values()].sort(byName).map(copyJson);
  }

  getToken(id: string): TokenRecord | undefined {
    const token = this.state.tokens.get(id);
    return token === undefined ? undefined : copyJson(token);
  }

  findTokenByHash(hash: string): TokenRecord | undefined {
    const id = this.state.tokenByHash.get(hash);
    return id === undefined ? undefined : this.getToken(id);
  }

  listTokens(userId: string): TokenRecord[] {
    return [...this.state.tokens.values()]
      .filter((t) => t.userId === userId)
      .sort(byIdAscending)
      .map(copyJson);
  }

  getWorkspace(name: string): WorkspaceRecord | undefined {
    const workspace = this.state.workspaces.get(name);
    return workspace === undefined ? undefined : copyJson(workspace);
  }

  listWorkspaces(): WorkspaceRecord[] {
    return [...this.state.workspaces.values()].sort(byName).map(copyJson);
  }

  /** Newest first; walks the by-user index when filtering by user, else the log itself. */
  async listAudit(filter: AuditFilter): Promise<AuditPageResult> {
    if (!Number.isInteger(filter.limit) || filter.limit < 1) {
      throw new SkyError('VALIDATION_FAILED', `limit must be a positive integer, got ${filter.limit}`, { details: { field: 'limit' } });
    }
    const below = filter.cursor === undefined ? undefined : decodeCursor(filter.cursor);
    const want = filter.limit + 1;
    const found: AuditRecord[] = [];
    if (filter.user !== undefined) {
      if (isKeySafe(filter.user)) {
        const iterator = this.subs.auditByUser.keys({ ...prefixRange(filter.user, below), reverse: true });
        try {
          while (found.length < want) {
            const keys = await iterator.nextv(CHUNK);
            if (keys.length === 0) break;
            const ids = keys.map(idOfIndexKey);
            const records = await getMany((k) => this.subs.audit.getMany(k), ids);
            for (const id of ids) {
              const record = records.get(id);
              if (record !== undefined && found.length < want && matchesAuditFilter(record, filter)) found.push(record);
            }
          }
        } finally {
          await iterator.close();
        }
      }
    } else {
      const iterator = this.subs.audit.values(below === undefined ? { reverse: true } : { lt: below, reverse: true });
      try {
        while (found.length < want) {
          const chunk = await iterator.nextv(CHUNK);
          if (chunk.length === 0) break;
          for (const record of chunk) if (found.length < want && matchesAuditFilter(record, filter)) found.push(record);
        }
      } finally {
        await iterator.close();
      }
    }
    const items = found.slice(0, filter.limit);
    const last = items[items.length - 1];
    return found.length > filter.limit && last !== undefined ? { items, nextCursor: encodeCursor(last.id) } : { items };
  }
}
