/**
 * The daemon's SSH transport against real sshd hosts in network namespaces (test/helpers/netns-hosts.ts):
 * commands, files, sync, one pooled connection per host, auth and host-key failures, a host
 * whose link is cut mid-command, reconnection, jump hosts, and the node runtime end to end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkyError, type NodeRecord } from '@sky/protocol';
import { walkTree } from '@sky/protocol/files';
import { createHosts, type TestHost, type TestHosts } from '../helpers/netns-hosts.js';
import { SshTransport, detectionBoundMs, TIMEOUT_EXIT_CODE, type SshOptions } from '../../core/daemon/src/nodes/ssh-transport.js';
import { fingerprint } from '../../core/daemon/src/nodes/ssh-known-hosts.js';
import { TransportPool } from '../../core/daemon/src/nodes/transports.js';
import { NodeRuntime } from '../../core/daemon/src/nodes/node-runtime.js';
import { journalPath, RUNTIME_VERSION } from '@sky/runtime';

let set: TestHosts;
let scratch: string;
const opened: SshTransport[] = [];

/** Fast keepalives so a lost host is noticed within 1.5 s here (the daemon's default bound is 20 s). */
const FAST: SshOptions = { keepaliveIntervalMs: 500, keepaliveCountMax: 2, connectTimeoutMs: 3000, agentSocket: null };

function transport(host: TestHost, options: SshOptions = {}, identityFile = host.identityFile): SshTransport {
  const t = new SshTransport({ host: host.ip, port: host.port, user: host.user, identityFile }, { knownHostsFile: set.knownHostsFile, ...FAST, ...options });
  opened.push(t);
  return t;
}

function host(i: number): TestHost {
  return set.hosts[i]!;
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<SkyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a rejection with ${code}`);
}

function pubKeyBlob(knownHostsLine: string): Buffer {
  return Buffer.from(knownHostsLine.split(' ')[2]!, 'base64');
}

before(async () => {
  set = await createHosts(3);
  // Inside the hosts' temp dir, so destroy() (or a later run's cleanupStale) removes it.
  scratch = await mkdtemp(join(set.dir, 'scratch-'));
});

after(async () => {
  await Promise.all(opened.map((t) => t.close(true).catch(() => undefined)));
  await set?.destroy();
});

describe('SSH transport over namespace hosts', () => {
  it('runs commands on each host under sh -c, with exit codes, stdout and stderr', async () => {
    await Promise.all(
      set.hosts.map(async (h) => {
        const t = transport(h);
        const out = await t.run(`printf '%s|' "$HOME" "$(pwd)" "a b" 'c'"'"'d'; echo oops >&2; exit 7`);
        assert.equal(out.code, 7);
        assert.equal(out.stdout, `${h.home}|${h.home}|a b|c'd|`);
        assert.equal(out.stderr, 'oops\n');
        if (set.mode === 'netns') {
          // Really inside that host's namespace: its eth0 carries the host's address.
          const ip = await t.run('ip -o -4 addr show dev eth0');
          assert.equal(ip.code, 0, ip.stderr);
          assert.match(ip.stdout, new RegExp(` ${h.ip.replaceAll('.', '\\.')}/24 `));
        }
        assert.deepEqual(await t.run('true'), { code: 0, stdout: '', stderr: '' });
        assert.equal((await t.run('exit 0')).code, 0);
        assert.equal((await t.run('kill -TERM $$')).code, 128 + 15);
        assert.equal((await t.run('no-such-command-here')).code, 127);
        // stdin is empty and closed: a command reading it does not hang.
        assert.deepEqual(await t.run('cat; read x || echo eof'), { code: 0, stdout: 'eof\n', stderr: '' });
      }),
    );
  });

  it('ends a command at its timeout (exit 124) and on abort (CANCELLED), leaving the connection usable', async () => {
    const t = transport(host(0));
    const started = Date.now();
    // A child of the shell, not the shell itself: the whole process group must end.
    const s1 = `21.${process.pid}1`;
    const s2 = `21.${process.pid}2`;
    const out = await t.run(`sleep ${s1}; echo never`, { timeoutMs: 300 });
    assert.equal(out.code, TIMEOUT_EXIT_CODE);
    assert.match(out.stderr, /timed out after 300 ms/);
    assert.ok(Date.now() - started < 5000);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    await rejectsWith(t.run(`sleep ${s2}; echo never`, { signal: controller.signal }), 'CANCELLED', /cancelled/);
    // The hosts share this machine's process table: nothing of either command is left.
    await waitFor(async () => (await processesRunning(new RegExp(`^sleep\\0(${s1}|${s2})\\0$`))) === 0, 3000, 'the timed-out commands to end');
    assert.equal((await t.run('echo still here')).stdout, 'still here\n');
    assert.equal(t.connection.opened, 1);
  });

  it('writes files and reads them back from an offset', async () => {
    const h = host(1);
    const t = transport(h);
    const big = 'x'.repeat(300_000) + 'END';
    await t.writeFiles('wf/nested', { 'a.txt': 'hello world', 'deep/b.txt': big, 'secret.env': 'TOKEN=1\n' }, ['secret.env']);
    assert.equal(await readFile(join(h.home, 'wf/nested/a.txt'), 'utf8'), 'hello world');
    const read = await t.readFrom('wf/nested/a.txt', 6, 100);
    assert.deepEqual({ text: read.data.toString(), size: read.size }, { text: 'world', size: 11 });
    const tail = await t.readFrom('wf/nested/deep/b.txt', 299_990, 1_000);
    assert.equal(tail.size, 300_003);
    assert.equal(tail.data.toString(), 'xxxxxxxxxxEND');
    const whole = await t.readFrom('wf/nested/deep/b.txt', 0, 1_000_000);
    assert.equal(whole.data.length, 300_003);
    assert.equal((await t.readFrom('wf/nested/a.txt', 11, 10)).data.length, 0);
    assert.deepEqual(await t.readFrom('wf/nested/missing', 0, 10), { data: Buffer.alloc(0), size: -1 });
    const modes = await t.run('stat -c %a wf/nested/secret.env wf/nested/a.txt');
    assert.equal(modes.stdout, '600\n644\n');
    // Rewriting replaces the content whole (through a temporary name and a rename).
    await t.writeFiles('wf/nested', { 'a.txt': 'short' });
    assert.equal((await t.readFrom('wf/nested/a.txt', 0, 100)).data.toString(), 'short');
    assert.equal((await t.run('ls -a wf/nested | grep -c sky-tmp || true')).stdout.trim(), '0');
    // Absolute paths work too.
    await t.writeFiles(`${h.home}/abs`, { 'c.txt': 'abs' });
    assert.equal((await t.readFrom(`${h.home}/abs/c.txt`, 0, 10)).data.toString(), 'abs');
  });

  it('syncs files (and empty directories), writing only changed files the second time', async () => {
    const h = host(2);
    const t = transport(h);
    const src = join(scratch, 'workdir');
    await mkdir(join(src, 'sub/deep'), { recursive: true });
    await mkdir(join(src, 'empty'), { recursive: true });
    await writeFile(join(src, 'train.py'), 'print("hi")\n');
    await writeFile(join(src, 'run.sh'), '#!/bin/sh\necho run\n');
    await chmod(join(src, 'run.sh'), 0o755);
    await writeFile(join(src, 'sub/data.csv'), 'a,b\n1,2\n');
    await writeFile(join(src, 'sub/deep/weights.bin'), Buffer.alloc(200_000, 7));
    const sync = async (dest: string): Promise<number> => {
      const tree = await walkTree(src);
      const files = tree.files.map((f) => ({ path: f.path, mode: f.mode, mtimeMs: f.mtimeMs, size: f.size, open: () => createReadStream(f.absolute) }));
      return t.syncFiles(dest, files, tree.dirs);
    };
    assert.equal(await sync('sky_workdir'), 4);
    assert.equal(await sync('sky_workdir'), 0);
    await writeFile(join(src, 'sub/data.csv'), 'a,b\n1,2\n3,4\n');
    const later = new Date(Date.now() + 5_000);
    await utimes(join(src, 'sub/data.csv'), later, later);
    assert.equal(await sync('sky_workdir'), 1);
    assert.equal(await readFile(join(h.home, 'sky_workdir/sub/data.csv'), 'utf8'), 'a,b\n1,2\n3,4\n');
    assert.equal((await t.run('./sky_workdir/run.sh')).stdout, 'run\n');
    assert.equal((await stat(join(h.home, 'sky_workdir/sub/deep/weights.bin'))).size, 200_000);
    assert.ok((await stat(join(h.home, 'sky_workdir/empty'))).isDirectory());
    assert.equal((await t.run('ls -a sky_workdir sky_workdir/sub | grep -c sky-sync || true')).stdout.trim(), '0');
    // An absolute destination is that path on the host.
    assert.equal(await sync(`${h.home}/abs-dest`), 4);
    assert.equal(await readFile(join(h.home, 'abs-dest/train.py'), 'utf8'), 'print("hi")\n');
  });

  it('keeps one TCP connection per host for many commands and file operations (measured ms per run)', async () => {
    const h = host(0);
    const t = transport(h);
    const connectStart = performance.now();
    await t.run('true');
    const connectMs = performance.now() - connectStart;
    const n = 20;
    const seqStart = performance.now();
    for (let i = 0; i < n; i++) assert.equal((await t.run(`echo ${i}`)).stdout, `${i}\n`);
    const perRun = (performance.now() - seqStart) / n;
    // More at once than sshd's MaxSessions (10): they queue for channels on the same connection.
    const parStart = performance.now();
    const outs = await Promise.all(Array.from({ length: 30 }, (_, i) => t.run(`echo ${i}`)));
    const parallelPerRun = (performance.now() - parStart) / 30;
    assert.deepEqual(
      outs.map((o) => o.stdout),
      Array.from({ length: 30 }, (_, i) => `${i}\n`),
    );
    await t.writeFiles('reuse', { 'f.txt': 'x' });
    await t.readFrom('reuse/f.txt', 0, 10);
    assert.equal(t.connection.opened, 1);
    // Every transport made in this file so far for host 0 holds exactly one connection.
    const mine = opened.filter((o) => o.connection.target.host === h.ip && o.connection.isOpen).length;
    assert.equal(await set.connectionCount(0), mine);
    console.log(
      `ssh transport (${set.mode}): connect + first run ${connectMs.toFixed(0)} ms; ${perRun.toFixed(1)} ms per run in sequence; ` +
        `${parallelPerRun.toFixed(1)} ms per run with 30 at once; 1 connection for ${n + 31} runs`,
    );
  });

  it('pools one transport per host in TransportPool, shared across nodes, and closeAll closes the connections', async () => {
    const pool = new TransportPool({ knownHostsFile: set.knownHostsFile, ...FAST });
    const h = host(1);
    const node = (id: string): NodeRecord => ({
      id,
      rank: 0,
      address: h.ip,
      reach: { kind: 'ssh', host: h.ip, port: h.port, user: h.user, identityFile: h.identityFile },
      resources: { cpus: 1, memoryGb: 1, accelerators: [] },
    });
    const a = pool.for(node('a'));
    const b = pool.for(node('b'));
    assert.equal(a, b);
    const before = await set.connectionCount(1);
    await Promise.all([a.run('true'), b.run('true'), a.readFrom('nothing', 0, 1)]);
    assert.equal(pool.openSshConnections, 1);
    assert.equal(await set.connectionCount(1), before + 1);
    await pool.closeAll();
    assert.equal(pool.openSshConnections, 0);
    await waitFor(async () => (await set.connectionCount(1)) === before, 3000, 'the pool connection to close');
    assert.throws(() => pool.for(node('c')), /daemon is stopping/);
    await rejectsWith(a.run('true'), 'NODE_UNREACHABLE', /closed/);
  });

  it('refuses a wrong key with a clear NODE_UNREACHABLE naming user@host:port, without key material', async () => {
    const h = host(1);
    const wrongKey = join(scratch, 'wrong_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'wrong', '-f', wrongKey]);
    const t = transport(h, {}, wrongKey);
    const err = await rejectsWith(
      t.run('true'),
      'NODE_UNREACHABLE',
      new RegExp(`^authentication failed for ${h.user}@${h.ip.replaceAll('.', '\\.')}:${h.port}: check the identity file`),
    );
    const keyText = await readFile(wrongKey, 'utf8');
    const keyBody = keyText.split('\n').filter((l) => l && !l.startsWith('-----'));
    const shown = JSON.stringify({ message: err.message, hint: err.hint, details: err.details });
    for (const line of keyBody) assert.ok(!shown.includes(line), 'the error shows key material');
    await rejectsWith(transport(h, {}, join(scratch, 'no-such-key')).run('true'), 'NODE_UNREACHABLE', /cannot read the identity file .*no-such-key/);
  });

  it('authenticates through ssh-agent when there is no identity file', async () => {
    const h = host(0);
    const socket = join(scratch, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await waitFor(async () => existsSync(socket), 5000, 'ssh-agent to listen');
      execFileSync('ssh-add', ['-q', h.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
      const t = new SshTransport({ host: h.ip, port: h.port, user: h.user }, { knownHostsFile: set.knownHostsFile, ...FAST, agentSocket: socket });
      opened.push(t);
      assert.equal((await t.run('echo via agent')).stdout, 'via agent\n');
      await t.close();
      // Neither a key nor an agent: said before any connection is tried.
      const none = new SshTransport({ host: h.ip, port: h.port, user: h.user }, { knownHostsFile: set.knownHostsFile, ...FAST, agentSocket: null });
      await rejectsWith(none.run('true'), 'NODE_UNREACHABLE', /no way to authenticate to root@.*: no identity file and no ssh-agent/);
    } finally {
      agent.kill('SIGTERM');
    }
  });

  it('refuses a changed host key naming both fingerprints and the known_hosts file', async () => {
    const h0 = host(0);
    const h1 = host(1);
    // known_hosts claims host 1 has host 0's key: as if host 1 was rebuilt (or is being impersonated).
    const file = join(scratch, 'known_hosts_changed');
    await writeFile(file, `${h1.knownHostsLine.split(' ')[0]} ${h0.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
    const expected = fingerprint(pubKeyBlob(h0.knownHostsLine));
    const got = fingerprint(pubKeyBlob(h1.knownHostsLine));
    const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    await rejectsWith(
      transport(h1, { knownHostsFile: file }).run('true'),
      'NODE_UNREACHABLE',
      new RegExp(`^host key of ${escape(h1.ip)} \\(port ${h1.port}\\) changed: expected ${escape(expected)}, got ${escape(got)}; if the host was rebuilt, remove its line from ${escape(file)}$`),
    );
    // A hashed entry (ssh-keygen -H) is read the same way.
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    assert.match(await readFile(file, 'utf8'), /^\|1\|/);
    await rejectsWith(transport(h1, { knownHostsFile: file }).run('true'), 'NODE_UNREACHABLE', /changed: expected/);
  });

  it('refuses an unknown host unless trust on first use is on, which records its key', async () => {
    const h = host(2);
    const file = join(scratch, 'tofu', 'known_hosts');
    await rejectsWith(transport(h, { knownHostsFile: file }).run('true'), 'NODE_UNREACHABLE', /is not known: SHA256:\S+ is not in /);
    const t = transport(h, { knownHostsFile: file, trustOnFirstUse: true });
    assert.equal((await t.run('echo ok')).stdout, 'ok\n');
    assert.equal((await readFile(file, 'utf8')).trim(), h.knownHostsLine);
    // From now on the recorded key is checked, TOFU or not.
    assert.equal((await transport(h, { knownHostsFile: file }).run('echo again')).stdout, 'again\n');
  });

  it('a node whose driver pinned its host keys: the pinned key is the only one accepted, known_hosts and TOFU are not consulted', async () => {
    const h0 = host(0);
    const h1 = host(1);
    const keyLine = (h: TestHost): string => h.knownHostsLine.split(' ').slice(1).join(' ');
    const empty = join(scratch, 'pinned', 'known_hosts');
    const pinned = (h: TestHost, keys: string[], options: SshOptions = {}): SshTransport => {
      const t = new SshTransport({ host: h.ip, port: h.port, user: h.user, identityFile: h.identityFile, hostKeys: keys }, { knownHostsFile: empty, ...FAST, ...options });
      opened.push(t);
      return t;
    };
    // Host 0 pinned with its own key: accepted with no known_hosts line, and nothing is written there.
    assert.equal((await pinned(h0, [`${keyLine(h0)} pod-0`]).run('echo pinned')).stdout, 'pinned\n');
    assert.equal(existsSync(empty), false);
    // Host 1 pinned with host 0's key: refused, naming both fingerprints, even with trust on first use.
    const expected = fingerprint(pubKeyBlob(h0.knownHostsLine));
    const got = fingerprint(pubKeyBlob(h1.knownHostsLine));
    const err = await rejectsWith(pinned(h1, [keyLine(h0)], { trustOnFirstUse: true }).run('true'), 'NODE_UNREACHABLE', /is not the one its driver recorded for this node/);
    assert.ok(err.message.includes(expected) && err.message.includes(got), err.message);
    assert.equal(existsSync(empty), false);
    // A known_hosts that trusts host 1 does not override the pin either.
    await rejectsWith(pinned(h1, [keyLine(h0)], { knownHostsFile: set.knownHostsFile }).run('true'), 'NODE_UNREACHABLE', /not the one its driver recorded/);
    // Lines that are no key at all pin nothing usable: refused.
    await rejectsWith(pinned(h0, ['garbage', 'ssh-ed25519 !!!']).run('true'), 'NODE_UNREACHABLE', /host key of .* is not the one its driver recorded/);
  });

  it('rejects a command with NODE_UNREACHABLE within the detection bound when the link is cut, and reconnects after', async () => {
    const i = 2;
    const h = host(i);
    const t = transport(h);
    assert.equal((await t.run('echo up')).stdout, 'up\n');
    const bound = detectionBoundMs(FAST);
    const long = t.run('sleep 30; echo never');
    const outcome = long.then(
      () => undefined,
      (err: unknown) => err,
    );
    await new Promise((r) => setTimeout(r, 300));
    await set.cutLink(i);
    const cutAt = Date.now();
    const err = await outcome;
    const took = Date.now() - cutAt;
    assert.ok(err instanceof SkyError, `the run should have failed, got ${String(err)}`);
    assert.equal(err.code, 'NODE_UNREACHABLE');
    assert.match(err.message, new RegExp(`node ${h.ip.replaceAll('.', '\\.')} unreachable`));
    assert.ok(took <= bound + 1000, `noticed after ${took} ms, bound ${bound} ms`);
    console.log(`lost host noticed after ${took} ms (bound ${bound} ms = (keepaliveCountMax + 1) x keepaliveInterval)`);
    // While cut, a new connection fails with a clear error too.
    await rejectsWith(t.run('true'), 'NODE_UNREACHABLE', new RegExp(`${h.ip.replaceAll('.', '\\.')}`));
    await set.restoreLink(i);
    assert.equal((await t.run('echo back')).stdout, 'back\n');
    assert.equal(t.connection.opened, 3);
  });

  it('streams a long-running command: lines as they are written, and closing the channel leaves no tail on the host', async () => {
    const h = host(0);
    const t = transport(h);
    const marker = `stream-marker-${process.pid}-${Date.now()}`;
    await t.writeFiles('.', { [marker]: 'first\n' });
    const tailOf = new RegExp(`^tail\\x00-c\\x00\\+1\\x00-f\\x00${marker}\\x00$`);
    const ac = new AbortController();
    let text = '';
    let appended = false;
    for await (const chunk of t.stream(`tail -c +1 -f ${marker}`, { signal: ac.signal })) {
      text += chunk.toString();
      if (text === 'first\n' && !appended) {
        appended = true;
        assert.equal(await processesRunning(tailOf), 1, 'tail runs on the host');
        assert.equal((await t.run(`echo second >> ${marker}`)).code, 0);
      }
      if (text === 'first\nsecond\n') ac.abort();
    }
    assert.equal(text, 'first\nsecond\n');
    await waitFor(async () => (await processesRunning(tailOf)) === 0, 10_000, 'the remote tail to end after abort');
    // Leaving the loop early ends it too.
    for await (const chunk of t.stream(`tail -c +1 -f ${marker}`, { signal: new AbortController().signal })) {
      assert.match(chunk.toString(), /^first/);
      break;
    }
    await waitFor(async () => (await processesRunning(tailOf)) === 0, 10_000, 'the remote tail to end after break');
    // The first streams share the host's one connection, beside the channels commands take.
    assert.equal(t.connection.opened, 1);
    assert.equal(t.streams.overflowConnections, 0);
  });

  it('a streamed command ends the iteration when it exits; a failure names its code and stderr', async () => {
    const t = transport(host(1));
    let all = '';
    for await (const chunk of t.stream('i=0; while [ $i -lt 5000 ]; do echo "line $i"; i=$((i+1)); done', { signal: new AbortController().signal })) all += chunk.toString();
    const lines = all.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 5000);
    assert.equal(lines[4999], 'line 4999');
    await rejectsWith(
      (async () => {
        for await (const _ of t.stream('echo oops >&2; exit 4', { signal: new AbortController().signal })) void _;
      })(),
      'NODE_RUNTIME_ERROR',
      /exited with code 4: oops/,
    );
    // More streams than the host's connection carries at once: an overflow connection is opened, all of them flow.
    const ac = new AbortController();
    const streams = Array.from({ length: 10 }, async (_, i) => {
      for await (const chunk of t.stream(`echo s${i}; exec sleep 60`, { signal: ac.signal })) return chunk.toString();
      return '';
    });
    assert.deepEqual(await Promise.all(streams), Array.from({ length: 10 }, (_, i) => `s${i}\n`));
    assert.equal(t.streams.overflowConnections, 1);
    assert.equal((await t.run('echo still')).stdout, 'still\n');
    assert.equal(t.connection.opened, 1);
  });

  it('a stream whose host is lost fails with NODE_UNREACHABLE within the detection bound', async () => {
    const i = 2;
    const h = host(i);
    const t = transport(h);
    const bound = detectionBoundMs(FAST);
    let cutAt = 0;
    const err = await (async () => {
      try {
        for await (const _ of t.stream('echo up; exec sleep 60', { signal: new AbortController().signal })) {
          await set.cutLink(i);
          cutAt = Date.now();
        }
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    const took = Date.now() - cutAt;
    await set.restoreLink(i);
    assert.ok(err instanceof SkyError, `the stream should have failed, got ${String(err)}`);
    assert.equal(err.code, 'NODE_UNREACHABLE');
    assert.ok(took <= bound + 1000, `noticed after ${took} ms, bound ${bound} ms`);
  });

  it('reaches a host through a jump host (ProxyJump), pooled', async () => {
    if (set.mode !== 'netns') return; // 127.0.0.1 inside a namespace is only reachable through its host
    const h = host(1);
    const file = join(scratch, 'known_hosts_jump');
    await writeFile(file, `${h.knownHostsLine}\n[127.0.0.1]:${h.port} ${h.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
    const pool = new TransportPool({ knownHostsFile: file, ...FAST });
    const t = pool.for({
      id: 'jump',
      rank: 0,
      address: h.ip,
      // sshd inside host 1's namespace also listens on its loopback, which only host 1 itself can reach.
      reach: { kind: 'ssh', host: '127.0.0.1', port: h.port, user: h.user, identityFile: h.identityFile, proxyJump: `${h.user}@${h.ip}:${h.port}` },
      resources: { cpus: 1, memoryGb: 1, accelerators: [] },
    });
    try {
      const out = await t.run('echo "$SSH_CONNECTION"');
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${h.port}\\n$`));
      assert.equal(pool.openSshConnections, 2);
    } finally {
      await pool.closeAll();
    }
  });

  it('installs the node runtime over SFTP and runs a job rank on each host, reading status and log through the transport', async () => {
    const runtime = new NodeRuntime();
    const ts = set.hosts.map((h) => transport(h));
    await Promise.all(ts.map((t, i) => runtime.install(t, host(i).ip)));
    // Installed once: a second install only probes the version.
    await runtime.install(ts[0]!, host(0).ip);
    const jobId = `ssh-e2e-${process.pid}`;
    const nodeIps = set.hosts.map((h) => h.ip);
    await Promise.all(
      ts.map((t, rank) =>
        runtime.start(t, host(rank).ip, {
          jobId,
          rank,
          nodeIps,
          taskId: 'task-1',
          clusterInfo: { cluster_name: 'ssh-test', cloud: 'ssh', region: null, zone: null },
          setup: 'echo setting up',
          run: 'echo "rank $SKYPILOT_NODE_RANK of $SKYPILOT_NUM_NODES on $(ip -o -4 addr show dev eth0 2>/dev/null | awk \'{print $4}\')"; echo "ips: $(echo $SKYPILOT_NODE_IPS)"; exit $SKYPILOT_NODE_RANK',
          envs: { GREETING: 'hi' },
        }, journalPath('', `test-${rank}`)),
      ),
    );
    const states = await Promise.all(
      ts.map(async (t, rank) => {
        let state = (await runtime.status(t, host(rank).ip, [{ job: jobId, rank, version: RUNTIME_VERSION }]))[0]!;
        await waitFor(async () => {
          state = (await runtime.status(t, host(rank).ip, [{ job: jobId, rank, version: RUNTIME_VERSION }]))[0]!;
          return ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(state.status);
        }, 15_000, `job rank ${rank} to finish`);
        return state;
      }),
    );
    assert.deepEqual(states, [
      { status: 'SUCCEEDED', exitCode: 0 },
      { status: 'FAILED', exitCode: 1 },
      { status: 'FAILED', exitCode: 2 },
    ]);
    for (const [rank, t] of ts.entries()) {
      const log = (await t.readFrom(runtime.logPath({ job: jobId, rank, version: RUNTIME_VERSION }), 0, 100_000)).data.toString();
      assert.match(log, /setting up/);
      assert.match(log, new RegExp(`rank ${rank} of 3`));
      assert.match(log, new RegExp(`ips: ${nodeIps.join(' ').replaceAll('.', '\\.')}`));
      if (set.mode === 'netns') assert.match(log, new RegExp(`on ${host(rank).ip.replaceAll('.', '\\.')}/24`));
      assert.equal(t.connection.opened, 1);
    }
  });
});

/** Processes on this machine whose NUL-separated command line matches. */
async function processesRunning(cmdline: RegExp): Promise<number> {
  let n = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '');
    if (cmdline.test(text)) n += 1;
  }
  return n;
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
