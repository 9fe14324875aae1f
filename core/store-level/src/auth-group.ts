import { SkyError } from '@sky/protocol';
import type { AuditRecord, TokenRecord, UserRecord, WorkspaceRecord } from '@sky/protocol';
import { applyUserPatch, applyWorkspacePatch, copyJson, revokedToken, touchedToken, type UserPatch, type WorkspacePatch } from '@sky/plugin-api';
import type { AuthDelta, AuthState } from './auth-state.js';
import type { Settle } from './cluster-group.js';
import { userKey } from './keys.js';
import { getMany, INDEX_MARK, type Sublevels, type WriteOp } from './layout.js';

/** User, token, workspace and audit writes waiting in the writer's queue. Inputs are private copies. */
export type AuthWriteRequest =
  | { kind: 'user-create'; record: UserRecord; settle: Settle<{ record: UserRecord; created: boolean }> }
  | { kind: 'user-update'; id: string; patch: UserPatch; settle: Settle<UserRecord | undefined> }
  | { kind: 'user-delete'; id: string; settle: Settle<boolean> }
  | { kind: 'token-create'; record: TokenRecord; settle: Settle<TokenRecord> }
  | { kind: 'token-revoke' | 'token-touch'; id: string; at: number; settle: Settle<TokenRecord | undefined> }
  | { kind: 'token-delete'; id: string; settle: Settle<boolean> }
  | { kind: 'workspace-create'; record: WorkspaceRecord; settle: Settle<{ record: WorkspaceRecord; created: boolean }> }
  | { kind: 'workspace-update'; name: string; patch: WorkspacePatch; settle: Settle<WorkspaceRecord | undefined> }
  | { kind: 'workspace-delete'; name: string; settle: Settle<boolean> }
  | { kind: 'audit-append'; record: AuditRecord; settle: Settle<void> };

const AUTH_PREFIXES = ['user-', 'token-', 'workspace-', 'audit-append'];

export function isAuthWrite(req: { kind: string }): req is AuthWriteRequest {
  return AUTH_PREFIXES.some((prefix) => req.kind.startsWith(prefix));
}

function invalid(message: string, field: string): SkyError {
  return new SkyError('VALIDATION_FAILED', message, { details: { field } });
}

/** Audit ids that already exist on disk, among those the group appends. */
async function prefetch(subs: Sublevels, group: readonly AuthWriteRequest[]): Promise<Set<string>> {
  const ids = group.flatMap((req) => (req.kind === 'audit-append' ? [req.record.id] : []));
  if (ids.length === 0) return new Set();
  return new Set((await getMany((keys) => subs.audit.getMany(keys), ids)).keys());
}

/**
 * The user, token, workspace and audit part of one group commit: decided in queue order
 * against the committed AuthState overlaid with the group's own earlier writes, with every
 * record's index entries in the same batch.
 */
export class AuthGroup {
  readonly #users = new Map<string, UserRecord | null>();
  readonly #tokens = new Map<string, TokenRecord | null>();
  readonly #workspaces = new Map<string, WorkspaceRecord | null>();
  readonly #audit = new Set<string>();

  constructor(
    private readonly subs: Sublevels,
    private readonly state: AuthState,
    private readonly auditOnDisk: ReadonlySet<string>,
    private readonly ops: WriteOp[],
    private readonly outcomes: Array<() => void>,
  ) {}

  static prefetch(subs: Sublevels, requests: readonly AuthWriteRequest[]): Promise<Set<string>> {
    return prefetch(subs, requests);
  }

  get delta(): AuthDelta {
    return { users: this.#users, tokens: this.#tokens, workspaces: this.#workspaces };
  }

  apply(req: AuthWriteRequest): void {
    switch (req.kind) {
      case 'user-create':
        return this.#createUser(req.record, req.settle);
      case 'user-update':
        return this.#updateUser(req.id, req.patch, req.settle);
      case 'user-delete':
        return this.#deleteUser(req.id, req.settle);
      case 'token-create':
        return this.#createToken(req.record, req.settle);
      case 'token-revoke':
      case 'token-touch': {
        const at = req.at;
        const change = req.kind === 'token-revoke' ? (t: TokenRecord) => revokedToken(t, at) : (t: TokenRecord) => touchedToken(t, at);
        return this.#changeToken(req.id, change, req.settle);
      }
      case 'token-delete':
        return this.#deleteToken(req.id, req.settle);
      case 'workspace-create':
        return this.#createWorkspace(req.record, req.settle);
      case 'workspace-update':
        return this.#updateWorkspace(req.name, req.patch, req.settle);
      case 'workspace-delete':
        return this.#deleteWorkspace(req.name, req.settle);
      case 'audit-append':
        return this.#append(req.record, req.settle);
    }
  }

  #user(id: string): UserRecord | undefined {
    const overlaid = this.#users.get(id);
    if (overlaid !== undefined) return overlaid ?? undefined;
    return this.state.users.get(id);
  }

  #userByName(name: string): UserRecord | undefined {
    for (const user of this.#users.values()) if (user !== null && user.name === name) return user;
    const id = this.state.userByName.get(name);
    return id === undefined || this.#users.has(id) ? undefined : this.state.users.get(id);
  }

  #token(id: string): TokenRecord | undefined {
    const overlaid = this.#tokens.get(id);
    if (overlaid !== undefined) return overlaid ?? undefined;
    return this.state.tokens.get(id);
  }

  #hashTaken(hash: string): boolean {
    for (const token of this.#tokens.values()) if (token !== null && token.hash === hash) return true;
    const id = this.state.tokenByHash.get(hash);
    return id !== undefined && !this.#tokens.has(id);
  }

  #workspace(name: string): WorkspaceRecord | undefined {
    const overlaid = this.#workspaces.get(name);
    if (overlaid !== undefined) return overlaid ?? undefined;
    return this.state.workspaces.get(name);
  }

  #reject(settle: Settle<never>, error: SkyError): void {
    this.outcomes.push(() => settle.reject(error));
  }

  #putUser(record: UserRecord): UserRecord {
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as UserRecord;
    this.#users.set(stored.id, stored);
    this.ops.push({ type: 'put', sublevel: this.subs.users, key: stored.id, value: json, valueEncoding: 'utf8' });
    return stored;
  }

  #createUser(input: UserRecord, settle: Settle<{ record: UserRecord; created: boolean }>): void {
    const existing = this.#userByName(input.name);
    if (existing !== undefined) {
      const record = copyJson(existing);
      this.outcomes.push(() => settle.resolve({ record, created: false }));
      return;
    }
    if (this.#user(input.id) !== undefined) return this.#reject(settle, invalid(`user id ${JSON.stringify(input.id)} is already used`, 'id'));
    const stored = this.#putUser(input);
    this.outcomes.push(() => settle.resolve({ record: copyJson(stored), created: true }));
  }

  #updateUser(id: string, patch: UserPatch, settle: Settle<UserRecord | undefined>): void {
    const current = this.#user(id);
    if (current === undefined) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const next = applyUserPatch(current, patch);
    const holder = this.#userByName(next.name);
    if (holder !== undefined && holder.id !== id) return this.#reject(settle, invalid(`user name ${JSON.stringify(next.name)} is taken`, 'name'));
    const stored = this.#putUser(next);
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #deleteUser(id: string, settle: Settle<boolean>): void {
    if (this.#user(id) === undefined) {
      this.outcomes.push(() => settle.resolve(false));
      return;
    }
    const tokenIds = new Set<string>();
    for (const [tokenId, token] of this.#tokens) if (token !== null && token.userId === id) tokenIds.add(tokenId);
    for (const [tokenId, token] of this.state.tokens) if (token.userId === id && !this.#tokens.has(tokenId)) tokenIds.add(tokenId);
    for (const tokenId of tokenIds) this.#dropToken(tokenId);
    this.#users.set(id, null);
    this.ops.push({ type: 'del', sublevel: this.subs.users, key: id });
    this.outcomes.push(() => settle.resolve(true));
  }

  #putToken(record: TokenRecord): TokenRecord {
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as TokenRecord;
    this.#tokens.set(stored.id, stored);
    this.ops.push({ type: 'put', sublevel: this.subs.tokens, key: stored.id, value: json, valueEncoding: 'utf8' });
    return stored;
  }

  #createToken(input: TokenRecord, settle: Settle<TokenRecord>): void {
    if (this.#user(input.userId) === undefined) {
      return this.#reject(settle, invalid(`cannot add a token to user ${JSON.stringify(input.userId)}: no such user`, 'userId'));
    }
    if (this.#token(input.id) !== undefined) return this.#reject(settle, invalid(`token id ${JSON.stringify(input.id)} is already used`, 'id'));
    // The hash is a secret's digest: never put it in an error.
    if (this.#hashTaken(input.hash)) return this.#reject(settle, invalid('a token with this hash already exists', 'hash'));
    const stored = this.#putToken(input);
    this.ops.push({ type: 'put', sublevel: this.subs.tokenHashes, key: stored.hash, value: stored.id });
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #changeToken(id: string, change: (t: TokenRecord) => TokenRecord, settle: Settle<TokenRecord | undefined>): void {
    const current = this.#token(id);
    if (current === undefined) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const stored = this.#putToken(change(current));
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #dropToken(id: string): void {
    const current = this.#token(id);
    if (current === undefined) return;
    this.#tokens.set(id, null);
    this.ops.push({ type: 'del', sublevel: this.subs.tokens, key: id }, { type: 'del', sublevel: this.subs.tokenHashes, key: current.hash });
  }

  #deleteToken(id: string, settle: Settle<boolean>): void {
    const found = this.#token(id) !== undefined;
    if (found) this.#dropToken(id);
    this.outcomes.push(() => settle.resolve(found));
  }

  #putWorkspace(record: WorkspaceRecord): WorkspaceRecord {
    const json = JSON.stringify(record);
    const stored = JSON.parse(json) as WorkspaceRecord;
    this.#workspaces.set(stored.name, stored);
    this.ops.push({ type: 'put', sublevel: this.subs.workspaces, key: stored.name, value: json, valueEncoding: 'utf8' });
    return stored;
  }

  #createWorkspace(input: WorkspaceRecord, settle: Settle<{ record: WorkspaceRecord; created: boolean }>): void {
    const existing = this.#workspace(input.name);
    if (existing !== undefined) {
      const record = copyJson(existing);
      this.outcomes.push(() => settle.resolve({ record, created: false }));
      return;
    }
    const stored = this.#putWorkspace(input);
    this.outcomes.push(() => settle.resolve({ record: copyJson(stored), created: true }));
  }

  #updateWorkspace(name: string, patch: WorkspacePatch, settle: Settle<WorkspaceRecord | undefined>): void {
    const current = this.#workspace(name);
    if (current === undefined) {
      this.outcomes.push(() => settle.resolve(undefined));
      return;
    }
    const stored = this.#putWorkspace(applyWorkspacePatch(current, patch));
    this.outcomes.push(() => settle.resolve(copyJson(stored)));
  }

  #deleteWorkspace(name: string, settle: Settle<boolean>): void {
    const found = this.#workspace(name) !== undefined;
    if (found) {
      this.#workspaces.set(name, null);
      this.ops.push({ type: 'del', sublevel: this.subs.workspaces, key: name });
    }
    this.outcomes.push(() => settle.resolve(found));
  }

  #append(record: AuditRecord, settle: Settle<void>): void {
    if (this.auditOnDisk.has(record.id) || this.#audit.has(record.id)) {
      return this.#reject(settle, invalid(`audit entry ${JSON.stringify(record.id)} already exists`, 'id'));
    }
    this.#audit.add(record.id);
    this.ops.push(
      { type: 'put', sublevel: this.subs.audit, key: record.id, value: JSON.stringify(record), valueEncoding: 'utf8' },
      { type: 'put', sublevel: this.subs.auditByUser, key: userKey(record.user, record.id), value: INDEX_MARK },
    );
    this.outcomes.push(() => settle.resolve());
  }
}
