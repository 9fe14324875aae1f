import { instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import type { ClusterRecord, JobRecord, RequestRecord, RouteSpec, TokenRecord, WorkspaceRecord } from '@sky/protocol';
import { AccessPolicy, AuditLog, TOKENS, type Actor, type DaemonConfig, type DenialContext } from '@sky/daemon';

/**
 * Authorization faults planted one at a time: each is the daemon's access policy with one
 * owner, role or workspace rule taken out, registered in place of the real one through the DI
 * container. The route walk and the authorization fuzzer must each catch every one.
 */

type PolicyClass = new (config: DaemonConfig, store: StateStore, audit: AuditLog) => AccessPolicy;

export interface PlantedFault {
  name: string;
  kind: 'owner' | 'role' | 'workspace';
  /** The rule taken out. */
  dropped: string;
  policy: PolicyClass;
}

export const PLANTED_FAULTS: readonly PlantedFault[] = [
  {
    name: 'cluster-owner',
    kind: 'owner',
    dropped: "anyone may change anyone's cluster (its workspace still checked)",
    policy: class extends AccessPolicy {
      override async assertOperateCluster(actor: Actor, cluster: ClusterRecord, where: DenialContext): Promise<void> {
        await super.assertOperateCluster(actor, { ...cluster, owner: actor.id }, where);
      }
    },
  },
  {
    name: 'cancel-ids',
    kind: 'owner',
    dropped: "a cancel's ids are not checked (the original finding)",
    policy: class extends AccessPolicy {
      override async assertCancel(actor: Actor, _records: readonly RequestRecord[], allUsers: boolean): Promise<void> {
        await super.assertCancel(actor, [], allUsers);
      }
    },
  },
  {
    name: 'request-owner',
    kind: 'owner',
    dropped: "everyone reads every request's body, result and log",
    policy: class extends AccessPolicy {
      override mayReadRequest(): boolean {
        return true;
      }
    },
  },
  {
    name: 'token-owner',
    kind: 'owner',
    dropped: "anyone may revoke or rotate anyone's token",
    policy: class extends AccessPolicy {
      override async assertToken(_actor: Actor, _token: TokenRecord): Promise<void> {}
    },
  },
  {
    name: 'command-lines',
    kind: 'owner',
    dropped: "everyone sees the command lines of everyone's clusters",
    policy: class extends AccessPolicy {
      override mayReadClusterCommand(): boolean {
        return true;
      }
    },
  },
  {
    name: 'admin-routes',
    kind: 'role',
    dropped: 'admin-only routes and operations are open to everyone',
    policy: class extends AccessPolicy {
      override async assertRoute(_actor: Actor, _route: RouteSpec, _where: DenialContext): Promise<void> {}
    },
  },
  {
    name: 'admin-bodies',
    kind: 'role',
    dropped: "long pings and refreshes of every user's clusters are open to everyone",
    policy: class extends AccessPolicy {
      override async assertOperationBody(): Promise<void> {}
    },
  },
  {
    name: 'self-or-admin',
    kind: 'role',
    dropped: "anyone may set anyone's password and manage their tokens",
    policy: class extends AccessPolicy {
      override async assertSelfOrAdmin(): Promise<void> {}
    },
  },
  {
    name: 'private-workspaces',
    kind: 'workspace',
    dropped: 'private workspaces admit everyone',
    policy: class extends AccessPolicy {
      override mayUseWorkspace(_actor: Actor, _ws: Pick<WorkspaceRecord, 'private' | 'allowedUsers'>): boolean {
        return true;
      }
    },
  },
  {
    name: 'removed-member',
    kind: 'workspace',
    dropped: "a member removed from a private workspace keeps operating their clusters there",
    policy: class extends AccessPolicy {
      override async assertOperateCluster(actor: Actor, cluster: ClusterRecord, where: DenialContext): Promise<void> {
        if (cluster.owner === actor.id) return;
        await super.assertOperateCluster(actor, cluster, where);
      }
      override async mayOperateCluster(actor: Actor, cluster: ClusterRecord): Promise<boolean> {
        return cluster.owner === actor.id || (await super.mayOperateCluster(actor, cluster));
      }
      override async assertCancelJobs(actor: Actor, cluster: ClusterRecord, jobs: readonly JobRecord[], where: DenialContext): Promise<void> {
        if (cluster.owner === actor.id) return;
        await super.assertCancelJobs(actor, cluster, jobs, where);
      }
    },
  },
];

/** Register a policy class in place of the daemon's, built from the container's own config, store and audit log. */
export function usePolicy(policy: PolicyClass): (container: DependencyContainer) => void {
  return (container) => {
    container.register(AccessPolicy, {
      useFactory: instanceCachingFactory((c) => new policy(c.resolve(TOKENS.Config), c.resolve(TOKENS.Store), c.resolve(AuditLog))),
    });
  };
}
