// sky-driver-ssh: allocation of whole pool hosts to clusters (probe, skip the unreachable, fit),
// NO_CAPACITY naming who holds which host, status/stop/start/terminate on SSH clusters, capacity
// from the last probes, the extensions (pools, check, sshTarget), passwords kept out of what is
// persisted, and the ledger shared between processes that never double-books a host.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DriverCallOptions, PluginLogger, ProvisionRequest, ResourceRequest } from '@sky/plugin-api';
import { PluginLoader } from '../../core/daemon/src/plugins/index.js';
import sshPlugin, { LEDGER_FILE, poolSources, SshDriver, validateSshConfig, type LedgerData, type SshDriverConfig } from 'sky-driver-ssh';
import { FakeSsh, type FakeHost } from 'sky-driver-ssh/testing';

const GB = 2 ** 20; // kB per GB
const A100 = 'NVIDIA A100-SXM4-80GB, 81920 MiB';
const quiet: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

interface Setup {
  dir: string;
  poolsFile: string;
  sshConfig: string;
  ssh: FakeSsh;
  driver: SshDriver;
  lines: string[];
  opts: (signal?: AbortSignal) => DriverCallOptions;
  make: () => SshDriver;
}

async function setup(pools: string, hosts: Record<string, FakeHost>, sshConfig = ''): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'sky-ssh-driver-'));
  const poolsFile = join(dir, 'ssh_node_pools.yaml');
  const sshConfigFile = join(dir, 'ssh_config');
  await writeFile(poolsFile, pools);
  await writeFile(sshConfigFile, sshConfig);
  const config = valid({ pools_file: poolsFile, ssh_config: sshConfigFile });
  const ssh = new FakeSsh(new Map(Object.entries(hosts)));
  const make = (): SshDriver => new SshDriver({ ssh, dataDir: join(dir, 'data'), sources: poolSources(config), lockTimeoutMs: 2000 });
  const lines: string[] = [];
  return {
    dir,
    poolsFile,
    sshConfig: sshConfigFile,
    ssh,
    driver: make(),
    lines,
    make,
    opts: (signal) => ({ signal: signal ?? new AbortController().signal, log: (l) => void lines.push(l) }),
  };
}

function request(name: string, numNodes: number, extra: Partial<ProvisionRequest> = {}): ProvisionRequest {
  return { clusterName: name, clusterId: `${name}-id`, owner: 'alice', numNodes, resources: {}, ...extra };
}

function valid(block: Record<string, unknown>): SshDriverConfig {
  const checked = validateSshConfig(block);
  if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
  return checked.value;
}

const up = (cpus: number, memGb: number, gpus?: string[]): FakeHost => ({ kind: 'host', cpus, memKb: memGb * GB, ...(gpus ? { gpus } : {}) });

async function ledgerOf(s: Setup): Promise<LedgerData> {
  return JSON.parse(await readFile(join(s.dir, 'data', LEDGER_FILE), 'utf8')) as LedgerData;
}

function code(expected: string, message?: RegExp | string) {
  return (error: unknown): true => {
    const e = error as { code?: string; message?: string };
    assert.equal(e.code, expected, `expected ${expected}, got ${String(e.code)}: ${e.message}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message !== undefined) assert.match(e.message ?? '', message);
    return true;
  };
}

const THREE = 'gpu-a:\n  user: sky\n  identity_file: /keys/sky\n  hosts: [10.0.0.1, 10.0.0.2, 10.0.0.3]\n';

if (process.env['SKY_DRIVER_SSH_CHILD'] === '1') {
  // One racer of the cross-process test: wait for "go", provision one node, print the outcome.
  const [dataDir, poolsFile, sshConfig, name] = process.argv.slice(2) as [string, string, string, string];
  const config = valid({ pools_file: poolsFile, ssh_config: sshConfig });
  const hosts = new Map<string, FakeHost>(Array.from({ length: 4 }, (_, i) => [`10.0.0.${i + 1}`, up(8, 32)]));
  const driver = new SshDriver({ ssh: new FakeSsh(hosts, 3), dataDir, sources: poolSources(config), lockTimeoutMs: 20_000 });
  console.log('ready');
  const lines = createInterface({ input: process.stdin });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  lines.close();
  try {
    const cluster = await driver.provision({ clusterName: name, clusterId: `${name}-id`, owner: name, numNodes: 1, resources: {} }, { signal: new AbortController().signal, log: () => {} });
    console.log(JSON.stringify({ ok: true, hosts: cluster.nodes.map((n) => n.reach.kind === 'ssh' && n.reach.host) }));
  } catch (error) {
    const e = error as { code?: string; message?: string };
    console.log(JSON.stringify({ ok: false, code: e.code, message: e.message }));
  }
} else {
  describe('driver-ssh: provisioning', () => {
    let s: Setup;
    afterEach(async () => {
      await rm(s.dir, { recursive: true, force: true });
    });

    it('allocates free hosts in pool order, probed once each, as nodes with ssh reach', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(16, 64, [A100, A100]), '10.0.0.3': up(8, 32) });
      const cluster = await s.driver.provision(request('train', 2), s.opts());
      assert.deepEqual(cluster.nodes, [
        { id: 'gpu-a/10.0.0.1', rank: 0, address: '10.0.0.1', reach: { kind: 'ssh', host: '10.0.0.1', port: 22, user: 'sky', identityFile: '/keys/sky' }, resources: { cpus: 8, memoryGb: 32, accelerators: [] } },
        {
          id: 'gpu-a/10.0.0.2',
          rank: 1,
          address: '10.0.0.2',
          reach: { kind: 'ssh', host: '10.0.0.2', port: 22, user: 'sky', identityFile: '/keys/sky' },
          resources: { cpus: 16, memoryGb: 64, accelerators: [{ name: 'A100-80GB', count: 2 }] },
        },
      ]);
      assert.deepEqual(cluster.state, { driver: 'ssh', version: 1, clusterId: 'train-id', pool: 'gpu-a' });
      const probed = s.ssh.calls.filter((c) => c.command.includes('nproc')).map((c) => c.host);
      assert.deepEqual(probed.slice(0, 2), ['10.0.0.1', '10.0.0.2'], 'the two hosts needed are probed first');
      assert.equal(new Set(probed).size, probed.length, 'no host is probed twice');
      assert.ok(s.lines.includes('allocated 10.0.0.1 (rank 0), 10.0.0.2 (rank 1) of pool gpu-a to train'), s.lines.join('\n'));
    });

    it('skips an unreachable host and one that refuses the key, and takes other free hosts', async () => {
      s = await setup('p:\n  hosts: [10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4]\n', {
        '10.0.0.1': { kind: 'refused' },
        '10.0.0.2': { kind: 'auth' },
        '10.0.0.3': up(4, 16),
        '10.0.0.4': up(4, 16),
      });
      const cluster = await s.driver.provision(request('c', 2), s.opts());
      assert.deepEqual(cluster.nodes.map((n) => n.address), ['10.0.0.3', '10.0.0.4']);
      assert.ok(s.lines.includes('skipping 10.0.0.1: unreachable (connection refused)'), s.lines.join('\n'));
      assert.ok(s.lines.some((l) => l.startsWith('skipping 10.0.0.2: unreachable (authentication failed: check the identity file')), s.lines.join('\n'));
      const ledger = await ledgerOf(s);
      assert.equal(ledger.probes['10.0.0.1:22']?.error, 'connection refused', 'the reason is recorded with the host');
      assert.equal(ledger.probes['10.0.0.2:22']?.reachable, true);
      assert.equal(ledger.probes['10.0.0.2:22']?.authOk, false);
    });

    it('gives every node what the request asks: hosts too small are skipped, exact amounts are reported as asked', async () => {
      s = await setup('p:\n  hosts: [small, big, gpu]\n', { small: up(2, 8), big: up(32, 128), gpu: up(32, 256, [A100, A100, A100, A100]) });
      const want: ResourceRequest = { cpus: { min: 8, orMore: false }, memoryGb: { min: 64, orMore: true }, accelerators: [{ name: 'H100', count: 1 }, { name: 'A100-80GB', count: 2 }] };
      const cluster = await s.driver.provision(request('fit', 1, { resources: want }), s.opts());
      assert.deepEqual(cluster.nodes.map((n) => [n.address, n.resources]), [['gpu', { cpus: 8, memoryGb: 256, accelerators: [{ name: 'A100-80GB', count: 2 }] }]]);
      assert.ok(s.lines.includes('skipping small: too small (cpus: has 2, requested 8; memory: has 8 GB, requested 64+ GB; accelerators: has no GPUs, requested H100:1 or A100-80GB:2)'), s.lines.join('\n'));
      assert.ok(s.lines.includes('skipping big: too small (accelerators: has no GPUs, requested H100:1 or A100-80GB:2)'), s.lines.join('\n'));
    });

    it('refuses a pool exhausted by two users with NO_CAPACITY naming who holds which host and why the rest cannot be used', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': { kind: 'refused' } });
      await s.driver.provision(request('train', 1, { owner: 'alice' }), s.opts());
      await s.driver.provision(request('eval', 1, { owner: 'bob' }), s.opts());
      const before = await ledgerOf(s);
      await assert.rejects(
        s.driver.provision(request('big', 2, { owner: 'carol' }), s.opts()),
        code(
          'NO_CAPACITY',
          'ssh driver: cannot provision big: pool gpu-a has 3 hosts: 10.0.0.1 held by alice (cluster train), 10.0.0.2 held by bob (cluster eval), ' +
            '10.0.0.3 unreachable (connection refused); requested 2 nodes; free: 0 of 3 hosts (0 CPUs, 0 GB memory)',
        ),
      );
      assert.deepEqual(Object.keys((await ledgerOf(s)).clusters).sort(), Object.keys(before.clusters).sort(), 'nothing was allocated');
    });

    it('refuses when the hosts left are too few, allocating none of them', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': up(8, 32) });
      await s.driver.provision(request('train', 2), s.opts());
      await assert.rejects(
        s.driver.provision(request('more', 2, { owner: 'bob', resources: { cpus: { min: 4, orMore: true } } }), s.opts()),
        code('NO_CAPACITY', /10\.0\.0\.3 free; requested 2 nodes × 4\+ CPUs; free: 1 of 3 hosts \(8 CPUs, 32 GB memory\)$/),
      );
      assert.deepEqual(Object.keys((await ledgerOf(s)).clusters), ['train-id']);
    });

    it('is idempotent per clusterId and keeps clusters apart', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': up(8, 32) });
      const first = await s.driver.provision(request('a', 1), s.opts());
      const calls = s.ssh.calls.length;
      const again = await s.driver.provision(request('a', 1), s.opts());
      assert.deepEqual(again, first);
      assert.equal(s.ssh.calls.length, calls, 'a repeated provision probes nothing');
      const other = await s.driver.provision(request('b', 2), s.opts());
      assert.deepEqual(other.nodes.map((n) => n.address), ['10.0.0.2', '10.0.0.3']);
    });

    it('holds a host once even when two pools list it', async () => {
      s = await setup('one:\n  hosts: [10.0.0.1]\ntwo:\n  hosts: [{ip: 10.0.0.1}, 10.0.0.2]\n', { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32) });
      await s.driver.provision(request('a', 1, { infra: 'one' }), s.opts());
      const b = await s.driver.provision(request('b', 1, { infra: 'two' }), s.opts());
      assert.equal(b.nodes[0]?.address, '10.0.0.2');
      assert.equal(b.nodes[0]?.id, 'two/10.0.0.2');
    });

    it('needs the pool named when there are several, and names the pools when it is wrong', async () => {
      s = await setup('gpu-a:\n  hosts: [10.0.0.1]\ncpu:\n  hosts: [10.0.0.2]\n', { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32) });
      await assert.rejects(s.driver.provision(request('a', 1), s.opts()), code('VALIDATION_FAILED', 'ssh driver: 2 SSH node pools exist (gpu-a, cpu); name one with --infra ssh/<pool>'));
      await assert.rejects(s.driver.provision(request('a', 1, { infra: 'gpu-b' }), s.opts()), code('VALIDATION_FAILED', 'ssh driver: no SSH node pool named "gpu-b"; the pools are gpu-a, cpu'));
      const ok = await s.driver.provision(request('a', 1, { infra: 'cpu' }), s.opts());
      assert.equal(ok.nodes[0]?.address, '10.0.0.2');
    });

    it('reports a broken pools file with where it is broken, and no pools at all as no capacity', async () => {
      s = await setup('gpu-a:\n  hosts:\n    - {ip: 10.0.0.1, prot: 22}\n', {});
      await assert.rejects(
        s.driver.provision(request('a', 1), s.opts()),
        code('CONFIG_INVALID', `ssh driver: the SSH node pools are invalid: ${s.poolsFile}:3:22: pool gpu-a: hosts[0].prot: unknown key; a host takes ip, user, identity_file, password, port`),
      );
      await writeFile(s.poolsFile, '# none yet\n');
      await assert.rejects(s.driver.provision(request('a', 1), s.opts()), code('NO_CAPACITY', /no SSH node pools are defined .*free: 0 hosts$/));
    });

    it('refuses spot requests: pool hosts are never spot capacity', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32) });
      await assert.rejects(s.driver.provision(request('a', 1, { resources: { useSpot: true } }), s.opts()), code('NO_CAPACITY', /no spot capacity/));
    });

    it('checks disk_size against the free space in the home directory', async () => {
      s = await setup('p:\n  hosts: [full, roomy]\n', { full: { kind: 'host', cpus: 4, memKb: 16 * GB, diskKb: 2 * GB }, roomy: { kind: 'host', cpus: 4, memKb: 16 * GB, diskKb: 400 * GB } });
      const cluster = await s.driver.provision(request('d', 1, { resources: { diskGb: 100 } }), s.opts());
      assert.equal(cluster.nodes[0]?.address, 'roomy');
      assert.ok(s.lines.includes('skipping full: too small (disk: 2 GB free in the home directory, requested 100 GB)'), s.lines.join('\n'));
    });

    it('stops at once when aborted, holding nothing', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': up(8, 32) });
      const controller = new AbortController();
      const running = s.driver.provision(request('a', 2), s.opts(controller.signal));
      setImmediate(() => controller.abort(new Error('deadline')));
      await assert.rejects(running, code('CANCELLED'));
      const ledger = await ledgerOf(s).catch(() => ({ clusters: {} }) as LedgerData);
      assert.deepEqual(ledger.clusters, {});
    });

    it('reaches ssh config aliases through their jump host and port', async () => {
      const sshConfig = 'Host node*\n  User ops\n  ProxyJump gate\nHost node1\n  HostName 10.9.0.1\n  Port 2201\nHost gate\n  HostName 192.0.2.1\n  User jump\n';
      s = await setup('rack:\n  identity_file: ~/.ssh/id_rack\n  hosts: [node1]\n', { '10.9.0.1': up(8, 32) }, sshConfig);
      const cluster = await s.driver.provision(request('j', 1), s.opts());
      const reach = cluster.nodes[0]?.reach;
      assert.ok(reach?.kind === 'ssh');
      assert.deepEqual({ ...reach, identityFile: reach.identityFile?.endsWith('/.ssh/id_rack') }, {
        kind: 'ssh',
        host: '10.9.0.1',
        port: 2201,
        user: 'ops',
        identityFile: true,
        proxyJump: 'jump@192.0.2.1:22',
      });
      assert.equal(cluster.nodes[0]?.id, 'rack/node1');
      assert.equal(s.ssh.calls[0]?.proxyJump, 'jump@192.0.2.1:22');
    });
  });

  describe('driver-ssh: passwords', () => {
    let s: Setup;
    afterEach(async () => {
      await rm(s.dir, { recursive: true, force: true });
    });

    it('uses a pool password to connect but never persists or reports it; sshTarget gives it back to the daemon', async () => {
      s = await setup('legacy:\n  user: admin\n  password: Tr0ub4dor\n  hosts: [10.0.0.1, {ip: 10.0.0.2, password: c0rrect}]\n', { '10.0.0.1': up(4, 8), '10.0.0.2': up(4, 8) });
      const cluster = await s.driver.provision(request('pw', 2), s.opts());
      assert.ok(s.ssh.calls.every((c) => c.usedPassword));
      const persisted = JSON.stringify(cluster) + (await readFile(join(s.dir, 'data', LEDGER_FILE), 'utf8')) + JSON.stringify(await s.driver.pools()) + s.lines.join('\n');
      assert.doesNotMatch(persisted, /Tr0ub4dor|c0rrect/);
      const [n0, n1] = cluster.nodes;
      assert.ok(n0 && n1);
      assert.equal((await s.driver.sshTarget(n0)).password, 'Tr0ub4dor');
      assert.equal((await s.driver.sshTarget(n1)).password, 'c0rrect');
      assert.equal((await s.driver.pools())[0]?.hosts[0]?.usesPassword, true);
      const statusCalls = s.ssh.calls.length;
      await s.driver.status(cluster, s.opts());
      assert.ok(s.ssh.calls.slice(statusCalls).every((c) => c.usedPassword), 'status connects with the password too');
    });
  });

  describe('driver-ssh: status, stop, start, terminate', () => {
    let s: Setup;
    afterEach(async () => {
      await rm(s.dir, { recursive: true, force: true });
    });

    it('reports UP, UNREACHABLE with the reason, and TERMINATED once the hosts are released or re-allocated', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': up(8, 32) });
      const cluster = await s.driver.provision(request('st', 2), s.opts());
      assert.deepEqual(await s.driver.status(cluster, s.opts()), [
        { nodeId: 'gpu-a/10.0.0.1', status: 'UP' },
        { nodeId: 'gpu-a/10.0.0.2', status: 'UP' },
      ]);
      s.ssh.hosts.set('10.0.0.2', { kind: 'timeout' });
      assert.deepEqual(await s.driver.status(cluster, s.opts()), [
        { nodeId: 'gpu-a/10.0.0.1', status: 'UP' },
        { nodeId: 'gpu-a/10.0.0.2', status: 'UNREACHABLE', reason: '10.0.0.2: no answer within 5 s' },
      ]);
      const pings = s.ssh.calls.filter((c) => !c.command.includes('nproc'));
      assert.ok(pings.length === 4 && pings.every((c) => c.command === "sh -c 'echo sky-probe:ok'"));
      s.ssh.hosts.set('10.0.0.2', up(8, 32));
      await s.driver.terminate(cluster, s.opts());
      assert.deepEqual((await s.driver.status(cluster, s.opts())).map((r) => r.status), ['TERMINATED', 'TERMINATED']);
      const next = await s.driver.provision(request('next', 1, { owner: 'bob' }), s.opts());
      assert.equal(next.nodes[0]?.id, 'gpu-a/10.0.0.1', 'the same host, hence the same node id, for the next cluster');
      assert.deepEqual((await s.driver.status(cluster, s.opts())).map((r) => r.status), ['TERMINATED', 'TERMINATED'], 'the old cluster does not see the new holder’s node as its own');
    });

    it('refuses stop with NOT_SUPPORTED, keeping the cluster; start returns a cluster that holds its hosts', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': up(8, 32) });
      const cluster = await s.driver.provision(request('ss', 1), s.opts());
      await assert.rejects(s.driver.stop(cluster, s.opts()), code('NOT_SUPPORTED', 'SSH node pool clusters cannot be stopped; use sky down to release the hosts'));
      assert.deepEqual((await s.driver.status(cluster, s.opts())).map((r) => r.status), ['UP']);
      assert.deepEqual(await s.driver.start(cluster, s.opts()), cluster);
      await s.driver.terminate(cluster, s.opts());
      await assert.rejects(s.driver.start(cluster, s.opts()), code('NOT_SUPPORTED', /no longer holds hosts of pool gpu-a: launch it again$/));
    });

    it('terminate releases the hosts and is idempotent, also from a new driver instance', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32), '10.0.0.2': up(8, 32), '10.0.0.3': up(8, 32) });
      const cluster = JSON.parse(JSON.stringify(await s.driver.provision(request('t', 3), s.opts())));
      const restarted = s.make();
      assert.deepEqual((await restarted.status(cluster, s.opts())).map((r) => r.status), ['UP', 'UP', 'UP']);
      await restarted.terminate(cluster, s.opts());
      await restarted.terminate(cluster, s.opts());
      assert.ok(s.lines.includes('released 10.0.0.1, 10.0.0.2, 10.0.0.3 back to pool gpu-a'), s.lines.join('\n'));
      assert.deepEqual((await ledgerOf(s)).clusters, {});
      await assert.rejects(s.driver.terminate({ nodes: [], state: { driver: 'local', version: 1, root: '/x', clusterId: 'y' } }, s.opts()), code('DRIVER_FAILED', /was not written by sky-driver-ssh/));
    });
  });

  describe('driver-ssh: capacity and the extensions', () => {
    let s: Setup;
    afterEach(async () => {
      await rm(s.dir, { recursive: true, force: true });
    });

    it('sums the last probes of free hosts, probing only hosts never seen', async () => {
      s = await setup(THREE, { '10.0.0.1': up(8, 32, [A100]), '10.0.0.2': up(16, 64), '10.0.0.3': { kind: 'refused' } });
      const first = await s.driver.capacity(s.opts());
      assert.deepEqual(first, {
        total: { cpus: 24, memoryGb: 96, accelerators: [{ name: 'A100-80GB', count: 1 }] },
        free: { cpus: 24, memoryGb: 96, accelerators: [{ name: 'A100-80GB', count: 1 }] },
        detail: '2 of 3 hosts free in pool gpu-a (1 unreachable)',
      });
      await s.driver.provision(request('c', 1), s.opts());
      const calls = s.ssh.calls.length;
      const during = await s.driver.capacity(s.opts());
      assert.deepEqual(during.free, { cpus: 16, memoryGb: 64, accelerators: [] });
      assert.equal(during.detail, '1 of 3 hosts free in pool gpu-a (1 unreachable)');
      assert.deepEqual(during.total, first.total);
      assert.equal(s.ssh.calls.length, calls, 'hosts probed before are not probed again by capacity');
    });

    it('pools() lists resolved hosts with holders and last probes; check() probes every host now', async () => {
      s = await setup(THREE + 'cpu:\n  hosts: [10.0.1.1]\n', { '10.0.0.1': up(8, 32, [A100, A100]), '10.0.0.2': { kind: 'auth' }, '10.0.0.3': up(4, 16), '10.0.1.1': up(2, 4) });
      await s.driver.provision(request('held', 1, { infra: 'gpu-a', owner: 'alice' }), s.opts());
      const pools = await s.driver.pools();
      assert.deepEqual(pools.map((p) => [p.name, p.hosts.map((h) => h.label)]), [['gpu-a', ['10.0.0.1', '10.0.0.2', '10.0.0.3']], ['cpu', ['10.0.1.1']]]);
      const held = pools[0]?.hosts[0];
      assert.deepEqual(held?.heldBy, { owner: 'alice', clusterName: 'held', clusterId: 'held-id' });
      assert.equal(held?.lastProbe?.cpus, 8);
      assert.deepEqual(held?.lastProbe?.accelerators, [{ name: 'A100-80GB', count: 2 }]);
      assert.equal(pools[1]?.hosts[0]?.lastProbe, undefined, 'never probed yet');

      const logged: string[] = [];
      const checks = await s.driver.check('gpu-a', { log: (l) => void logged.push(l) });
      assert.deepEqual(
        checks.map((c) => [c.label, c.reachable, c.authOk, c.cpus, c.memoryGb, c.accelerators, c.error, c.heldBy?.owner]),
        [
          ['10.0.0.1', true, true, 8, 32, [{ name: 'A100-80GB', count: 2 }], undefined, 'alice'],
          ['10.0.0.2', true, false, 0, 0, [], 'authentication failed: check the identity file (/keys/sky)', undefined],
          ['10.0.0.3', true, true, 4, 16, [], undefined, undefined],
        ],
      );
      assert.deepEqual(logged.sort(), ['gpu-a/10.0.0.1: ok, 8 CPUs, 32 GB memory, 2× A100-80GB', 'gpu-a/10.0.0.2: authentication failed: check the identity file (/keys/sky)', 'gpu-a/10.0.0.3: ok, 4 CPUs, 16 GB memory']);
      assert.equal((await s.driver.check()).length, 4, 'every pool without a name');
      await assert.rejects(s.driver.check('nope'), code('VALIDATION_FAILED', 'ssh driver: no SSH node pool named "nope"; the pools are gpu-a, cpu'));
    });
  });

  describe('driver-ssh: as a plugin', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sky-ssh-plugin-'));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('has its config block checked by the daemon’s plugin loader, which names pool, host index and key', async () => {
      const repo = process.env['SKY_REPO_ROOT'] ?? process.cwd();
      const loader = new PluginLoader({ pluginDirs: [], searchFrom: [repo], dataDir: (id) => join(dir, 'data', id), logger: { info() {}, warn() {}, error() {} } });
      await assert.rejects(
        loader.load({ ssh: { pools: { lab: { hosts: ['10.0.0.1', { ip: '10.0.0.2', port: 99999 }] } } } }),
        code('PLUGIN_CONFIG_INVALID', /drivers\.ssh\.pools\.lab\.hosts\[1\]\.port: expected a port number \(1-65535\), got the number 99999/),
      );
      assert.equal(sshPlugin.kind, 'driver');
      assert.equal(sshPlugin.name, 'sky-driver-ssh');
    });

    it('refuses to start without the daemon’s SSH connections', async () => {
      const config = valid({ pools_file: join(dir, 'pools.yaml') });
      await assert.rejects(
        sshPlugin.init({ id: 'ssh', config, logger: quiet, dataDir: dir, signal: new AbortController().signal }),
        code('DRIVER_FAILED', /needs the daemon’s SSH connections \(PluginContext\.ssh\)/),
      );
    });

    it('starts with a broken pools file, warning, and reports it on use', async () => {
      await writeFile(join(dir, 'pools.yaml'), 'lab: [oops]\n');
      const config = valid({ pools_file: join(dir, 'pools.yaml'), ssh_config: join(dir, 'none') });
      const warnings: string[] = [];
      const logger: PluginLogger = { ...quiet, warn: (_o: object | string, msg?: string) => void warnings.push(msg ?? '') };
      const driver = await sshPlugin.init({ id: 'ssh', config, logger, dataDir: dir, signal: new AbortController().signal, ssh: new FakeSsh(new Map()) });
      assert.match(warnings[0] ?? '', /pools cannot be used yet: .*pools\.yaml:1:6: pool lab: expected a mapping with hosts/);
      await assert.rejects(driver.capacity({ signal: new AbortController().signal, log: () => {} }), code('CONFIG_INVALID'));
    });
  });

  describe('driver-ssh: the ledger across processes', () => {
    let s: Setup;
    afterEach(async () => {
      await rm(s.dir, { recursive: true, force: true });
    });

    it('never hands one host to two clusters: 8 processes race for a pool of 4', async () => {
      s = await setup('race:\n  hosts: [10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4]\n', {});
      const self = fileURLToPath(import.meta.url);
      const dataDir = join(s.dir, 'data');
      const children = Array.from({ length: 8 }, (_, i) => {
        const proc = spawn(process.execPath, ['--conditions=sky-source', '--import', 'tsx', self, dataDir, s.poolsFile, s.sshConfig, `racer${i}`], {
          cwd: process.cwd(),
          env: { ...process.env, SKY_DRIVER_SSH_CHILD: '1' },
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const outputs: string[] = [];
        const ready = new Promise<void>((resolveReady) => {
          createInterface({ input: proc.stdout }).on('line', (line) => {
            if (line === 'ready') resolveReady();
            else outputs.push(line);
          });
        });
        const exit = new Promise<void>((resolveExit) => proc.once('exit', () => resolveExit()));
        return { proc, ready, exit, outputs };
      });
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) c.proc.stdin?.end('go\n');
      await Promise.all(children.map((c) => c.exit));
      const results = children.map((c) => JSON.parse(c.outputs[0] ?? '{}') as { ok?: boolean; hosts?: string[]; code?: string; message?: string });
      const won = results.filter((r) => r.ok === true);
      assert.equal(won.length, 4, JSON.stringify(results));
      assert.deepEqual(won.flatMap((r) => r.hosts ?? []).sort(), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']);
      for (const r of results.filter((x) => x.ok !== true)) {
        assert.equal(r.code, 'NO_CAPACITY', JSON.stringify(r));
        assert.match(r.message ?? '', /^ssh driver: cannot provision racer\d: pool race has 4 hosts: 10\.0\.0\.1 held by racer\d \(cluster racer\d\), 10\.0\.0\.2 held by racer\d/);
      }
      const ledger = await ledgerOf(s);
      const endpoints = Object.values(ledger.clusters).flatMap((c) => c.nodes.map((n) => n.endpoint));
      assert.equal(endpoints.length, 4);
      assert.equal(new Set(endpoints).size, 4);
    });
  });
}
