import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import {
  DEFAULT_WORKSPACE,
  SkyError,
  type CreateWorkspaceBody,
  type UpdateWorkspaceBody,
  type WorkspaceRecord,
  type WorkspaceView,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { Caller } from './auth-service.js';
import { findUserByName } from './user-names.js';
import { AccessPolicy } from './policy.js';

/** Whether a candidate infra (`driver` or `driver/pool`) is admitted by an allowed-infra entry. */
export function infraAllowed(allowed: readonly string[] | undefined, driverId: string, infra: string): boolean {
  if (allowed === undefined) return true;
  return allowed.some((entry) => entry === driverId || entry === infra);
}

/**
 * Workspaces: every cluster and request belongs to one. Admins manage them (the route table
 * says so); a private one admits only its allowed users and admins (the access policy
 * decides); one may be restricted to some drivers or pools.
 */
@injectable()
export class WorkspaceService {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
  ) {}

  /** Create the `default` workspace when the store has none (at every start; idempotent). */
  async ensureDefault(): Promise<void> {
    const now = this.clock.now();
    await this.store.workspaces.create({ name: DEFAULT_WORKSPACE, private: false, allowedUsers: [], createdAt: now, updatedAt: now });
  }

  private async named(name: string): Promise<WorkspaceRecord> {
    const ws = await this.store.workspaces.get(name);
    if (!ws) throw new SkyError('WORKSPACE_NOT_FOUND', `no workspace named ${name}`, { hint: 'List workspaces with: sky workspace list' });
    return ws;
  }

  /** Infra the workspace may use, or undefined for every infra (also when it no longer exists). */
  async allowedInfra(name: string): Promise<readonly string[] | undefined> {
    return (await this.store.workspaces.get(name))?.allowedInfra;
  }

  async list(caller: Caller): Promise<{ items: WorkspaceView[] }> {
    const all = await this.store.workspaces.list();
    const names = await this.userNames();
    return { items: all.filter((ws) => this.policy.mayUseWorkspace(caller, ws)).map((ws) => view(ws, names)) };
  }

  async create(body: CreateWorkspaceBody): Promise<WorkspaceView> {
    const now = this.clock.now();
    const allowedUsers = await this.userIds(body.allowed_users ?? []);
    const { record, created } = await this.store.workspaces.create({
      name: body.name,
      private: body.private ?? false,
      allowedUsers,
      ...(body.allowed_infra !== undefined && body.allowed_infra.length > 0 ? { allowedInfra: unique(body.allowed_infra) } : {}),
      createdAt: now,
      updatedAt: now,
    });
    if (!created) throw new SkyError('WORKSPACE_EXISTS', `a workspace named ${body.name} already exists`, { hint: `Change it with: sky workspace update ${body.name}` });
    return view(record, await this.userNames());
  }

  async update(name: string, body: UpdateWorkspaceBody): Promise<WorkspaceView> {
    const current = await this.named(name);
    const patch: Partial<WorkspaceRecord> = { updatedAt: this.clock.now() };
    if (body.private !== undefined) patch.private = body.private;
    if (body.allowed_users !== undefined) patch.allowedUsers = await this.userIds(body.allowed_users);
    if (body.allowed_infra !== undefined) patch.allowedInfra = body.allowed_infra === null || body.allowed_infra.length === 0 ? undefined : unique(body.allowed_infra);
    const updated = await this.store.workspaces.update(name, patch);
    return view(updated ?? { ...current, ...patch }, await this.userNames());
  }

  async delete(name: string): Promise<WorkspaceView> {
    if (name === DEFAULT_WORKSPACE) throw new SkyError('WORKSPACE_IN_USE', 'the default workspace cannot be deleted', { hint: 'Delete other workspaces only.' });
    const ws = await this.named(name);
    const clusters = (await this.store.clusters.list()).filter((c) => c.workspace === name).map((c) => c.name);
    if (clusters.length > 0) {
      const shown = clusters.slice(0, 10).join(', ') + (clusters.length > 10 ? `, and ${clusters.length - 10} more` : '');
      throw new SkyError('WORKSPACE_IN_USE', `workspace ${name} still has ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}: ${shown}`, {
        hint: 'Tear them down first (sky down CLUSTER).',
        details: { clusters },
      });
    }
    await this.store.workspaces.delete(name);
    return view(ws, await this.userNames());
  }

  private async userNames(): Promise<Map<string, string>> {
    return new Map((await this.store.users.list()).map((u) => [u.id, u.name]));
  }

  private async userIds(names: readonly string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const name of unique(names)) {
      const user = await findUserByName(this.store, name);
      if (!user) throw new SkyError('USER_NOT_FOUND', `no user named ${name}`, { hint: 'List users with: sky users list' });
      ids.push(user.id);
    }
    return ids;
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function view(ws: WorkspaceRecord, names: ReadonlyMap<string, string>): WorkspaceView {
  return {
    name: ws.name,
    private: ws.private,
    allowedUsers: [...ws.allowedUsers],
    allowedUserNames: ws.allowedUsers.map((id) => names.get(id) ?? id),
    ...(ws.allowedInfra !== undefined ? { allowedInfra: [...ws.allowedInfra] } : {}),
    createdAt: ws.createdAt,
    updatedAt: ws.updatedAt,
  };
}
