import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import {
  adminBodyReason,
  adminReason,
  SkyError,
  type ClusterRecord,
  type JobRecord,
  type ManagedJobRecord,
  type ServiceRecord,
  type RequestRecord,
  type Role,
  type RouteSpec,
  type TokenRecord,
  type WorkspaceRecord,
} from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { AuditLog } from '../audit/audit-log.js';

/** Who is asking: an API caller, or the user on whose behalf a request runs. */
export interface Actor {
  id: string;
  name: string;
  role: Role;
}

/** Where a denial is recorded: the audit action, its target, and the request it happened in. */
export interface DenialContext {
  action: string;
  target?: string;
  requestId?: string;
}

/** How a listing shows clusters to one caller: which records at all, and which whole (else without their command line). */
export interface ClusterListing {
  visible(cluster: Pick<ClusterRecord, 'owner' | 'workspace'>): boolean;
  whole(cluster: Pick<ClusterRecord, 'owner'>): boolean;
}

const NONE: ReadonlySet<string> = new Set();

/**
 * Authorization, decided in one place. Every route (from the route table's access metadata),
 * every operation and every service asks here whether an actor may read or change a request,
 * cluster, job, token, workspace or user; every refusal is recorded in the audit log before
 * the error is returned to be thrown.
 *
 * The rules:
 * - admins may do everything; on a daemon without authentication (auth mode none, loopback
 *   only) the one person calling is its owner and counts as an admin;
 * - admin-only routes and operations are marked in the route table (access: admin, adminWhen);
 * - a request's body, result and log are for its owner and admins; anyone may cancel only their own;
 * - a cluster is changed only by its owner (or an admin), and only while the owner may still use
 *   the cluster's workspace; a job's log is for its owner, the cluster's owner and admins;
 * - command lines (a cluster's last command, a job's command) are shown to those same people;
 * - a private workspace, and everything in it, is for its allowed users and admins;
 * - users change only their own password and tokens.
 */
@injectable()
export class AccessPolicy {
  constructor(
    @inject(TOKENS.Config) protected readonly config: DaemonConfig,
    @inject(TOKENS.Store) protected readonly store: StateStore,
    @inject(AuditLog) protected readonly audit: AuditLog,
  ) {}

  // ------------------------------------------------------------------ who

  isAdmin(actor: Actor): boolean {
    return actor.role === 'admin' || this.config.auth.mode === 'none';
  }

  /** The user a request runs for, with their role as it is now (a demoted admin is a user again). */
  async actorOf(request: Pick<RequestRecord, 'user' | 'userName'>): Promise<Actor> {
    const user = this.config.auth.mode === 'none' ? undefined : await this.store.users.get(request.user);
    return { id: request.user, name: request.userName, role: this.config.auth.mode === 'none' ? 'admin' : (user?.role ?? 'user') };
  }

  // ------------------------------------------------------------------ refusals

  /**
   * Record a refusal in the audit log (DENIED, detail FORBIDDEN) and return the error to throw.
   * Rules that live with their data (e.g. the infra a workspace may use) refuse through here too.
   */
  async refuse(actor: Actor, where: DenialContext, message: string, hint: string, details?: Record<string, unknown>): Promise<SkyError> {
    const error = new SkyError('FORBIDDEN', message, { hint, ...(details !== undefined ? { details } : {}) });
    await this.audit.denied(
      {
        user: actor.id,
        userName: actor.name,
        action: where.action,
        result: 'DENIED',
        detail: 'FORBIDDEN',
        ...(where.target !== undefined ? { target: where.target } : {}),
        ...(where.requestId !== undefined ? { requestId: where.requestId } : {}),
      },
      error,
    );
    return error;
  }

  private async needAdmin(actor: Actor, where: DenialContext, what: string): Promise<void> {
    if (!this.isAdmin(actor)) throw await this.refuse(actor, where, `${what} needs the admin role`, 'Ask an admin of this API server.');
  }

  // ------------------------------------------------------------------ routes and operations

  /** Admin-only routes and operations, from the route table: before the body is read. */
  async assertRoute(actor: Actor, route: RouteSpec, where: DenialContext): Promise<void> {
    if (route.access !== 'admin') return;
    await this.needAdmin(actor, where, adminReason(route, undefined) ?? route.id);
  }

  /** Operations that need the admin role for some bodies (a long ping, a refresh of every user's clusters). */
  async assertOperationBody(actor: Actor, route: RouteSpec, body: unknown, where: DenialContext): Promise<void> {
    const reason = adminBodyReason(route, body);
    if (reason !== undefined) await this.needAdmin(actor, where, reason);
  }

  // ------------------------------------------------------------------ workspaces

  mayUseWorkspace(actor: Actor, ws: Pick<WorkspaceRecord, 'private' | 'allowedUsers'>): boolean {
    return !ws.private || this.isAdmin(actor) || ws.allowedUsers.includes(actor.id);
  }

  /** Workspaces an actor may create, change and delete: admins (and a daemon's owner without authentication). */
  async assertManageWorkspaces(actor: Actor, where: DenialContext): Promise<void> {
    await this.needAdmin(actor, where, 'managing workspaces');
  }

  /** The workspace, once the actor is known to be allowed in it (404 when there is none). */
  async assertWorkspace(actor: Actor, name: string, where: DenialContext): Promise<WorkspaceRecord> {
    const ws = await this.store.workspaces.get(name);
    if (!ws) throw new SkyError('WORKSPACE_NOT_FOUND', `no workspace named ${name}`, { hint: 'List workspaces with: sky workspace list' });
    if (!this.mayUseWorkspace(actor, ws)) {
      throw await this.refuse(actor, where, `workspace ${name} is private and ${actor.name} is not one of its users`, 'Ask an admin to add you (sky workspace update NAME --allow USER), or choose another workspace.', {
        workspace: name,
      });
    }
    return ws;
  }

  /** Private workspaces the actor is not in: everything in them is left out of the actor's listings. */
  async hiddenWorkspaces(actor: Actor): Promise<ReadonlySet<string>> {
    if (this.isAdmin(actor)) return NONE;
    const hidden = new Set<string>();
    for (const ws of await this.store.workspaces.list()) if (!this.mayUseWorkspace(actor, ws)) hidden.add(ws.name);
    return hidden;
  }

  private async inHiddenWorkspace(actor: Actor, workspace: string): Promise<boolean> {
    if (this.isAdmin(actor)) return false;
    const ws = await this.store.workspaces.get(workspace);
    return ws !== undefined && !this.mayUseWorkspace(actor, ws);
  }

  private async assertVisible(actor: Actor, workspace: string, what: string, where: DenialContext): Promise<void> {
    if (await this.inHiddenWorkspace(actor, workspace)) {
      throw await this.refuse(actor, where, `${what} is in private workspace ${workspace}, and ${actor.name} is not one of its users`, 'Ask an admin to add you to the workspace (sky workspace update NAME --allow USER).', {
        workspace,
      });
    }
  }

  // ------------------------------------------------------------------ requests

  /** A request's body, result and log: its owner and admins. */
  mayReadRequest(actor: Actor, record: Pick<RequestRecord, 'user'>): boolean {
    return this.isAdmin(actor) || record.user === actor.id;
  }

  /** Looking a request up by id: not when it is in a private workspace the actor is not in. */
  async assertRequestVisible(actor: Actor, record: RequestRecord, where: DenialContext): Promise<void> {
    if (record.user === actor.id) return;
    await this.assertVisible(actor, record.workspace, `request ${record.id}`, where);
  }

  async assertRequestLog(actor: Actor, record: RequestRecord, where: DenialContext): Promise<void> {
    if (!this.mayReadRequest(actor, record)) {
      throw await this.refuse(actor, where, `request ${record.id} belongs to ${record.userName}: only they or an admin may read its log`, 'Ask its owner or an admin.');
    }
  }

  /** Cancelling every user's requests needs the admin role; otherwise only one's own. */
  async assertCancel(actor: Actor, records: readonly RequestRecord[], allUsers: boolean): Promise<void> {
    if (allUsers) await this.needAdmin(actor, { action: 'request.cancel', target: 'all_users' }, "cancelling every user's requests");
    for (const record of records) {
      if (!this.mayReadRequest(actor, record)) {
        throw await this.refuse(actor, { action: 'request.cancel', target: record.id }, `request ${record.id} belongs to ${record.userName}: only they or an admin may cancel it`, 'Cancel your own: sky api cancel ID (sky api status lists them).');
      }
    }
  }

  // ------------------------------------------------------------------ clusters and jobs

  /** Whether the actor may change the cluster: its owner or an admin, and only while they may use its workspace. */
  async mayOperateCluster(actor: Actor, cluster: ClusterRecord): Promise<boolean> {
    if (this.isAdmin(actor)) return true;
    return cluster.owner === actor.id && !(await this.inHiddenWorkspace(actor, cluster.workspace));
  }

  async assertOperateCluster(actor: Actor, cluster: ClusterRecord, where: DenialContext): Promise<void> {
    if (this.isAdmin(actor)) return;
    if (cluster.owner !== actor.id) {
      throw await this.refuse(actor, where, `cluster ${cluster.name} belongs to ${cluster.ownerName}, not to you`, 'Only its owner or an admin can change it; launch on another cluster name with -c.');
    }
    await this.assertVisible(actor, cluster.workspace, `cluster ${cluster.name}`, where);
  }

  /** Reading a cluster (its record, its job queue): its owner, or anyone who may use its workspace. */
  async assertClusterVisible(actor: Actor, cluster: ClusterRecord, where: DenialContext): Promise<void> {
    if (cluster.owner === actor.id) return;
    await this.assertVisible(actor, cluster.workspace, `cluster ${cluster.name}`, where);
  }

  /** A cluster's last command line: its owner and admins. */
  mayReadClusterCommand(actor: Actor, cluster: Pick<ClusterRecord, 'owner'>): boolean {
    return this.isAdmin(actor) || cluster.owner === actor.id;
  }

  /** Listings: clusters in private workspaces the actor is not in are left out (their own excepted). */
  async clusterListing(actor: Actor): Promise<ClusterListing> {
    const hidden = await this.hiddenWorkspaces(actor);
    const whole = (cluster: Pick<ClusterRecord, 'owner'>): boolean => this.mayReadClusterCommand(actor, cluster);
    if (hidden.size === 0) return { visible: () => true, whole };
    return { visible: (cluster) => cluster.owner === actor.id || !hidden.has(cluster.workspace), whole };
  }

  /** A job's command line and log: the job's owner, the cluster's owner, and admins. */
  mayReadJob(actor: Actor, cluster: Pick<ClusterRecord, 'owner'> | undefined, job: Pick<JobRecord, 'user'>): boolean {
    return this.isAdmin(actor) || job.user === actor.id || cluster?.owner === actor.id;
  }

  async assertJobLog(actor: Actor, cluster: ClusterRecord, job: JobRecord, where: DenialContext): Promise<void> {
    await this.assertClusterVisible(actor, cluster, where);
    if (!this.mayReadJob(actor, cluster, job)) {
      throw await this.refuse(actor, where, `job ${job.id} on ${cluster.name} belongs to ${job.userName}: only they, the cluster owner or an admin may read its log`, 'Ask its owner or an admin.');
    }
  }

  /** Cancelling jobs: each one's owner, the cluster's owner or an admin, while they may use the cluster's workspace. */
  async assertCancelJobs(actor: Actor, cluster: ClusterRecord, jobs: readonly JobRecord[], where: DenialContext): Promise<void> {
    if (this.isAdmin(actor)) return;
    await this.assertVisible(actor, cluster.workspace, `cluster ${cluster.name}`, where);
    const foreign = jobs.find((j) => !this.mayReadJob(actor, cluster, j));
    if (foreign !== undefined) {
      throw await this.refuse(actor, where, `job ${foreign.id} on ${cluster.name} belongs to ${foreign.userName}`, 'Only the job owner, the cluster owner or an admin can cancel it.');
    }
  }

  // ------------------------------------------------------------------ managed jobs

  /** Listings of managed jobs: those in private workspaces the actor is not in are left out (their own excepted). */
  async managedJobListing(actor: Actor): Promise<(job: Pick<ManagedJobRecord, 'user' | 'workspace'>) => boolean> {
    const hidden = await this.hiddenWorkspaces(actor);
    if (hidden.size === 0) return () => true;
    return (job) => job.user === actor.id || !hidden.has(job.workspace);
  }

  /**
   * Looking a managed job up by id (its record, logs, a cancel): its owner, or anyone who may use
   * its workspace. For anyone else it does not exist: `hidden` (the caller's not-found error) is
   * thrown, so a private workspace's jobs and name stay unknown, and the refusal is audited.
   */
  async assertManagedJobVisible(actor: Actor, job: ManagedJobRecord, where: DenialContext, hidden: SkyError): Promise<void> {
    if (job.user === actor.id || !(await this.inHiddenWorkspace(actor, job.workspace))) return;
    await this.audit.denied(
      {
        user: actor.id,
        userName: actor.name,
        action: where.action,
        result: 'DENIED',
        detail: hidden.code,
        ...(where.target !== undefined ? { target: where.target } : {}),
        ...(where.requestId !== undefined ? { requestId: where.requestId } : {}),
      },
      hidden,
    );
    throw hidden;
  }

  /**
   * A managed job's logs, the task's and the controller's (what the daemon did for it: provisioning
   * progress, per-host reports, errors): its owner and admins, like a request's log.
   */
  mayReadManagedJobLogs(actor: Actor, job: Pick<ManagedJobRecord, 'user'>): boolean {
    return this.isAdmin(actor) || job.user === actor.id;
  }

  /** The same, once the job is visible to the actor: refused (audited) for anyone else. */
  async assertManagedJobLog(actor: Actor, job: ManagedJobRecord, where: DenialContext): Promise<void> {
    if (!this.mayReadManagedJobLogs(actor, job)) {
      throw await this.refuse(actor, where, `managed job ${job.id} belongs to ${job.userName}: only they or an admin may read its log`, 'Ask its owner or an admin.');
    }
  }

  /** Cancelling managed jobs: each one's owner (while they may use its workspace) or an admin. */
  async assertCancelManagedJobs(actor: Actor, jobs: readonly ManagedJobRecord[], where: DenialContext): Promise<void> {
    if (this.isAdmin(actor)) return;
    const foreign = jobs.find((j) => j.user !== actor.id);
    if (foreign !== undefined) {
      throw await this.refuse(actor, { ...where, target: String(foreign.id) }, `managed job ${foreign.id} belongs to ${foreign.userName}`, 'Only its owner or an admin can cancel it.');
    }
    for (const job of jobs) await this.assertVisible(actor, job.workspace, `managed job ${job.id}`, { ...where, target: String(job.id) });
  }

  // ------------------------------------------------------------------ services

  /** Listing services: like managed jobs (the caller's own, and those of workspaces they may use). */
  async serviceListing(actor: Actor): Promise<(service: Pick<ServiceRecord, 'user' | 'workspace'>) => boolean> {
    return this.managedJobListing(actor);
  }

  /** Looking a service up by name: its owner or anyone who may use its workspace; for anyone else it does not exist (audited). */
  async assertServiceVisible(actor: Actor, service: ServiceRecord, where: DenialContext, hidden: SkyError): Promise<void> {
    if (service.user === actor.id || !(await this.inHiddenWorkspace(actor, service.workspace))) return;
    await this.audit.denied(
      { user: actor.id, userName: actor.name, action: where.action, result: 'DENIED', detail: hidden.code, target: service.name, ...(where.requestId !== undefined ? { requestId: where.requestId } : {}) },
      hidden,
    );
    throw hidden;
  }

  /** A service's controller log and its replicas' logs: its owner and admins. */
  mayReadServiceLogs(actor: Actor, service: Pick<ServiceRecord, 'user'>): boolean {
    return this.isAdmin(actor) || service.user === actor.id;
  }

  /** Updating or tearing a service down: its owner (while they may use its workspace) or an admin. */
  async assertChangeServices(actor: Actor, services: readonly ServiceRecord[], where: DenialContext): Promise<void> {
    if (this.isAdmin(actor)) return;
    const foreign = services.find((s) => s.user !== actor.id);
    if (foreign !== undefined) {
      throw await this.refuse(actor, { ...where, target: foreign.name }, `service ${foreign.name} belongs to ${foreign.userName}`, 'Only its owner or an admin can change it.');
    }
    for (const service of services) await this.assertVisible(actor, service.workspace, `service ${service.name}`, { ...where, target: service.name });
  }

  // ------------------------------------------------------------------ users and tokens

  /** Changing a user's own things (their password): themselves or an admin. */
  async assertSelfOrAdmin(actor: Actor, user: { id: string; name: string }, what: string, where: DenialContext): Promise<void> {
    if (user.id !== actor.id) await this.needAdmin(actor, where, `${what} of another user (${user.name})`);
  }

  /** A token: its owner or an admin. */
  async assertToken(actor: Actor, token: TokenRecord, where: DenialContext): Promise<void> {
    if (token.userId !== actor.id) await this.needAdmin(actor, where, "managing another user's token");
  }

  // ------------------------------------------------------------------ infrastructure

  /** Host addresses, login users and per-host reports of the host pools: admins (others get capacity summaries). */
  maySeeHostDetails(actor: Actor): boolean {
    return this.isAdmin(actor);
  }
}
