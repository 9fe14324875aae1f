import type { ClusterRecord, JobRecord, UsageRecord } from '@sky/protocol';

/** What a cluster holds, over all its nodes: the figures of its usage intervals. */
export function clusterInterval(cluster: ClusterRecord, start: number): UsageRecord {
  let cpus = 0;
  let memoryGb = 0;
  let gpus = 0;
  let gpuType: string | undefined;
  for (const node of cluster.nodes) {
    cpus += node.resources.cpus;
    memoryGb += node.resources.memoryGb;
    for (const acc of node.resources.accelerators) {
      gpus += acc.count;
      if (acc.count > 0) gpuType ??= acc.name;
    }
  }
  return {
    kind: 'cluster',
    clusterId: cluster.clusterId,
    cluster: cluster.name,
    user: cluster.owner,
    userName: cluster.ownerName,
    workspace: cluster.workspace,
    driver: cluster.driver,
    infra: cluster.infra,
    nodes: cluster.nodes.length,
    cpus,
    memoryGb,
    gpus,
    ...(gpuType === undefined ? {} : { gpuType }),
    start,
  };
}

/**
 * A finished job as the ledger keeps it: what it asked for on all its nodes, from its start to
 * its end. Undefined for a job that never started (cancelled in the queue): it used nothing.
 */
export function jobEntry(job: JobRecord, cluster: Pick<ClusterRecord, 'workspace' | 'driver' | 'infra'>, endedAt: number): UsageRecord | undefined {
  if (job.startedAt === undefined) return undefined;
  const end = Math.max(job.endedAt ?? endedAt, job.startedAt);
  const perNodeGpus = job.demand.accelerators.reduce((sum, acc) => sum + acc.count, 0);
  const gpuType = job.demand.accelerators.find((acc) => acc.count > 0)?.name;
  return {
    kind: 'job',
    clusterId: job.clusterId,
    cluster: job.cluster,
    jobId: job.id,
    user: job.user,
    userName: job.userName,
    workspace: cluster.workspace,
    driver: cluster.driver,
    infra: cluster.infra,
    nodes: job.numNodes,
    cpus: job.demand.cpus * job.numNodes,
    memoryGb: job.demand.memoryGb * job.numNodes,
    gpus: perNodeGpus * job.numNodes,
    ...(gpuType === undefined ? {} : { gpuType }),
    start: job.startedAt,
    end,
  };
}
