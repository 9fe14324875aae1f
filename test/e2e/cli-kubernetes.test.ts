// End to end on Kubernetes: the built `sky` CLI against a real daemon whose `k8s` driver talks to a
// real control plane (etcd, kube-apiserver, scheduler, controller manager with the garbage
// collector), with the test harness playing the kubelet (test/helpers/kube: each pod's container
// is an sshd in a network namespace at the pod's IP). Covered: sky check k8s and sky show-gpus,
// a 2-node launch whose ranks see each other's pod IPs, exec and queue, a GPU task placed on the
// GPU node, what cannot fit or cannot be pulled, a pod evicted under a running job (the job
// FAILED with the eviction as its reason), a managed job recovering on a new pod after its pod
// is evicted, and sky down cascading to every object of the cluster.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { runSky, showRun, type CliResult } from '../helpers/sky-cli.js';
import { kubeBinaries, startFakeKubelet, startKubeControlPlane, type FakeKubelet, type KubeControlPlane } from '../helpers/kube/index.js';

const NS = 'sky-e2e';
const UNPULLABLE = 'registry.invalid/team/trainer:1';
const bins = kubeBinaries();

let cp: KubeControlPlane;
let kubelet: FakeKubelet;
let daemon: DaemonHandle;
let dir: string;

const sky = (args: readonly string[]): Promise<CliResult> => runSky(args, { home: daemon.home, endpoint: daemon.url, cwd: dir, timeoutMs: 180_000 });

async function exits(args: readonly string[], code: number): Promise<CliResult> {
  const r = await sky(args);
  assert.equal(r.code, code, showRun(args, r));
  return r;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 250));
  }
}

interface PodList {
  items: Array<{ metadata: { name: string; labels?: Record<string, string> }; spec: { nodeName?: string }; status: { podIP?: string; phase?: string } }>;
}

/** The cluster's pods, by the label the driver puts on them. */
async function podsOf(cluster: string): Promise<PodList['items']> {
  const list = await cp.api.get<PodList>(`/api/v1/namespaces/${NS}/pods`);
  return list.items.filter((p) => p.metadata.labels?.['sky.dev/cluster'] === cluster).sort((a, b) => Number(a.metadata.labels?.['sky.dev/rank']) - Number(b.metadata.labels?.['sky.dev/rank']));
}

/** Everything in the namespace that carries the driver's label for a cluster. */
async function objectsOf(cluster: string): Promise<number> {
  let n = 0;
  for (const resource of ['pods', 'secrets', 'configmaps', 'services']) {
    const list = await cp.api.get<{ items: Array<{ metadata: { labels?: Record<string, string> } }> }>(`/api/v1/namespaces/${NS}/${resource}`);
    n += list.items.filter((o) => o.metadata.labels?.['sky.dev/cluster'] === cluster).length;
  }
  return n;
}

interface QueueRow {
  id: number;
  status: string;
  reason?: string;
}

/** The job id `sky exec`/`sky launch` printed. */
function jobIdOf(r: CliResult): number {
  return Number(/Job ID: (\d+)/.exec(`${r.stdout}\n${r.stderr}`)?.[1] ?? assert.fail(`no job ID in:\n${r.stderr}`));
}

async function jobOf(cluster: string, id: number): Promise<QueueRow | undefined> {
  const r = await exits(['queue', cluster, '-o', 'json'], 0);
  const byCluster = JSON.parse(r.stdout) as Record<string, QueueRow[]>;
  return (byCluster[cluster] ?? []).find((j) => j.id === id);
}

describe('sky on Kubernetes (real control plane, harness kubelet)', { skip: bins.skip ?? false, timeout: 600_000 }, () => {
  before(async () => {
    for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
    dir = await mkdtemp(join(tmpdir(), 'sky-e2e-k8s-'));
    cp = await startKubeControlPlane(bins.binDir ? { binDir: bins.binDir } : {});
    kubelet = await startFakeKubelet(cp, {
      nodes: [
        { name: 'cpu-1', cpus: 4, memoryGi: 16 },
        { name: 'gpu-1', cpus: 8, memoryGi: 64, gpus: { count: 2, product: 'H100' } },
      ],
      unpullableImages: [UNPULLABLE],
    });
    await cp.createNamespace(NS);
    const kubeconfig = join(dir, 'kubeconfig');
    cp.kubeconfig(kubeconfig, { contexts: [{ name: 'lab', user: 'admin' }, { name: 'ro', user: 'limited' }], current: 'lab', extraUnreachable: 'old' });
    const config = [
      // The plugins' files outside the state dir (as replicas sharing one directory have them).
      'plugins:',
      `  data_dir: ${join(dir, 'plugin-data')}`,
      'jobs:',
      '  unreachable_grace_seconds: 60',
      '  reconcile_seconds: 2',
      'drivers:',
      '  k8s:',
      `    kubeconfig: ${kubeconfig}`,
      '    allowed_contexts: [lab, ro, old]',
      `    namespace: ${NS}`,
      '    provision_timeout_seconds: 3',
      '',
    ].join('\n');
    daemon = await startDaemon({ config });
  });

  after(async () => {
    await sky(['jobs', 'cancel', '-a', '-y']).catch(() => undefined);
    await sky(['down', '-a', '-y']).catch(() => undefined);
    await daemon?.stop();
    await killAllDaemons();
    await kubelet?.stop();
    await cp?.stop();
    if (daemon) removeHome(daemon.home);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('sky check k8s: each context with its reachability, missing permissions and nodes; sky show-gpus lists the H100s', async () => {
    const r = await sky(['check', 'k8s']);
    // One context lacks permissions and one is down: the check says so (exit 1) but k8s/lab is usable.
    assert.equal(r.code, 1, showRun(['check', 'k8s'], r));
    const text = r.stdout;
    assert.match(text, /^ {2}k8s: enabled \[k8s\/lab, k8s\/ro, k8s\/old\]$/m);
    assert.match(text, /lab: reachable \(namespace sky-e2e\), 2 of 2 nodes ready/);
    assert.match(text, /node gpu-1: ready, 8 CPUs, 64 GB memory, GPUs: H100 2 of 2 free/);
    assert.match(text, /ro: reachable \(namespace sky-e2e\), not usable\n(?:.*\n)*? .*missing permissions: create pods in namespace sky-e2e;/);
    assert.match(text, /note: missing list nodes cluster-wide \(optional: for capacity and GPU types\)/);
    assert.match(text, /old: unreachable/);
    assert.match(text, /^Enabled infra: k8s\/lab$/m);
    const gpus = await exits(['show-gpus', '--infra', 'k8s/lab'], 0);
    assert.match(gpus.stdout, /^lab +gpu-1 +H100 +2 +2$/m);
  });

  it('a 2-node launch runs on two pods; the ranks see the pod IPs in rank order; exec and queue work', async () => {
    const r = await exits(['launch', '-y', '-c', 'kc', '--infra', 'k8s/lab', '--num-nodes', '2', '--cpus', '1', 'echo "rank=$SKYPILOT_NODE_RANK ips=$(printf %s, $SKYPILOT_NODE_IPS) host=$(hostname)"'], 0);
    const pods = await podsOf('kc');
    assert.equal(pods.length, 2);
    const ips = pods.map((p) => p.status.podIP);
    assert.ok(ips.every((ip) => ip !== undefined && /^10\.202\./.test(ip)), JSON.stringify(ips));
    const list = `${ips.join(',')},`;
    assert.match(r.stdout, new RegExp(`rank=0 ips=${list.replace(/\./g, '\\.')} host=${pods[0]!.metadata.name}`));
    assert.match(r.stdout, new RegExp(`rank=1 ips=${list.replace(/\./g, '\\.')} host=${pods[1]!.metadata.name}`));
    // The cluster's SSH key is in plugins.data_dir, where every replica would find it.
    const keys = readdirSync(join(dir, 'plugin-data', 'k8s', 'keys'));
    assert.ok(keys.some((k) => k.startsWith('kc-')), keys.join(', '));
    const status = await exits(['status', 'kc'], 0);
    assert.match(status.stdout, /kc .*k8s\/lab.*UP/);
    const e = await exits(['exec', 'kc', 'echo exec-on-$(hostname)'], 0);
    assert.match(e.stdout, new RegExp(`exec-on-${pods[0]!.metadata.name}`));
    assert.equal((await jobOf('kc', jobIdOf(e)))?.status, 'SUCCEEDED');
  });

  it('a GPU task lands on the GPU node; what no node has is refused before anything is created; a pod that cannot be scheduled is NO_CAPACITY', async () => {
    await exits(['launch', '-y', '-c', 'kg', '--infra', 'k8s/lab', '--gpus', 'H100:1', 'echo gpus=$CUDA_VISIBLE_DEVICES'], 0);
    assert.equal((await podsOf('kg'))[0]?.spec.nodeName, 'gpu-1');
    const tooMany = await sky(['launch', '-y', '-c', 'kx', '--infra', 'k8s/lab', '--gpus', 'H100:8', 'true']);
    assert.notEqual(tooMany.code, 0);
    assert.match(tooMany.stderr, /H100/);
    assert.equal(await objectsOf('kx'), 0);
    // 12 CPUs: no node has that many, refused at once.
    const huge = await sky(['launch', '-y', '-c', 'kh', '--infra', 'k8s/lab', '--cpus', '12', 'true']);
    assert.notEqual(huge.code, 0);
    assert.match(huge.stderr, /cpus/i);
    assert.equal(await objectsOf('kh'), 0);
    // 2 nodes of 7 CPUs: gpu-1 (8 CPUs) could hold one, nothing holds the other, so the scheduler
    // leaves a pod Pending (Unschedulable) past provision_timeout_seconds: no capacity.
    const busy = await sky(['launch', '-y', '-c', 'kp', '--infra', 'k8s/lab', '--num-nodes', '2', '--cpus', '7', 'true']);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /Insufficient cpu/);
    await waitFor('kp objects to be deleted', async () => ((await objectsOf('kp')) === 0 ? true : undefined), 30_000);
    await exits(['down', '-y', 'kg'], 0);
  });

  it('an image that cannot be pulled fails the launch naming the image, and leaves nothing behind', async () => {
    const r = await sky(['launch', '-y', '-c', 'kb', '--infra', 'k8s/lab', '--image-id', `docker:${UNPULLABLE}`, 'true']);
    assert.notEqual(r.code, 0, showRun(['launch'], r));
    assert.ok(r.stderr.includes(UNPULLABLE), r.stderr);
    await waitFor('kb objects to be deleted', async () => ((await objectsOf('kb')) === 0 ? true : undefined), 30_000);
    const bad = await sky(['launch', '-y', '-c', 'kb2', '--infra', 'k8s/lab', '--image-id', 'ami-0123', 'true']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /needs a container image .*docker:<image>/);
  });

  it('a pod evicted under a running job: the job ends FAILED with the eviction as its reason', async () => {
    const id = jobIdOf(await exits(['exec', 'kc', '-d', 'sleep 600'], 0));
    await waitFor(`job ${id} RUNNING`, async () => ((await jobOf('kc', id))?.status === 'RUNNING' ? true : undefined));
    const pods = await podsOf('kc');
    await kubelet.evict(NS, pods[0]!.metadata.name, 'The node was low on resource: memory.');
    const job = await waitFor(`job ${id} FAILED`, async () => {
      const j = await jobOf('kc', id);
      return j?.status === 'FAILED' ? j : undefined;
    });
    assert.match(job.reason ?? '', /lost: evicted: The node was low on resource: memory\./);
  });

  it('sky down cascades: no pod, secret, config map or service of the cluster is left', async () => {
    assert.ok((await objectsOf('kc')) > 0);
    await exits(['down', '-y', 'kc'], 0);
    await waitFor('kc objects to be deleted', async () => ((await objectsOf('kc')) === 0 ? true : undefined), 30_000);
    assert.doesNotMatch((await exits(['status'], 0)).stdout, /^kc /m);
  });

  it('a managed job whose pod is evicted recovers on a new pod and goes on running', async () => {
    const r = await exits(['jobs', 'launch', '-y', '-d', '-n', 'train', '--infra', 'k8s/lab', 'sleep 600'], 0);
    const id = Number(/Managed job ID: (\d+)/.exec(r.stderr)?.[1] ?? assert.fail(r.stderr));
    const queue = async (): Promise<{ status: string; recoveries?: number } | undefined> => {
      const out = JSON.parse((await exits(['jobs', 'queue', '-o', 'json'], 0)).stdout) as { jobs: Array<{ id: number; status: string; tasks: Array<{ recoveries?: number }> }> };
      const job = out.jobs.find((j) => j.id === id);
      return job === undefined ? undefined : { status: job.status, recoveries: job.tasks[0]?.recoveries };
    };
    await waitFor('the managed job RUNNING', async () => ((await queue())?.status === 'RUNNING' ? true : undefined));
    const first = await waitFor('its pod', async () => {
      const list = await cp.api.get<PodList>(`/api/v1/namespaces/${NS}/pods`);
      return list.items.find((p) => p.metadata.labels?.['sky.dev/cluster']?.startsWith('sky-jobs-') && p.status.phase === 'Running');
    });
    await kubelet.evict(NS, first.metadata.name, 'The node was low on resource: memory.');
    await waitFor('a recovery to be counted and the job RUNNING again', async () => {
      const q = await queue();
      return q?.status === 'RUNNING' && (q.recoveries ?? 0) >= 1 ? true : undefined;
    }, 120_000);
    const again = await waitFor('a new pod', async () => {
      const list = await cp.api.get<PodList>(`/api/v1/namespaces/${NS}/pods`);
      return list.items.find((p) => p.metadata.labels?.['sky.dev/cluster']?.startsWith('sky-jobs-') && p.status.phase === 'Running' && p.metadata.name !== first.metadata.name);
    });
    assert.notEqual(again.metadata.name, first.metadata.name);
    await exits(['jobs', 'cancel', '-y', String(id)], 0);
  });
});
