import type { TokenRecord, UserRecord, WorkspaceRecord } from '@sky/protocol';
import type { Sublevels } from './layout.js';

/** What one committed group changed; null marks a deletion. */
export interface AuthDelta {
  users: ReadonlyMap<string, UserRecord | null>;
  tokens: ReadonlyMap<string, TokenRecord | null>;
  workspaces: ReadonlyMap<string, WorkspaceRecord | null>;
}

/**
 * The committed users, tokens and workspaces (a team has few of each), kept current by the
 * writer like ClusterState, so uniqueness of names and hashes is decided without reading
 * disk. The hash lookup is loaded from the token-hashes index, which the writer keeps in
 * the same batches as the tokens.
 */
export class AuthState {
  readonly users = new Map<string, UserRecord>();
  /** name → user id. */
  readonly userByName = new Map<string, string>();
  readonly tokens = new Map<string, TokenRecord>();
  /** hash → token id. */
  readonly tokenByHash = new Map<string, string>();
  readonly workspaces = new Map<string, WorkspaceRecord>();

  static async load(subs: Sublevels): Promise<AuthState> {
    const state = new AuthState();
    const [users, tokens, hashes, workspaces] = await Promise.all([
      subs.users.iterator().all(),
      subs.tokens.iterator().all(),
      subs.tokenHashes.iterator().all(),
      subs.workspaces.iterator().all(),
    ]);
    for (const [id, user] of users) {
      state.users.set(id, user);
      state.userByName.set(user.name, id);
    }
    for (const [id, token] of tokens) state.tokens.set(id, token);
    for (const [hash, id] of hashes) state.tokenByHash.set(hash, id);
    for (const [name, workspace] of workspaces) state.workspaces.set(name, workspace);
    return state;
  }

  apply(delta: AuthDelta): void {
    for (const [id, next] of delta.users) {
      const previous = this.users.get(id);
      if (previous !== undefined && this.userByName.get(previous.name) === id) this.userByName.delete(previous.name);
      if (next === null) {
        this.users.delete(id);
      } else {
        this.users.set(id, next);
        this.userByName.set(next.name, id);
      }
    }
    for (const [id, next] of delta.tokens) {
      const previous = this.tokens.get(id);
      if (previous !== undefined && this.tokenByHash.get(previous.hash) === id) this.tokenByHash.delete(previous.hash);
      if (next === null) {
        this.tokens.delete(id);
      } else {
        this.tokens.set(id, next);
        this.tokenByHash.set(next.hash, id);
      }
    }
    for (const [name, next] of delta.workspaces) {
      if (next === null) this.workspaces.delete(name);
      else this.workspaces.set(name, next);
    }
  }
}
