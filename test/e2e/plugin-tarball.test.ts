import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { runSky, showRun, type CliResult } from '../helpers/sky-cli.js';

/*
 * The published shape of a plugin, end to end: @sky/protocol, @sky/plugin-api and the example
 * driver in examples/sky-driver-example are packed with npm pack, installed from those tarballs
 * (and tarballs of the protocol's own dependencies, so no registry is needed) into an empty
 * plugins directory by `sky plugins install`, then loaded by a real daemon and driven through
 * launch, exec and down on an sshd host in a network namespace. The example pins the host's key
 * through SshReach.hostKeys: the daemon has no known_hosts entry for the host, so the pinned key
 * is what lets it in.
 */

const run = promisify(execFile);
let work: string;
let set: TestHosts;
let daemon: DaemonHandle | undefined;
let home: string;
let tarballs: string[] = [];
let config: string;

const sky = (args: readonly string[]): Promise<CliResult> => runSky(args, { home, endpoint: daemon!.url, timeoutMs: 120_000 });

async function ok(args: readonly string[]): Promise<CliResult> {
  const r = await sky(args);
  assert.equal(r.code, 0, showRun(args, r));
  return r;
}

/** npm pack each directory into `dest` (scripts off: the example is built by npm run build); the tarball paths. */
async function pack(dirs: readonly string[], dest: string): Promise<string[]> {
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dest, ...dirs], { cwd: dest });
  return readdirSync(dest).filter((f) => f.endsWith('.tgz')).map((f) => join(dest, f));
}

function daemonConfig(hostKeyOf: (i: number) => string): string {
  const h = set.hosts[0]!;
  return [
    'plugins:',
    `  install_dir: ${join(work, 'plugins')}`,
    '  global: false',
    'drivers:',
    '  example:',
    '    on_failure: skip',
    `    user: ${h.user}`,
    `    identity_file: ${h.identityFile}`,
    '    hosts:',
    ...set.hosts.map((x, i) => `      - {host: ${x.ip}, port: ${x.port}, host_key: "${hostKeyOf(i)}"}`),
    '',
  ].join('\n');
}

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN, join(REPO_ROOT, 'examples/sky-driver-example/dist/index.js')]) {
    assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  }
  work = mkdtempSync(join(tmpdir(), 'sky-plugin-tarball-'));
  const packs = join(work, 'packs');
  rmSync(packs, { recursive: true, force: true });
  await run('mkdir', ['-p', packs]);
  tarballs = await pack(
    [
      join(REPO_ROOT, 'core/protocol'),
      join(REPO_ROOT, 'core/plugin-api'),
      join(REPO_ROOT, 'examples/sky-driver-example'),
      // The protocol's own dependencies, as tarballs from this checkout: the install needs no registry.
      join(REPO_ROOT, 'node_modules/zod'),
      join(REPO_ROOT, 'node_modules/yaml'),
      join(REPO_ROOT, 'core/protocol/node_modules/ignore'),
    ],
    packs,
  );
  set = await createHosts(2);
  // The host's key as an OpenSSH public key line: known_hosts's "[ip]:port ssh-ed25519 AAAA…" without the host.
  config = daemonConfig((i) => set.hosts[i]!.knownHostsLine.split(' ').slice(1).join(' '));
  home = tempHome();
  daemon = await startDaemon({ home, config, env: { npm_config_offline: 'true', npm_config_update_notifier: 'false' } });
});

after(async () => {
  await daemon?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (home) removeHome(home);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a driver plugin packed, installed from its tarball into the plugins directory, and driven by a real daemon', () => {
  it('the packed tarballs carry no local or workspace dependency', () => {
    assert.equal(tarballs.length, 6, tarballs.join(', '));
    assert.ok(tarballs.some((t) => t.endsWith('sky-plugin-api-1.7.0.tgz') || /sky-plugin-api-\d+\.\d+\.\d+\.tgz$/.test(t)));
  });

  it('before the install, sky plugins list shows the driver FAILED with PLUGIN_NOT_FOUND', async () => {
    const r = await ok(['plugins', 'list']);
    assert.match(r.stdout, /^example\s+sky-driver-example\s+-\s+-\s+FAILED\s+PLUGIN_NOT_FOUND: /m, r.stdout);
    assert.match(r.stdout, /sky plugins install sky-driver-example/);
  });

  it('sky plugins install puts the tarballs into the plugins directory with npm (scripts off)', async () => {
    const r = await ok(['plugins', 'install', ...tarballs]);
    assert.match(r.stdout, /^Installed sky-driver-example@1\.0\.0 \(/m, r.stdout);
    assert.match(r.stdout, /^Installed @sky\/plugin-api@\d+\.\d+\.\d+ /m);
    assert.ok(existsSync(join(work, 'plugins/node_modules/sky-driver-example/dist/index.js')));
    assert.ok(existsSync(join(work, 'plugins/node_modules/@sky/plugin-api/dist/index.d.ts')), 'types ship in the tarball');
  });

  it('after a restart the daemon loads it: LOADED with its version and plugin API range', async () => {
    await daemon!.stop();
    daemon = await startDaemon({ home, config });
    const r = await ok(['plugins', 'list']);
    assert.match(r.stdout, /^example\s+sky-driver-example\s+1\.0\.0\s+\^1\.7\.0\s+LOADED\s*$/m, r.stdout);
    const json = JSON.parse((await ok(['plugins', 'list', '-o', 'json'])).stdout) as { apiVersion?: string };
    assert.match(json.apiVersion ?? '', /^1\.\d+\.\d+$/);
  });

  it('sky launch, sky exec and sky down run on the host the example driver lends, over SSH with the pinned host key', async () => {
    assert.equal(existsSync(join(home, '.ssh/known_hosts')), false, 'the daemon has no known_hosts: only the pinned key can admit the host');
    const launched = await ok(['launch', '-y', '-c', 'ex', '--infra', 'example', 'echo "hello from $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES"']);
    assert.match(launched.stdout, /hello from 0 of 1/, showRun(['launch'], launched));
    const status = await ok(['status']);
    assert.match(status.stdout, /^ex\s.*\bUP\b/m, status.stdout);
    const exec = await ok(['exec', 'ex', 'echo second on $(hostname -I 2>/dev/null | cut -d" " -f1 || echo host)']);
    assert.match(exec.stdout, /^second on /m);
    await ok(['down', '-y', 'ex']);
    const after = await ok(['status']);
    assert.doesNotMatch(after.stdout, /^ex\s/m);
  });

  it('sky plugins verify runs the static checks and the driver conformance suite on the installed package, in a child process', async () => {
    const file = join(work, 'verify.yaml');
    const block = config.split('\n').slice(config.split('\n').indexOf('  example:') + 2).filter((l) => l.length > 0).map((l) => l.slice(2));
    writeFileSync(file, ['config:', ...block, 'conformance: {num_nodes: 1, stops: false}', ''].join('\n'));
    const r = await ok(['plugins', 'verify', join(work, 'plugins/node_modules/sky-driver-example'), '--config', file]);
    assert.match(r.stdout, /^✓ apiVersion \^1\.7\.0 includes this sky's plugin API /m, r.stdout);
    assert.match(r.stdout, /^✓ --config .* passes the plugin's config schema$/m);
    assert.match(r.stdout, /ℹ fail 0/, r.stdout);
    assert.match(r.stdout, /ℹ pass [1-9]/);
    assert.match(r.stderr, /provisions and terminates real clusters/);
  });
});
