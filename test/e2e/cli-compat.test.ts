import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { showRun, spawnSky, type CliResult } from '../helpers/sky-cli.js';

/*
 * End to end, SkyPilot's CLI habits through the built `sky` binary and a real personal daemon
 * whose only config is a ~/.sky/ssh_node_pools.yaml (one sshd host in a network namespace):
 * the ssh driver comes up from that file alone; cluster-name globs; the launch flags; sky status
 * --ip/--endpoints/-v/-o json; sky start -i; sky logs --sync-down; sky show-gpus of every driver.
 */

type Result = CliResult;

let set: TestHosts;
let daemon: DaemonHandle;

const spawnCli = (args: readonly string[]) => spawnSky(args, { home: daemon.home, endpoint: daemon.url });
const sky = (args: readonly string[]): Promise<Result> => spawnCli(args).done;
const show = showRun;

async function exits(args: readonly string[], code: number): Promise<Result> {
  const r = await sky(args);
  assert.equal(r.code, code, show(args, r));
  return r;
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The cells of a status row. */
function row(stdout: string, name: string): string[] | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${name} `));
  return line?.split(/\s{2,}/);
}

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  set = await createHosts(1);
  const host = set.hosts[0]!;
  const home = tempHome();
  // What a SkyPilot user has: the pools file and the host's key in known_hosts. No daemon config.
  writeFileSync(
    join(home, '.sky', 'ssh_node_pools.yaml'),
    `gpu-a:\n  user: ${host.user}\n  identity_file: ${host.identityFile}\n  hosts:\n    - {ip: ${host.ip}, port: ${host.port}}\n`,
  );
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'known_hosts'), `${host.knownHostsLine}\n`);
  daemon = await startDaemon({ home });
});

after(async () => {
  await daemon?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (daemon) removeHome(daemon.home);
});

describe('SSH node pools the SkyPilot way: the pools file alone enables the ssh driver', () => {
  it('sky check lists ssh/gpu-a next to local, with no daemon config', async () => {
    const r = await exits(['check'], 0);
    assert.match(r.stdout, /^ {2}ssh: enabled \[ssh\/gpu-a\]$/m, show(['check'], r));
    assert.equal(r.stdout.trimEnd().split('\n').at(-1), 'Enabled infra: local, ssh/gpu-a');
  });

  it('sky ssh up, then sky launch --infra ssh/gpu-a runs on the host; --retry-until-up waits for the host to be free', async () => {
    await exits(['ssh', 'up'], 0);
    const first = await exits(['launch', '-y', '-c', 'pool1', '--infra', 'ssh/gpu-a', 'echo first-ran; touch "$HOME/pool1-ran-here"'], 0);
    assert.match(first.stdout, /^first-ran$/m);
    assert.ok(existsSync(join(set.hosts[0]!.home, 'pool1-ran-here')), 'the job ran on the pool host');
    // The only host is held by pool1: a second cluster has no capacity until it is down.
    const refused = await exits(['launch', '-y', '-c', 'pool2', '--infra', 'ssh/gpu-a', 'echo second'], 1);
    assert.match(refused.stderr, /no enabled infra can fit|NO_CAPACITY|free: 0/i, show(['launch'], refused));
    const retrying = spawnCli(['launch', '-y', '-c', 'pool2', '--infra', 'ssh/gpu-a', '--retry-until-up', 'echo second-ran']);
    await waitFor('the launch to retry', () => (retrying.out.stderr.includes('Retrying until up') ? true : undefined));
    await exits(['down', '-y', 'pool1'], 0);
    const done = await retrying.done;
    assert.equal(done.code, 0, show(['launch', '--retry-until-up'], done));
    assert.match(done.stdout, /^second-ran$/m);
    await exits(['down', '-y', 'pool2'], 0);
  });

  it('--retry-until-up stops on Ctrl-C without launching anything', async () => {
    await exits(['launch', '-y', '-c', 'hold', '--infra', 'ssh/gpu-a'], 0);
    const retrying = spawnCli(['launch', '-y', '-c', 'never', '--infra', 'ssh/gpu-a', '--retry-until-up', 'echo no']);
    await waitFor('the launch to retry', () => (retrying.out.stderr.includes('Retrying until up') ? true : undefined));
    retrying.child.kill('SIGINT');
    const done = await retrying.done;
    assert.equal(done.code, 130, show(['launch', '--retry-until-up'], done));
    assert.match(done.stderr, /Stopped retrying/);
    assert.equal(row((await exits(['status'], 0)).stdout, 'never'), undefined);
    await exits(['down', '-y', 'hold'], 0);
  });

  it('sky show-gpus without --infra lists every enabled driver: local and the pool', async () => {
    const r = await exits(['show-gpus'], 0);
    assert.match(r.stdout, /^local: (no GPUs|)/m, show(['show-gpus'], r));
    assert.match(r.stdout, /^SSH Node Pool: gpu-a$/m);
  });
});

describe('cluster-name globs, launch flags and status views on the local driver', () => {
  it('launches three clusters; sky status with a glob shows only the matches, and a glob matching nothing fails naming it', async () => {
    // Small nodes, so three fit on a small machine.
    for (const name of ['dev-a', 'dev-b', 'other']) await exits(['launch', '-y', '-c', name, '--infra', 'local', '--cpus', '0.5', '--memory', '0.5'], 0);
    const st = await exits(['status', 'dev-*'], 0);
    assert.ok(row(st.stdout, 'dev-a') && row(st.stdout, 'dev-b'), st.stdout);
    assert.equal(row(st.stdout, 'other'), undefined);
    const q = await exits(['status', 'dev-[!a]'], 0);
    assert.ok(row(q.stdout, 'dev-b') && row(q.stdout, 'dev-a') === undefined, q.stdout);
    const none = await exits(['status', 'zz-*'], 1);
    assert.match(none.stderr, /no cluster of yours matches 'zz-\*'/);
    assert.match((await exits(['stop', 'zz-?'], 1)).stderr, /no cluster of yours matches 'zz-\?'/);
  });

  it('sky down GLOB asks first, listing the matches (refused without a terminal), and -y tears exactly those down', async () => {
    const asked = await exits(['down', 'dev-*'], 2);
    assert.match(asked.stderr, /sky down would tear down 2 clusters: dev-a, dev-b; pass -y to confirm/);
    await exits(['down', 'dev-*', '-y'], 0);
    const st = await exits(['status'], 0);
    assert.equal(row(st.stdout, 'dev-a'), undefined);
    assert.equal(row(st.stdout, 'dev-b'), undefined);
    assert.ok(row(st.stdout, 'other'), st.stdout);
  });

  it('--no-setup and --fast skip setup; a plain relaunch runs it', async () => {
    const dir = join(daemon.home, 'tasks');
    mkdirSync(dir, { recursive: true });
    const task = join(dir, 'setup.yaml');
    writeFileSync(task, 'setup: echo SETUP-RAN\nrun: echo RUN-RAN\nresources:\n  ports: 8080\n');
    const plain = await exits(['launch', '-y', '-c', 'web', '--cpus', '0.5', '--memory', '0.5', task], 0);
    assert.match(plain.stdout, /^SETUP-RAN$/m);
    const noSetup = await exits(['launch', '-y', '-c', 'web', '--no-setup', task], 0);
    assert.doesNotMatch(noSetup.stdout, /SETUP-RAN/);
    assert.match(noSetup.stdout, /^RUN-RAN$/m);
    const fast = await exits(['launch', '-y', '-c', 'web', '--fast', task], 0);
    assert.doesNotMatch(fast.stdout, /SETUP-RAN/);
    assert.match(fast.stderr, /--fast: cluster 'web' is UP; skipping setup/);
  });

  it('the resource flags get the same refusals as the YAML fields, in the dry run and the launch alike', async () => {
    for (const args of [['--dryrun'], ['-y']]) {
      const r = await exits(['launch', ...args, '-c', 'spot', '--infra', 'local', '--use-spot', '--image-id', 'docker:ubuntu:22.04', 'echo x'], 1);
      assert.match(r.stderr, /spot capacity \(use_spot: true\)/, show(args, r));
      assert.match(r.stderr, /container image \(image_id: docker:ubuntu:22\.04\)/);
    }
    const zone = await exits(['launch', '--dryrun', '--cloud', 'local', '--region', 'eu-west', 'echo x'], 1);
    assert.match(zone.stderr, /local cannot place nodes in a region or zone/);
  });

  it('sky status --ip, --endpoints, -v and -o json', async () => {
    const ip = (await exits(['status', '--ip', 'web'], 0)).stdout.trim();
    assert.ok(ip.length > 0);
    assert.equal((await exits(['status', '--endpoints', 'web'], 0)).stdout.trim(), `8080: ${ip}:8080`);
    assert.match((await exits(['status', '--ip'], 2)).stderr, /--ip needs exactly one cluster name/);
    const v = await exits(['status', '-v'], 0);
    assert.match(v.stdout, /^NAME\s+LAUNCHED\s+INFRA\s+RESOURCES\s+STATUS\s+AUTOSTOP\s+COMMAND$/m);
    assert.match((await exits(['status'], 0)).stdout, /^NAME\s+LAUNCHED\s+RESOURCES\s+STATUS\s+AUTOSTOP\s+COMMAND$/m);
    const json = JSON.parse((await exits(['status', 'web', '-o', 'json'], 0)).stdout) as { clusters: Array<Record<string, unknown>>; enabledInfra: string[] };
    assert.deepEqual(Object.keys(json), ['clusters', 'enabledInfra']);
    const web = json.clusters[0]!;
    assert.equal(web.name, 'web');
    assert.equal(web.status, 'UP');
    assert.equal(web.infra, 'local');
    assert.equal(web.headIp, ip);
    assert.deepEqual(web.ports, ['8080']);
    assert.equal(web.autostop, null);
    assert.ok(!('driverState' in web) && !('nodes' in web), 'no internal fields');
  });

  it('sky logs --sync-down copies the job log under ~/sky_logs/CLUSTER/JOB_ID', async () => {
    const r = await exits(['logs', 'web', '1', '--sync-down'], 0);
    const dir = r.stdout.trim();
    assert.equal(dir, join(daemon.home, 'sky_logs', 'web', '1'));
    assert.match(readFileSync(join(dir, 'run.log'), 'utf8'), /^SETUP-RAN$/m);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    // SkyPilot's JobExitCode.NOT_FOUND, as for sky logs without --sync-down.
    assert.match((await exits(['logs', 'web', '99', '--sync-down'], 102)).stderr, /cluster web has no job 99/);
  });

  it("sky start 'we?' -i --down restarts the match and sets autodown once it is UP; sky autostop takes a glob too", async () => {
    await exits(['stop', '-y', 'we*'], 0);
    assert.match((await exits(['stop', '-y', 'we*'], 0)).stdout, /Nothing to stop: the matching clusters are already STOPPED/);
    const r = await exits(['start', '-y', 'we?', '-i', '30', '--down'], 0);
    assert.match(r.stdout, /Restarting cluster web\.\.\.done\./);
    assert.match(r.stdout, /auto-?downed after 30 minutes/);
    assert.match(row((await exits(['status', 'web'], 0)).stdout, 'web')?.[4] ?? '', /^30m \(down\)$/);
    await exits(['autostop', 'oth*', '-i', '15'], 0);
    assert.match(row((await exits(['status', 'other'], 0)).stdout, 'other')?.[4] ?? '', /^15m$/);
    await exits(['down', '-y', 'web', 'other'], 0);
  });
});

describe('sky dashboard', () => {
  it('prints a one-time login link (no browser without a desktop terminal) that opens the dashboard once', async () => {
    const r = await exits(['dashboard'], 0);
    assert.match(r.stderr, /^Open this link in your browser within \d+ s; it works once/m);
    const url = r.stdout.trim();
    assert.ok(url.startsWith(`${daemon.url}/`), url);
    const opened = await http(url, { anonymous: true });
    assert.equal(opened.status, 303, opened.text);
    assert.equal(new URL(String(opened.headers.location), url).pathname, '/dashboard/');
    const again = await http(url, { anonymous: true });
    assert.notEqual(again.status, 303, 'the link works once');
  });
});
