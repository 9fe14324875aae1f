/**
 * The pod statuses the fake kubelet reports through the `status` subresource, shaped like a
 * real kubelet's: running, pulling an image that cannot be pulled, waiting for a volume,
 * evicted, and a container that exited.
 */
import { randomBytes } from 'node:crypto';
import type { KubeObject } from './api.js';

export interface PodContainer {
  name: string;
  image: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string }>;
  [key: string]: unknown;
}

export interface Pod extends KubeObject {
  spec: {
    nodeName?: string;
    initContainers?: PodContainer[];
    containers: PodContainer[];
    volumes?: Array<{ name: string; secret?: { secretName: string; optional?: boolean; items?: Array<{ key: string; path: string }>; [key: string]: unknown }; [key: string]: unknown }>;
    [key: string]: unknown;
  };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ name: string; ready: boolean; state: Record<string, { reason?: string; message?: string; exitCode?: number }> }>;
  };
}

export interface StatusContext {
  hostIP: string;
  startTime: string;
}

type Patch = { status: Record<string, unknown> };

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const containerId = (): string => `containerd://${randomBytes(32).toString('hex')}`;

function conditions(ready: boolean, notReadyNames: string[]): Array<Record<string, unknown>> {
  const t = now();
  const notReady = ready ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${notReadyNames.join(' ')}]` };
  return [
    { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: t },
    { type: 'Ready', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: t, ...notReady },
    { type: 'ContainersReady', status: ready ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: t, ...notReady },
    { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: t },
  ];
}

function initStatuses(pod: Pod, at: string): Array<Record<string, unknown>> {
  return (pod.spec.initContainers ?? []).map((c) => ({
    name: c.name,
    image: c.image,
    imageID: `docker-pullable://${c.image}`,
    containerID: containerId(),
    ready: true,
    restartCount: 0,
    lastState: {},
    state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: at, finishedAt: at, containerID: containerId() } },
  }));
}

export function runningStatus(pod: Pod, ctx: StatusContext, podIP: string): Patch {
  const t = now();
  return {
    status: {
      phase: 'Running',
      reason: null,
      message: null,
      hostIP: ctx.hostIP,
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: ctx.startTime,
      conditions: conditions(true, []),
      initContainerStatuses: initStatuses(pod, t),
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `docker-pullable://${c.image}`,
        containerID: containerId(),
        ready: true,
        started: true,
        restartCount: 0,
        lastState: {},
        state: { running: { startedAt: t } },
      })),
    },
  };
}

/** Pending with every container waiting for `reason` (ErrImagePull, ImagePullBackOff, ContainerCreating). */
export function waitingStatus(pod: Pod, ctx: StatusContext, reason: string, message: (c: PodContainer) => string | undefined): Patch {
  return {
    status: {
      phase: 'Pending',
      hostIP: ctx.hostIP,
      startTime: ctx.startTime,
      conditions: conditions(
        false,
        pod.spec.containers.map((c) => c.name),
      ),
      initContainerStatuses: reason === 'ContainerCreating' ? [] : initStatuses(pod, now()),
      containerStatuses: pod.spec.containers.map((c) => {
        const text = message(c);
        return {
          name: c.name,
          image: c.image,
          imageID: '',
          ready: false,
          started: false,
          restartCount: 0,
          lastState: {},
          state: { waiting: { reason, ...(text === undefined ? {} : { message: text }) } },
        };
      }),
    },
  };
}

export function imagePullMessage(image: string, backOff: boolean): string {
  return backOff
    ? `Back-off pulling image "${image}"`
    : `rpc error: code = NotFound desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": "${image}": not found`;
}

/** Failed: evicted (reason Evicted + message) or a container that exited (`exitCode`). */
export function failedStatus(pod: Pod, exit: { exitCode: number; reason: string }, evicted?: { message: string }): Patch {
  const t = now();
  const names = pod.spec.containers.map((c) => c.name);
  return {
    status: {
      phase: 'Failed',
      ...(evicted ? { reason: 'Evicted', message: evicted.message } : { reason: null, message: null }),
      conditions: conditions(false, names),
      containerStatuses: pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: `docker-pullable://${c.image}`,
        ready: false,
        started: false,
        restartCount: 0,
        lastState: {},
        state: { terminated: { exitCode: exit.exitCode, reason: exit.reason, startedAt: t, finishedAt: t } },
      })),
    },
  };
}
