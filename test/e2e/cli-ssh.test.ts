import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { nodeScriptPath } from '@sky/runtime';
import { createHosts, type TestHost, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runSky, showRun, type CliResult } from '../helpers/sky-cli.js';

/*
 * End to end: the built `sky` binary against a real daemon whose SSH node pool is two sshd hosts
 * in network namespaces (loopback sshd where namespaces are not permitted; never under CI=true):
 * sky check, sky ssh up/down, sky show-gpus, and what they say about a wrong pool, a host cut
 * off and a host held by a cluster.
 */

type Result = CliResult;

let set: TestHosts;
let daemon: DaemonHandle;

const sky = (args: readonly string[]): Promise<Result> => runSky(args, { home: daemon.home, endpoint: daemon.url });
const show = showRun;

async function exits(args: readonly string[], code: number): Promise<Result> {
  const r = await sky(args);
  assert.equal(r.code, code, show(args, r));
  return r;
}

/** How the pool names a host: `ip:port` (the hosts are given with their own ports). */
const label = (h: TestHost): string => `${h.ip}:${h.port}`;

/** The cells of the show-gpus row of a host. */
function gpuRow(stdout: string, h: TestHost): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label(h)}  `)) ?? assert.fail(`no row for ${label(h)} in:\n${stdout}`);
  return line.split(/\s{2,}/);
}

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  set = await createHosts(2);
  const config = sshDaemonConfig(set, { local: true, fast: true });
  daemon = await startDaemon({ config });
});

after(async () => {
  await daemon?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (daemon) removeHome(daemon.home);
});

describe(`sky check, sky ssh up/down and sky show-gpus on an SSH node pool`, () => {
  it('sky check ssh: both hosts reachable, logged in, with their CPUs and memory; the pool is enabled infra', async () => {
    const r = await exits(['check', 'ssh'], 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.includes('  ssh: enabled [ssh/pool-a]'), show(['check', 'ssh'], r));
    assert.ok(lines.includes('    SSH Node Pools:'));
    assert.ok(lines.includes('    └── pool-a: 2 of 2 hosts ready'));
    for (const h of set.hosts) {
      const line = lines.find((l) => l.includes(`── ${label(h)}: `)) ?? assert.fail(`no line for ${label(h)}:\n${r.stdout}`);
      assert.match(line, new RegExp(`: reachable, auth ok \\(${h.user}\\), [1-9]\\d* CPUs?, \\d+(\\.\\d)? GB memory, no GPUs$`));
    }
    assert.equal(lines.at(-1), 'Enabled infra: ssh/pool-a');
    assert.doesNotMatch(r.stdout, /local/, 'only the infra asked for');
  });

  it('sky check: every driver, the local one too, and a summary of all enabled infra', async () => {
    const r = await exits(['check'], 0);
    assert.match(r.stdout, /^ {2}local: enabled$/m);
    assert.match(r.stdout, /^ {2}ssh: enabled \[ssh\/pool-a\]$/m);
    assert.equal(r.stdout.trimEnd().split('\n').at(-1), 'Enabled infra: local, ssh/pool-a');
  });

  it('sky check with a driver the server does not have fails with the reason; a wrong pool says which pools exist', async () => {
    const r = await exits(['check', 'slurm'], 1);
    assert.match(r.stderr, /sky: driver slurm is not enabled on this API server/);
    const pool = await exits(['check', 'ssh/nope'], 1);
    assert.match(pool.stdout, /^ {2}ssh: disabled/m);
    assert.match(pool.stdout, /Reason: .*no SSH node pool named "nope"; the pools are pool-a/);
    assert.match(pool.stdout, /Enabled infra: \(none\)\n$/);
  });

  it('sky ssh up prepares every host (one ✓ line each) and sky ssh down --infra POOL removes it all again', async () => {
    const up = await exits(['ssh', 'up'], 0);
    for (const h of set.hosts) {
      assert.match(up.stdout, new RegExp(`^✓ pool-a/${label(h).replace(/\./g, '\\.')}: ready: \\d+ CPUs`, 'm'));
      assert.ok(existsSync(join(h.home, nodeScriptPath())), `runtime on ${h.ip}`);
    }
    assert.match(up.stdout, /^2 of 2 hosts ready\.$/m);
    assert.match(up.stderr, /Preparing the hosts of every SSH node pool/);

    const down = await exits(['ssh', 'down', '--infra', 'pool-a'], 0);
    for (const h of set.hosts) {
      assert.match(down.stdout, new RegExp(`^✓ pool-a/${label(h).replace(/\./g, '\\.')}: removed what sky put there$`, 'm'));
      assert.equal(existsSync(join(h.home, '.sky')), false, `nothing left on ${h.ip}`);
    }
    assert.match(down.stdout, /^2 of 2 hosts cleaned up\.$/m);
  });

  it('sky ssh up --async prints the request ID, and the request finishes', async () => {
    const r = await exits(['ssh', 'up', '--infra', 'ssh/pool-a', '--async'], 0);
    const id = r.stdout.trim();
    assert.match(id, /^\S+$/);
    const logs = await exits(['api', 'logs', id], 0);
    for (const h of set.hosts) assert.match(logs.stdout, new RegExp(`pool-a/${label(h).replace(/\./g, '\\.')}: ready`));
    await exits(['ssh', 'down'], 0);
  });

  it('sky show-gpus --infra ssh/pool-a: a row per host, no GPUs, all free', async () => {
    const r = await exits(['show-gpus', '--infra', 'ssh/pool-a'], 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'SSH Node Pool: pool-a');
    assert.deepEqual(lines[1]!.split(/\s{2,}/), ['HOST', 'GPU', 'QTY', 'CPUS', 'MEMORY', 'STATUS']);
    for (const h of set.hosts) {
      const [, gpu, qty, cpus, memory, status] = gpuRow(r.stdout, h);
      assert.deepEqual([gpu, qty, status], ['-', '0', 'free']);
      assert.ok(Number(cpus) >= 1, `cpus ${cpus}`);
      assert.match(memory!, /^\d+(\.\d)? GB$/);
    }
    assert.equal(lines.at(-1), 'No GPUs found in SSH Node Pool pool-a.');
  });

  it('a wrong pool name is a clear error naming the pools there are; a non-SSH infra is a usage error', async () => {
    for (const args of [['show-gpus', '--infra', 'ssh/nope'], ['ssh', 'up', '--infra', 'nope'], ['ssh', 'down', '--infra', 'ssh/nope']]) {
      const r = await exits(args, 1);
      assert.match(r.stderr, /^sky: .*no SSH node pool named "?nope"?[;:] .*pool-a/m, show(args, r));
      assert.equal(r.stdout, '');
    }
    const usage = await exits(['ssh', 'up', '--infra', 'kubernetes/ctx'], 2);
    assert.match(usage.stderr, /^sky: --infra 'kubernetes\/ctx' is not an SSH node pool; give POOL or ssh\/POOL\. Run 'sky ssh up --help'\.$/m);
    const local = await exits(['show-gpus', '--infra', 'local'], 1);
    assert.match(local.stderr, /sky: driver local has no host pools/);
  });

  it('a host held by a cluster: show-gpus says who holds it and ssh down leaves it alone (exit 1)', async () => {
    await exits(['launch', '-y', '-d', '-c', 'keep', '--infra', 'ssh/pool-a', 'true'], 0);
    try {
      const gpus = await exits(['show-gpus'], 0);
      const statuses = set.hosts.map((h) => gpuRow(gpus.stdout, h).at(-1));
      assert.deepEqual(statuses.filter((s) => s === 'free').length, 1, gpus.stdout);
      assert.ok(statuses.some((s) => /^held by \S+ \(keep\)$/.test(s ?? '')), gpus.stdout);

      const check = await exits(['check', 'ssh'], 0);
      assert.match(check.stdout, /held by \S+ \(cluster keep\)$/m);

      const down = await exits(['ssh', 'down'], 1);
      assert.match(down.stdout, /^✗ pool-a\/\S+: held by \S+ \(cluster keep\): run sky down keep first$/m);
      assert.match(down.stdout, /^✓ pool-a\/\S+: removed what sky put there$/m);
      assert.match(down.stdout, /^1 of 2 hosts cleaned up\.$/m);
    } finally {
      await exits(['down', '-y', 'keep'], 0);
    }
  });

  it('a host cut off: sky check names it unreachable and exits 1, the pool stays enabled; show-gpus says so', async () => {
    await set.cutLink(1);
    try {
      const check = await exits(['check', 'ssh'], 1);
      assert.match(check.stdout, /^ {2}ssh: enabled \[ssh\/pool-a\]$/m);
      assert.match(check.stdout, /pool-a: 1 of 2 hosts ready/);
      const cut = check.stdout.split('\n').find((l) => l.includes(`── ${label(set.hosts[1]!)}: `)) ?? assert.fail(check.stdout);
      assert.match(cut, /: unreachable/);
      assert.match(check.stdout, /Enabled infra: ssh\/pool-a\n$/);
      assert.match(check.stderr, /Some infra is not ready/);

      const gpus = await exits(['show-gpus', '--infra', 'ssh'], 0);
      const [, gpu, qty, cpus, memory, status] = gpuRow(gpus.stdout, set.hosts[1]!);
      assert.deepEqual([gpu, qty, cpus, memory], ['-', '-', '-', '-']);
      assert.match(status!, /^unreachable: /);
      assert.match(gpus.stdout, /No GPUs found in SSH Node Pool pool-a \(1 host could not be checked\)\./);
    } finally {
      await set.restoreLink(1);
    }
  });
});
