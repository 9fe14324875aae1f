// sky-driver-kubernetes with `reach: port-forward` against a real control plane: the REAL
// kube-apiserver authorizes `pods/portforward` (RBAC, audit log) and proxies the WebSocket to the
// node's kubelet endpoint (the harness's, fake-kubelet.ts), which forwards to the pod's sshd.
// provision (readiness through the tunnel) → SSH over openTunnel with the pinned host key → a
// command → a port nothing listens on → a user without RBAC → evict → terminate.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { DriverCallOptions, PluginLogger, SshReach } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';
import plugin, { validateKubeConfig, type KubernetesDriver } from 'sky-driver-kubernetes';
import { kubeBinaries, startFakeKubelet, startKubeControlPlane, type FakeKubelet, type KubeControlPlane } from '../helpers/kube/index.js';
import { sshRunPinned } from '../helpers/kube/ssh-pinned.js';

const NS = 'sky-pf';
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
  const checked = validateKubeConfig({ kubeconfig, namespace: NS, reach: 'port-forward', ...raw });
  if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
  const d = (await plugin.init({ id: 'k8s', config: checked.value, logger: quiet, dataDir: join(dir, 'data'), signal: new AbortController().signal })) as KubernetesDriver;
  drivers.push(d);
  return d;
}

const sshRun = (sock: Duplex, reach: SshReach, identity: string, command: string): Promise<string> => sshRunPinned(reach, identity, command, sock);

/** The first error the stream is destroyed with, or of its end. */
function streamFailure(stream: Duplex): Promise<Error> {
  return new Promise((resolve) => {
    stream.on('error', resolve);
    stream.on('data', () => undefined);
    stream.on('end', () => resolve(new Error('ended without an error')));
  });
}

describe('Kubernetes driver, reach: port-forward, on a real control plane', { skip: bins.skip ?? false }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sky-kube-pf-'));
    cp = await startKubeControlPlane(bins.binDir ? { binDir: bins.binDir } : {});
    // Pods are reachable from the node addresses only: this process cannot connect to a pod IP.
    kubelet = await startFakeKubelet(cp, { nodes: [{ name: 'node-pf', cpus: 4, memoryGi: 16 }], isolatePods: true });
    await cp.createNamespace(NS);
    kubeconfig = join(dir, 'kubeconfig');
    cp.kubeconfig(kubeconfig, { contexts: [{ name: 'test', user: 'admin' }, { name: 'limited', user: 'limited' }], current: 'test' });
  });

  after(async () => {
    for (const d of drivers) await d.close();
    await kubelet?.stop();
    await cp?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('provisions, reaches sshd through the API server with the pinned host key, and terminates', async () => {
    const d = await driver({});
    const o = opts();
    const mark = cp.auditMark();
    const cluster = await d.provision(
      { clusterName: 'pf', clusterId: 'cid-pf', owner: 'u-1', workspace: 'default', numNodes: 2, resources: { cpus: { min: 1, orMore: false }, memoryGb: { min: 1, orMore: false } } },
      o,
    );
    assert.ok(o.lines.some((l) => /sshd answers through the API server's port-forward on 2 pod\(s\)/.test(l)), o.lines.join('\n'));
    // Readiness went through the API server: port-forward requests by the driver's user, proxied to the kubelet.
    assert.ok(cp.auditCount({ since: mark, user: 'admin', resource: 'pods', subresource: 'portforward', namespace: NS }) >= 2);
    const pods = (cluster.state as { pods: string[]; reach: string }).pods;
    assert.equal((cluster.state as { reach: string }).reach, 'port-forward');
    for (const [rank, node] of cluster.nodes.entries()) {
      assert.ok(node.reach.kind === 'ssh');
      if (node.reach.kind !== 'ssh') continue;
      const sshPort = node.reach.port;
      assert.equal(node.reach.tunnel, `test/${NS}/${pods[rank]}`);
      assert.equal(node.reach.host, node.address);
      // No route to the pod IP from here: only the tunnel reaches its sshd.
      const direct = await new Promise<string>((resolve) => {
        const socket = connect({ host: node.address, port: sshPort }, () => resolve('connected'));
        socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      assert.equal(direct, 'EACCES');
      const identity = await readFile(node.reach.identityFile ?? '', 'utf8');
      const forwards = kubelet.portForwards();
      const before = cp.auditMark();
      const sock = await d.openTunnel(node.reach.tunnel ?? '', node.reach.port, { signal: AbortSignal.timeout(10_000) });
      const out = await sshRun(sock, node.reach, identity, 'echo hello-through-the-apiserver; hostname');
      assert.match(out, new RegExp(`hello-through-the-apiserver\\n${pods[rank]}`));
      assert.equal(kubelet.portForwards(), forwards + 1);
      // The API server audits a port-forward when its stream ends: one of provision's readiness
      // checks may be logged after the mark, so look for this tunnel's pod among what was logged.
      const events = cp.auditEvents({ since: before, user: 'admin', resource: 'pods', subresource: 'portforward' });
      assert.ok(events.some((e) => e.objectRef?.name === pods[rank]), JSON.stringify(events.map((e) => e.objectRef?.name)));
      // Another host key is refused over the tunnel too.
      const other = await d.openTunnel(node.reach.tunnel ?? '', node.reach.port, { signal: AbortSignal.timeout(10_000) });
      await assert.rejects(sshRun(other, { ...node.reach, hostKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAf+DFWRun2Kf2pJxaXqOqlByJzv6doArTJYX+CSVWUG'] }, identity, 'true'));
    }

    // A port nothing listens on: the kubelet says so on the error channel.
    const closed = await d.openTunnel(cluster.nodes[0]!.reach.kind === 'ssh' ? (cluster.nodes[0]!.reach.tunnel ?? '') : '', 2, { signal: AbortSignal.timeout(10_000) });
    const failure = await streamFailure(closed);
    assert.ok(failure instanceof SkyError && failure.code === 'NODE_UNREACHABLE', String(failure));
    assert.match(failure.message, /could not forward to port 2 of pod .*ECONNREFUSED/);

    // Evicted: the pod's sshd is gone, status says so, and a tunnel to it fails.
    await kubelet.evict(NS, pods[1] ?? '', 'The node was low on resource: memory.');
    let report = await d.status(cluster, opts());
    for (let i = 0; i < 100 && report[1]?.status !== 'TERMINATED'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      report = await d.status(cluster, opts());
    }
    assert.deepEqual(report.map((r) => r.status), ['UP', 'TERMINATED']);
    const toEvicted = await d
      .openTunnel(`test/${NS}/${pods[1]}`, 22, { signal: AbortSignal.timeout(10_000) })
      .then(streamFailure, (e: unknown) => e as Error);
    assert.ok(toEvicted instanceof SkyError && toEvicted.code === 'NODE_UNREACHABLE', String(toEvicted));

    await d.terminate(cluster, opts());
    const left = await cp.api.get<{ items: unknown[] }>(`/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent('sky.dev/cluster-id=cid-pf')}`);
    assert.equal(left.items.length, 0);
  });

  it('refuses a tunnel for a user RBAC does not allow to port-forward, and a malformed or unallowed id', async () => {
    const d = await driver({ allowed_contexts: ['test', 'limited'] });
    const err = await d.openTunnel(`limited/${NS}/any-pod`, 22, { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => e);
    assert.ok(err instanceof SkyError && err.code === 'NODE_UNREACHABLE', String(err));
    assert.match(err.message, /API server refused the port-forward to port 22 of pod any-pod.*403/);
    await assert.rejects(d.openTunnel('no-slashes', 22, { signal: AbortSignal.timeout(1000) }), /not a Kubernetes tunnel id/);
    await assert.rejects(d.openTunnel(`other/${NS}/p`, 22, { signal: AbortSignal.timeout(1000) }), /context other is not in/);
  });

  it('lists both port-forward verbs among the permissions sky check asks about', async () => {
    const d = await driver({ allowed_contexts: ['test', 'limited'] });
    const checks = await d.checkTargets(undefined, opts());
    const limited = checks.find((c) => c.name === 'limited');
    assert.ok(limited !== undefined);
    for (const verb of ['create', 'get']) assert.ok(limited.missingPermissions.includes(`${verb} pods/portforward in namespace ${NS}`), limited.missingPermissions.join('\n'));
    assert.deepEqual(checks.find((c) => c.name === 'test')?.missingPermissions, []);
  });
});
