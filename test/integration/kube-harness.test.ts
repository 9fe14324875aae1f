import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  KubeApi,
  kubeBinaries,
  sshPodFixture,
  startFakeKubelet,
  startKubeControlPlane,
  type FakeKubelet,
  type KubeControlPlane,
  type KubeObject,
  type Pod,
  type SshPodFixture,
} from '../helpers/kube/index.js';
import { alive, waitFor } from '../helpers/processes.js';

// The Kubernetes test harness itself: a real control plane (etcd, apiserver, scheduler,
// controller manager) and the fake kubelet running each pod as an sshd in a network namespace.
// Skips outside CI when the control plane was never built (scripts/kube-build.sh); never under CI.

const NS = 'sky-harness';
const UNPULLABLE = 'registry.invalid/sky/nope:1';
const bins = kubeBinaries();

let cp: KubeControlPlane;
let kubelet: FakeKubelet;
let fx: SshPodFixture;

const podPath = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;

async function createPod(pod: Pod): Promise<Pod> {
  return (await cp.request<Pod>('POST', `/api/v1/namespaces/${NS}/pods`, pod)).body;
}

/** Poll the pod until `check` holds (bounded); returns it. */
async function podUntil(name: string, what: string, check: (pod: Pod) => boolean, ms = 30_000): Promise<Pod> {
  let last: Pod | undefined;
  await waitFor(
    async () => {
      last = await cp.api.find<Pod>(podPath(name));
      return last !== undefined && check(last);
    },
    ms,
    `pod ${name}: ${what} (last status: ${JSON.stringify(last?.status ?? null).slice(0, 600)})`,
  );
  return last!;
}

const running = (pod: Pod): boolean => pod.status?.phase === 'Running' && typeof pod.status.podIP === 'string';

describe('Kubernetes test harness', { skip: bins.skip ?? false }, () => {
  before(async () => {
    cp = await startKubeControlPlane(bins.binDir ? { binDir: bins.binDir } : {});
    [kubelet, fx] = await Promise.all([
      startFakeKubelet(cp, {
        nodes: [
          { name: 'node-cpu', cpus: 4, memoryGi: 16, labels: { 'sky.test/pool': 'cpu' } },
          { name: 'node-gpu', cpus: 8, memoryGi: 64, gpus: { count: 2, product: 'H100' } },
        ],
        unpullableImages: [UNPULLABLE],
      }),
      sshPodFixture(),
    ]);
    await cp.createNamespace(NS);
    await cp.apply(fx.secret(NS, 'ssh-keys'));
  });

  after(async () => {
    await kubelet?.stop();
    await cp?.stop();
    await fx?.destroy();
  });

  it('registers ready, untainted nodes with CPU, memory and GPU capacity', async () => {
    const node = await cp.api.get<{ metadata: { labels: Record<string, string> }; spec: { taints?: unknown[] }; status: { allocatable: Record<string, string>; conditions: Array<{ type: string; status: string }> } }>(
      '/api/v1/nodes/node-gpu',
    );
    assert.equal(node.status.allocatable['nvidia.com/gpu'], '2');
    assert.equal(node.status.allocatable.cpu, '8');
    assert.equal(node.status.allocatable.pods, '110');
    assert.equal(node.metadata.labels['nvidia.com/gpu.product'], 'H100');
    assert.equal(node.status.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.deepEqual(node.spec.taints ?? [], []);
  });

  it('the real scheduler binds pods, the fake kubelet runs them, and SSH reaches each pod with its own HOME', async () => {
    await createPod(fx.pod({ namespace: NS, name: 'pod-a', secretName: 'ssh-keys', cpu: '1', port: 2222 }));
    await createPod(fx.pod({ namespace: NS, name: 'pod-b', secretName: 'ssh-keys', cpu: '1', gpus: 1, nodeSelector: { 'nvidia.com/gpu.product': 'H100' } }));
    const a = await podUntil('pod-a', 'Running with an IP', running);
    const b = await podUntil('pod-b', 'Running with an IP', running);
    assert.ok(a.spec.nodeName === 'node-cpu' || a.spec.nodeName === 'node-gpu', `pod-a bound to ${a.spec.nodeName}`);
    assert.equal(b.spec.nodeName, 'node-gpu');
    assert.notEqual(a.status?.podIP, b.status?.podIP);
    assert.equal(a.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(a.status?.containerStatuses?.[0]?.ready, true);

    const sshA = await fx.ssh(a.status!.podIP!, 2222, 'echo $HOME');
    assert.equal(sshA.code, 0, sshA.stderr);
    assert.equal((await fx.ssh(a.status!.podIP!, 2222, 'hostname')).stdout.trim(), 'pod-a');
    assert.equal(kubelet.pod(NS, 'pod-a')?.sshdPid, Number(readFileSync(join(kubelet.pod(NS, 'pod-a')!.dir, 'sshd.pid'), 'utf8').trim()));
    const sshB = await fx.ssh(b.status!.podIP!, 22, 'echo $HOME');
    assert.equal(sshB.code, 0, sshB.stderr);
    assert.equal(sshA.stdout.trim(), kubelet.podHome(NS, 'pod-a'));
    assert.equal(sshB.stdout.trim(), kubelet.podHome(NS, 'pod-b'));
    assert.notEqual(sshA.stdout.trim(), sshB.stdout.trim());

    // Host key checking is on: a known_hosts with another key refuses the pod.
    const other = await sshPodFixture();
    try {
      const refused = await other.ssh(a.status!.podIP!, 2222, 'true');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /host key/i);
    } finally {
      await other.destroy();
    }
  });

  it('a pod asking more CPUs than any node has stays Pending, Unschedulable', async () => {
    await createPod(fx.pod({ namespace: NS, name: 'pod-huge', secretName: 'ssh-keys', cpu: '64' }));
    const pod = await podUntil('pod-huge', 'PodScheduled=False', (p) => p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False') === true);
    const scheduled = pod.status!.conditions!.find((c) => c.type === 'PodScheduled')!;
    assert.equal(scheduled.reason, 'Unschedulable');
    assert.match(scheduled.message ?? '', /Insufficient cpu/);
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.spec.nodeName, undefined);
  });

  it('an unpullable image shows ErrImagePull then ImagePullBackOff naming the image, and runs once pullable', async () => {
    await createPod(fx.pod({ namespace: NS, name: 'pod-nopull', secretName: 'ssh-keys', image: UNPULLABLE }));
    const waitingReason = (p: Pod): string | undefined => p.status?.containerStatuses?.[0]?.state.waiting?.reason;
    const pulling = await podUntil('pod-nopull', 'ErrImagePull', (p) => waitingReason(p) === 'ErrImagePull' || waitingReason(p) === 'ImagePullBackOff');
    assert.equal(pulling.status?.phase, 'Pending');
    assert.ok(pulling.status?.containerStatuses?.[0]?.state.waiting?.message?.includes(UNPULLABLE));
    const backOff = await podUntil('pod-nopull', 'ImagePullBackOff', (p) => waitingReason(p) === 'ImagePullBackOff');
    assert.ok(backOff.status?.containerStatuses?.[0]?.state.waiting?.message?.includes(UNPULLABLE));
    assert.equal(kubelet.pod(NS, 'pod-nopull')?.sshdPid, undefined);
    kubelet.unpullableImages.delete(UNPULLABLE);
    try {
      await podUntil('pod-nopull', 'Running once the image pulls', running);
    } finally {
      kubelet.unpullableImages.add(UNPULLABLE);
    }
  });

  it('deleting the owner cascades: the garbage collector deletes the pod, the kubelet kills its sshd', async () => {
    const owner = (await cp.request<KubeObject>('POST', `/api/v1/namespaces/${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner' } })).body;
    await createPod(
      fx.pod({
        namespace: NS,
        name: 'pod-owned',
        secretName: 'ssh-keys',
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid! }],
      }),
    );
    await podUntil('pod-owned', 'Running', running);
    const pid = kubelet.pod(NS, 'pod-owned')?.sshdPid;
    assert.ok(pid !== undefined && alive(pid));
    await cp.request('DELETE', `/api/v1/namespaces/${NS}/configmaps/owner`, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
    await waitFor(async () => (await cp.api.find(podPath('pod-owned'))) === undefined, 60_000, 'the owned pod to be deleted');
    assert.equal(alive(pid), false);
    await waitFor(() => kubelet.pod(NS, 'pod-owned') === undefined, 10_000, 'the kubelet to forget the pod');
  });

  it('evict marks the pod Failed/Evicted and kills its processes; crash reports the container terminated', async () => {
    await createPod(fx.pod({ namespace: NS, name: 'pod-evicted', secretName: 'ssh-keys' }));
    await createPod(fx.pod({ namespace: NS, name: 'pod-crashed', secretName: 'ssh-keys' }));
    await podUntil('pod-evicted', 'Running', running);
    await podUntil('pod-crashed', 'Running', running);
    const evictedPid = kubelet.pod(NS, 'pod-evicted')!.sshdPid!;
    await kubelet.evict(NS, 'pod-evicted');
    const evicted = await cp.api.get<Pod>(podPath('pod-evicted'));
    assert.equal(evicted.status?.phase, 'Failed');
    assert.equal(evicted.status?.reason, 'Evicted');
    assert.match(evicted.status?.message ?? '', /low on resource/);
    assert.equal(alive(evictedPid), false);

    const crashedPid = kubelet.pod(NS, 'pod-crashed')!.sshdPid!;
    await kubelet.crash(NS, 'pod-crashed');
    const crashed = await cp.api.get<Pod>(podPath('pod-crashed'));
    assert.equal(crashed.status?.phase, 'Failed');
    assert.equal(crashed.status?.containerStatuses?.[0]?.state.terminated?.exitCode, 137);
    assert.equal(alive(crashedPid), false);

    // A plain delete of a finished pod is finished by the kubelet (grace period 0).
    await cp.request('DELETE', podPath('pod-evicted'));
    await waitFor(async () => (await cp.api.find(podPath('pod-evicted'))) === undefined, 30_000, 'the evicted pod to be deleted');
  });

  it('RBAC is real: the limited user may not create pods, and the audit log counts requests', async () => {
    const review = (api: KubeApi): Promise<{ status: { allowed: boolean } }> =>
      api
        .request<{ status: { allowed: boolean } }>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { namespace: NS, verb: 'create', resource: 'pods' } },
        })
        .then((a) => a.body);
    const mark = cp.auditMark();
    assert.equal((await review(cp.client('limited'))).status.allowed, false);
    assert.equal((await review(cp.api)).status.allowed, true);
    const listed = await cp.client('limited').request('GET', `/api/v1/namespaces/${NS}/pods`, undefined, { expectOk: false });
    assert.equal(listed.status, 403);

    await waitFor(() => cp.auditCount({ since: mark, user: 'limited' }) === 2, 10_000, 'two audited requests of the limited user');
    assert.equal(cp.auditCount({ since: mark, user: 'limited', verb: 'create', resource: 'selfsubjectaccessreviews' }), 1);
    const denied = cp.auditEvents({ since: mark, user: 'limited', verb: 'list', resource: 'pods' });
    assert.equal(denied.length, 1);
    assert.equal(denied[0]!.responseStatus?.code, 403);
    // The kubelet's own requests are counted under their own user; its open pod watch is seen in the metrics.
    assert.ok(cp.auditCount({ user: 'sky-fake-kubelet', verb: 'list', resource: 'pods' }) >= 1);
    assert.ok((await cp.metric('apiserver_longrunning_gauge', { resource: 'pods', verb: 'WATCH' })) >= 1);
    assert.ok(cp.auditCount({ user: 'sky-fake-kubelet', verb: 'patch', resource: 'pods', subresource: 'status' }) >= 2);
  });

  it('writes kubeconfigs with the CA inline, token users and an unreachable context', async () => {
    const file = join(cp.dir, 'kubeconfig-test');
    cp.kubeconfig(file, { contexts: [{ name: 'alpha', user: 'user-a', namespace: NS }, { name: 'admin', user: 'admin' }], current: 'admin', extraUnreachable: 'dead' });
    interface Config {
      'current-context': string;
      clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data': string } }>;
      users: Array<{ name: string; user: { token: string } }>;
      contexts: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }>;
    }
    const config = JSON.parse(readFileSync(file, 'utf8')) as Config;
    assert.equal(config['current-context'], 'admin');
    const cluster = (context: string): Config['clusters'][number] => {
      const ctx = config.contexts.find((c) => c.name === context)!;
      return config.clusters.find((c) => c.name === ctx.context.cluster)!;
    };
    const token = (user: string): string => config.users.find((u) => u.name === user)!.user.token;
    const ca = Buffer.from(cluster('alpha').cluster['certificate-authority-data'], 'base64').toString('utf8');
    const alpha = new KubeApi(cluster('alpha').cluster.server, ca, token('user-a'));
    try {
      const whoami = await alpha.request('GET', `/api/v1/namespaces/${NS}/pods`, undefined, { expectOk: false });
      assert.equal(whoami.status, 403); // authenticated (TLS verified, token known), no RBAC binding
      assert.match((whoami.body as { message: string }).message, /User "user-a" cannot list/);
    } finally {
      alpha.close();
    }
    const dead = new KubeApi(cluster('dead').cluster.server, ca, token('user-a'));
    try {
      await assert.rejects(dead.request('GET', '/version'), /ECONNREFUSED/);
    } finally {
      dead.close();
    }
    assert.deepEqual(kubelet.errors, []);
  });
});
