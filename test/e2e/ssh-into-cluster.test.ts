import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, SKY_BIN, freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { makeTestPki, type TestPki } from '../helpers/test-pki.js';
import { TEAM_ADMIN, asAdmin, asUser, errorOf } from '../helpers/team.js';
import { clientRuns, type RunResult } from '../helpers/client-runs.js';

/*
 * `ssh CLUSTER` with OpenSSH's own client, through the config `sky launch` writes: its
 * ProxyCommand (`sky ssh-proxy`) tunnels to the API server, which serves the SSH session on the
 * node. (a) a local-driver cluster of a personal server: commands, a terminal, scp, rsync, ssh -L
 * to a port a job listens on, a worker; (b) an SSH-driver cluster of a team server; refusals: no
 * credentials, another member's cluster, a member removed from the workspace (also cut off while
 * connected), a server whose host key is not the pinned one.
 */

type Result = RunResult;

const { children, run } = clientRuns();

function show(what: string, r: Result): string {
  return `${what} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** A sky user on this machine: a HOME of their own and the endpoint (with their credentials, on the team server). */
interface User {
  home: string;
  endpoint: string;
  /** The team CA, for an https endpoint. */
  ca?: string;
}

const envOf = (u: User): NodeJS.ProcessEnv => ({ HOME: u.home, SKYPILOT_API_SERVER_ENDPOINT: u.endpoint, ...(u.ca === undefined ? {} : { SKYPILOT_API_SERVER_CA: u.ca }) });
const sky = (u: User, args: readonly string[]): Promise<Result> => run(process.execPath, ['--', SKY_BIN, ...args], envOf(u));
const configOf = (u: User, cluster: string): string => join(u.home, '.sky', 'generated', 'ssh', cluster);
/** OpenSSH's client with the cluster's generated config (ssh reads ~ from the passwd entry, not $HOME, so the file is named). */
const ssh = (u: User, cluster: string, args: readonly string[], input?: string): Promise<Result> =>
  run('ssh', ['-F', configOf(u, cluster), '-o', 'BatchMode=yes', ...args], envOf(u), input);

async function ok(u: User, args: readonly string[]): Promise<Result> {
  const r = await sky(u, args);
  assert.equal(r.code, 0, show(`sky ${args.join(' ')}`, r));
  return r;
}

/** A call to the team server, verified against the team CA. */
const teamHttp = (path: string, options: Parameters<typeof http>[1] = {}): ReturnType<typeof http> => http(`${team.url}${path}`, { ...options, ca: readFileSync(pki.ca) });

/** What an HTTP server on the node's 127.0.0.1:`port` answers through `ssh -N -L` to the cluster's head. */
async function throughForward(u: User, cluster: string, port: number): Promise<string> {
  const local = await freePort();
  const forward = spawn('ssh', ['-F', configOf(u, cluster), '-o', 'BatchMode=yes', '-N', '-L', `${local}:127.0.0.1:${port}`, cluster], { env: { ...process.env, ...envOf(u) }, stdio: 'ignore' });
  children.add(forward);
  try {
    let answer = '';
    for (let i = 0; i < 200 && answer === ''; i++) {
      answer = await http(`http://127.0.0.1:${local}/`, { anonymous: true }).then(
        (a) => a.text,
        () => '',
      );
      if (answer === '') await new Promise((r) => setTimeout(r, 100));
    }
    return answer;
  } finally {
    forward.kill('SIGTERM');
    children.delete(forward);
  }
}

/** An ssh session kept open (a remote `sleep`): resolves once the node answered, with a way to end it. */
async function hold(u: User, cluster: string, host: string): Promise<{ end: () => Promise<Result>; done: Promise<Result> }> {
  let ready: () => void = () => undefined;
  const up = new Promise<void>((resolve) => (ready = resolve));
  const before = new Set(children);
  const done = run('ssh', ['-F', configOf(u, cluster), '-o', 'BatchMode=yes', host, 'echo held; sleep 120'], envOf(u), undefined, 60_000, (out) => {
    if (out.includes('held')) ready();
  });
  const child = [...children].find((c) => !before.has(c))!;
  await Promise.race([up, done.then((r) => assert.fail(show('a held ssh session', r)))]);
  return {
    done,
    end: () => {
      child.kill('SIGTERM');
      return done;
    },
  };
}

let hosts: TestHosts;
let pki: TestPki;
let personal: DaemonHandle;
let team: DaemonHandle;
let me: User;
let alice: User;
let bob: User;
let carol: User;

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  hosts = await createHosts(2);
  personal = await startDaemon();
  me = { home: personal.home, endpoint: personal.url };
  // The team server speaks HTTPS only: tunnels go through its TLS, checked against the team CA.
  pki = await makeTestPki();
  team = await startDaemon({
    config: `listen:\n  tls:\n    cert: ${pki.server.cert}\n    key: ${pki.server.key}\nauth:\n  mode: basic\nssh_gateway:\n  recheck_seconds: 1\n  max_tunnels_per_user: 2\n${sshDaemonConfig(hosts)}`,
    env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
    tlsCa: pki.ca,
  });
  const port = new URL(team.url).port;
  for (const name of ['alice', 'bob', 'carol']) {
    const res = await teamHttp('/api/v1/users', { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name, password: `${name}-password` }) });
    assert.equal(res.status, 201, res.text);
  }
  const ws = await teamHttp(`/api/v1/workspaces`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: 'research', private: true, allowed_users: ['carol'] }) });
  assert.equal(ws.status, 201, ws.text);
  const member = (name: string): User => ({ home: tempHome(), endpoint: `https://${name}:${name}-password@localhost:${port}`, ca: pki.ca });
  alice = member('alice');
  bob = member('bob');
  carol = member('carol');
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await personal?.stop();
  await team?.stop();
  await killAllDaemons();
  await hosts?.destroy();
  await pki?.destroy();
  for (const u of [me, alice, bob, carol]) if (u) removeHome(u.home);
});

describe('ssh into a local-driver cluster of a personal API server', () => {
  let port: number;

  it('sky launch writes the cluster SSH config, pins the API server host key, and adds one Include to the top of ~/.ssh/config', async () => {
    mkdirSync(join(me.home, '.ssh'), { recursive: true, mode: 0o700 });
    writeFileSync(join(me.home, '.ssh', 'config'), 'Host example\n  User someone\n', { mode: 0o644 });
    port = await freePort();
    // Rank 0 serves HTTP on a port (as Jupyter or TensorBoard would); rank 1 only waits.
    const serve = `require('http').createServer((q, s) => s.end('served by the job')).listen(${port}, '127.0.0.1')`;
    await ok(me, ['launch', '-y', '-d', '-c', 'loc', '--infra', 'local', '--num-nodes', '2', `if [ "$SKYPILOT_NODE_RANK" = 0 ]; then exec ${process.execPath} -e "${serve}"; else sleep 600; fi`]);

    const userConfig = readFileSync(join(me.home, '.ssh', 'config'), 'utf8');
    const lines = userConfig.split('\n');
    assert.match(lines[0]!, /^# Added by sky/);
    assert.equal(lines[1], 'Include ~/.sky/generated/ssh/*');
    assert.ok(userConfig.endsWith('Host example\n  User someone\n'), `the user's own lines are kept:\n${userConfig}`);

    const config = readFileSync(configOf(me, 'loc'), 'utf8');
    assert.match(config, /^Host loc$/m);
    assert.match(config, /^Host loc-worker1$/m);
    assert.match(config, /ProxyCommand .* ssh-proxy loc 0$/m);
    assert.match(config, /ProxyCommand .* ssh-proxy loc 1$/m);
    assert.match(config, /StrictHostKeyChecking yes/);
    const key = (await http(`${personal.url}/api/v1/ssh/host-key`)).json() as { publicKey: string };
    assert.equal(readFileSync(join(me.home, '.sky', 'generated', 'ssh-known-hosts', 'loc'), 'utf8'), `sky-loc ${key.publicKey}\n`);
  });

  it('ssh loc COMMAND runs on the head, as the account its jobs use, and passes the exit status back; loc-worker1 is rank 1', async () => {
    const head = await ssh(me, 'loc', ['loc', 'pwd; id -un; exit 3']);
    assert.equal(head.code, 3, show('ssh loc', head));
    const [pwd, account] = head.stdout.trim().split('\n');
    assert.match(pwd!, /\/loc-[^/]+\/node-0$/);
    assert.equal(account, (await run('id', ['-un'], {})).stdout.trim());
    const worker = await ssh(me, 'loc', ['loc-worker1', 'pwd']);
    assert.equal(worker.code, 0, show('ssh loc-worker1', worker));
    assert.match(worker.stdout.trim(), /\/loc-[^/]+\/node-1$/);
  });

  it('an interactive shell gets a terminal (ssh -tt)', async () => {
    const r = await ssh(me, 'loc', ['-tt', 'loc'], 'tty; echo "TERM=$TERM"; exit 5\n');
    assert.equal(r.code, 5, show('ssh -tt loc', r));
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.match(r.stdout, /TERM=\S+/);
  });

  it('scp (SFTP and the legacy protocol) and rsync -e ssh copy results back', async () => {
    const made = await ssh(me, 'loc', ['loc', 'mkdir -p results && echo "loss=0.12" > results/metrics.txt']);
    assert.equal(made.code, 0, show('ssh loc mkdir', made));
    const here = join(me.home, 'copies');
    mkdirSync(here, { recursive: true });
    const sftp = await run('scp', ['-F', configOf(me, 'loc'), '-o', 'BatchMode=yes', 'loc:results/metrics.txt', join(here, 'sftp.txt')], envOf(me));
    assert.equal(sftp.code, 0, show('scp', sftp));
    assert.equal(readFileSync(join(here, 'sftp.txt'), 'utf8'), 'loss=0.12\n');
    const legacy = await run('scp', ['-O', '-F', configOf(me, 'loc'), '-o', 'BatchMode=yes', 'loc:results/metrics.txt', join(here, 'legacy.txt')], envOf(me));
    assert.equal(legacy.code, 0, show('scp -O', legacy));
    assert.equal(readFileSync(join(here, 'legacy.txt'), 'utf8'), 'loss=0.12\n');
    const rsync = await run('rsync', ['-a', '-e', `ssh -F ${configOf(me, 'loc')} -o BatchMode=yes`, 'loc:results/', join(here, 'rsynced/')], envOf(me));
    assert.equal(rsync.code, 0, show('rsync', rsync));
    assert.equal(readFileSync(join(here, 'rsynced', 'metrics.txt'), 'utf8'), 'loss=0.12\n');
  });

  it('ssh -L reaches a port the job listens on', async () => {
    assert.equal(await throughForward(me, 'loc', port), 'served by the job');
  });

  it('a server whose key is not the pinned one is refused by ssh itself', async () => {
    const knownHosts = join(me.home, '.sky', 'generated', 'ssh-known-hosts', 'loc');
    const pinned = readFileSync(knownHosts, 'utf8');
    // Another ed25519 key under the cluster's alias: what a tunnel ending elsewhere would look like.
    writeFileSync(knownHosts, `sky-loc ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    try {
      const r = await ssh(me, 'loc', ['loc', 'echo should-not-run']);
      assert.equal(r.code, 255, show('ssh with a wrong pinned key', r));
      assert.doesNotMatch(r.stdout, /should-not-run/);
      assert.match(r.stderr, /HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    } finally {
      writeFileSync(knownHosts, pinned);
    }
  });

  it('sky stop leaves a stopped cluster unreachable (not UP); sky start writes the SSH config again', async () => {
    await ok(me, ['stop', '-y', 'loc']);
    const stopped = await ssh(me, 'loc', ['loc', 'echo should-not-run']);
    assert.equal(stopped.code, 255, show('ssh into a stopped cluster', stopped));
    assert.match(stopped.stderr, /cluster loc is STOPPED[^\n]*\n {2}hint: Start it with: sky start loc/);
    rmSync(configOf(me, 'loc'));
    await ok(me, ['start', '-y', 'loc']);
    const back = await ssh(me, 'loc', ['loc-worker1', 'echo back']);
    assert.equal(back.code, 0, show('ssh after sky start', back));
    assert.equal(back.stdout, 'back\n');
  });

  it('sky down removes the cluster SSH config; the Include line stays, once', async () => {
    await ok(me, ['down', '-y', 'loc']);
    assert.equal(existsSync(configOf(me, 'loc')), false);
    assert.equal(existsSync(join(me.home, '.sky', 'generated', 'ssh-known-hosts', 'loc')), false);
    const userConfig = readFileSync(join(me.home, '.ssh', 'config'), 'utf8');
    assert.equal(userConfig.split('\n').filter((l) => l === 'Include ~/.sky/generated/ssh/*').length, 1);
  });

  it('every tunnel that opened was closed again, and both are in the audit log', async () => {
    let opened = 0;
    let closed = -1;
    for (let i = 0; i < 50 && opened !== closed; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const { items } = (await http(`${personal.url}/api/v1/audit?limit=500`)).json() as { items: Array<{ action: string; target?: string }> };
      opened = items.filter((e) => e.action === 'ssh.open' && e.target?.startsWith('loc/')).length;
      closed = items.filter((e) => e.action === 'ssh.close' && e.target?.startsWith('loc/')).length;
    }
    assert.ok(opened >= 8, `tunnels opened: ${opened}`);
    assert.equal(closed, opened);
  });
});

describe('ssh into an SSH-driver cluster of a team API server', () => {
  it("alice's cluster: ssh runs on the pool's host as the pool's user; scp copies back", async () => {
    await ok(alice, ['launch', '-y', '-c', 'al', '--infra', 'ssh/pool-a', 'echo launched']);
    const r = await ssh(alice, 'al', ['al', 'id -un; echo "pong" > pong.txt; exit 4']);
    assert.equal(r.code, 4, show('ssh al', r));
    assert.equal(r.stdout.trim(), hosts.hosts[0]!.user);
    const copy = join(alice.home, 'pong.txt');
    const scp = await run('scp', ['-F', configOf(alice, 'al'), '-o', 'BatchMode=yes', 'al:pong.txt', copy], envOf(alice));
    assert.equal(scp.code, 0, show('scp', scp));
    assert.equal(readFileSync(copy, 'utf8'), 'pong\n');
  });

  it('on the SSH node: a terminal, and ssh -L to a port a job of the cluster listens on', async () => {
    const tty = await ssh(alice, 'al', ['-tt', 'al', 'tty; exit 6']);
    assert.equal(tty.code, 6, show('ssh -tt al COMMAND', tty));
    assert.match(tty.stdout, /\/dev\/pts\/\d+/);
    // An interactive shell: typed once its prompt is there, as a person would.
    const shell = spawn('ssh', ['-F', configOf(alice, 'al'), '-o', 'BatchMode=yes', '-tt', 'al'], { env: { ...process.env, ...envOf(alice) }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(shell);
    let seen = '';
    const closed = new Promise<number | null>((resolve) => shell.on('close', resolve));
    await new Promise<void>((resolve) => {
      shell.stdout.on('data', (d: Buffer) => {
        seen += d.toString();
        if (/[$#] $/.test(seen)) resolve();
      });
      void closed.then(() => resolve());
      setTimeout(resolve, 20_000).unref();
    });
    shell.stdin.write('tty; exit 7\n');
    const code = await Promise.race([closed, new Promise((r) => setTimeout(() => r('no exit within 30 s'), 30_000))]);
    shell.kill('SIGKILL');
    assert.equal(code, 7, seen);
    children.delete(shell);
    assert.match(seen, /\/dev\/pts\/\d+/);

    const port = 47000 + Math.floor(Math.random() * 2000);
    const serve = `require('http').createServer((q, s) => s.end('served on the pool host')).listen(${port}, '127.0.0.1')`;
    await ok(alice, ['exec', '-d', 'al', `exec ${process.execPath} -e "${serve}"`]);
    assert.equal(await throughForward(alice, 'al', port), 'served on the pool host');
  });

  it('the tunnel refuses a call without credentials (401), a plain GET (426), and bob on alice’s cluster (403, audited)', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'sky-ssh' };
    const anonymous = await teamHttp(`/api/v1/clusters/al/ssh?rank=0`, { headers: upgrade });
    assert.equal(anonymous.status, 401, anonymous.text);
    const plain = await teamHttp(`/api/v1/clusters/al/ssh`, { headers: asUser('alice') });
    assert.equal(plain.status, 426, plain.text);
    assert.equal(errorOf(plain.text).code, 'UPGRADE_REQUIRED');
    const forBob = await teamHttp(`/api/v1/clusters/al/ssh?rank=0`, { headers: { ...asUser('bob'), ...upgrade } });
    assert.equal(forBob.status, 403, forBob.text);
    // Alice's own browser session (a dashboard login) does not open tunnels either.
    const link = (await teamHttp('/api/v1/auth/login-links', { method: 'POST', headers: asUser('alice') })).json() as { path: string };
    const opened = await teamHttp(link.path.replace(/^https?:\/\/[^/]+/, ''));
    const cookie = String(opened.headers['set-cookie'] ?? '').split(';')[0]!;
    assert.match(cookie, /=/, JSON.stringify(opened.headers));
    const bySession = await teamHttp(`/api/v1/clusters/al/ssh?rank=0`, { headers: { cookie, ...upgrade } });
    assert.equal(bySession.status, 403, bySession.text);
    assert.match(errorOf(bySession.text).message, /browser session/);

    // Bob with alice's generated config, and his own credentials.
    mkdirSync(join(bob.home, '.sky', 'generated', 'ssh'), { recursive: true });
    writeFileSync(configOf(bob, 'al'), readFileSync(configOf(alice, 'al'), 'utf8'));
    const r = await ssh(bob, 'al', ['al', 'echo should-not-run']);
    assert.equal(r.code, 255, show('bob: ssh al', r));
    assert.doesNotMatch(r.stdout, /should-not-run/);
    assert.match(r.stderr, /cluster al belongs to alice/);
    const audit = (await teamHttp(`/api/v1/audit?user=bob`, { headers: asAdmin() })).json() as { items: Array<{ action: string; result: string; target?: string }> };
    assert.ok(audit.items.some((e) => e.action === 'ssh' && e.result === 'DENIED' && e.target === 'al/0'), JSON.stringify(audit.items));
  });

  it('a user holds at most ssh_gateway.max_tunnels_per_user tunnels at a time (429), and gets one back when one closes', async () => {
    const first = await hold(alice, 'al', 'al');
    const second = await hold(alice, 'al', 'al');
    try {
      const third = await ssh(alice, 'al', ['al', 'echo should-not-run']);
      assert.equal(third.code, 255, show('a third tunnel', third));
      assert.match(third.stderr, /alice already has 2 SSH sessions open through this API server \(at most 2 at a time\)/);
    } finally {
      await first.end();
    }
    let again: Result | undefined;
    for (let i = 0; i < 50 && again?.code !== 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      again = await ssh(alice, 'al', ['al', 'echo again']);
    }
    assert.equal(again?.code, 0, show('a tunnel once one closed', again!));
    await second.end();
  });

  it('a member removed from the private workspace is cut off while connected and refused after (audited)', async () => {
    await ok(carol, ['launch', '-y', '-c', 'cr', '--infra', 'ssh/pool-a', '--workspace', 'research', 'echo launched']);
    const first = await ssh(carol, 'cr', ['cr', 'echo in']);
    assert.equal(first.code, 0, show('carol: ssh cr', first));
    assert.equal(first.stdout.trim(), 'in');

    let connected: () => void = () => undefined;
    const isConnected = new Promise<void>((resolve) => (connected = resolve));
    const held = run('ssh', ['-F', configOf(carol, 'cr'), '-o', 'BatchMode=yes', 'cr', 'echo connected; sleep 120; echo not-cut'], envOf(carol), undefined, 60_000, (out) => {
      if (out.includes('connected')) connected();
    });
    await Promise.race([isConnected, held]);
    assert.ok(!(await Promise.race([held.then(() => true), Promise.resolve(false)])), 'the session is open before the removal');
    const removed = await teamHttp(`/api/v1/workspaces/research`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ allowed_users: [] }) });
    assert.equal(removed.status, 200, removed.text);
    const cut = await held;
    assert.notEqual(cut.code, 0, show('the held session', cut));
    assert.doesNotMatch(cut.stdout, /not-cut/);

    const after = await ssh(carol, 'cr', ['cr', 'echo should-not-run']);
    assert.equal(after.code, 255, show('carol after removal', after));
    assert.match(after.stderr, /private workspace research/);
    const audit = (await teamHttp(`/api/v1/audit?user=carol`, { headers: asAdmin() })).json() as { items: Array<{ action: string; result: string; detail?: string }> };
    assert.ok(audit.items.some((e) => e.action === 'ssh' && e.result === 'DENIED'), JSON.stringify(audit.items));
    assert.ok(audit.items.some((e) => e.action === 'ssh.open'));
    assert.ok(audit.items.some((e) => e.action === 'ssh.close' && /may no longer use this cluster/.test(e.detail ?? '')), JSON.stringify(audit.items));
  });
});
