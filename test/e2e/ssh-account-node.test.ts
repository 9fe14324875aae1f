import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeHelperClient } from '@sky/plugin-api';
import { encodeHelperFrame, HelperFrameDecoder, SkyError } from '@sky/protocol';
import { deriveAccountName } from 'sky-driver-local';
import { SKY_BIN, http, killAllDaemons, removeHome, tempHome } from '../helpers/daemon-process.js';
import { accountsWithPrefix } from '../helpers/node-helper.js';
import { asUser, startTeamDaemon, type TeamDaemonHandle } from '../helpers/team.js';
import { clientRuns, type RunResult } from '../helpers/client-runs.js';

/*
 * `ssh CLUSTER` into a local-driver node of a team server, where each member's jobs run under
 * their own OS account through sky-node-helper: OpenSSH's client through the generated config
 * gets a command, a terminal, a shell and scp, all as the member's account in the node directory;
 * another member is refused; ssh -W (port forwarding) is refused; and the helper itself never
 * opens a session as root, as an account it does not allow, or in another account's node.
 */

type Result = RunResult;

const { children, run } = clientRuns();

/** Whether a process whose argv[0] is `name` runs on this machine. */
function processNamed(name: string): boolean {
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === name) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

const show = (what: string, r: Result): string => `${what} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

interface User {
  name: string;
  home: string;
  endpoint: string;
}

let team: TeamDaemonHandle;
let alice: User;
let bob: User;
let aliceAccount: string;

const envOf = (u: User): NodeJS.ProcessEnv => ({ HOME: u.home, SKYPILOT_API_SERVER_ENDPOINT: u.endpoint });
const configOf = (u: User, cluster: string): string => join(u.home, '.sky', 'generated', 'ssh', cluster);
const ssh = (u: User, cluster: string, args: readonly string[], input?: string): Promise<Result> => run('ssh', ['-F', configOf(u, cluster), '-o', 'BatchMode=yes', ...args], envOf(u), input);
const scp = (u: User, cluster: string, from: string, to: string): Promise<Result> => run('scp', ['-F', configOf(u, cluster), '-o', 'BatchMode=yes', from, to], envOf(u));

before(async () => {
  team = await startTeamDaemon(['alice', 'bob']);
  const port = new URL(team.url).port;
  const member = (name: string): User => ({ name, home: tempHome(), endpoint: `http://${name}:${name}-password@127.0.0.1:${port}` });
  alice = member('alice');
  bob = member('bob');
  const me = (await http(`${team.url}/api/v1/users/me`, { headers: asUser('alice') })).json() as { id: string };
  aliceAccount = deriveAccountName(team.helper.prefix, 'alice', me.id);
  const launched = await run(process.execPath, ['--', SKY_BIN, 'launch', '-y', '-c', 'acct', '--infra', 'local', 'id -un'], envOf(alice));
  assert.equal(launched.code, 0, show('sky launch', launched));
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await team?.stop();
  await killAllDaemons();
  for (const u of [alice, bob]) if (u) removeHome(u.home);
});

describe("ssh into a local node of a team server runs as the member's own OS account", () => {
  it("ssh acct COMMAND: the member's account (the one its jobs use), in the node directory, stderr apart, the exit code back", async () => {
    const r = await ssh(alice, 'acct', ['acct', 'id -un; id -u; pwd; echo "HOME=$HOME"; echo oops >&2; exit 3']);
    assert.equal(r.code, 3, show('ssh acct', r));
    const [name, uid, pwd, home] = r.stdout.trim().split('\n');
    assert.equal(name, aliceAccount);
    assert.notEqual(uid, '0');
    assert.equal(Number(uid), accountsWithPrefix(team.helper.prefix).find((a) => a.name === aliceAccount)?.uid);
    assert.ok(pwd!.startsWith(`${team.helper.nodeRoot}/${aliceAccount}/`), `in alice's node directory: ${pwd}`);
    assert.match(pwd!, /\/node-0$/);
    assert.equal(home, `HOME=${pwd}`);
    assert.match(r.stderr, /^oops$/m);
    assert.doesNotMatch(r.stdout, /oops/);
  });

  it('ssh -tt acct: an interactive shell on a terminal, as the account', async () => {
    const r = await ssh(alice, 'acct', ['-tt', 'acct'], 'tty; id -un; echo "TERM=$TERM"; exit 5\n');
    assert.equal(r.code, 5, show('ssh -tt acct', r));
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.ok(r.stdout.includes(aliceAccount), r.stdout);
    assert.match(r.stdout, /TERM=\S+/);
  });

  it("closing the ssh client ends what the session started on the node (with and without a terminal)", async () => {
    for (const tty of [['-tt'], ['-T']]) {
      const marker = `sky-held-${tty[0]!.slice(1)}-${process.pid}`;
      const client = spawn('ssh', ['-F', configOf(alice, 'acct'), '-o', 'BatchMode=yes', ...tty, 'acct', `exec -a ${marker} sleep 300`], { env: { ...process.env, ...envOf(alice) }, stdio: 'ignore' });
      children.add(client);
      const running = (): boolean => processNamed(marker);
      for (let i = 0; i < 200 && !running(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(running(), `the session's command (${tty[0]}) started`);
      client.kill('SIGTERM');
      children.delete(client);
      for (let i = 0; i < 200 && running(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(running(), false, `the session's command (${tty[0]}) was ended with the tunnel`);
    }
  });

  it('stdin streams in: a command reads what the client sends', async () => {
    const r = await ssh(alice, 'acct', ['acct', 'wc -c; cat > typed.txt; true'], 'x'.repeat(200_000));
    assert.equal(r.code, 0, show('ssh acct wc', r));
    assert.equal(r.stdout.trim(), '200000');
  });

  it("scp both ways and rsync -e ssh: an upload lands as the member's account, a result comes back", async () => {
    const here = join(alice.home, 'copies');
    mkdirSync(here, { recursive: true });
    const data = `weights-${'w'.repeat(100_000)}\n`;
    writeFileSync(join(here, 'up.bin'), data);
    const up = await scp(alice, 'acct', join(here, 'up.bin'), 'acct:up.bin');
    assert.equal(up.code, 0, show('scp up', up));
    const owner = await ssh(alice, 'acct', ['acct', 'stat -c %U up.bin; wc -c < up.bin; echo "loss=0.12" > metrics.txt']);
    assert.equal(owner.code, 0, show('stat', owner));
    assert.deepEqual(owner.stdout.trim().split('\n'), [aliceAccount, String(data.length)]);
    const down = await scp(alice, 'acct', 'acct:metrics.txt', join(here, 'metrics.txt'));
    assert.equal(down.code, 0, show('scp down', down));
    assert.equal(readFileSync(join(here, 'metrics.txt'), 'utf8'), 'loss=0.12\n');
    const legacy = await run('scp', ['-O', '-F', configOf(alice, 'acct'), '-o', 'BatchMode=yes', 'acct:metrics.txt', join(here, 'legacy.txt')], envOf(alice));
    assert.equal(legacy.code, 0, show('scp -O', legacy));
    assert.equal(readFileSync(join(here, 'legacy.txt'), 'utf8'), 'loss=0.12\n');
    const rsync = await run('rsync', ['-a', '-e', `ssh -F ${configOf(alice, 'acct')} -o BatchMode=yes`, 'acct:metrics.txt', join(here, 'rsynced.txt')], envOf(alice));
    assert.equal(rsync.code, 0, show('rsync', rsync));
    assert.equal(readFileSync(join(here, 'rsynced.txt'), 'utf8'), 'loss=0.12\n');
  });

  it('port forwarding (ssh -W, as ssh -L) is refused there, with the reason', async () => {
    const r = await ssh(alice, 'acct', ['-W', '127.0.0.1:9', 'acct']);
    assert.equal(r.code, 255, show('ssh -W', r));
    assert.match(r.stderr, /not supported on a team server|open failed/i);
  });

  it("bob, with alice's config and his own credentials, is refused and runs nothing", async () => {
    mkdirSync(join(bob.home, '.sky', 'generated', 'ssh'), { recursive: true });
    writeFileSync(configOf(bob, 'acct'), readFileSync(configOf(alice, 'acct'), 'utf8'));
    const r = await ssh(bob, 'acct', ['acct', 'touch bob-was-here; echo should-not-run']);
    assert.equal(r.code, 255, show('bob: ssh acct', r));
    assert.doesNotMatch(r.stdout, /should-not-run/);
    assert.match(r.stderr, /cluster acct belongs to alice/);
    const check = await ssh(alice, 'acct', ['acct', 'ls']);
    assert.doesNotMatch(check.stdout, /bob-was-here/);
  });
});

describe('sky-node-helper sessions keep every account check', () => {
  let client: NodeHelperClient;
  let aliceNode: string;

  before(async () => {
    client = new NodeHelperClient(team.helper.socket);
    const where = await ssh(alice, 'acct', ['acct', 'pwd']);
    aliceNode = where.stdout.trim();
    assert.ok(statSync(aliceNode).isDirectory());
  });

  after(async () => {
    await client?.close();
  });

  const refusal = async (account: string, node: string, code: string, pattern: RegExp): Promise<void> => {
    const session = await client.session(account, node, { command: 'touch /tmp/sky-session-should-not-run; id -un' });
    let out = '';
    session.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await assert.rejects(session.ended, (err: unknown) => err instanceof SkyError && err.code === code && pattern.test(err.message));
    assert.equal(out, '', 'nothing ran');
  };

  it('as alice in her node: stdin, stdout, stderr, a terminal that follows resizes, a signal', async () => {
    const session = await client.session(aliceAccount, aliceNode, { command: 'while read line; do echo "got $line $(stty size)"; done', pty: { term: 'xterm', rows: 30, cols: 100 } });
    let out = '';
    let err = '';
    let state = 'running';
    session.ended.then((e) => (state = JSON.stringify(e)), (e: Error) => (state = e.message));
    session.stdout.on('data', (d: Buffer) => (out += d.toString()));
    session.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await session.write(Buffer.from('one\n'));
    for (let i = 0; i < 100 && !/got one 30 100/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /got one 30 100/, `stderr: ${err}; session: ${state}`);
    session.resize(40, 120);
    for (let i = 0; i < 100 && !/got two 40 120/.test(out); i++) {
      await session.write(Buffer.from('two\n'));
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(out, /got two 40 120/);
    session.signal('SIGKILL');
    const end = await session.ended;
    assert.ok('code' in end ? end.code !== 0 : end.signal === 'KILL', JSON.stringify(end));
  });

  it('refuses a session as root, as an account outside what it allows, and in another account\'s node', async () => {
    await refusal('root', aliceNode, 'NODE_HELPER_REFUSED', /account "root" is not one sky-node-helper may act as/);
    await refusal('nobody', aliceNode, 'NODE_HELPER_REFUSED', /account "nobody" is not one sky-node-helper may act as/);
    await refusal(aliceAccount, `${aliceNode}/../..`, 'NODE_HELPER_REFUSED', /is not under/);
    // A member's account in alice's node directory: bob's account is allowed, the path is not his.
    const bobId = ((await http(`${team.url}/api/v1/users/me`, { headers: asUser('bob') })).json() as { id: string }).id;
    const bobAccount = deriveAccountName(team.helper.prefix, 'bob', bobId);
    await client.ensureAccount(bobAccount);
    await refusal(bobAccount, aliceNode, 'NODE_HELPER_REFUSED', new RegExp(`is not under .*the node root of account ${bobAccount}`));
    assert.throws(() => statSync('/tmp/sky-session-should-not-run'));
  });

  it('takes no input for a session another connection opened', async () => {
    const session = await client.session(aliceAccount, aliceNode, { command: 'cat' });
    let out = '';
    session.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // A second connection aims input at every id the first one can have used so far.
    const raw = connect(team.helper.socket);
    await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
    const decoder = new HelperFrameDecoder();
    const answers: Array<{ id: number; ok: boolean; result?: { taken?: boolean } }> = [];
    raw.on('data', (chunk: Buffer) => answers.push(...decoder.push(chunk).map((f) => f.header as (typeof answers)[number])));
    for (let target = 1; target <= 64; target++) raw.write(encodeHelperFrame({ id: target, op: 'sessionInput', target }, Buffer.from('stranger\n')));
    for (let i = 0; i < 100 && answers.length < 64; i++) await new Promise((r) => setTimeout(r, 20));
    raw.destroy();
    assert.equal(answers.length, 64);
    assert.ok(answers.every((a) => a.ok && a.result?.taken === false), JSON.stringify(answers.slice(0, 3)));
    await session.write(Buffer.from('mine\n'));
    await session.endInput();
    assert.deepEqual(await session.ended, { code: 0 });
    assert.equal(out, 'mine\n');
  });
});
