import { MANAGED_CLUSTER_PREFIX, userNamePart } from '../clusters/reserved-names.js';

/** The cluster a managed job's tasks run on: `sky-jobs-<id>-<user>` (one at a time; each task gets a fresh one). */
export function managedClusterName(id: number, userName: string): string {
  return `${MANAGED_CLUSTER_PREFIX}${id}-${userNamePart(userName)}`;
}

/** The managed job id a cluster name belongs to, if it is one of theirs. */
export function managedJobOfCluster(name: string): number | undefined {
  if (!name.startsWith(MANAGED_CLUSTER_PREFIX)) return undefined;
  const m = /^(\d+)-/.exec(name.slice(MANAGED_CLUSTER_PREFIX.length));
  return m ? Number(m[1]) : undefined;
}

/** The tag of one launch attempt, written on the cluster job it queues so a restarted daemon finds that job again. */
export function attemptTag(id: number, attempt: number): string {
  return `mj-${id}-${attempt}`;
}
