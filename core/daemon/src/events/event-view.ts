import type { StoredEvent } from '@sky/plugin-api';
import { jobEventKey, type ClusterRecord, type FeedEvent, type ManagedJobRecord, type RequestRecord, type ServiceRecord } from '@sky/protocol';
import type { AccessPolicy, Actor, ClusterListing } from '../auth/policy.js';
import { withoutCommand } from '../http/routes/clusters.js';
import type { Viewer } from '../services/requests.js';

/** Who owns a cluster, as far as visibility goes (also for one that is gone). */
export type ClusterOwner = Pick<ClusterRecord, 'owner' | 'workspace'>;

/** Who owns a service, as far as visibility goes (also for one that is gone). */
export type ServiceOwner = Pick<ServiceRecord, 'user' | 'workspace'>;

/** What a viewer needs beyond the policy: who owned a cluster or service (deleted ones included), and how a request is shown. */
export interface ViewDeps {
  policy: AccessPolicy;
  clusterOwner(name: string): ClusterOwner | undefined;
  serviceOwner(name: string): ServiceOwner | undefined;
  showRequest(viewer: Viewer, record: RequestRecord): RequestRecord;
}

/** The policy's answers for one caller, refreshed now and then (workspaces and roles change). */
interface Scope {
  actor: Actor;
  admin: boolean;
  clusters: ClusterListing;
  managedJobs: (job: Pick<ManagedJobRecord, 'user' | 'workspace'>) => boolean;
  hidden: ReadonlySet<string>;
}

/**
 * What one caller sees of the feed: exactly what the list routes would show them, with the
 * same policy functions. Without all_users only their own things; with all_users what the
 * `-u` listings show (private workspaces they are not in left out, their own excepted);
 * records shown as the GET routes show them (no command lines or request bodies of others).
 */
export class EventView {
  #scope: Scope | undefined;

  constructor(
    private readonly deps: ViewDeps,
    private readonly allUsers: boolean,
  ) {}

  /** (Re)read the policy's view for this actor: at the start, and again on every recheck. */
  async refresh(actor: Actor): Promise<void> {
    const { policy } = this.deps;
    const [clusters, managedJobs, hidden] = await Promise.all([policy.clusterListing(actor), policy.managedJobListing(actor), policy.hiddenWorkspaces(actor)]);
    this.#scope = { actor, admin: policy.isAdmin(actor), clusters, managedJobs, hidden };
  }

  /** The event as this caller may see it, or undefined when it is not theirs to see. */
  show(event: StoredEvent): FeedEvent | undefined {
    const scope = this.#scope;
    if (scope === undefined) return undefined;
    const { change } = event;
    const base = { seq: event.seq, at: event.at };
    switch (change.kind) {
      case 'cluster': {
        const owner = change.record ?? change.deleted ?? this.deps.clusterOwner(change.name);
        if (!this.mayListCluster(scope, owner)) return undefined;
        return { ...base, kind: 'cluster', key: change.name, record: change.record === undefined ? null : this.clusterRecord(scope, change.record) };
      }
      case 'job': {
        const cluster = (change.record === undefined ? change.deleted : undefined) ?? this.deps.clusterOwner(change.cluster);
        const key = jobEventKey(change.cluster, change.id);
        if (cluster === undefined || !scope.clusters.visible(cluster)) return undefined;
        if (change.record === undefined) {
          // A job deleted with its cluster: whoever may list that cluster's jobs hears of it.
          return this.allUsers || cluster.owner === scope.actor.id ? { ...base, kind: 'job', key, record: null } : undefined;
        }
        const job = change.record;
        if (!this.allUsers && job.user !== scope.actor.id) return undefined;
        return { ...base, kind: 'job', key, record: this.deps.policy.mayReadJob(scope.actor, cluster, job) ? job : withoutCommand(job) };
      }
      case 'managedJob': {
        const job = change.record;
        if (!this.allUsers && job.user !== scope.actor.id) return undefined;
        if (!scope.managedJobs(job)) return undefined;
        return { ...base, kind: 'managedJob', key: String(change.id), record: job };
      }
      case 'service': {
        // Seen as managed jobs are: the owner and admins always; others with all_users, outside private workspaces they are not in.
        const owner = change.record ?? this.deps.serviceOwner(change.name);
        // A deletion of a service this daemon never knew: only for those who see every service.
        if (owner === undefined) return this.allUsers && scope.admin ? { ...base, kind: 'service', key: change.name, record: null } : undefined;
        if (!this.allUsers && owner.user !== scope.actor.id) return undefined;
        if (!scope.managedJobs(owner)) return undefined;
        return { ...base, kind: 'service', key: change.name, record: change.record === null ? null : serviceRecord(change.record) };
      }
      case 'request': {
        const request = change.record;
        // Pruned since: nothing to show.
        if (request === undefined) return undefined;
        const mine = request.user === scope.actor.id;
        if (!mine && (!this.allUsers || scope.hidden.has(request.workspace))) return undefined;
        return { ...base, kind: 'request', key: change.id, record: this.deps.showRequest(scope.actor, request) };
      }
    }
  }

  private mayListCluster(scope: Scope, owner: ClusterOwner | undefined): boolean {
    // A deletion from a store that does not say whose the cluster was, of one this daemon never knew: only for those who see every cluster.
    if (owner === undefined) return this.allUsers && scope.admin;
    if (!this.allUsers && owner.owner !== scope.actor.id) return false;
    return scope.clusters.visible(owner);
  }

  private clusterRecord(scope: Scope, record: ClusterRecord): ClusterRecord {
    if (record.lastCommand === undefined || scope.clusters.whole(record)) return record;
    const { lastCommand: _command, ...rest } = record;
    return rest;
  }
}

/**
 * The record as the service routes show it: its fields and nothing else. The store's record
 * holds no spec nor token (those stay in the version specs, which never reach an event), and
 * copying the listed fields keeps it so should a store hand more over.
 */
export function serviceRecord(record: ServiceRecord): ServiceRecord {
  const { name, user, userName, workspace, status, version, activeVersion, updateMode, endpoint, lbPort, lbReplica, protected: isProtected, replicaPolicy, targetReplicas, replicas, nextReplicaId, createdAt, updatedAt, reason, requestId, revision } = record;
  return {
    name,
    user,
    userName,
    workspace,
    status,
    version,
    activeVersion,
    updateMode,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(lbPort === undefined ? {} : { lbPort }),
    ...(lbReplica === undefined ? {} : { lbReplica }),
    protected: isProtected,
    replicaPolicy,
    targetReplicas,
    replicas,
    nextReplicaId,
    createdAt,
    updatedAt,
    ...(reason === undefined ? {} : { reason }),
    requestId,
    revision,
  };
}
