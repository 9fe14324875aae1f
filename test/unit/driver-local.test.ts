// sky-driver-local: config, GPU discovery, capacity accounting and its messages, GPU pinning,
// stop/start/terminate semantics (including the jobs running on a node), and the ledger shared
// between processes.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, homedir, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PLUGIN_API_VERSION, PLUGIN_BRAND, type DriverCallOptions, type ProvisionRequest, type ResourceRequest } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import { jobDir, jobFiles, journalPath, NODE_SCRIPT_PATH, parseStartOutput, parseStatus, runtimeScriptPath, startCommand, statusCommand } from '@sky/runtime';
import localPlugin, {
  canonicalGpuName,
  DEFAULT_ROOT,
  detectGpus,
  groupAlive,
  LEDGER_FILE,
  LocalDriver,
  LOCK_FILE,
  NVIDIA_SMI_ARGS,
  parseNvidiaSmi,
  validateLocalConfig,
  type LedgerData,
  type LocalDriverOptions,
} from 'sky-driver-local';
import { PluginLoader } from '../../core/daemon/src/plugins/index.js';

const repo = process.env.SKY_REPO_ROOT ?? resolve(import.meta.dirname, '../..');

/** Captured from `nvidia-smi --query-gpu=name,memory.total --format=csv,noheader` on an 8-GPU host, then trimmed to a mixed box. */
const NVIDIA_SMI_SAMPLE = `NVIDIA A100-SXM4-80GB, 81920 MiB
NVIDIA A100-SXM4-80GB, 81920 MiB
NVIDIA H100 80GB HBM3, 81559 MiB
NVIDIA H100 80GB HBM3, 81559 MiB
`;

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sky-driver-local-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let n = 0;
async function freshRoot(): Promise<string> {
  n += 1;
  const root = join(scratch, `root-${n}`);
  await mkdir(root, { recursive: true });
  return root;
}

const lines: string[] = [];
function opts(signal?: AbortSignal): DriverCallOptions {
  return { signal: signal ?? new AbortController().signal, log: (line) => void lines.push(line) };
}

function request(clusterId: string, numNodes: number, resources: ResourceRequest = {}): ProvisionRequest {
  return { clusterName: clusterId, clusterId, owner: 'alice', numNodes, resources };
}

function cpus(min: number, orMore = false): ResourceRequest['cpus'] {
  return { min, orMore };
}

function skyError(code: string, message?: RegExp | string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message !== undefined) assert.match(err.message, message);
    return true;
  };
}

async function ledger(root: string): Promise<LedgerData> {
  return JSON.parse(await readFile(join(root, LEDGER_FILE), 'utf8')) as LedgerData;
}

function driverAt(root: string, options: Partial<LocalDriverOptions> = {}): LocalDriver {
  return new LocalDriver({ root, cpus: 8, memoryGb: 32, killGraceMs: 1_000, ...options });
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('driver-local: config', () => {
  it('defaults to ~/.sky/local-nodes and the host CPUs and memory', () => {
    const result = validateLocalConfig({});
    assert.deepEqual(result, {
      value: {
        root: join(homedir(), '.sky/local-nodes'),
        cpus: availableParallelism(),
        memoryGb: Math.floor((totalmem() / 2 ** 30) * 10) / 10,
        maxNodes: undefined,
        accounts: undefined,
      },
    });
    assert.equal(DEFAULT_ROOT, '~/.sky/local-nodes');
    assert.deepEqual(validateLocalConfig(null), result, 'an empty YAML block (local:) means defaults');
  });

  it('takes root (with ~), cpus, memory_gb and max_nodes', () => {
    assert.deepEqual(validateLocalConfig({ root: '~/nodes', cpus: 2.5, memory_gb: 6, max_nodes: 3 }), {
      value: { root: join(homedir(), 'nodes'), cpus: 2.5, memoryGb: 6, maxNodes: 3, accounts: undefined },
    });
  });

  it('names every bad key, through the Standard Schema the loader calls', async () => {
    const result = await localPlugin.configSchema?.['~standard'].validate({ root: 'relative/dir', cpus: -1, memory_gb: 'lots', max_nodes: 1.5, gpus: 2 });
    assert.ok(result !== undefined && result.issues !== undefined);
    assert.deepEqual(
      result.issues.map((i) => `${String(i.path?.[0])}: ${i.message}`).sort(),
      [
        'cpus: expected a positive number, got -1',
        'gpus: unknown key; the local driver takes root, cpus, memory_gb, max_nodes, accounts',
        'max_nodes: expected a positive integer, got 1.5',
        'memory_gb: expected a positive number, got "lots"',
        'root: expected an absolute path or one starting with ~/, got "relative/dir"',
      ],
    );
  });
});

describe('driver-local: GPUs from nvidia-smi', () => {
  it('parses the captured output into indexed GPUs with SkyPilot names', () => {
    assert.deepEqual(parseNvidiaSmi(NVIDIA_SMI_SAMPLE), [
      { index: 0, name: 'A100-80GB', model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920 },
      { index: 1, name: 'A100-80GB', model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920 },
      { index: 2, name: 'H100', model: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
      { index: 3, name: 'H100', model: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 },
    ]);
    assert.deepEqual(parseNvidiaSmi(''), []);
    assert.deepEqual(parseNvidiaSmi('NVIDIA L4, [N/A]\r\n'), [{ index: 0, name: 'L4', model: 'NVIDIA L4', memoryMiB: 0 }]);
  });

  it('names GPUs the way task YAMLs ask for them', () => {
    const cases: Array<[string, number, string]> = [
      ['NVIDIA A100-SXM4-40GB', 40960, 'A100'],
      ['NVIDIA A100-PCIE-40GB', 40960, 'A100'],
      ['NVIDIA A100 80GB PCIe', 81920, 'A100-80GB'],
      ['NVIDIA H100 80GB HBM3', 81559, 'H100'],
      ['NVIDIA H100 PCIe', 81559, 'H100'],
      ['Tesla V100-SXM2-16GB', 16160, 'V100'],
      ['Tesla V100-SXM2-32GB', 32510, 'V100-32GB'],
      ['Tesla T4', 15360, 'T4'],
      ['NVIDIA L4', 23034, 'L4'],
      ['NVIDIA A10G', 23028, 'A10G'],
      ['NVIDIA L40S', 46068, 'L40S'],
      ['NVIDIA GeForce RTX 4090', 24564, 'RTX4090'],
      ['NVIDIA RTX A6000', 49140, 'RTXA6000'],
    ];
    for (const [model, mib, name] of cases) assert.equal(canonicalGpuName(model, mib), name, model);
  });

  it('runs nvidia-smi with the query flags; no nvidia-smi means no GPUs; a failing one says why', async () => {
    const dir = await freshRoot();
    const fake = join(dir, 'nvidia-smi');
    await writeFile(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > ${dir}/args\nprintf '%s' '${NVIDIA_SMI_SAMPLE}'\n`);
    chmodSync(fake, 0o755);
    const found = await detectGpus(new AbortController().signal, fake);
    assert.equal(found.gpus.length, 4);
    assert.equal(found.note, undefined);
    assert.deepEqual((await readFile(join(dir, 'args'), 'utf8')).trim().split('\n'), [...NVIDIA_SMI_ARGS]);

    assert.deepEqual(await detectGpus(new AbortController().signal, join(dir, 'absent-nvidia-smi')), { gpus: [] });

    const broken = join(dir, 'broken-smi');
    await writeFile(broken, "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\" >&2\nexit 9\n");
    chmodSync(broken, 0o755);
    const failed = await detectGpus(new AbortController().signal, broken);
    assert.deepEqual(failed.gpus, []);
    assert.match(failed.note ?? '', /failed, so no GPUs are offered: NVIDIA-SMI has failed because it couldn't communicate/);
  });
});

describe('driver-local: provisioning and capacity', () => {
  let root: string;
  beforeEach(async () => {
    root = await freshRoot();
    lines.length = 0;
  });

  it('lays nodes out as <root>/<clusterId>/node-<rank>, all on 127.0.0.1, recorded in the ledger', async () => {
    const driver = driverAt(root);
    const cluster = await driver.provision(request('c-layout', 3, { cpus: cpus(2), memoryGb: { min: 4, orMore: true } }), opts());
    assert.deepEqual(
      cluster.nodes.map((node) => [node.id, node.rank, node.address, node.reach]),
      [0, 1, 2].map((rank) => [`c-layout-node-${rank}`, rank, '127.0.0.1', { kind: 'local', root: join(root, 'c-layout', `node-${rank}`) }]),
    );
    for (const node of cluster.nodes) assert.deepEqual(node.resources, { cpus: 2, memoryGb: 4, accelerators: [] });
    assert.deepEqual(cluster.state, { driver: 'local', version: 1, root, clusterId: 'c-layout' });
    assert.deepEqual(await readdir(join(root, 'c-layout')), ['node-0', 'node-1', 'node-2']);
    const record = (await ledger(root)).clusters['c-layout'];
    assert.equal(record?.status, 'UP');
    assert.equal(record?.owner, 'alice');
    assert.deepEqual(await readdir(root).then((e) => e.filter((f) => f.includes('.tmp') || f === LOCK_FILE)), [], 'no temp files or lock left');
    assert.ok(lines.some((l) => l.includes('reserved 3 local nodes × 2 CPUs, 4 GB memory')), lines.join('\n'));
  });

  it('gives 1 CPU and 1 GB to a node that asks for nothing', async () => {
    const cluster = await driverAt(root).provision(request('c-default', 1), opts());
    assert.deepEqual(cluster.nodes[0]?.resources, { cpus: 1, memoryGb: 1, accelerators: [] });
  });

  it('answers NO_CAPACITY with what was asked and what is left', async () => {
    const driver = driverAt(root, { cpus: 3, memoryGb: 20 });
    await assert.rejects(
      driver.provision(request('c-big', 2, { cpus: cpus(4) }), opts()),
      skyError('NO_CAPACITY', 'local driver cannot fit c-big: requested 2 nodes × 4 CPUs; free: 3 CPUs, 20 GB memory (short of CPUs)'),
    );
    await driver.provision(request('c-small', 1, { cpus: cpus(2), memoryGb: { min: 8, orMore: false } }), opts());
    await assert.rejects(
      driver.provision(request('c-mem', 1, { cpus: cpus(1), memoryGb: { min: 16, orMore: false } }), opts()),
      skyError('NO_CAPACITY', 'local driver cannot fit c-mem: requested 1 node × 1 CPU, 16 GB memory; free: 1 CPU, 12 GB memory (short of memory)'),
    );
    assert.equal(existsSync(join(root, 'c-big')), false, 'a refused request creates nothing');
    const capacity = await driver.capacity(opts());
    assert.deepEqual(capacity.free, { cpus: 1, memoryGb: 12, accelerators: [] });
    assert.deepEqual(capacity.total, { cpus: 3, memoryGb: 20, accelerators: [] });
    assert.match(capacity.detail ?? '', /^1 node up, 0 stopped, under /);
  });

  it('limits nodes with max_nodes, and has no spot capacity', async () => {
    const driver = driverAt(root, { maxNodes: 2 });
    await driver.provision(request('c-two', 2), opts());
    await assert.rejects(driver.provision(request('c-third', 1), opts()), skyError('NO_CAPACITY', /free: 6 CPUs, 30 GB memory, 0 of 2 node slots \(short of node slots\)$/));
    await assert.rejects(
      driverAt(await freshRoot()).provision(request('c-spot', 1, { useSpot: true }), opts()),
      skyError('NO_CAPACITY', /short of spot capacity \(the local driver has none\)/),
    );
  });

  it('refuses a disk_size larger than the free space under its root', async () => {
    await assert.rejects(
      driverAt(root).provision(request('c-disk', 1, { diskGb: 10_000_000 }), opts()),
      skyError('NO_CAPACITY', /short of disk \(10000000 GB requested, \d+ GB free in /),
    );
    const ok = await driverAt(root).provision(request('c-disk-ok', 1, { diskGb: 0.001 }), opts());
    assert.equal(ok.nodes.length, 1);
  });

  it('refuses requests it cannot turn into directories or that name a sub-pool', async () => {
    const driver = driverAt(root);
    await assert.rejects(driver.provision(request('../escape', 1), opts()), skyError('VALIDATION_FAILED', /cannot be a directory name/));
    await assert.rejects(driver.provision(request('c-zero', 0), opts()), skyError('VALIDATION_FAILED', /numNodes must be a positive integer/));
    await assert.rejects(driver.provision({ ...request('c-infra', 1), infra: 'gpu-box' }, opts()), skyError('VALIDATION_FAILED', /infra "local\/gpu-box"/));
    await assert.rejects(driver.provision(request('c-neg', 1, { cpus: cpus(0) }), opts()), skyError('VALIDATION_FAILED', /cpus must be a positive number/));
  });

  it('returns the existing cluster when provision is repeated for the same clusterId', async () => {
    const driver = driverAt(root);
    const first = await driver.provision(request('c-again', 2, { cpus: cpus(2) }), opts());
    const second = await driver.provision(request('c-again', 2, { cpus: cpus(2) }), opts());
    assert.deepEqual(second, first);
    assert.equal((await driver.capacity(opts())).free.cpus, 4, 'booked once');
  });

  it('reports a node whose directory vanished as UNREACHABLE, and an unknown cluster as TERMINATED', async () => {
    const driver = driverAt(root);
    const cluster = await driver.provision(request('c-vanish', 2), opts());
    await rm(join(root, 'c-vanish', 'node-1'), { recursive: true });
    assert.deepEqual(await driver.status(cluster, opts()), [
      { nodeId: 'c-vanish-node-0', status: 'UP' },
      { nodeId: 'c-vanish-node-1', status: 'UNREACHABLE', reason: `its directory ${join(root, 'c-vanish', 'node-1')} is missing` },
    ]);
    const unknown = { ...cluster, state: { driver: 'local', version: 1, root, clusterId: 'c-never' } };
    assert.deepEqual(
      (await driver.status(unknown, opts())).map((r) => r.status),
      ['TERMINATED', 'TERMINATED'],
    );
    const elsewhere = { ...cluster, state: { driver: 'local', version: 1, root: '/elsewhere', clusterId: 'c-vanish' } };
    assert.match((await driver.status(elsewhere, opts()))[0]?.reason ?? '', /lives under \/elsewhere, but this local driver uses/);
    await assert.rejects(driver.terminate(elsewhere, opts()), skyError('DRIVER_FAILED', /Set drivers\.local\.root back|lives under \/elsewhere/));
    await assert.rejects(driver.status({ nodes: [], state: { driver: 'ssh' } }, opts()), skyError('DRIVER_FAILED', /not written by sky-driver-local/));
  });
});

describe('driver-local: GPU pinning', () => {
  const gpus = parseNvidiaSmi(NVIDIA_SMI_SAMPLE);
  let root: string;
  beforeEach(async () => {
    root = await freshRoot();
  });

  it('pins distinct GPU indices to each node and reports them as the node accelerators', async () => {
    const driver = driverAt(root, { gpus });
    const a = await driver.provision(request('g-a', 2, { accelerators: [{ name: 'a100-80gb', count: 1 }] }), opts());
    assert.deepEqual(
      a.nodes.map((node) => [node.reach, node.resources.accelerators]),
      [
        [{ kind: 'local', root: join(root, 'g-a', 'node-0'), gpuIndices: [0] }, [{ name: 'A100-80GB', count: 1 }]],
        [{ kind: 'local', root: join(root, 'g-a', 'node-1'), gpuIndices: [1] }, [{ name: 'A100-80GB', count: 1 }]],
      ],
    );
    const capacity = await driver.capacity(opts());
    assert.deepEqual(capacity.total.accelerators, [
      { name: 'A100-80GB', count: 2 },
      { name: 'H100', count: 2 },
    ]);
    assert.deepEqual(capacity.free.accelerators, [{ name: 'H100', count: 2 }]);
    await assert.rejects(
      driver.provision(request('g-b', 1, { accelerators: [{ name: 'A100-80GB', count: 1 }] }), opts()),
      skyError('NO_CAPACITY', 'local driver cannot fit g-b: requested 1 node × 1 CPU, 1× A100-80GB; free: 6 CPUs, 30 GB memory, 2× H100 (short of GPUs)'),
    );
  });

  it('takes the first alternative that fits, whole GPUs only', async () => {
    const driver = driverAt(root, { gpus });
    const c = await driver.provision(request('g-alt', 1, { accelerators: [{ name: 'B200', count: 1 }, { name: 'H100', count: 2 }, { name: 'A100-80GB', count: 1 }] }), opts());
    assert.deepEqual(c.nodes[0]?.reach, { kind: 'local', root: join(root, 'g-alt', 'node-0'), gpuIndices: [2, 3] });
    assert.deepEqual(c.nodes[0]?.resources.accelerators, [{ name: 'H100', count: 2 }]);
    await assert.rejects(
      driver.provision(request('g-half', 1, { accelerators: [{ name: 'A100-80GB', count: 0.5 }] }), opts()),
      skyError('NO_CAPACITY', /requested 1 node × 1 CPU, 0\.5× A100-80GB; free: .*2× A100-80GB/),
    );
  });

  it('releases GPUs on stop, and start picks free ones again or answers NO_CAPACITY', async () => {
    const driver = driverAt(root, { gpus });
    const first = await driver.provision(request('g-first', 1, { accelerators: [{ name: 'H100', count: 2 }] }), opts());
    await driver.stop(first, opts());
    assert.deepEqual((await driver.capacity(opts())).free.accelerators.find((a) => a.name === 'H100'), { name: 'H100', count: 2 });
    const other = await driver.provision(request('g-other', 1, { accelerators: [{ name: 'H100', count: 1 }] }), opts());
    await assert.rejects(driver.start(first, opts()), skyError('NO_CAPACITY', /^local driver cannot start g-first: requested 1 node × 1 CPU, 2× H100; free: .*1× H100 .*short of GPUs/));
    assert.deepEqual((await driver.status(first, opts())).map((r) => r.status), ['STOPPED'], 'a failed start leaves the cluster stopped');
    await driver.terminate(other, opts());
    const restarted = await driver.start(first, opts());
    assert.deepEqual(restarted.nodes[0]?.reach, { kind: 'local', root: join(root, 'g-first', 'node-0'), gpuIndices: [2, 3] });
  });
});

describe('driver-local: stop, start and terminate', () => {
  let root: string;
  beforeEach(async () => {
    root = await freshRoot();
    lines.length = 0;
  });

  /** Start a real job on a node with the node runtime; resolves with the runner pid and the job dir. */
  async function startJob(nodeRoot: string, jobId: string, run: string): Promise<{ runner: number; dir: string }> {
    await mkdir(dirname(join(nodeRoot, NODE_SCRIPT_PATH)), { recursive: true });
    await writeFile(join(nodeRoot, NODE_SCRIPT_PATH), await readFile(runtimeScriptPath()));
    const dir = jobDir(nodeRoot, jobId);
    await mkdir(dir, { recursive: true });
    const files = jobFiles({ jobId, rank: 0, nodeIps: ['127.0.0.1'], taskId: jobId, clusterInfo: { cluster_name: 'c', cloud: 'local', region: null, zone: null }, home: nodeRoot, run });
    for (const [rel, content] of Object.entries(files)) await writeFile(join(dir, rel), content);
    const out = execFileSync('/bin/sh', ['-c', startCommand(dir, journalPath('', 'local'))], { cwd: nodeRoot, encoding: 'utf8' });
    return { runner: parseStartOutput(out), dir };
  }

  async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  it('stop releases CPUs and memory but keeps the directories; start books them again', async () => {
    const driver = driverAt(root, { cpus: 4, memoryGb: 8 });
    const cluster = await driver.provision(request('s-1', 2, { cpus: cpus(2), memoryGb: { min: 4, orMore: false } }), opts());
    await writeFile(join(cluster.nodes[0]?.reach.kind === 'local' ? cluster.nodes[0].reach.root : '', 'checkpoint'), 'step 100');
    assert.deepEqual((await driver.capacity(opts())).free, { cpus: 0, memoryGb: 0, accelerators: [] });

    await driver.stop(cluster, opts());
    assert.deepEqual((await driver.capacity(opts())).free, { cpus: 4, memoryGb: 8, accelerators: [] });
    assert.match((await driver.capacity(opts())).detail ?? '', /^0 nodes up, 2 stopped/);
    assert.equal(await readFile(join(root, 's-1', 'node-0', 'checkpoint'), 'utf8'), 'step 100');
    assert.ok(lines.some((l) => l.startsWith('stopped s-1: released its CPUs, memory and GPUs')), lines.join('\n'));

    const squatter = await driver.provision(request('s-squat', 1, { cpus: cpus(1) }), opts());
    await assert.rejects(driver.start(cluster, opts()), skyError('NO_CAPACITY', /^local driver cannot start s-1: requested 2 nodes × 2 CPUs; free: 3 CPUs, 7 GB memory \(short of CPUs, memory\)$/));
    await driver.terminate(squatter, opts());
    const started = await driver.start(cluster, opts());
    assert.deepEqual(started.nodes.map((x) => x.id), cluster.nodes.map((x) => x.id));
    assert.equal(await readFile(join(root, 's-1', 'node-0', 'checkpoint'), 'utf8'), 'step 100');
    assert.deepEqual((await driver.capacity(opts())).free.cpus, 0);
  });

  it('stop ends the jobs running on the nodes, whole process groups, and leaves finished ones alone', async () => {
    const driver = driverAt(root);
    const cluster = await driver.provision(request('s-jobs', 2), opts());
    const [n0, n1] = cluster.nodes.map((x) => (x.reach.kind === 'local' ? x.reach.root : ''));
    assert.ok(n0 !== undefined && n1 !== undefined);
    const done = await startJob(n0, 'done', 'exit 0');
    await waitFor('the finished job', async () => (await readFile(join(done.dir, 'status'), 'utf8')).startsWith('SUCCEEDED'));
    const a = await startJob(n0, 'a', 'sleep 300 & echo $! > child.pid; wait');
    const b = await startJob(n1, 'b', 'trap "" TERM; sleep 300');
    await waitFor('the child pid', async () => existsSync(join(n0, 'child.pid')));
    const child = Number(await readFile(join(n0, 'child.pid'), 'utf8'));

    await driver.stop(cluster, opts());
    for (const pid of [a.runner, b.runner, child]) assert.equal(await processAlive(pid), false, `pid ${pid} must be gone after stop`);
    assert.ok(lines.some((l) => l === 'ended 1 running job on s-jobs-node-0'), lines.join('\n'));
    assert.ok(lines.some((l) => l === 'ended 1 running job on s-jobs-node-1'), lines.join('\n'));
    const status = execFileSync('/bin/sh', ['-c', statusCommand([a.dir, b.dir, done.dir])], { cwd: n0, encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(status.map((l) => parseStatus(l).status), ['FAILED', 'FAILED', 'SUCCEEDED']);
  });

  it('terminate ends the jobs, removes the directories and frees everything; repeated, it is a no-op', async () => {
    const driver = driverAt(root);
    const before = await driver.capacity(opts());
    const cluster = await driver.provision(request('t-1', 2, { cpus: cpus(3) }), opts());
    const nodeRoot = cluster.nodes[1]?.reach.kind === 'local' ? cluster.nodes[1].reach.root : '';
    const job = await startJob(nodeRoot, 'j', 'sleep 300');
    await driver.terminate(cluster, opts());
    assert.equal(await processAlive(job.runner), false);
    assert.equal(existsSync(join(root, 't-1')), false);
    assert.deepEqual((await ledger(root)).clusters, {});
    assert.deepEqual((await driver.capacity(opts())).free, before.free);
    await driver.terminate(cluster, opts());
    await assert.rejects(driver.start(cluster, opts()), skyError('DRIVER_FAILED', /it was terminated/));
  });

  it('stopping twice is a no-op', async () => {
    const driver = driverAt(root);
    const cluster = await driver.provision(request('s-twice', 1), opts());
    await driver.stop(cluster, opts());
    await driver.stop(cluster, opts());
    assert.deepEqual((await driver.status(cluster, opts())).map((r) => r.status), ['STOPPED']);
  });
});

describe('driver-local: whether a process group lives', () => {
  async function until(check: () => Promise<boolean>, what: string): Promise<void> {
    for (let i = 0; i < 200; i += 1) {
      if (await check()) return;
      await sleep(25);
    }
    assert.fail(`timed out waiting until ${what}`);
  }

  it('a live leader settles it; with the leader gone a live member still counts; a killed group is gone', async () => {
    // The leader is the group's own first process; it exits at once and leaves a member behind.
    const child = spawn('sh', ['-c', 'sleep 30 & echo $!; exit 0'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const pgid = child.pid!;
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((done) => child.once('exit', done));
    const member = Number(out.trim());
    try {
      assert.ok(member > 1, `the member's pid was printed (${out})`);
      await until(async () => !(await processAlive(pgid)), 'the leader is reaped');
      assert.equal(await groupAlive(pgid), true, 'a member of the group is alive although its leader is gone');
      process.kill(-pgid, 'SIGKILL');
      await until(async () => !(await groupAlive(pgid)), 'the killed group is gone');
    } finally {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }

    const leader = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    try {
      assert.equal(await groupAlive(leader.pid!), true, 'a sleeping leader is alive');
    } finally {
      leader.kill('SIGKILL');
      await new Promise((done) => leader.once('exit', done));
    }
    assert.equal(await groupAlive(leader.pid!), false, 'a reaped leader with no member is gone');
  });
});

describe('driver-local: the ledger', () => {
  let root: string;
  beforeEach(async () => {
    root = await freshRoot();
  });

  it('never double-books across processes: 8 processes race for room for 4', async () => {
    const CHILD = join(repo, 'test/fixtures/driver-local-child.ts');
    const children = Array.from({ length: 8 }, (_, i) => {
      const proc = spawn(process.execPath, ['--conditions=sky-source', '--import', 'tsx', CHILD, root, '8', '64', `race-${i}`, '2'], {
        cwd: repo,
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lineReader = createInterface({ input: proc.stdout });
      const outputs: string[] = [];
      const ready = new Promise<void>((resolveReady) => {
        lineReader.on('line', (line) => {
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
    const results = children.map((c) => JSON.parse(c.outputs[0] ?? '{}') as { ok?: boolean; code?: string; message?: string });
    assert.equal(results.filter((r) => r.ok === true).length, 4, JSON.stringify(results));
    const refused = results.filter((r) => r.ok !== true);
    assert.equal(refused.length, 4);
    for (const r of refused) {
      assert.equal(r.code, 'NO_CAPACITY');
      assert.match(r.message ?? '', /requested 1 node × 2 CPUs; free: 0 CPUs, 60 GB memory/);
    }
    const data = await ledger(root);
    assert.equal(Object.keys(data.clusters).length, 4);
    assert.equal(Object.values(data.clusters).reduce((sum, c) => sum + (c.nodes[0]?.cpus ?? 0), 0), 8);
  });

  it('waits for a lock held by a live process, gives up with DRIVER_FAILED, and honours abort meanwhile', async () => {
    await writeFile(join(root, LOCK_FILE), `${process.pid} ${(await import('node:os')).hostname()} someone-else`);
    const driver = driverAt(root, { lockTimeoutMs: 300 });
    await assert.rejects(driver.provision(request('l-1', 1), opts()), skyError('DRIVER_FAILED', new RegExp(`stayed locked for 0\\.3s by pid ${process.pid}`)));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(driverAt(root, { lockTimeoutMs: 10_000 }).provision(request('l-2', 1), opts(controller.signal)), skyError('CANCELLED'));
    await rm(join(root, LOCK_FILE));
    assert.equal((await driver.provision(request('l-3', 1), opts())).nodes.length, 1);
  });

  it('breaks a lock whose holder died', async () => {
    const dead = spawn('/bin/true');
    await new Promise((r) => dead.once('exit', r));
    await writeFile(join(root, LOCK_FILE), `${dead.pid} ${(await import('node:os')).hostname()} crashed`);
    const cluster = await driverAt(root, { lockTimeoutMs: 2_000 }).provision(request('l-dead', 1), opts());
    assert.equal(cluster.nodes.length, 1);
    assert.equal(existsSync(join(root, LOCK_FILE)), false);
  });

  it('says which file is broken when the ledger is not JSON', async () => {
    await writeFile(join(root, LEDGER_FILE), '{"version": 1, "clus');
    await assert.rejects(driverAt(root).capacity(opts()), skyError('DRIVER_FAILED', new RegExp(`its ledger ${join(root, LEDGER_FILE)} is not valid JSON`)));
  });

  it('honours an aborted signal before touching anything', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(driverAt(root).provision(request('a-1', 1), opts(controller.signal)), skyError('CANCELLED'));
    assert.equal(existsSync(join(root, 'a-1')), false);
  });
});

describe('driver-local: as a plugin', () => {
  let root: string;
  let closeAll: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    root = await freshRoot();
  });
  afterEach(async () => {
    await closeAll?.();
    closeAll = undefined;
  });

  it('is a branded driver plugin for this plugin API', () => {
    assert.equal(localPlugin[PLUGIN_BRAND], true);
    assert.equal(localPlugin.kind, 'driver');
    assert.equal(localPlugin.name, 'sky-driver-local');
    assert.equal(localPlugin.apiVersion, '^1.1.0');
    assert.equal(PLUGIN_API_VERSION.split('.')[0], '1');
  });

  it('loads through the daemon plugin loader from `drivers: {local: {...}}` and provisions', async () => {
    const logged: string[] = [];
    const log = (obj: object | string, msg?: string): void => void logged.push(typeof obj === 'string' ? obj : (msg ?? ''));
    const loader = new PluginLoader({
      pluginDirs: [],
      searchFrom: [repo],
      dataDir: (id) => join(root, 'data', id),
      logger: { info: log, warn: log, error: log },
    });
    const loaded = await loader.load({ local: { root: join(root, 'nodes'), cpus: 2, memory_gb: 4 } });
    closeAll = () => loaded.closeAll();
    const local = loaded.drivers.get('local');
    assert.equal(local?.packageName, 'sky-driver-local');
    const driver = local?.driver;
    assert.ok(driver !== undefined);
    assert.deepEqual((await driver.capacity(opts())).total, { cpus: 2, memoryGb: 4, accelerators: [] });
    const cluster = await driver.provision(request('p-1', 2), opts());
    assert.deepEqual(await readdir(join(root, 'nodes', 'p-1')), ['node-0', 'node-1']);
    await driver.terminate(cluster, opts());
    assert.ok(logged.includes('local driver ready'), logged.join('\n'));
  });

  it('refuses a bad config block through the loader, naming the key', async () => {
    const loader = new PluginLoader({ pluginDirs: [], searchFrom: [repo], dataDir: (id) => join(root, 'data', id), logger: { info() {}, warn() {}, error() {} } });
    await assert.rejects(loader.load({ local: { cpus: 'all' } }), skyError('PLUGIN_CONFIG_INVALID', /drivers\.local/));
  });
});
