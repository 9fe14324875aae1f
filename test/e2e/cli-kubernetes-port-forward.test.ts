// End to end on Kubernetes with `reach: port-forward`: the built `sky` CLI against a real daemon
// whose `k8s` driver reaches its pods only through the REAL API server's port-forward (proxied to
// the harness's kubelet streaming endpoint). The harness isolates the pod network: nothing on this
// machine but the node addresses can connect to a pod IP (a direct connection is refused with
// EACCES), so every SSH connection of the daemon — launch, exec, logs, the SSH gateway — goes
// through the tunnel; the API server's audit log shows the daemon's port-forward requests.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { runSky, showRun, type CliResult } from '../helpers/sky-cli.js';
import { clientRuns } from '../helpers/client-runs.js';
import { kubeBinaries, startFakeKubelet, startKubeControlPlane, type FakeKubelet, type KubeControlPlane } from '../helpers/kube/index.js';

const NS = 'sky-e2e-pf';
const bins = kubeBinaries();
const { children, run } = clientRuns();

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

interface PodList {
  items: Array<{ metadata: { name: string; labels?: Record<string, string> }; status: { podIP?: string; phase?: string } }>;
}

async function podsOf(cluster: string): Promise<PodList['items']> {
  const list = await cp.api.get<PodList>(`/api/v1/namespaces/${NS}/pods`);
  return list.items.filter((p) => p.metadata.labels?.['sky.dev/cluster'] === cluster).sort((a, b) => Number(a.metadata.labels?.['sky.dev/rank']) - Number(b.metadata.labels?.['sky.dev/rank']));
}

/** The daemon's port-forward requests (its kubeconfig user is `admin`; nothing else here port-forwards). */
const portForwards = (since?: number): number => cp.auditCount({ user: 'admin', resource: 'pods', subresource: 'portforward', namespace: NS, ...(since === undefined ? {} : { since }) });

describe('sky on Kubernetes through the API server\'s port-forward (pod network unreachable)', { skip: bins.skip ?? false, timeout: 600_000 }, () => {
  before(async () => {
    for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
    dir = await mkdtemp(join(tmpdir(), 'sky-e2e-k8s-pf-'));
    cp = await startKubeControlPlane(bins.binDir ? { binDir: bins.binDir } : {});
    kubelet = await startFakeKubelet(cp, { nodes: [{ name: 'pf-1', cpus: 4, memoryGi: 16 }], isolatePods: true });
    await cp.createNamespace(NS);
    const kubeconfig = join(dir, 'kubeconfig');
    cp.kubeconfig(kubeconfig, { contexts: [{ name: 'lab', user: 'admin' }], current: 'lab' });
    const config = ['drivers:', '  k8s:', `    kubeconfig: ${kubeconfig}`, `    namespace: ${NS}`, '    reach: port-forward', '    provision_timeout_seconds: 30', ''].join('\n');
    daemon = await startDaemon({ config });
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await sky(['down', '-a', '-y']).catch(() => undefined);
    await daemon?.stop();
    await killAllDaemons();
    await kubelet?.stop();
    await cp?.stop();
    if (daemon) removeHome(daemon.home);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('sky check k8s asks for pods/portforward and finds it granted', async () => {
    const r = await exits(['check', 'k8s'], 0);
    assert.match(r.stdout, /lab: reachable \(namespace sky-e2e-pf\)/);
    assert.doesNotMatch(r.stdout, /missing permissions/);
  });

  it('launch, exec, logs and ssh work on 2 pods the daemon reaches only through port-forward; down removes them', async () => {
    const before = cp.auditMark();
    const r = await exits(['launch', '-y', '-c', 'pf', '--infra', 'k8s/lab', '--num-nodes', '2', '--cpus', '1', 'echo "rank=$SKYPILOT_NODE_RANK host=$(hostname)"'], 0);
    const pods = await podsOf('pf');
    assert.equal(pods.length, 2);
    for (const [rank, pod] of pods.entries()) assert.match(r.stdout, new RegExp(`rank=${rank} host=${pod.metadata.name}`));
    // The pod IPs cannot be reached from this machine except through the kubelet.
    const direct = await new Promise<string>((resolve) => {
      const socket = connect({ host: pods[0]!.status.podIP ?? '', port: 22 }, () => resolve('connected'));
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.equal(direct, 'EACCES');
    // Readiness (one per pod) and the daemon's own SSH connections all went through the API server.
    assert.ok(portForwards(before) >= 4, `port-forward requests: ${portForwards(before)}`);
    assert.ok(kubelet.portForwards() >= 4);

    const mark = cp.auditMark();
    const e = await exits(['exec', 'pf', 'echo exec-on-$(hostname)'], 0);
    assert.match(e.stdout, new RegExp(`exec-on-${pods[0]!.metadata.name}`));
    const logs = await exits(['logs', 'pf', '1', '--no-follow'], 0);
    assert.match(logs.stdout, /rank=1 host=/);
    // Pooled connections: commands reuse the tunnels opened at launch (no request per command).
    assert.ok(portForwards(mark) <= 2, `port-forward requests for exec and logs: ${portForwards(mark)}`);

    // The SSH gateway opens a connection of its own per session: through the tunnel too.
    const gw = cp.auditMark();
    const env = { HOME: daemon.home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url };
    const ssh = await run('ssh', ['-F', join(daemon.home, '.sky', 'generated', 'ssh', 'pf'), '-o', 'BatchMode=yes', 'pf-worker1', 'echo gateway-on-$(hostname)'], env);
    assert.equal(ssh.code, 0, `ssh exited ${ssh.code}\n${ssh.stdout}\n${ssh.stderr}`);
    assert.match(ssh.stdout, new RegExp(`gateway-on-${pods[1]!.metadata.name}`));
    assert.ok(portForwards(gw) >= 1);

    await exits(['down', '-y', 'pf'], 0);
    const deadline = Date.now() + 30_000;
    while ((await podsOf('pf')).length > 0) {
      assert.ok(Date.now() < deadline, 'the pods of pf are still there 30 s after sky down');
      await new Promise((done) => setTimeout(done, 250));
    }
    assert.doesNotMatch((await exits(['status'], 0)).stdout, /^pf /m);
  });
});
