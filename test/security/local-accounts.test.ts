import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { deriveAccountName } from 'sky-driver-local';
import { DAEMON_MAIN, http, killAllDaemons, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { accountsWithPrefix, removeAccount, startNodeHelper, type NodeHelperHandle } from '../helpers/node-helper.js';
import { asAdmin, asUser, basicAuth, errorOf, runOperation, TEAM_ADMIN, teamDriverConfig } from '../helpers/team.js';

// Replays the findings "a job runs as the daemon's own account" (it listed the state store,
// printed every password hash through sky logs, could kill the daemon or rewrite the store) and
// "a job read /proc/<daemon pid>/environ and found SKY_ADMIN_PASSWORD", against a real team
// daemon that runs as an unprivileged account of its own, with sky-node-helper as root and
// each user's jobs under their own account. Every attempt must fail, the job's log must show
// the denial, and the daemon must stay up.

interface Account {
  name: string;
  uid: number;
  gid: number;
}
interface Rec {
  id: string;
  status: string;
  result?: { cluster: string; jobId: number };
  error?: { code: string; message: string };
}

const SECRET_ADMIN_PASSWORD = `admin-${randomBytes(6).toString('hex')}`;
const BOB_SECRET = `bob-secret-${randomBytes(6).toString('hex')}`;

let daemonAccount: Account;
let home: string;
let helper: NodeHelperHandle;
let d: DaemonHandle;
let stateDir: string;
let logFile: string;
let ids: Record<string, string> = {};

const admin = (): Record<string, string> => basicAuth(TEAM_ADMIN.name, SECRET_ADMIN_PASSWORD);

function account(name: string): Account {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  assert.ok(line, `account ${name} exists`);
  const f = line.split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

/** Launch (or exec on) a cluster as `user` and wait for the job; resolves with its log lines and end status. */
async function job(user: string, cluster: string, run: string, extra: Record<string, unknown> = {}, op: 'launch' | 'exec' = 'launch'): Promise<{ lines: string[]; end: string | undefined; jobId: number }> {
  const rec = await runOperation<Rec>(d.url, op, { cluster, task: { run, ...extra } }, asUser(user));
  assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
  const jobId = rec.result!.jobId;
  const res = await http(`${d.url}/api/v1/clusters/${cluster}/jobs/${jobId}/logs?follow=true`, { headers: asUser(user) });
  assert.equal(res.status, 200, res.text);
  return { ...sse(res.text), jobId };
}

function sse(text: string): { lines: string[]; end: string | undefined } {
  const lines: string[] = [];
  let end: string | undefined;
  for (const block of text.split('\n\n')) {
    const data = block.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
    if (data === undefined) continue;
    if (block.startsWith('event: log')) lines.push((JSON.parse(data) as { text: string }).text);
    if (block.startsWith('event: end')) end = (JSON.parse(data) as { status: string }).status;
  }
  return { lines, end };
}

/** `sky exec a1 --workdir DIR COMMAND` as alice through the CLI (which sends the workdir its way). */
function cliExec(workdir: string, command: string): { status: number | null; stdout: string; stderr: string } {
  const cliHome = tempHome();
  try {
    return spawnSync(process.execPath, [SKY_BIN, 'exec', 'a1', '--workdir', workdir, command], {
      env: { ...process.env, HOME: cliHome, SKYPILOT_API_SERVER_ENDPOINT: `http://alice:alice-password@127.0.0.1:${d.port}` },
      encoding: 'utf8',
      timeout: 60_000,
    });
  } finally {
    rmSync(cliHome, { recursive: true, force: true });
  }
}

async function healthy(): Promise<void> {
  assert.equal(d.child.exitCode, null, 'the daemon is still running');
  assert.equal(d.child.signalCode, null, 'the daemon was not killed');
  const res = await http(`${d.url}/api/health`);
  assert.equal(res.status, 200, res.text);
}

function denied(lines: string[], marker: string): string {
  const line = lines.find((l) => l.includes(marker));
  assert.ok(line, `the log has a line for ${marker}: ${lines.join(' | ')}`);
  assert.match(line, /Permission denied|Operation not permitted|not permitted/, `${marker} was refused: ${line}`);
  return line;
}

before(async () => {
  // The daemon's own account, outside the helper's prefix, with a HOME only it can enter.
  const name = `sd${randomBytes(3).toString('hex')}`;
  const made = spawnSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', name], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  daemonAccount = account(name);
  home = tempHome();
  chownSync(home, daemonAccount.uid, daemonAccount.gid);
  chownSync(join(home, '.sky'), daemonAccount.uid, daemonAccount.gid);
  chmodSync(home, 0o750);
  helper = await startNodeHelper({ socketOwner: name });
  d = await startDaemon({
    home,
    uid: daemonAccount.uid,
    gid: daemonAccount.gid,
    config: `auth:\n  mode: basic\n${teamDriverConfig(home, helper)}`,
    env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: SECRET_ADMIN_PASSWORD },
  });
  stateDir = join(home, '.sky/api_server');
  logFile = join(stateDir, 'server.log');
  for (const user of ['alice', 'bob']) {
    const res = await http(`${d.url}/api/v1/users`, { method: 'POST', headers: admin(), body: JSON.stringify({ name: user, password: `${user}-password` }) });
    assert.equal(res.status, 201, res.text);
    const me = await http(`${d.url}/api/v1/users/me`, { headers: asUser(user) });
    ids[user] = (me.json() as { id: string }).id;
  }
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  await helper?.stop();
  if (daemonAccount) removeAccount(daemonAccount);
  if (home) rmSync(home, { recursive: true, force: true });
  ids = {};
});

describe('team jobs on the local driver run as their own OS accounts (sky-node-helper)', () => {
  it("a job runs as its user's own unprivileged account: not root, not the daemon, no extra groups", async () => {
    const { lines, end } = await job('alice', 'a1', 'echo "USER=$(id -un) UID=$(id -u) GROUPS=$(id -G) HOME=$HOME"');
    assert.equal(end, 'SUCCEEDED', lines.join('\n'));
    const expected = deriveAccountName(helper.prefix, 'alice', ids['alice']!);
    const alice = account(expected);
    const line = lines.find((l) => l.startsWith('USER='));
    assert.equal(line, `USER=${expected} UID=${alice.uid} GROUPS=${alice.gid} HOME=${line?.split('HOME=')[1]}`);
    assert.notEqual(alice.uid, 0);
    assert.notEqual(alice.uid, daemonAccount.uid);
    assert.ok(line!.split('HOME=')[1]!.startsWith(`${helper.nodeRoot}/${expected}/`), `HOME is alice's node directory: ${line}`);
    assert.deepEqual(accountsWithPrefix(helper.prefix).map((a) => a.name), [expected], 'one account, made on first use');
  });

  it("cannot read the daemon's state store, server log or password hashes", async () => {
    const { lines, end } = await job('alice', 'a1', [`ls ${stateDir} 2>&1 | sed 's/^/LS: /'`, `cat ${logFile} 2>&1 | head -c 300 | sed 's/^/LOG: /'`, `cat ${stateDir}/state/CURRENT 2>&1 | sed 's/^/STORE: /'`].join('\n'), {}, 'exec');
    assert.equal(end, 'SUCCEEDED');
    denied(lines, 'LS:');
    denied(lines, 'LOG:');
    denied(lines, 'STORE:');
    const text = lines.join('\n');
    assert.doesNotMatch(text, /listening|scrypt|MANIFEST/, 'nothing of the state dir reached the job');
    await healthy();
  });

  it("cannot read the daemon's environment (/proc/<pid>/environ: the first admin's password)", async () => {
    const { lines } = await job('alice', 'a1', `cat /proc/${d.pid}/environ 2>&1 | tr '\\0' '\\n' | sed 's/^/ENV: /'`, {}, 'exec');
    denied(lines, 'ENV:');
    assert.ok(!lines.join('\n').includes(SECRET_ADMIN_PASSWORD), 'the admin password did not reach the job');
    await healthy();
  });

  it('cannot signal the daemon (kill -0, kill -TERM) or the helper; the daemon stays up', async () => {
    const { lines } = await job('alice', 'a1', [`kill -0 ${d.pid} 2>&1 | sed 's/^/K0: /'`, `kill -TERM ${d.pid} 2>&1 | sed 's/^/TERM: /'`, `kill -KILL ${helper.pid} 2>&1 | sed 's/^/HELPER: /'`].join('\n'), {}, 'exec');
    denied(lines, 'K0:');
    denied(lines, 'TERM:');
    denied(lines, 'HELPER:');
    await sleep(300);
    await healthy();
    assert.doesNotThrow(() => process.kill(helper.pid, 0), 'the helper is still running');
  });

  it("cannot read another user's job env file or its processes' environment", async () => {
    const bob = await runOperation<Rec>(d.url, 'launch', { cluster: 'b1', task: { run: 'sleep 120', secrets: { BOB_SECRET } } }, asUser('bob'));
    assert.equal(bob.status, 'SUCCEEDED', JSON.stringify(bob.error));
    const bobAccount = account(deriveAccountName(helper.prefix, 'bob', ids['bob']!));
    // Find bob's job on disk (as root): its env file, and a process whose environment holds the secret.
    const bobHome = join(helper.nodeRoot, bobAccount.name);
    let envFile = '';
    let pid = 0;
    for (let tries = 0; tries < 200 && pid === 0; tries++) {
      for (const cluster of readdirSync(bobHome)) {
        const jobs = join(bobHome, cluster, 'node-0/.sky/jobs');
        for (const j of existsSync(jobs) ? readdirSync(jobs) : []) {
          envFile = join(jobs, j, 'env');
          const pgid = existsSync(join(jobs, j, 'pid')) ? Number(readFileSync(join(jobs, j, 'pid'), 'utf8').trim()) : 0;
          if (pgid > 0) pid = processWithSecret(pgid);
        }
      }
      if (pid === 0) await sleep(100);
    }
    assert.ok(envFile && readFileSync(envFile, 'utf8').includes(BOB_SECRET), "bob's env file holds his secret");
    assert.ok(pid > 0, "one of bob's job processes has the secret in its environment");
    const { lines } = await job(
      'alice',
      'a1',
      [
        `cat ${envFile} 2>&1 | sed 's/^/ENVFILE: /'`,
        `cat /proc/${pid}/environ 2>&1 | tr '\\0' '\\n' | sed 's/^/PROCENV: /'`,
        `ls ${bobHome} 2>&1 | sed 's/^/BOBDIR: /'`,
        `kill -TERM ${pid} 2>&1 | sed 's/^/BOBKILL: /'`,
      ].join('\n'),
      {},
      'exec',
    );
    denied(lines, 'ENVFILE:');
    denied(lines, 'PROCENV:');
    denied(lines, 'BOBDIR:');
    denied(lines, 'BOBKILL:');
    assert.ok(!lines.join('\n').includes(BOB_SECRET), "bob's secret did not reach alice's job");
    assert.doesNotThrow(() => process.kill(pid, 0), "bob's job is still running");
    const down = await runOperation<Rec>(d.url, 'down', { cluster: 'b1' }, asUser('bob'));
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down.error));
    assert.ok(!existsSync(join(bobHome, readdirSync(bobHome)[0] ?? 'none')), "down removed bob's cluster directory");
    await healthy();
  });

  it('cannot write outside its node directory (daemon state, node root, other accounts, the helper socket)', async () => {
    const bobHome = join(helper.nodeRoot, deriveAccountName(helper.prefix, 'bob', ids['bob']!));
    const targets: Record<string, string> = {
      HOMEW: join(home, 'pwned'),
      STATEW: join(stateDir, 'pwned'),
      ROOTW: join(helper.nodeRoot, 'pwned'),
      BOBW: join(bobHome, 'pwned'),
      SOCKW: join(helper.socket, '..', 'pwned'),
    };
    const script = Object.entries(targets)
      .map(([marker, path]) => `(echo x > ${path}) 2>&1 | sed 's/^/${marker}: /'`)
      .concat([`ln ${join(stateDir, 'state/CURRENT')} "$HOME/hard" 2>&1 | sed 's/^/HARDLINK: /'`])
      .join('\n');
    const { lines } = await job('alice', 'a1', script, {}, 'exec');
    for (const [marker, path] of Object.entries(targets)) {
      denied(lines, `${marker}:`);
      assert.ok(!existsSync(path), `${path} was not written`);
    }
    denied(lines, 'HARDLINK:');
    await healthy();
  });

  it("a symlink planted in the node directory does not make the daemon read the daemon's files (job log)", async () => {
    const rec = await runOperation<Rec>(d.url, 'exec', { cluster: 'a1', task: { run: `for d in "$HOME"/.sky/jobs/*/; do rm -f "\${d}log"; ln -s ${logFile} "\${d}log"; done` } }, asUser('alice'));
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const jobId = rec.result!.jobId;
    for (let tries = 0; ; tries++) {
      const list = await http(`${d.url}/api/v1/clusters/a1/jobs`, { headers: asUser('alice') });
      const status = (list.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === jobId)?.status;
      if (status === 'SUCCEEDED') break;
      assert.ok(tries < 300 && status !== 'FAILED', `job ${jobId} is ${status}`);
      await sleep(100);
    }
    const res = await http(`${d.url}/api/v1/clusters/a1/jobs/${jobId}/logs?follow=false`, { headers: asUser('alice') });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'NODE_HELPER_REFUSED');
    assert.doesNotMatch(res.text, /listening|"level"/, 'nothing of the server log was served');
    await helper.waitForLog(/"op":"read".*"ok":false,"code":"NODE_HELPER_REFUSED"/);
    await healthy();
  });

  it("a symlink planted where the workdir is synced does not make the daemon write the daemon's files", async () => {
    const victim = join(home, 'victim.txt');
    writeFileSync(victim, 'original\n');
    chownSync(victim, daemonAccount.uid, daemonAccount.gid);
    await job('alice', 'a1', `mkdir -p "$HOME/sky_workdir" && ln -sf ${victim} "$HOME/sky_workdir/data.txt" && ls -l "$HOME/sky_workdir"`, {}, 'exec');
    const workdir = mkdtempSync('/tmp/sky-workdir-');
    try {
      chmodSync(workdir, 0o755);
      writeFileSync(join(workdir, 'data.txt'), 'from-alice\n');
      chmodSync(join(workdir, 'data.txt'), 0o644);
      const out = cliExec(workdir, 'cat data.txt; ls -l data.txt');
      assert.equal(out.status, 0, out.stderr + out.stdout);
      assert.match(out.stdout, /from-alice/, 'the job sees the synced file');
      assert.doesNotMatch(out.stdout, /original/);
      assert.equal(readFileSync(victim, 'utf8'), 'original\n', "the daemon's file was not written through the symlink");
      // A directory symlink: the sync is refused as alice, nothing lands in the daemon's HOME.
      mkdirSync(join(home, 'target'));
      chownSync(join(home, 'target'), daemonAccount.uid, daemonAccount.gid);
      await job('alice', 'a1', `rm -rf "$HOME/sky_workdir" && ln -s ${join(home, 'target')} "$HOME/sky_workdir"`, {}, 'exec');
      const refused = cliExec(workdir, 'cat data.txt');
      assert.notEqual(refused.status, 0, 'the sync through the planted directory link failed');
      assert.match(refused.stderr + refused.stdout, /NODE_HELPER_REFUSED|may not do this/);
      assert.deepEqual(readdirSync(join(home, 'target')), [], 'nothing was written into the daemon-owned directory');
    } finally {
      rmSync(workdir, { recursive: true, force: true });
    }
    await healthy();
  });
});

describe('the local driver on a team server', () => {
  it('is off without a drivers block: a launch is refused, saying how to enable one', async () => {
    const h = tempHome();
    const plain = await startDaemon({ home: h, config: 'auth:\n  mode: basic\n', env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password } });
    try {
      const rec = await runOperation<Rec>(plain.url, 'launch', { cluster: 'x', task: { run: 'id' } }, asAdmin());
      assert.equal(rec.status, 'FAILED');
      assert.equal(rec.error?.code, 'NO_DRIVER');
      assert.match(rec.error!.message, /no enabled driver/);
      assert.match(JSON.stringify(rec.error), /accounts/, 'the hint names the local driver with accounts');
      assert.equal((await http(`${plain.url}/api/health`)).status, 200);
    } finally {
      await plain.stop();
      rmSync(h, { recursive: true, force: true });
    }
  });

  it('refuses to start with the local driver but no accounts block, explaining the choices', () => {
    const h = tempHome();
    writeFileSync(join(h, 'daemon.yaml'), `auth:\n  mode: basic\ndrivers:\n  local:\n    root: ${join(h, 'nodes')}\n`);
    const out = spawnSync(process.execPath, [DAEMON_MAIN, '--host', '127.0.0.1', '--port', '0', '--config', join(h, 'daemon.yaml')], {
      env: { ...process.env, HOME: h, SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
      encoding: 'utf8',
      timeout: 30_000,
    });
    rmSync(h, { recursive: true, force: true });
    assert.equal(out.status, 1, out.stderr);
    assert.match(out.stderr, /drivers\.local: the local driver runs jobs on the API server's own machine/);
    assert.match(out.stderr, /accounts: block/);
    assert.match(out.stderr, /sky-node-helper/);
  });
});

/** A live process of the group whose environment holds bob's secret (read as root), or 0. */
function processWithSecret(pgid: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp === pgid && readFileSync(`/proc/${entry}/environ`, 'utf8').includes(BOB_SECRET)) return Number(entry);
    } catch {
      // gone
    }
  }
  return 0;
}
