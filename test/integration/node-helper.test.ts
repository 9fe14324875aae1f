import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodeHelperClient } from '@sky/plugin-api';
import { encodeHelperFrame, HelperFrameDecoder, SkyError } from '@sky/protocol';
import { http, killAllDaemons, removeHome } from '../helpers/daemon-process.js';
import { alive, waitFor } from '../helpers/processes.js';
import { HELPER_BIN, startNodeHelper, type NodeHelperHandle } from '../helpers/node-helper.js';
import { asUser, runOperation, startTeamDaemon, type TeamDaemonHandle } from '../helpers/team.js';

// sky-node-helper as a real root process on a temp socket: what it refuses over the wire, the
// environment and identity of what it runs, that one connection carries many calls, that a
// client reconnects after a helper restart, and that a team daemon keeps following its jobs
// through such a restart.

let helper: NodeHelperHandle;
let client: NodeHelperClient;
let account: string;
let node: string;

const code = (c: string) => (err: unknown) => err instanceof SkyError && err.code === c;

before(async () => {
  helper = await startNodeHelper();
  client = new NodeHelperClient(helper.socket);
  account = `${helper.prefix}one`;
  await client.ensureAccount(account);
  node = join(helper.nodeRoot, account, 'c1', 'node-0');
  await client.makeNodeDir(account, node);
});

after(async () => {
  await client?.close();
  await helper?.stop();
});

/** Send raw frames (or bytes) on a fresh connection; resolves with the answers until the helper closes it or `count` arrive. */
function raw(bytes: Buffer, count: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(helper.socket);
    const decoder = new HelperFrameDecoder();
    const answers: unknown[] = [];
    const done = (): void => {
      socket.destroy();
      resolve(answers);
    };
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => {
      for (const f of decoder.push(c)) answers.push(f.header);
      if (answers.length >= count) done();
    });
    socket.on('close', done);
    socket.on('error', reject);
    setTimeout(done, 5000).unref();
  });
}

describe('sky-node-helper over its socket', () => {
  it('the socket is 0600 and its directory root-owned 0710: only the socket owner reaches it', () => {
    const mode = execFileSync('stat', ['-c', '%a %U', helper.socket], { encoding: 'utf8' }).trim();
    assert.equal(mode, '600 root');
    const dir = execFileSync('stat', ['-c', '%a %U', join(helper.socket, '..')], { encoding: 'utf8' }).trim();
    assert.equal(dir, '710 root');
    const root = execFileSync('stat', ['-c', '%a %U', helper.nodeRoot], { encoding: 'utf8' }).trim();
    assert.equal(root, '711 root');
    const own = execFileSync('stat', ['-c', '%a %U', join(helper.nodeRoot, account)], { encoding: 'utf8' }).trim();
    assert.equal(own, `700 ${account}`);
  });

  it('refuses to start as non-root, beside a live helper, or with its socket in a shared directory', () => {
    const run = (args: string[], uid?: number): { status: number | null; stderr: string } =>
      spawnSync(process.execPath, [HELPER_BIN, '--socket-owner', 'root', '--prefix', helper.prefix, ...args], { encoding: 'utf8', timeout: 20_000, ...(uid !== undefined ? { uid, gid: uid } : {}) });
    const nobody = run(['--socket', '/tmp/never.sock', '--node-root', '/tmp/never-nodes'], 65534);
    assert.equal(nobody.status, 1, nobody.stderr);
    assert.match(nobody.stderr, /must run as root/);
    const twice = run(['--socket', helper.socket, '--node-root', helper.nodeRoot]);
    assert.equal(twice.status, 1, twice.stderr);
    assert.match(twice.stderr, /another helper is already listening/);
    const shared = run(['--socket', `/tmp/sky-helper-shared-${process.pid}.sock`, '--node-root', join(helper.dir, 'other-nodes')]);
    assert.equal(shared.status, 1, shared.stderr);
    assert.match(shared.stderr, /socket directory \/tmp is writable by others \(or sticky\): it is shared/);
    assert.equal(execFileSync('stat', ['-c', '%a', '/tmp'], { encoding: 'utf8' }).trim(), '1777', '/tmp was left alone');
  });

  it('runs commands as the account, in its node directory, with nothing of root in the environment or groups', async () => {
    const out = await client.run(account, node, 'id -un; id -G | wc -w; pwd; env | sort');
    assert.equal(out.code, 0, out.stderr);
    const [user, groups, cwd, ...env] = out.stdout.trim().split('\n');
    assert.equal(user, account);
    assert.equal(groups, '1', 'only the account\'s own group (root\'s supplementary groups dropped)');
    assert.equal(cwd, node);
    const names = env.map((l) => l.split('=')[0]).filter((n) => !['PWD', 'OLDPWD', 'SHLVL', '_'].includes(n!));
    assert.deepEqual(names.sort(), ['HOME', 'LOGNAME', 'PATH', 'USER']);
    assert.ok(env.includes(`HOME=${node}`));
    assert.ok(!out.stdout.includes('root-env-must-not-leak'), "the helper's own environment did not leak");
  });

  it('refuses accounts and paths outside its rules, saying why (NODE_HELPER_REFUSED)', async () => {
    const other = `${helper.prefix}two`;
    await client.ensureAccount(other);
    const otherNode = join(helper.nodeRoot, other, 'c1', 'node-0');
    await client.makeNodeDir(other, otherNode);
    const refusals: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['root', () => client.ensureAccount('root'), /not one sky-node-helper may act as/],
      ['a name outside the prefix', () => client.ensureAccount('daemon'), /not one sky-node-helper may act as/],
      ['the bare prefix', () => client.ensureAccount(helper.prefix.slice(0, -1)), /not one/],
      ["another account's node", () => client.run(account, otherNode, 'id'), /is not under/],
      ['a path leaving the node', () => client.read(account, node, '../../../../../etc/shadow', 0, 100), /leaves the node directory/],
      ['an absolute path elsewhere', () => client.read(account, node, '/etc/shadow', 0, 100), /leaves the node directory/],
      ['a node outside the node root', () => client.makeNodeDir(account, '/etc/sky/x'), /is not under/],
      ['a cluster dir of another account', () => client.removeNodeDir(account, join(helper.nodeRoot, other, 'c1')), /is not under/],
      ['a write escaping its dir', () => client.writeFiles(account, node, '.', [{ path: '../escape', mode: 0o644, data: 'x' }]), /must be relative/],
      ['a sync escaping its dest', () => client.syncFiles(account, node, 'w', [{ path: '../../x', mode: 0o644, mtimeMs: 0, size: 0, open: () => emptyStream() }]), /must be relative/],
    ];
    for (const [what, call, why] of refusals) {
      await assert.rejects(call(), (err: unknown) => err instanceof SkyError && err.code === 'NODE_HELPER_REFUSED' && why.test(err.message), what);
    }
    assert.ok(existsSync(otherNode), "the other account's node is untouched");
    await helper.waitForLog(/"op":"ensureAccount","account":"root","ok":false,"code":"NODE_HELPER_REFUSED"/);
  });

  it('signals only the account\'s own process groups', async () => {
    const started = await client.run(account, node, 'setsid sleep 30 > /dev/null 2>&1 & echo $!');
    const pid = Number(started.stdout.trim());
    assert.ok(pid > 1);
    await sleep(100);
    assert.equal(await client.signal(account, pid, 0), true, 'its own group is alive');
    assert.equal(await client.signal(account, helper.pid, 'SIGKILL'), false, "root's helper is not the account's");
    assert.doesNotThrow(() => process.kill(helper.pid, 0), 'the helper is alive');
    assert.equal(await client.signal(account, pid, 'SIGKILL'), true);
    await sleep(200);
    assert.equal(await client.signal(account, pid, 0), false, 'ended');
  });

  it('a FIFO or a symlink planted where a file is read gives an error at once, never a hang or foreign bytes', async () => {
    await client.run(account, node, 'mkfifo fifo; ln -s /etc/shadow shadow; ln -s /root rootdir');
    await assert.rejects(client.read(account, node, 'fifo', 0, 100), code('NODE_RUNTIME_ERROR'));
    await assert.rejects(client.read(account, node, 'shadow', 0, 100), code('NODE_HELPER_REFUSED'));
    await assert.rejects(client.read(account, node, 'rootdir/.bashrc', 0, 100), code('NODE_HELPER_REFUSED'));
    await client.writeFiles(account, node, '.', [{ path: 'shadow', mode: 0o644, data: 'replaced the link\n' }]);
    assert.equal((await client.read(account, node, 'shadow', 0, 100)).data.toString(), 'replaced the link\n', 'the write replaced the link, not /etc/shadow');
  });

  it('answers bad frames with an error and closes that connection, staying up for others', async () => {
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 5, 0, 0, 0, 0]), Buffer.from('nope!')]);
    const [answer] = await raw(garbage, 1);
    assert.equal((answer as { ok: boolean; error: { code: string } }).error.code, 'VALIDATION_FAILED');
    const invalid = await raw(Buffer.from(encodeHelperFrame({ id: 9, op: 'run', account: 'root', node: '/', command: 'id', uid: 0 })), 1);
    assert.deepEqual((invalid[0] as { id: number; ok: boolean }).id, 9);
    assert.equal((invalid[0] as { ok: boolean }).ok, false);
    assert.equal((await client.hello()).protocol, 1, 'the helper still answers');
  });

  it('carries many calls at once on one connection, each answered to its caller', async () => {
    await client.writeFiles(account, node, 'many', Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, mode: 0o644, data: `file ${i}\n` })));
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? client.read(account, node, `many/f${i / 2}`, 0, 100).then((r) => r.data.toString()) : client.run(account, node, `echo run ${i}`).then((r) => r.stdout),
      ),
    );
    answers.forEach((text, i) => assert.equal(text, i % 2 === 0 ? `file ${i / 2}\n` : `run ${i}\n`));
  });

  it('syncs files larger than one frame, in pieces, and skips unchanged ones', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 123, 7);
    const file = { path: 'big.bin', mode: 0o640, mtimeMs: 1_700_000_000_000, size: big.length, open: () => streamOf(big) };
    assert.equal(await client.syncFiles(account, node, 'data', [file], ['empty/dir']), 1);
    assert.equal(await client.syncFiles(account, node, 'data', [file]), 0, 'unchanged: skipped');
    const ls = await client.run(account, node, 'stat -c "%s %a %Y" data/big.bin; test -d data/empty/dir && echo dir');
    assert.equal(ls.stdout, `${big.length} 640 1700000000\ndir\n`);
    await assert.rejects(client.syncFiles(account, node, 'data', [{ ...file, path: 'short.bin', size: big.length + 1 }]), code('VALIDATION_FAILED'));
  });

  it('streams a command\'s output as the account, in bounded frames, and ends it on abort, on break and when the connection closes', async () => {
    const ac = new AbortController();
    let text = '';
    let pid = 0;
    for await (const chunk of client.stream(account, node, 'id -un; pwd; sh -c \'echo $$; exec sleep 300\'', ac.signal)) {
      text += chunk.toString();
      const lines = text.split('\n');
      if (lines.length === 4) {
        pid = Number(lines[2]);
        ac.abort();
      }
    }
    assert.deepEqual(text.split('\n').slice(0, 2), [account, node]);
    assert.ok(pid > 1);
    await waitFor(() => !alive(pid), 10_000, 'the streamed command to end after abort');
    // Large output comes whole, in frames of at most 64 KiB.
    let bytes = 0;
    let chunks = 0;
    for await (const chunk of client.stream(account, node, 'head -c 3000000 /dev/zero', new AbortController().signal)) {
      bytes += chunk.length;
      chunks += 1;
    }
    assert.equal(bytes, 3_000_000);
    assert.ok(chunks > 1);
    // A failure names its exit code and stderr.
    await assert.rejects(
      (async () => {
        for await (const _ of client.stream(account, node, 'echo bad >&2; exit 5', new AbortController().signal)) void _;
      })(),
      (err: unknown) => err instanceof SkyError && err.code === 'NODE_RUNTIME_ERROR' && /exited with code 5: bad/.test(err.message),
    );
    // The same checks as run: another account's node is refused.
    const other = join(helper.nodeRoot, `${helper.prefix}two`, 'c1', 'node-0');
    await assert.rejects(
      (async () => {
        for await (const _ of client.stream(account, other, 'id', new AbortController().signal)) void _;
      })(),
      code('NODE_HELPER_REFUSED'),
    );
    // Breaking out of the loop ends the command; so does the end of the connection.
    for await (const chunk of client.stream(account, node, 'sh -c \'echo $$; exec sleep 301\'', new AbortController().signal)) {
      pid = Number(chunk.toString().trim());
      break;
    }
    await waitFor(() => !alive(pid), 10_000, 'the streamed command to end after break');
    const second = new NodeHelperClient(helper.socket);
    const pids: number[] = [];
    const following = (async () => {
      try {
        for await (const chunk of second.stream(account, node, 'sh -c \'echo $$; exec sleep 302\'', new AbortController().signal)) pids.push(Number(chunk.toString().trim()));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    await waitFor(() => pids.length === 1, 10_000, 'the stream to start');
    await second.close();
    assert.ok(code('NODE_UNREACHABLE')(await following), 'the reader learns the connection closed');
    await waitFor(() => !alive(pids[0]!), 10_000, 'the streamed command to end when its connection closed');
  });

  it('a client reconnects after the helper restarts; calls in flight fail with NODE_UNREACHABLE', async () => {
    const inFlight = client.run(account, node, 'sleep 5').then(
      () => undefined,
      (err: unknown) => err,
    );
    await sleep(200);
    await helper.restart();
    assert.ok(code('NODE_UNREACHABLE')(await inFlight), 'the call in flight failed with NODE_UNREACHABLE');
    const out = await client.run(account, node, 'echo back');
    assert.equal(out.stdout, 'back\n');
  });

  it('removes a cluster directory as the account, even one a job made unwritable', async () => {
    await client.run(account, node, 'mkdir -p locked/inner && touch locked/inner/f && chmod 500 locked/inner locked');
    assert.equal(await client.removeNodeDir(account, join(helper.nodeRoot, account, 'c1')), true);
    assert.equal(existsSync(join(helper.nodeRoot, account, 'c1')), false);
    assert.equal(await client.removeNodeDir(account, join(helper.nodeRoot, account, 'c1')), false, 'again: nothing there');
    await client.makeNodeDir(account, node);
  });
});

describe('a team daemon through sky-node-helper', () => {
  let d: TeamDaemonHandle;

  before(async () => {
    d = await startTeamDaemon(['alice']);
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (d) removeHome(d.home);
  });

  it('a log followed through the helper picks up again after a helper restart, with no line lost or repeated', async () => {
    const gate = `/tmp/sky-helper-follow-${process.pid}`;
    const rec = await runOperation<{ status: string; result?: { jobId: number }; error?: unknown }>(
      d.url,
      'launch',
      { cluster: 'f1', task: { run: `echo one; while [ ! -e ${gate} ]; do sleep 0.05; done; echo two; printf three` } },
      asUser('alice'),
    );
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const lines: string[] = [];
    let status: string | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      request(`${d.url}/api/v1/clusters/f1/jobs/${rec.result!.jobId}/logs?follow=true`, { headers: asUser('alice') }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          const blocks = (buf + c).split('\n\n');
          buf = blocks.pop() ?? '';
          for (const b of blocks) {
            const data = b.split('data: ')[1];
            if (b.startsWith('event: log')) lines.push((JSON.parse(data!) as { text: string }).text);
            if (b.startsWith('event: end')) status = (JSON.parse(data!) as { status: string }).status;
          }
        });
        res.on('close', () => resolve());
      })
        .on('error', reject)
        .end();
    });
    await waitFor(() => lines.includes('one'), 30_000, 'the first line through the helper');
    await d.helper.restart();
    execFileSync('touch', [gate]);
    await ended;
    execFileSync('rm', ['-f', gate]);
    assert.equal(status, 'SUCCEEDED');
    assert.deepEqual(lines, ['one', 'two', 'three']);
    await runOperation(d.url, 'down', { cluster: 'f1' }, asUser('alice'));
  });

  it('keeps following a running job across a helper restart, and stop/down end its processes and remove its directories', async () => {
    const rec = await runOperation<{ status: string; result?: { jobId: number }; error?: unknown }>(d.url, 'launch', { cluster: 'r1', task: { run: 'echo before; sleep 2; echo after' } }, asUser('alice'));
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    // The launch ends once its job is queued: restart the helper once the job runs.
    const jobStatus = async (): Promise<string | undefined> => {
      const res = await http(`${d.url}/api/v1/clusters/r1/jobs`, { headers: asUser('alice') });
      return (res.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === rec.result!.jobId)?.status;
    };
    for (let i = 0; i < 100 && (await jobStatus()) !== 'RUNNING'; i++) await sleep(50);
    assert.equal(await jobStatus(), 'RUNNING');
    await d.helper.restart();
    const logs = await http(`${d.url}/api/v1/clusters/r1/jobs/${rec.result!.jobId}/logs?follow=true`, { headers: asUser('alice') });
    assert.equal(logs.status, 200, logs.text);
    assert.match(logs.text, /before[\s\S]*after/);
    assert.match(logs.text, /event: end\ndata: \{"status":"SUCCEEDED"\}/);

    const long = await runOperation<{ status: string; result?: { jobId: number } }>(d.url, 'exec', { cluster: 'r1', task: { run: 'sleep 300' } }, asUser('alice'));
    assert.equal(long.status, 'SUCCEEDED');
    const [acct] = d.helper.accounts();
    assert.ok(acct);
    const sleeper = async (): Promise<boolean> => execFileSync('ps', ['-u', String(acct.uid), '-o', 'args='], { encoding: 'utf8' }).includes('sleep 300');
    for (let i = 0; i < 100 && !(await sleeper()); i++) await sleep(100);
    assert.ok(await sleeper(), 'the job runs as the account');
    const stop = await runOperation<{ status: string; error?: unknown }>(d.url, 'stop', { cluster: 'r1' }, asUser('alice'));
    assert.equal(stop.status, 'SUCCEEDED', JSON.stringify(stop.error));
    assert.equal(await sleeper(), false, 'stop ended the job, through the helper');
    const down = await runOperation<{ status: string; error?: unknown }>(d.url, 'down', { cluster: 'r1' }, asUser('alice'));
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down.error));
    assert.deepEqual(readdirSync(join(d.helper.nodeRoot, acct.name)), [], 'down removed the cluster directory');
  });
});

function streamOf(bytes: Buffer): NodeJS.ReadableStream {
  return Readable.from([bytes.subarray(0, 1_000_000), bytes.subarray(1_000_000)]);
}

function emptyStream(): NodeJS.ReadableStream {
  return Readable.from([]);
}
