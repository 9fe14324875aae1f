// sky-driver-kubernetes against a real control plane (etcd, apiserver, scheduler, controller
// manager with the garbage collector) with the harness playing the kubelet: provision 2 pods →
// SSH into each pinning the returned host key → UP → evict one → TERMINATED with the reason →
// terminate → pods, secrets, configmap gone; Unschedulable → NO_CAPACITY; an unpullable image →
// an error naming it; checkTargets with a user lacking RBAC lists what is missing; status makes no
// API request (watch cache).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DriverCallOptions, PluginLogger, ProvisionedCluster, SshReach } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';
import plugin, { validateKubeConfig, type KubernetesDriver } from 'sky-driver-kubernetes';
import { kubeBinaries, startFakeKubelet, startKubeControlPlane, type FakeKubelet, type KubeControlPlane } from '../helpers/kube/index.js';
import { sshRunPinned } from '../helpers/kube/ssh-pinned.js';
import { MemoryDocumentRepository } from '@sky/plugin-api/testing';
import { SecretBox } from '../../core/daemon/src/secrets/secret-box.js';
import { StoreDocuments } from '../../core/daemon/src/plugins/store-documents.js';
import { readIdentityDocument } from '../../core/daemon/src/plugins/sealed-documents.js';

const NS = 'sky-driver';
const UNPULLABLE = 'registry.invalid/sky/nope:1';
const bins = kubeBinaries();
const quiet: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

let cp: KubeControlPlane;
let kubelet: FakeKubelet;
let dir: string;
let kubeconfig: string;
const drivers: KubernetesDriver[] = [];

function opts(signal: AbortSignal = new AbortController().signal): DriverCallOptions & { lines: string[] } {
  const lines: string[] = [];
  return { signal, log: (l) => lines.push(l), lines };
}

async function driver(raw: Record<string, unknown>): Promise<KubernetesDriver> {
  const checked = validateKubeConfig({ kubeconfig, namespace: NS, ...raw });
  if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
  const d = (await plugin.init({ id: 'k8s', config: checked.value, logger: quiet, dataDir: join(dir, 'data'), signal: new AbortController().signal })) as KubernetesDriver;
  drivers.push(d);
  return d;
}

const sshRun = (reach: SshReach, identity: string, command: string): Promise<string> => sshRunPinned(reach, identity, command);

async function objects(clusterId: string): Promise<Record<string, number>> {
  const count = async (resource: string): Promise<number> => {
    const list = await cp.api.get<{ items: unknown[] }>(`/api/v1/namespaces/${NS}/${resource}?labelSelector=${encodeURIComponent(`sky.dev/cluster-id=${clusterId}`)}`);
    return list.items.length;
  };
  return { pods: await count('pods'), secrets: await count('secrets'), configmaps: await count('configmaps'), services: await count('services') };
}

describe('Kubernetes driver on a real control plane', { skip: bins.skip ?? false }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sky-kube-driver-'));
    cp = await startKubeControlPlane(bins.binDir ? { binDir: bins.binDir } : {});
    kubelet = await startFakeKubelet(cp, {
      nodes: [
        { name: 'node-cpu', cpus: 4, memoryGi: 16 },
        { name: 'node-gpu', cpus: 8, memoryGi: 64, gpus: { count: 2, product: 'H100' } },
      ],
      unpullableImages: [UNPULLABLE],
    });
    await cp.createNamespace(NS);
    kubeconfig = join(dir, 'kubeconfig');
    cp.kubeconfig(kubeconfig, { contexts: [{ name: 'test', user: 'admin' }, { name: 'limited', user: 'limited' }], current: 'test', extraUnreachable: 'gone' });
  });

  after(async () => {
    for (const d of drivers) await d.close();
    await kubelet?.stop();
    await cp?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('provisions pods reached over SSH with pinned host keys, reports eviction, and terminates with nothing left', async () => {
    const d = await driver({});
    const o = opts();
    const cluster: ProvisionedCluster = await d.provision(
      { clusterName: 'two nodes', clusterId: 'cid-two', owner: 'u-1', workspace: 'default', numNodes: 2, resources: { cpus: { min: 1, orMore: false }, memoryGb: { min: 1, orMore: false }, ports: [8080] } },
      o,
    );
    assert.equal(cluster.nodes.length, 2);
    assert.ok(o.lines.some((l) => /created 2 pod\(s\) in namespace sky-driver of context test/.test(l)), o.lines.join('\n'));
    for (const node of cluster.nodes) {
      assert.equal(node.reach.kind, 'ssh');
      if (node.reach.kind !== 'ssh') continue;
      assert.equal(node.reach.host, node.address);
      assert.equal(node.reach.hostKeys?.length, 1);
      assert.match(node.id, /^test\/sky-driver\/sky-two-nodes-[0-9a-f]{8}-[01]$/);
      const identity = await readFile(node.reach.identityFile ?? '', 'utf8');
      const out = await sshRun(node.reach, identity, 'echo hello-from-pod');
      assert.match(out, /hello-from-pod/);
      // A different host key is refused.
      await assert.rejects(sshRun({ ...node.reach, hostKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAf+DFWRun2Kf2pJxaXqOqlByJzv6doArTJYX+CSVWUG'] }, identity, 'true'));
    }
    assert.deepEqual(
      (await d.status(cluster, opts())).map((s) => s.status),
      ['UP', 'UP'],
    );
    // status answers from the watch cache: no request of the driver's user.
    const mark = cp.auditMark();
    for (let i = 0; i < 20; i++) await d.status(cluster, opts());
    assert.equal(cp.auditCount({ since: mark, user: 'admin', verb: 'list' }) + cp.auditCount({ since: mark, user: 'admin', verb: 'get' }), 0);

    const victim = (cluster.state as { pods: string[] }).pods[1] ?? '';
    await kubelet.evict(NS, victim, 'The node was low on resource: memory.');
    let report = await d.status(cluster, opts());
    for (let i = 0; i < 100 && report[1]?.status !== 'TERMINATED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      report = await d.status(cluster, opts());
    }
    assert.equal(report[0]?.status, 'UP');
    assert.equal(report[1]?.status, 'TERMINATED');
    assert.match(report[1]?.reason ?? '', /^evicted: The node was low on resource: memory\./);

    await d.terminate(cluster, opts());
    assert.deepEqual(await objects('cid-two'), { pods: 0, secrets: 0, configmaps: 0, services: 0 });
    await d.terminate(cluster, opts()); // idempotent
    const gone = await d.status(cluster, opts());
    assert.deepEqual(gone.map((s) => s.status), ['TERMINATED', 'TERMINATED']);
  });

  it('on a shared store keeps the cluster key as a sealed document every replica reads, not as a file, and forgets it at terminate', async () => {
    const repository = new MemoryDocumentRepository(() => undefined);
    const secrets = new SecretBox({ keyFile: join(dir, 'unused-key') });
    secrets.useKey(randomBytes(32));
    const checked = validateKubeConfig({ kubeconfig, namespace: NS });
    if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
    const dataDir = join(dir, 'data-shared');
    const documents = new StoreDocuments(repository, 'k8s', secrets);
    const d = (await plugin.init({ id: 'k8s', config: checked.value, logger: quiet, dataDir, signal: new AbortController().signal, documents })) as KubernetesDriver;
    drivers.push(d);
    const cluster = await d.provision(
      { clusterName: 'shared', clusterId: 'cid-shared', owner: 'u-1', workspace: 'default', numNodes: 1, resources: { cpus: { min: 1, orMore: false }, memoryGb: { min: 1, orMore: false } } },
      opts(),
    );
    const node = cluster.nodes[0]!;
    assert.ok(node.reach.kind === 'ssh');
    if (node.reach.kind !== 'ssh') return;
    assert.equal(node.reach.identityFile, undefined);
    assert.equal(node.reach.identityDocument, 'key.cid-shared');
    assert.ok(!existsSync(join(dataDir, 'keys')), 'no key file');
    // What any replica's daemon reads to connect (with the same secrets key).
    const identity = (await readIdentityDocument(repository, secrets, 'k8s', 'key.cid-shared')).toString();
    assert.match(await sshRun(node.reach, identity, 'echo hello-with-the-stored-key'), /hello-with-the-stored-key/);
    await d.terminate(cluster, opts());
    await assert.rejects(readIdentityDocument(repository, secrets, 'k8s', 'key.cid-shared'), /holds no privateKey/);
    assert.deepEqual(await objects('cid-shared'), { pods: 0, secrets: 0, configmaps: 0, services: 0 });
  });

  it('answers NO_CAPACITY for a pod that stays Unschedulable, naming what is missing, and leaves nothing', async () => {
    const d = await driver({ provision_timeout_seconds: 2 });
    const err = await d
      .provision({ clusterName: 'big', clusterId: 'cid-big', owner: 'u-1', numNodes: 3, resources: { cpus: { min: 6, orMore: false } } }, opts())
      .then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SkyError, String(err));
    assert.equal(err.code, 'NO_CAPACITY');
    assert.match(err.message, /context test/);
    assert.match(err.message, /Insufficient cpu/);
    assert.deepEqual(await objects('cid-big'), { pods: 0, secrets: 0, configmaps: 0, services: 0 });
  });

  it('answers NO_CAPACITY at once for what no node has, and feasible says why', async () => {
    const d = await driver({});
    assert.match((await d.feasible({ numNodes: 1, resources: { accelerators: [{ name: 'A100', count: 1 }] } }, opts())).join(), /A100:1.*H100:2/);
    assert.deepEqual(await d.feasible({ numNodes: 1, resources: { accelerators: [{ name: 'H100', count: 2 }] } }, opts()), []);
    const err = await d.provision({ clusterName: 'huge', clusterId: 'cid-huge', owner: 'u-1', numNodes: 1, resources: { cpus: { min: 64, orMore: false } } }, opts()).catch((e: unknown) => e);
    assert.ok(err instanceof SkyError && err.code === 'NO_CAPACITY' && /64 CPUs/.test(err.message), String(err));
  });

  it('fails naming the image when it cannot be pulled', async () => {
    const d = await driver({});
    const err = await d
      .provision({ clusterName: 'bad image', clusterId: 'cid-img', owner: 'u-1', numNodes: 1, resources: { image: UNPULLABLE } }, opts())
      .catch((e: unknown) => e);
    assert.ok(err instanceof SkyError, String(err));
    assert.equal(err.code, 'DRIVER_FAILED');
    assert.match(err.message, new RegExp(`cannot pull image ${UNPULLABLE.replace(/[.]/g, '\\.')}`));
    assert.deepEqual(await objects('cid-img'), { pods: 0, secrets: 0, configmaps: 0, services: 0 });
  });

  it('checks each context: reachability, missing permissions, nodes with GPUs', async () => {
    const d = await driver({ allowed_contexts: ['test', 'limited', 'gone'] });
    const checks = await d.checkTargets(undefined, opts());
    const byName = new Map(checks.map((c) => [c.name, c]));
    const test = byName.get('test');
    assert.ok(test !== undefined && test.reachable);
    assert.deepEqual(test.missingPermissions, []);
    assert.equal(test.scope, NS);
    assert.deepEqual(test.nodes.find((n) => n.name === 'node-gpu')?.gpus, [{ name: 'H100', total: 2, free: 2 }]);
    const limited = byName.get('limited');
    assert.ok(limited !== undefined && limited.reachable);
    assert.ok(limited.missingPermissions.includes(`create pods in namespace ${NS}`), limited.missingPermissions.join('\n'));
    // Cluster-wide reads are optional (namespace-scoped RBAC is usual): warnings, not missing permissions.
    assert.ok(!limited.missingPermissions.some((p) => /cluster-wide/.test(p)), limited.missingPermissions.join('\n'));
    assert.ok((limited.warnings ?? []).some((w) => /list nodes cluster-wide \(optional/.test(w)), (limited.warnings ?? []).join('\n'));
    const gone = byName.get('gone');
    assert.ok(gone !== undefined && !gone.reachable && /cannot reach/.test(gone.error ?? ''));
  });
});
