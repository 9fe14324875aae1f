// `sky status -o json`: one documented shape for scripts, independent of how the daemon stores
// a cluster (its driver state and node reach stay out). README "sky status -o json" lists it.
import type { ClusterList, ClusterRecord, ClusterSummary } from '@sky/protocol';

export interface StatusJsonCluster {
  name: string;
  user: string;
  workspace: string;
  infra: string;
  status: string;
  /** Why a cluster is INIT (provisioning, a failure); null otherwise. */
  statusReason: string | null;
  numNodes: number;
  resources: string;
  /** ISO 8601 times. */
  launchedAt: string;
  lastActiveAt: string;
  autostop: { idleMinutes: number; down: boolean } | null;
  /** The first line of the last command run; null when none or not yours to see. */
  command: string | null;
  /** The head node's address; null before it has one. */
  headIp: string | null;
  /** The node addresses, head first. */
  nodeIps: string[];
  /** resources.ports of the task that created the cluster, as written ("8080", "9000-9002"). */
  ports: string[];
}

export interface StatusJson {
  clusters: StatusJsonCluster[];
  enabledInfra: string[];
}

function nodesOf(c: ClusterSummary | ClusterRecord): string[] {
  return 'nodes' in c ? [...c.nodes].sort((a, b) => a.rank - b.rank).map((n) => n.address) : [];
}

export function statusJsonCluster(c: ClusterSummary | ClusterRecord): StatusJsonCluster {
  const ips = nodesOf(c);
  return {
    name: c.name,
    user: c.ownerName,
    workspace: c.workspace,
    infra: c.infra,
    status: c.status,
    statusReason: c.statusReason ?? null,
    numNodes: c.numNodes,
    resources: c.resources,
    launchedAt: new Date(c.launchedAt).toISOString(),
    lastActiveAt: new Date(c.lastActiveAt).toISOString(),
    autostop: c.autostop === undefined ? null : { idleMinutes: c.autostop.idleMinutes, down: c.autostop.down },
    command: c.lastCommand ?? null,
    headIp: ips[0] ?? null,
    nodeIps: ips,
    ports: 'ports' in c && c.ports !== undefined ? [...c.ports] : [],
  };
}

export function statusJson(list: Pick<ClusterList, 'enabledInfra'>, clusters: ReadonlyArray<ClusterSummary | ClusterRecord>): StatusJson {
  return { clusters: clusters.map(statusJsonCluster), enabledInfra: [...list.enabledInfra] };
}

/** `sky status --endpoints`: one line per port, `PORT: HOST:PORT` (a range stays one line). */
export function endpointLines(cluster: Pick<StatusJsonCluster, 'name' | 'headIp' | 'ports'>): string[] {
  if (cluster.headIp === null) return [];
  return cluster.ports.map((port) => `${port}: ${cluster.headIp}:${port}`);
}
