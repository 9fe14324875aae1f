/**
 * The harness playing kubelet for one or more fake nodes (there is no kubelet binary): it
 * registers the Nodes, watches (a real watch) the pods bound to them, and runs each pod's
 * "container" as an sshd in a network namespace with the pod's IP (see pod-sshd.ts and
 * pod-network.ts), reporting pod status through the `status` subresource. A pod marked for
 * deletion is stopped and then deleted with grace period 0, as a kubelet does. Each node's
 * kubelet endpoint serves port-forward (kubelet-streaming.ts), which the API server proxies to.
 * See index.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { seg, type KubeApi } from './api.js';
import type { KubeControlPlane } from './control-plane.js';
import { inform, type Informer } from './informer.js';
import { registerNode, type FakeNodeSpec } from './nodes.js';
import { alive, exited, exitedEarly, isRoot, signal } from './os.js';
import { cleanupStalePodNetworks, PodNetwork } from './pod-network.js';
import { startPodSshd } from './pod-sshd.js';
import { kubeletCertificate, startKubeletStreaming, type KubeletStreaming } from './kubelet-streaming.js';
import { failedStatus, imagePullMessage, runningStatus, waitingStatus, type Pod, type StatusContext } from './pod-status.js';

const DIR_PREFIX = 'sky-kubelet-';
const RETRY_MS = 500;

export type FakePodState = 'starting' | 'image-pull-backoff' | 'waiting-volume' | 'running' | 'crashed' | 'evicted' | 'terminating';

export interface FakePod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  state: FakePodState;
  /** Set once the pod's namespace exists. */
  ip: string | undefined;
  /** The port sshd listens on (the container port named `ssh`, else 22). */
  port: number;
  /** sshd's PID while the "container" runs. */
  sshdPid: number | undefined;
  /** root's HOME in this pod. */
  home: string;
  /** Where the pod's secret volumes are written (`<dir>/volumes/<volume>/<key>`), its sshd config and log. */
  dir: string;
}

export interface FakeKubeletOptions {
  nodes: FakeNodeSpec[];
  /** Images whose pull fails (ErrImagePull, then ImagePullBackOff); the set stays changeable through `unpullableImages`. */
  unpullableImages?: Iterable<string>;
  /**
   * Only the nodes' addresses reach pod IPs (the kubelet's port-forward streams, its readiness
   * probe): any other connection from this machine to the pod network (a daemon's) is refused
   * at once, so pods are reachable through the API server's port-forward only.
   */
  isolatePods?: boolean;
}

export interface FakeKubelet {
  /** `kubeletPort`: the node's streaming endpoint (port-forward) at `ip`, where the API server proxies it. */
  nodes: Array<{ name: string; ip: string; kubeletPort: number }>;
  /** Port-forward streams the API server opened to pods (one TCP connection to a pod each). */
  portForwards(): number;
  /** Change at run time: a pod backing off retries its pull every 0.5 s. */
  unpullableImages: Set<string>;
  /** The pod network's gateway (the bridge's address in the root namespace) and /24. */
  gateway: string;
  subnet: string;
  pods(): FakePod[];
  pod(namespace: string, name: string): FakePod | undefined;
  podHome(namespace: string, name: string): string;
  /** Kill the pod's processes and report it Failed, reason Evicted, as a kubelet under resource pressure does. */
  evict(namespace: string, name: string, message?: string): Promise<void>;
  /** Kill the pod's sshd: the container exits, the pod is reported Failed with the container terminated. */
  crash(namespace: string, name: string): Promise<void>;
  /** Errors met while handling pods (also printed); a test may assert there are none. */
  errors: Error[];
  /** Kill every sshd by PID, delete namespaces, veths and the bridge, remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

interface PodRecord {
  pod: FakePod;
  latest: Pod;
  chain: Promise<void>;
  child: ChildProcess | undefined;
  netns: string | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Set when the harness itself ends the container (eviction, deletion, stop). */
  ending: boolean;
  ctx: StatusContext;
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function sshPort(pod: Pod): number {
  return pod.spec.containers[0]?.ports?.find((p) => p.name === 'ssh')?.containerPort ?? 22;
}

const nowIso = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** Register the nodes and start serving pods bound to them. Call stop() in an after hook. */
export async function startFakeKubelet(cp: KubeControlPlane, options: FakeKubeletOptions): Promise<FakeKubelet> {
  if (!isRoot()) throw new Error('the fake kubelet needs root (network namespaces for pods): run the Kubernetes tests as root');
  await cleanupStaleKubelets();
  const api: KubeApi = cp.client('sky-fake-kubelet');
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const net = new PodNetwork();
  const records = new Map<string, PodRecord>();
  const byName = new Map<string, PodRecord>();
  const errors: Error[] = [];
  const unpullableImages = new Set(options.unpullableImages ?? []);
  const nodes = options.nodes.map((n, i) => ({ spec: n, name: n.name, ip: '', index: i, kubeletPort: 0 }));
  const streaming: KubeletStreaming[] = [];
  const nodeIp = new Map<string, string>();
  let informer: Informer | undefined;
  let stopped = false;

  const report = (err: unknown, what: string): void => {
    if (stopped) return;
    const error = new Error(`fake kubelet: ${what}: ${(err as Error).message}`);
    errors.push(error);
    console.error(error.message);
  };

  const patchStatus = async (rec: PodRecord, patch: unknown): Promise<void> => {
    const path = `/api/v1/namespaces/${seg(rec.pod.namespace)}/pods/${seg(rec.pod.name)}/status`;
    const answer = await api.request('PATCH', path, patch, { expectOk: false });
    if (answer.status === 404) return; // deleted meanwhile
    if (answer.status < 200 || answer.status > 299) throw new Error(`PATCH ${path} answered ${answer.status}: ${answer.text.slice(0, 500)}`);
  };

  const enqueue = (rec: PodRecord, what: string, step: () => Promise<void>): void => {
    rec.chain = rec.chain.then(step).catch((err: unknown) => report(err, `${what} ${rec.pod.namespace}/${rec.pod.name}`));
  };

  const clearTimer = (rec: PodRecord): void => {
    if (rec.timer) clearTimeout(rec.timer);
    rec.timer = undefined;
  };

  /** Stop the container: kill sshd and everything in the pod's namespace, remove the namespace. */
  const endContainer = async (rec: PodRecord): Promise<void> => {
    rec.ending = true;
    clearTimer(rec);
    const pid = rec.child?.pid;
    if (pid !== undefined) signal(pid, 'SIGKILL');
    if (rec.netns) await net.remove(rec.netns);
    rec.netns = undefined;
    if (pid !== undefined) await exited(pid, 5000);
    rec.child = undefined;
    rec.pod.sshdPid = undefined;
  };

  const retryLater = (rec: PodRecord, what: string): void => {
    clearTimer(rec);
    rec.timer = setTimeout(() => {
      rec.timer = undefined;
      if (!stopped && !rec.ending) enqueue(rec, what, () => startContainer(rec));
    }, RETRY_MS);
  };

  /** Secret volumes → files; undefined when a secret is missing (the pod waits, as on a real node). */
  const mountSecrets = async (rec: PodRecord): Promise<Map<string, string> | undefined> => {
    const mounted = new Map<string, string>(); // file name → path, of every secret volume
    for (const volume of rec.latest.spec.volumes ?? []) {
      if (!volume.secret) continue;
      const secret = await api.find<{ data?: Record<string, string> }>(
        `/api/v1/namespaces/${seg(rec.pod.namespace)}/secrets/${seg(volume.secret.secretName)}`,
      );
      if (!secret) {
        if (volume.secret.optional) continue;
        await patchStatus(
          rec,
          waitingStatus(rec.latest, rec.ctx, 'ContainerCreating', () => undefined),
        );
        return undefined;
      }
      const volumeDir = join(rec.pod.dir, 'volumes', volume.name);
      await mkdir(volumeDir, { recursive: true, mode: 0o700 });
      const items = volume.secret.items ?? Object.keys(secret.data ?? {}).map((k) => ({ key: k, path: k }));
      for (const item of items) {
        const value = secret.data?.[item.key];
        if (value === undefined) continue;
        const file = join(volumeDir, item.path);
        await writeFile(file, Buffer.from(value, 'base64'), { mode: 0o600 });
        mounted.set(item.path, file);
      }
    }
    return mounted;
  };

  const startContainer = async (rec: PodRecord): Promise<void> => {
    if (stopped || rec.ending) return;
    const image = rec.latest.spec.containers[0]?.image ?? '';
    if (unpullableImages.has(image)) {
      const first = rec.pod.state !== 'image-pull-backoff';
      rec.pod.state = 'image-pull-backoff';
      if (first) {
        await patchStatus(rec, waitingStatus(rec.latest, rec.ctx, 'ErrImagePull', (c) => (unpullableImages.has(c.image) ? imagePullMessage(c.image, false) : undefined)));
        rec.timer = setTimeout(() => {
          enqueue(rec, 'image back-off', async () => {
            if (rec.ending || rec.pod.state !== 'image-pull-backoff') return;
            await patchStatus(rec, waitingStatus(rec.latest, rec.ctx, 'ImagePullBackOff', (c) => (unpullableImages.has(c.image) ? imagePullMessage(c.image, true) : undefined)));
            retryLater(rec, 'image pull retry');
          });
        }, RETRY_MS);
        return;
      }
      retryLater(rec, 'image pull retry');
      return;
    }
    const files = await mountSecrets(rec);
    if (!files) {
      rec.pod.state = 'waiting-volume';
      retryLater(rec, 'volume retry');
      return;
    }
    rec.pod.state = 'starting';
    try {
      await runContainer(rec, files);
    } catch (err) {
      // As a kubelet shows a container that could not start; the error is also reported.
      const message = (err as Error).message.slice(0, 1000);
      await patchStatus(rec, waitingStatus(rec.latest, rec.ctx, 'RunContainerError', () => message)).catch(() => undefined);
      throw err;
    }
  };

  const runContainer = async (rec: PodRecord, files: Map<string, string>): Promise<void> => {
    const netns = await net.add();
    rec.netns = netns.namespace;
    rec.pod.ip = netns.ip;
    const hostKey = files.get('ssh_host_ed25519_key');
    const authorizedKeys = files.get('authorized_keys');
    if (hostKey && authorizedKeys) {
      const env: Record<string, string> = {};
      for (const e of rec.latest.spec.containers[0]?.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
      const { child } = await startPodSshd({
        podDir: rec.pod.dir,
        namespace: netns.namespace,
        ip: netns.ip,
        port: rec.pod.port,
        hostKey,
        authorizedKeys,
        home: rec.pod.home,
        env,
        hostname: rec.pod.name.slice(0, 63),
        sourceIp: rec.ctx.hostIP,
      });
      rec.child = child;
      rec.pod.sshdPid = child.pid;
      child.once('exit', (code, sig) => {
        if (stopped || rec.ending || rec.child !== child) return;
        // The container exited on its own (or crash() killed it): report it, then free the namespace.
        enqueue(rec, 'container exit', async () => {
          rec.pod.state = 'crashed';
          rec.child = undefined;
          rec.pod.sshdPid = undefined;
          const exitCode = code ?? 128 + (sig === 'SIGKILL' ? 9 : 15);
          await patchStatus(rec, failedStatus(rec.latest, { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error' }));
          if (rec.netns) await net.remove(rec.netns);
          rec.netns = undefined;
        });
      });
    }
    rec.pod.state = 'running';
    await patchStatus(rec, runningStatus(rec.latest, rec.ctx, netns.ip));
  };

  const finalizeDeletion = async (rec: PodRecord): Promise<void> => {
    await endContainer(rec);
    const { namespace, name, uid } = rec.pod;
    const answer = await api.request(
      'DELETE',
      `/api/v1/namespaces/${seg(namespace)}/pods/${seg(name)}`,
      { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } },
      { expectOk: false },
    );
    if (answer.status !== 200 && answer.status !== 404 && answer.status !== 409) {
      throw new Error(`deleting pod ${namespace}/${name} answered ${answer.status}: ${answer.text.slice(0, 500)}`);
    }
  };

  const forget = (rec: PodRecord): void => {
    records.delete(rec.pod.uid);
    if (byName.get(key(rec.pod.namespace, rec.pod.name)) === rec) byName.delete(key(rec.pod.namespace, rec.pod.name));
    enqueue(rec, 'cleanup', () => rm(rec.pod.dir, { recursive: true, force: true }));
  };

  const onPod = (type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Pod): void => {
    if (stopped) return;
    const node = pod.spec.nodeName;
    const uid = pod.metadata.uid;
    if (!node || !uid || !nodeIp.has(node)) return;
    let rec = records.get(uid);
    if (type === 'DELETED') {
      if (rec) {
        const r = rec;
        enqueue(r, 'teardown', () => endContainer(r));
        forget(r);
      }
      return;
    }
    if (rec) rec.latest = pod;
    if (pod.metadata.deletionTimestamp) {
      if (!rec) {
        rec = track(pod, node, uid);
        rec.ending = true;
      }
      if (rec.pod.state !== 'terminating') {
        rec.pod.state = 'terminating';
        const r = rec;
        enqueue(r, 'deletion', () => finalizeDeletion(r));
      }
      return;
    }
    if (rec) return;
    const phase = pod.status?.phase;
    if (phase === 'Failed' || phase === 'Succeeded') return; // finished before this kubelet started
    const r = track(pod, node, uid);
    enqueue(r, 'start', () => startContainer(r));
  };

  const track = (pod: Pod, node: string, uid: string): PodRecord => {
    const namespace = pod.metadata.namespace ?? 'default';
    const podDir = join(dir, 'pods', uid);
    const rec: PodRecord = {
      pod: {
        namespace,
        name: pod.metadata.name,
        uid,
        node,
        state: 'starting',
        ip: undefined,
        port: sshPort(pod),
        sshdPid: undefined,
        home: join(podDir, 'home'),
        dir: podDir,
      },
      latest: pod,
      chain: mkdir(podDir, { recursive: true, mode: 0o700 }).then(() => undefined),
      child: undefined,
      netns: undefined,
      timer: undefined,
      ending: false,
      ctx: { hostIP: nodeIp.get(node)!, startTime: nowIso() },
    };
    records.set(uid, rec);
    byName.set(key(namespace, pod.metadata.name), rec);
    return rec;
  };

  const find = (namespace: string, name: string): PodRecord => {
    const rec = byName.get(key(namespace, name));
    if (!rec) throw new Error(`the fake kubelet runs no pod ${namespace}/${name} (it runs ${[...byName.keys()].join(', ') || 'none'})`);
    return rec;
  };

  const run = (rec: PodRecord, what: string, step: () => Promise<void>): Promise<void> =>
    new Promise((resolve, reject) => {
      rec.chain = rec.chain.then(step).then(resolve, (err: unknown) => reject(new Error(`${what} ${rec.pod.namespace}/${rec.pod.name}: ${(err as Error).message}`)));
    });

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    informer?.stop();
    await Promise.all(streaming.map((s) => s.close()));
    for (const rec of records.values()) {
      rec.ending = true;
      clearTimer(rec);
      if (rec.child?.pid !== undefined) signal(rec.child.pid, 'SIGKILL');
    }
    await Promise.all([...records.values()].map((rec) => rec.chain));
    for (const rec of records.values()) if (rec.child?.pid !== undefined) await exited(rec.child.pid, 5000);
    await net.destroy();
    api.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await net.create();
    const tls = await kubeletCertificate(dir);
    const lookup = (namespace: string, name: string): { ip: string | undefined; uid: string } | undefined => {
      const rec = byName.get(key(namespace, name));
      return rec === undefined || rec.ending ? undefined : { ip: rec.pod.state === 'running' ? rec.pod.ip : undefined, uid: rec.pod.uid };
    };
    for (const n of nodes) {
      n.ip = net.nodeIp(n.index);
      nodeIp.set(n.name, n.ip);
      await net.addNodeAddress(n.ip);
      const server = await startKubeletStreaming(n.ip, tls, (namespace, name) => (byName.get(key(namespace, name))?.pod.node === n.name ? lookup(namespace, name) : undefined), (err) =>
        report(err, `node ${n.name} streaming`),
      );
      streaming.push(server);
      n.kubeletPort = server.port;
    }
    if (options.isolatePods) await net.isolate(nodes.map((n) => n.ip));
    await Promise.all(nodes.map((n) => registerNode(api, n.spec, n.ip, n.kubeletPort)));
    informer = inform<Pod>(api, '/api/v1/pods?fieldSelector=spec.nodeName%21%3D', onPod, (err) => report(err, 'pod watch'));
    await informer.ready;
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    nodes: nodes.map((n) => ({ name: n.name, ip: n.ip, kubeletPort: n.kubeletPort })),
    portForwards: () => streaming.reduce((sum, s) => sum + s.forwards, 0),
    unpullableImages,
    gateway: net.gateway,
    subnet: `${net.gateway.replace(/\.1$/, '.0')}/24`,
    errors,
    pods: () => [...records.values()].map((r) => ({ ...r.pod })),
    pod: (namespace, name) => {
      const rec = byName.get(key(namespace, name));
      return rec ? { ...rec.pod } : undefined;
    },
    podHome: (namespace, name) => find(namespace, name).pod.home,
    evict: (namespace, name, message) => {
      const rec = find(namespace, name);
      return run(rec, 'evict', async () => {
        await endContainer(rec);
        rec.pod.state = 'evicted';
        const container = rec.latest.spec.containers[0]?.name ?? 'main';
        const text = message ?? `The node was low on resource: memory. Container ${container} was using 2Gi, which exceeds its request of 1Gi. `;
        await patchStatus(rec, failedStatus(rec.latest, { exitCode: 137, reason: 'Error' }, { message: text }));
      });
    },
    crash: async (namespace, name) => {
      const rec = find(namespace, name);
      const child = rec.child;
      if (child?.pid === undefined) throw new Error(`pod ${namespace}/${name} runs no sshd (state ${rec.pod.state})`);
      const gone = new Promise<void>((resolve) => (exitedEarly(child) ? resolve() : child.once('exit', () => resolve())));
      signal(child.pid, 'SIGKILL');
      await gone;
      // The exit handler (registered first) has queued the status report: wait for it to land.
      await rec.chain;
    },
    stop,
  };
}

/** Remove temp dirs (killing sshd processes still named in them) and pod networks of runs whose process is dead. */
export async function cleanupStaleKubelets(): Promise<void> {
  await cleanupStalePodNetworks();
  for (const entry of readdirSync(tmpdir())) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || alive(owner)) continue;
    rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}
