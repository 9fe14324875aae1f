import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { NodeStatusReport } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';

/** Container waiting reasons that mean the image cannot be had. */
export const IMAGE_FAILURES = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable'];
/** Container waiting reasons that mean the container cannot be started at all. */
export const START_FAILURES = ['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff'];

/** Where provisioning of one pod stands. */
export type PodProgress =
  | { kind: 'ready'; podIP: string }
  | { kind: 'waiting'; what: string; unschedulable?: string }
  | { kind: 'failed'; error: SkyError };

function containerStatuses(pod: V1Pod): V1ContainerStatus[] {
  return [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
}

function podCondition(pod: V1Pod, type: string): { status: string; reason?: string; message?: string } | undefined {
  return pod.status?.conditions?.find((c) => c.type === type);
}

/** Whether a Running pod counts as ready: its Ready condition is True, or it has none yet. */
export function podReady(pod: V1Pod): boolean {
  const ready = podCondition(pod, 'Ready');
  return ready === undefined || ready.status === 'True';
}

/** Why a pod ended, from its status and its containers' termination states. */
export function terminationReason(pod: V1Pod): string {
  const status = pod.status;
  if (status?.reason === 'Evicted') return `evicted: ${status.message ?? 'no message'}`;
  for (const c of containerStatuses(pod)) {
    const t = c.state?.terminated;
    if (t !== undefined) {
      const why = t.reason ?? `exit code ${t.exitCode}`;
      return `container ${c.name} ${why}${t.message === undefined ? '' : `: ${t.message}`}${t.exitCode !== 0 && t.reason !== undefined ? ` (exit code ${t.exitCode})` : ''}`;
    }
  }
  if (status?.reason !== undefined) return `${status.reason}${status.message === undefined ? '' : `: ${status.message}`}`;
  return `pod ${status?.phase === 'Succeeded' ? 'exited' : 'failed'}${status?.message === undefined ? '' : `: ${status.message}`}`;
}

/**
 * Where a pod stands while the driver waits for it. `unschedulableForMs` is how long it has been
 * Unschedulable (0 when it is not); past `timeoutMs` that is NO_CAPACITY.
 */
export function podProgress(pod: V1Pod, context: string, unschedulableForMs: number, timeoutMs: number): PodProgress {
  const name = pod.metadata?.name ?? '?';
  const phase = pod.status?.phase ?? 'Pending';
  if (phase === 'Failed' || phase === 'Succeeded') {
    return {
      kind: 'failed',
      error: new SkyError('DRIVER_FAILED', `pod ${name} in context ${context} ended (${phase}) before it was up: ${terminationReason(pod)}`, {
        hint: 'The node image must keep running /bin/sh with the sshd the driver brings; check `kubectl describe pod` for the reason.',
      }),
    };
  }
  for (const c of containerStatuses(pod)) {
    const reason = c.state?.waiting?.reason;
    if (reason === undefined) continue;
    if (IMAGE_FAILURES.includes(reason)) {
      const image = (c.image ?? '') === '' ? findImage(pod, c.name) : (c.image ?? '');
      return {
        kind: 'failed',
        error: new SkyError('DRIVER_FAILED', `cannot pull image ${image} for pod ${name} in context ${context} (${reason})${c.state?.waiting?.message === undefined ? '' : `: ${c.state.waiting.message}`}`, {
          hint: 'Check the image name in `image_id: docker:<image>` (or the driver config), that the registry is reachable from the nodes, and any imagePullSecrets it needs.',
          details: { image, reason },
        }),
      };
    }
    if (START_FAILURES.includes(reason)) {
      return {
        kind: 'failed',
        error: new SkyError('DRIVER_FAILED', `container ${c.name} of pod ${name} in context ${context} cannot start (${reason})${c.state?.waiting?.message === undefined ? '' : `: ${c.state.waiting.message}`}`, {
          hint: 'The node image must provide /bin/sh and coreutils; check `kubectl describe pod` for the reason.',
        }),
      };
    }
  }
  const scheduled = podCondition(pod, 'PodScheduled');
  if (phase === 'Pending' && scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    const why = scheduled.message ?? 'no node fits the pod';
    if (unschedulableForMs >= timeoutMs) {
      return {
        kind: 'failed',
        error: new SkyError('NO_CAPACITY', `no capacity in Kubernetes context ${context}: pod ${name} could not be scheduled for ${Math.round(timeoutMs / 1000)} s: ${why}`, {
          hint: 'Free capacity in the cluster, ask for less, or raise provision_timeout_seconds in the driver config.',
          details: { context, scheduler: why },
        }),
      };
    }
    return { kind: 'waiting', what: `waiting for the scheduler: ${why}`, unschedulable: why };
  }
  if (phase === 'Running') {
    const ip = pod.status?.podIP;
    if (ip !== undefined && ip !== '') return { kind: 'ready', podIP: ip };
    return { kind: 'waiting', what: 'running, waiting for its pod IP' };
  }
  if (scheduled?.status !== 'True') return { kind: 'waiting', what: 'waiting for the scheduler' };
  return { kind: 'waiting', what: `pending on node ${pod.spec?.nodeName ?? '?'}` };
}

function findImage(pod: V1Pod, container: string): string {
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  return all.find((c) => c.name === container)?.image ?? '?';
}

/** A node's status from its pod as the watch cache has it (undefined: no such pod). */
export function nodeStatus(nodeId: string, pod: V1Pod | undefined, address: string): NodeStatusReport {
  if (pod === undefined) return { nodeId, status: 'TERMINATED', reason: 'pod deleted' };
  if (pod.metadata?.deletionTimestamp !== undefined) return { nodeId, status: 'TERMINATED', reason: 'pod is being deleted' };
  const phase = pod.status?.phase ?? 'Pending';
  if (phase === 'Failed' || phase === 'Succeeded') return { nodeId, status: 'TERMINATED', reason: terminationReason(pod) };
  const ip = pod.status?.podIP;
  if (ip !== undefined && ip !== '' && ip !== address) return { nodeId, status: 'TERMINATED', reason: `pod IP changed from ${address} to ${ip}: not the same node` };
  if (phase === 'Running') {
    if (podReady(pod)) return { nodeId, status: 'UP' };
    const ready = podCondition(pod, 'Ready');
    return { nodeId, status: 'UNREACHABLE', reason: `not ready${ready?.message === undefined ? '' : `: ${ready.message}`}` };
  }
  const scheduled = podCondition(pod, 'PodScheduled');
  const why = scheduled?.status === 'False' ? (scheduled.message ?? scheduled.reason ?? 'not scheduled') : (pod.status?.reason ?? phase.toLowerCase());
  return { nodeId, status: 'UNREACHABLE', reason: `pending: ${why}` };
}
