import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { SkyError, type ClusterRecord, type DeletedUser, type DeleteUserOptions, type UserRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { AuditLog } from '../audit/audit-log.js';
import type { Caller } from './auth-service.js';
import { AccessPolicy } from './policy.js';
import { UserService } from './user-service.js';
import { SessionService } from './session-service.js';

const SHOWN = 10;

function names(clusters: readonly ClusterRecord[]): string {
  const shown = clusters.slice(0, SHOWN).map((c) => c.name);
  return shown.join(', ') + (clusters.length > SHOWN ? `, and ${clusters.length - SHOWN} more` : '');
}

/**
 * Deleting a user (an admin's route): their tokens and sessions are revoked, their pending and
 * running requests cancelled, and their clusters either given to another user or torn down —
 * one of the two is required when they own any. Every step is audited.
 */
@injectable()
export class Offboarding {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UserService) private readonly users: UserService,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(Scheduler) private readonly scheduler: Scheduler,
    @inject(AuditLog) private readonly audit: AuditLog,
    @inject(SessionService) private readonly sessions: SessionService,
  ) {}

  async deleteUser(caller: Caller, name: string, options: DeleteUserOptions): Promise<DeletedUser> {
    const user = await this.users.byName(name);
    if (user.id === caller.id) throw new SkyError('FORBIDDEN', 'you cannot delete yourself', { hint: 'Ask another admin.' });
    await this.users.assertNotLastAdmin(user);
    const heir = await this.check(user, options);

    const revokedTokens = await this.revokeCredentials(user);
    const cancelledRequests = await this.cancelRequests(caller, user);
    // Listed again now that nothing of theirs runs any more: a launch that was running has finished or stopped.
    const clusters = await this.store.clusters.list({ owner: user.id });
    const result: DeletedUser = {
      id: user.id,
      name: user.name,
      role: user.role,
      createdAt: user.createdAt,
      revokedTokens,
      cancelledRequests,
      transferred: [],
      downRequests: [],
    };
    if (heir !== undefined) {
      result.transferredTo = heir.name;
      for (const cluster of clusters) if (await this.transfer(caller, cluster, user, heir)) result.transferred.push(cluster.name);
    } else {
      for (const cluster of clusters) result.downRequests.push({ cluster: cluster.name, requestId: await this.tearDown(caller, cluster) });
    }
    await this.store.users.delete(user.id);
    return result;
  }

  /** The options are complete and sound before anything changes: the heir, when their clusters go to one. */
  private async check(user: UserRecord, options: DeleteUserOptions): Promise<UserRecord | undefined> {
    if (options.transfer_to !== undefined && options.down === true) {
      throw new SkyError('VALIDATION_FAILED', 'give either transfer_to or down, not both', { hint: `sky users delete ${user.name} --transfer-to USER, or --down` });
    }
    const clusters = await this.store.clusters.list({ owner: user.id });
    if (clusters.length > 0 && options.transfer_to === undefined && options.down !== true) {
      throw new SkyError('USER_OWNS_CLUSTERS', `${user.name} owns ${clusters.length} cluster${clusters.length === 1 ? '' : 's'} (${names(clusters)}): say what becomes of them`, {
        hint: `Give them to another user (sky users delete ${user.name} --transfer-to USER) or tear them down (--down).`,
        details: { clusters: clusters.map((c) => c.name) },
      });
    }
    if (options.transfer_to === undefined) return undefined;
    const heir = await this.users.byName(options.transfer_to);
    if (heir.id === user.id) throw new SkyError('VALIDATION_FAILED', `cannot give ${user.name}'s clusters to ${user.name}, who is being deleted`, { hint: 'Name another user.' });
    const heirActor = { id: heir.id, name: heir.name, role: heir.role };
    for (const cluster of clusters) {
      const ws = await this.store.workspaces.get(cluster.workspace);
      if (ws && !this.policy.mayUseWorkspace(heirActor, ws)) {
        throw new SkyError('VALIDATION_FAILED', `${heir.name} may not use private workspace ${ws.name}, where cluster ${cluster.name} is`, {
          hint: `Add them first (sky workspace update ${ws.name} --allow ${heir.name}), or tear the clusters down (--down).`,
        });
      }
    }
    return heir;
  }

  /**
   * The one place a user's credentials end, before the user record goes: every bearer token is
   * revoked, and every browser session (and login link not yet used).
   */
  private async revokeCredentials(user: UserRecord): Promise<number> {
    const now = this.clock.now();
    let revoked = 0;
    for (const token of await this.store.tokens.listByUser(user.id)) {
      if (token.revokedAt !== undefined) continue;
      await this.store.tokens.revoke(token.id, now);
      revoked += 1;
    }
    return revoked + (await this.sessions.revokeUser(user.id));
  }

  private async cancelRequests(caller: Caller, user: UserRecord): Promise<string[]> {
    const cancelled: string[] = [];
    for (const status of ['PENDING', 'RUNNING'] as const) {
      for (const record of await this.store.requests.listByStatus(status)) {
        if (record.user !== user.id || (await this.scheduler.cancel(record.id)) !== 'cancelled') continue;
        cancelled.push(record.id);
        await this.audit.record({ user: caller.id, userName: caller.name, action: 'request.cancel', target: record.id, result: 'SUCCEEDED', detail: `${record.name} of ${user.name} (user deleted)` });
      }
    }
    return cancelled;
  }

  private async transfer(caller: Caller, cluster: ClusterRecord, from: UserRecord, to: UserRecord): Promise<boolean> {
    for (let current: ClusterRecord | undefined = cluster; current !== undefined; current = await this.store.clusters.get(cluster.name)) {
      if (current.owner !== from.id) return false;
      const moved = await this.store.clusters.changeOwner(current.name, current.version, { id: to.id, name: to.name }, this.clock.now());
      if (moved) {
        await this.audit.record({ user: caller.id, userName: caller.name, action: 'cluster.transfer', target: cluster.name, result: 'SUCCEEDED', detail: `from ${from.name} to ${to.name}` });
        return true;
      }
    }
    return false;
  }

  /** A down request of the admin, in the cluster's workspace; audited like any down when it ends. */
  private async tearDown(caller: Caller, cluster: ClusterRecord): Promise<string> {
    const { record } = await this.scheduler.submit({
      name: 'down',
      body: { cluster: cluster.name },
      lane: 'long',
      user: caller.id,
      userName: caller.name,
      workspace: cluster.workspace,
      cluster: cluster.name,
      privileged: true,
    });
    return record.id;
  }
}
