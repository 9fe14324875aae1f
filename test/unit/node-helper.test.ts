import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ACCOUNT_NAME,
  encodeHelperFrame,
  HELPER_LIMITS,
  HELPER_OPS,
  HelperFrameDecoder,
  HelperRequestSchema,
  HelperResponseSchema,
  SkyError,
} from '@sky/protocol';
import { AccountBook, accountAllowed, checkConfigFileSafe, ensureAccountDir, loadHelperConfig, NodePaths, parsePasswdLine } from '@sky/runtime/helper';
import { accountFor, ACCOUNT_HASH_CHARS, deriveAccountName, validateLocalConfig } from 'sky-driver-local';

const code = (c: string) => (err: unknown) => err instanceof SkyError && err.code === c;

/** A small deterministic PRNG, so a failing fuzz case can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('account names for sky users', () => {
  it('are <prefix><name>-<6 hex of the user id>, deterministic, valid and at most 32 characters', () => {
    const name = deriveAccountName('sky-', 'alice', 'u-123');
    assert.match(name, /^sky-alice-[0-9a-f]{6}$/);
    assert.equal(deriveAccountName('sky-', 'alice', 'u-123'), name, 'the same user always gets the same account');
    const cases = ['Alice', 'ann.lee', 'Ann_Lee', 'ÅSA', 'аdmin', '', '---', 'x'.repeat(200), 'a b c', '日本語', 'root', '../etc', 'UPPER.case-Mixed_123'];
    for (const user of cases) {
      for (const prefix of ['s-', 'sky-', 'team_users_long-']) {
        const derived = deriveAccountName(prefix, user, `id-${user}`);
        assert.match(derived, ACCOUNT_NAME, `${JSON.stringify(user)} with ${prefix}: ${derived}`);
        assert.ok(derived.length <= 32, derived);
        assert.ok(derived.startsWith(prefix), derived);
        assert.match(derived, new RegExp(`[0-9a-f]{${ACCOUNT_HASH_CHARS}}$`));
      }
    }
  });

  it('differ for users whose names reduce alike, and for a user created again under the same name', () => {
    const a = deriveAccountName('sky-', 'Ann.Lee', 'u-1');
    const b = deriveAccountName('sky-', 'ann_lee', 'u-2');
    assert.notEqual(a, b);
    assert.equal(a.slice(0, -ACCOUNT_HASH_CHARS), b.slice(0, -ACCOUNT_HASH_CHARS), 'same readable part');
    assert.notEqual(deriveAccountName('sky-', 'bob', 'u-old'), deriveAccountName('sky-', 'bob', 'u-new'));
  });

  it('the admin map wins (compared NFKC, case-folded); otherwise a derived account when create is on; otherwise FORBIDDEN', () => {
    const config = { map: { alice: 'alice-os' }, create: false, prefix: undefined };
    assert.equal(accountFor(config, { id: 'u-1', name: 'Alice' }), 'alice-os');
    assert.throws(() => accountFor(config, { id: 'u-2', name: 'bob' }), (err: unknown) => {
      assert.ok(err instanceof SkyError && err.code === 'FORBIDDEN');
      assert.match(err.message, /sky user bob has no OS account/);
      assert.match(err.hint ?? '', /accounts\.map|create: true/);
      return true;
    });
    const creating = { map: { alice: 'alice-os' }, create: true, prefix: 'sky-' };
    assert.equal(accountFor(creating, { id: 'u-1', name: 'alice' }), 'alice-os');
    assert.match(accountFor(creating, { id: 'u-2', name: 'bob' }), /^sky-bob-[0-9a-f]{6}$/);
    assert.match(accountFor(creating, { id: 'u-3' }), /^sky-u-3-[0-9a-f]{6}$/, 'no name: the id stands in');
  });
});

describe('drivers.local.accounts', () => {
  const issues = (accounts: unknown): string[] => {
    const r = validateLocalConfig({ root: '/tmp/x', accounts });
    return r.issues === undefined ? [] : r.issues.map((i) => `${(i.path ?? []).map(String).join('.')}: ${i.message}`);
  };

  it('takes a map and/or create with a prefix', () => {
    const accountsOf = (accounts: unknown): unknown => {
      const r = validateLocalConfig({ root: '/tmp/x', cpus: 1, memory_gb: 1, accounts });
      assert.equal(r.issues, undefined);
      return r.issues === undefined ? r.value.accounts : undefined;
    };
    assert.deepEqual(accountsOf({ map: { Alice: 'alice-os' } }), { map: { alice: 'alice-os' }, create: false, prefix: undefined });
    assert.deepEqual(accountsOf({ create: true, prefix: 'sky-' }), { map: {}, create: true, prefix: 'sky-' });
  });

  it('names what is wrong in a bad block', () => {
    const table: Array<[unknown, RegExp]> = [
      ['yes', /^accounts: expected a mapping/],
      [[], /^accounts: expected a mapping/],
      [{}, /^accounts: map no sky user/],
      [{ map: {} }, /^accounts: map no sky user/],
      [{ create: true }, /^accounts\.prefix: create: true needs a prefix/],
      [{ create: 'yes', prefix: 'sky-' }, /^accounts\.create: expected true or false/],
      [{ create: true, prefix: 'sky' }, /^accounts\.prefix: expected 2-17 characters/],
      [{ create: true, prefix: 'Sky-' }, /^accounts\.prefix: expected/],
      [{ create: true, prefix: '-' }, /^accounts\.prefix: expected/],
      [{ create: true, prefix: 'a'.repeat(20) + '-' }, /^accounts\.prefix: expected/],
      [{ map: { alice: 'Alice' } }, /^accounts\.map\.alice: expected an OS account name/],
      [{ map: { alice: 'root' } }, /^accounts\.map\.alice: jobs never run as root/],
      [{ map: { alice: 'a'.repeat(33) } }, /^accounts\.map\.alice: expected an OS account name/],
      [{ map: { alice: 'x;rm -rf /' } }, /^accounts\.map\.alice: expected an OS account name/],
      [{ map: { alice: 7 } }, /^accounts\.map\.alice: expected an OS account name/],
      [{ map: ['alice'] }, /^accounts\.map: expected a mapping/],
      [{ map: { alice: 'alice-os' }, users: 1 }, /^accounts\.users: unknown key/],
    ];
    for (const [block, want] of table) {
      const got = issues(block);
      assert.ok(got.some((line) => want.test(line)), `${JSON.stringify(block)}: ${got.join('; ')}`);
    }
  });
});

describe('sky-node-helper config', () => {
  const base = ['--socket-owner', 'skyd', '--prefix', 'sky-'];

  it('takes flags, with defaults for the rest', () => {
    const c = loadHelperConfig(base, false);
    assert.deepEqual(c, {
      socket: '/run/sky-node-helper/helper.sock',
      socketOwner: 'skyd',
      nodeRoot: '/var/lib/sky-nodes',
      accounts: { names: [], prefixes: ['sky-'] },
      minUid: 1000,
      createAccounts: false,
      workerIdleSeconds: 60,
      jobPath: '/usr/local/bin:/usr/bin:/bin',
      logFile: undefined,
    });
    const more = loadHelperConfig([...base, '--account', 'alice-os', '--account', 'bob-os', '--min-uid', '2000', '--create-accounts', '--node-root', '/srv/nodes'], false);
    assert.deepEqual(more.accounts, { names: ['alice-os', 'bob-os'], prefixes: ['sky-'] });
    assert.equal(more.minUid, 2000);
    assert.equal(more.createAccounts, true);
    assert.equal(more.nodeRoot, '/srv/nodes');
  });

  it('reads a YAML file, flags winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-helper-conf-'));
    try {
      const file = join(dir, 'helper.yaml');
      writeFileSync(file, 'socket_owner: skyd\nnode_root: /srv/nodes\naccounts:\n  names: [alice-os]\n  prefix: team-\nmin_uid: 5000\ncreate_accounts: true\nlog_file: /var/log/h.log\n');
      const c = loadHelperConfig(['--config', file, '--min-uid', '6000'], false);
      assert.equal(c.nodeRoot, '/srv/nodes');
      assert.deepEqual(c.accounts, { names: ['alice-os'], prefixes: ['team-'] });
      assert.equal(c.minUid, 6000);
      assert.equal(c.logFile, '/var/log/h.log');
      writeFileSync(file, 'socket_owner: skyd\naccounts: {prefix: team-}\nsurprise: 1\n');
      assert.throws(() => loadHelperConfig(['--config', file], false), /surprise/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what would let it act as the daemon, as root or outside its rules', () => {
    const table: Array<[string[], RegExp]> = [
      [['--prefix', 'sky-'], /no socket owner/],
      [['--socket-owner', 'skyd'], /no accounts allowed/],
      [['--socket-owner', 'sky-daemon', '--prefix', 'sky-'], /the daemon's own account sky-daemon is among the allowed accounts/],
      [['--socket-owner', 'skyd', '--account', 'skyd'], /the daemon's own account/],
      [['--socket-owner', 'skyd', '--prefix', 'sky'], /prefix/],
      [['--socket-owner', 'skyd', '--account', 'Root!'], /account name/],
      [[...base, '--node-root', 'relative/nodes'], /node-root: must be a normalised absolute path/],
      [[...base, '--node-root', '/srv/nodes/'], /node-root/],
      [[...base, '--node-root', '/'], /node-root|socket/],
      [[...base, '--node-root', '/srv', '--socket', '/srv/helper.sock'], /must not be inside the node root/],
      [[...base, '--min-uid', 'lots'], /--min-uid takes a number/],
      [[...base, '--min-uid', '0'], /min-uid/],
      [[...base, '--job-path', 'bin:/usr/bin'], /job-path/],
      [[...base, '--bogus'], /Unknown option/],
    ];
    for (const [argv, want] of table) {
      assert.throws(() => loadHelperConfig(argv, false), (err: unknown) => err instanceof SkyError && want.test(err.message), argv.join(' '));
    }
  });

  it('refuses a config file anyone but root could have written', () => {
    assert.throws(() => checkConfigFileSafe('/etc/sky/helper.yaml', { uid: 1000, mode: 0o100644 }), /owned by uid 1000, not root/);
    assert.throws(() => checkConfigFileSafe('/etc/sky/helper.yaml', { uid: 0, mode: 0o100664 }), /writable by group or others/);
    assert.throws(() => checkConfigFileSafe('/etc/sky/helper.yaml', { uid: 0, mode: 0o100646 }), /writable by group or others/);
    assert.doesNotThrow(() => checkConfigFileSafe('/etc/sky/helper.yaml', { uid: 0, mode: 0o100640 }));
  });
});

describe('sky-node-helper accounts', () => {
  it('allows listed names and names with an allowed prefix (more than the prefix), nothing else', () => {
    const allowed = { names: ['alice-os'], prefixes: ['sky-'] };
    const table: Array<[string, boolean]> = [
      ['alice-os', true],
      ['sky-bob-123456', true],
      ['sky-', false],
      ['sky', false],
      ['skyline', false],
      ['root', false],
      ['alice', false],
      ['ALICE-OS', false],
      ['sky-../x', false],
      ['sky-a b', false],
      ['', false],
      ['sky-' + 'a'.repeat(40), false],
    ];
    for (const [name, want] of table) assert.equal(accountAllowed(name, allowed), want, name);
  });

  it('refuses root, root group, the daemon uid and uids below min_uid on every call', async () => {
    const db: Record<string, { name: string; uid: number; gid: number }> = {
      'sky-ok': { name: 'sky-ok', uid: 1500, gid: 1500 },
      'sky-root': { name: 'sky-root', uid: 0, gid: 0 },
      'sky-wheel': { name: 'sky-wheel', uid: 1600, gid: 0 },
      'sky-daemon2': { name: 'sky-daemon2', uid: 1234, gid: 1234 },
      'sky-system': { name: 'sky-system', uid: 999, gid: 999 },
    };
    const book = new AccountBook({ accounts: { names: [], prefixes: ['sky-'] }, minUid: 1000, createAccounts: false, nodeRoot: '/srv/nodes' }, 1234, async (n) => db[n]);
    assert.equal((await book.get('sky-ok')).uid, 1500);
    for (const [name, why] of [
      ['sky-root', /never acts as root/],
      ['sky-wheel', /root's group/],
      ['sky-daemon2', /the daemon's own uid/],
      ['sky-system', /below the helper's min_uid/],
      ['sky-missing', /does not exist/],
      ['root', /not one sky-node-helper may act as/],
    ] as const) {
      await assert.rejects(book.get(name), (err: unknown) => err instanceof SkyError && err.code === 'NODE_HELPER_REFUSED' && why.test(err.message), name);
    }
    await assert.rejects(book.ensure('sky-missing'), /may not create accounts/);
    assert.deepEqual(parsePasswdLine('alice:x:1001:1002:Alice,,,:/home/alice:/bin/bash'), { name: 'alice', uid: 1001, gid: 1002 });
    assert.equal(parsePasswdLine('garbage'), undefined);
  });

  it("makes an account's directory once when its first clusters are launched together, and refuses one another uid owns", async (t) => {
    if (process.getuid?.() !== 0 && process.env.CI !== 'true') {
      t.skip('NOT RUN: giving a directory to an account needs root (this test runs as root on CI)');
      return;
    }
    const root = mkdtempSync(join(tmpdir(), 'sky-accdir-'));
    try {
      // Between one call's mkdir and its chown the directory is root's: a call in that gap must wait, not refuse.
      for (let i = 0; i < 40; i++) {
        const dirs = await Promise.all(Array.from({ length: 4 }, () => ensureAccountDir(root, { name: `sky-accdir${i}`, uid: 65534, gid: 65534 })));
        assert.deepEqual(new Set(dirs), new Set([join(root, `sky-accdir${i}`)]));
      }
      const account = { name: 'sky-accdir', uid: 65534, gid: 65534 };
      await ensureAccountDir(root, account);
      const st = statSync(join(root, 'sky-accdir'));
      assert.deepEqual([st.uid, st.mode & 0o777], [65534, 0o700]);
      assert.equal(await ensureAccountDir(root, account), join(root, 'sky-accdir'), 'an existing one of the account is taken as it is');
      await assert.rejects(ensureAccountDir(root, { ...account, uid: 65533 }), /belongs to uid 65534, not to account sky-accdir \(uid 65533\)/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('sky-node-helper paths', () => {
  const paths = new NodePaths('/srv/nodes');
  const node = '/srv/nodes/sky-a/c1-ab/node-0';

  it('a node directory is exactly <node root>/<account>/<cluster>/<node>', () => {
    assert.equal(paths.nodeDir('sky-a', node), node);
    const bad = [
      '/srv/nodes/sky-a/c1',
      '/srv/nodes/sky-a/c1/node-0/x',
      '/srv/nodes/sky-b/c1/node-0',
      '/srv/nodes/sky-a/../sky-b/c1/node-0',
      '/srv/nodes/sky-a/c1/../../sky-b/node-0',
      '/srv/nodes/sky-a//c1/node-0',
      '/srv/nodes/sky-a/c1/node-0/',
      '/srv/nodes/sky-a/./c1/node-0',
      '/srv/nodes/sky-a/.hidden/node-0',
      '/srv/nodes/sky-a/c1/-rf',
      '/etc/passwd',
      '/srv/nodes',
      '/srv/nodesX/sky-a/c1/node-0',
      'srv/nodes/sky-a/c1/node-0',
    ];
    for (const dir of bad) assert.throws(() => paths.nodeDir('sky-a', dir), code('NODE_HELPER_REFUSED'), dir);
    assert.equal(paths.clusterOrNodeDir('sky-a', '/srv/nodes/sky-a/c1'), '/srv/nodes/sky-a/c1');
    assert.throws(() => paths.clusterOrNodeDir('sky-a', '/srv/nodes/sky-a'), code('NODE_HELPER_REFUSED'));
  });

  it('paths on a node stay inside it, whatever they say', () => {
    assert.equal(paths.inNode(node, '.sky/jobs/j/log'), `${node}/.sky/jobs/j/log`);
    assert.equal(paths.inNode(node, `${node}/sky_workdir`), `${node}/sky_workdir`);
    assert.equal(paths.inNode(node, '.', true), node);
    for (const p of ['..', '../node-1/x', '/etc/shadow', '.sky/../../x', `${node}/../node-1`, '.', '', 'a\0b', `${node}x/y`]) {
      assert.throws(() => paths.inNode(node, p), code('NODE_HELPER_REFUSED'), JSON.stringify(p));
    }
    assert.equal(paths.under(`${node}/w`, 'a/b.txt'), `${node}/w/a/b.txt`);
    for (const p of ['../x', 'a/../../x', '/abs', 'a//b', './a', 'a/.', '', 'a\0']) {
      assert.throws(() => paths.under(`${node}/w`, p), code('NODE_HELPER_REFUSED'), JSON.stringify(p));
    }
  });

  it('fuzz: no random path made of hostile pieces ever resolves outside the node', () => {
    const seed = Number(process.env.SKY_FUZZ_SEED ?? Date.now() % 1_000_000);
    const pieces = ['..', '.', '', 'a', '/', '//', 'node-1', '.sky', '\0', '~', '%2e%2e', 'sky-b', node, '/srv/nodes'];
    const next = rng(seed);
    for (let i = 0; i < 5000; i++) {
      const n = 1 + Math.floor(next() * 6);
      const p = Array.from({ length: n }, () => pieces[Math.floor(next() * pieces.length)]).join(next() < 0.7 ? '/' : '');
      let resolved: string | undefined;
      try {
        resolved = paths.inNode(node, p, next() < 0.5);
      } catch (err) {
        assert.ok(err instanceof SkyError && err.code === 'NODE_HELPER_REFUSED', `seed ${seed}: ${JSON.stringify(p)} threw ${String(err)}`);
      }
      if (resolved !== undefined) assert.ok(resolved === node || resolved.startsWith(`${node}/`), `seed ${seed}: ${JSON.stringify(p)} → ${resolved}`);
    }
  });
});

describe('sky-node-helper messages', () => {
  const ok = { account: 'sky-a', node: '/srv/nodes/sky-a/c/node-0' };

  it('accepts one well-formed request per operation', () => {
    const valid = [
      { id: 1, op: 'hello' },
      { id: 2, op: 'ensureAccount', account: 'sky-a' },
      { id: 3, op: 'makeNodeDir', ...ok },
      { id: 4, op: 'statNodeDir', ...ok },
      { id: 5, op: 'removeNodeDir', account: 'sky-a', dir: '/srv/nodes/sky-a/c' },
      { id: 6, op: 'run', ...ok, command: 'true', timeoutMs: 1000 },
      { id: 7, op: 'read', ...ok, path: 'log', offset: 0, max: 10 },
      { id: 8, op: 'writeFiles', ...ok, dir: '.sky', files: [{ path: 'a', mode: 0o644, bytes: 1 }] },
      { id: 9, op: 'syncPlan', ...ok, dest: 'w', files: [{ path: 'a', size: 1, mtimeMs: 1 }], dirs: ['d'] },
      { id: 10, op: 'syncChunk', ...ok, dest: 'w', path: 'a', offset: 0, size: 1, mode: 0o644, mtimeMs: 1, last: true },
      { id: 11, op: 'signal', account: 'sky-a', pgid: 1234, signal: 'SIGTERM' },
      { id: 12, op: 'abort', target: 3 },
      { id: 13, op: 'stream', ...ok, command: 'tail -f log' },
      { id: 14, op: 'session', ...ok, pty: { term: 'xterm-256color', rows: 24, cols: 80 }, env: { LANG: 'C.UTF-8' } },
      { id: 15, op: 'sessionInput', target: 14, eof: true, size: { rows: 30, cols: 100 }, signal: 'SIGINT' },
    ];
    assert.deepEqual(valid.map((v) => v.op).sort(), [...HELPER_OPS].sort(), 'every operation is covered');
    for (const v of valid) assert.ok(HelperRequestSchema.safeParse(v).success, JSON.stringify(v));
  });

  it('refuses malformed ones: accounts, paths, sizes, signals, unknown fields and operations', () => {
    const bad: unknown[] = [
      null,
      'hello',
      { op: 'hello' },
      { id: 0, op: 'hello' },
      { id: -1, op: 'hello' },
      { id: 1.5, op: 'hello' },
      { id: 1, op: 'shell', command: 'id' },
      { id: 1, op: 'hello', extra: true },
      { id: 1, op: 'ensureAccount', account: 'Root' },
      { id: 1, op: 'ensureAccount', account: 'a'.repeat(33) },
      { id: 1, op: 'ensureAccount', account: '-rf' },
      { id: 1, op: 'ensureAccount', account: 'a;b' },
      { id: 1, op: 'ensureAccount', account: 'a$' },
      { id: 1, op: 'makeNodeDir', account: 'sky-a', node: 'relative/dir' },
      { id: 1, op: 'makeNodeDir', account: 'sky-a', node: '/a\0b' },
      { id: 1, op: 'run', ...ok, command: 'x'.repeat(HELPER_LIMITS.commandBytes + 1) },
      { id: 1, op: 'run', ...ok, command: 'a\0b' },
      { id: 1, op: 'run', ...ok, command: 'true', timeoutMs: 0 },
      { id: 1, op: 'run', ...ok, command: 'true', env: { LD_PRELOAD: '/x.so' } },
      { id: 1, op: 'run', ...ok, command: 'true', uid: 0 },
      { id: 1, op: 'session', ...ok, env: { LD_PRELOAD: '/x.so' } },
      { id: 1, op: 'session', ...ok, env: { PATH: '/tmp' } },
      { id: 1, op: 'session', ...ok, pty: { term: 'xterm; id', rows: 24, cols: 80 } },
      { id: 1, op: 'session', ...ok, pty: { term: 'xterm', rows: 0, cols: 80 } },
      { id: 1, op: 'session', ...ok, command: 'a\0b' },
      { id: 1, op: 'session', account: 'root', node: '/srv/nodes/root/c/node-0', uid: 0 },
      { id: 1, op: 'sessionInput', target: 14, signal: 'SIGSTOP' },
      { id: 1, op: 'sessionInput', target: 0 },
      { id: 1, op: 'read', ...ok, path: 'log', offset: -1, max: 10 },
      { id: 1, op: 'read', ...ok, path: 'log', offset: 0, max: HELPER_LIMITS.readBytes + 1 },
      { id: 1, op: 'read', ...ok, path: '', offset: 0, max: 1 },
      { id: 1, op: 'read', ...ok, path: 'x'.repeat(HELPER_LIMITS.pathChars + 1), offset: 0, max: 1 },
      { id: 1, op: 'writeFiles', ...ok, dir: '.', files: [{ path: 'a', mode: 0o17777, bytes: 1 }] },
      { id: 1, op: 'writeFiles', ...ok, dir: '.', files: [{ path: 'a', mode: 0o644, bytes: -1 }] },
      { id: 1, op: 'writeFiles', ...ok, dir: '.', files: Array.from({ length: HELPER_LIMITS.files + 1 }, () => ({ path: 'a', mode: 0o644, bytes: 0 })) },
      { id: 1, op: 'syncChunk', ...ok, dest: 'w', path: 'a', offset: 0, size: 1, mode: 0o644, mtimeMs: -5, last: true },
      { id: 1, op: 'signal', account: 'sky-a', pgid: 1, signal: 'SIGTERM' },
      { id: 1, op: 'signal', account: 'sky-a', pgid: -5, signal: 'SIGTERM' },
      { id: 1, op: 'signal', account: 'sky-a', pgid: 1234, signal: 'SIGSTOP' },
      { id: 1, op: 'signal', account: 'sky-a', pgid: 1234, signal: 9 },
      { id: 1, op: 'abort', target: 0 },
    ];
    for (const b of bad) assert.equal(HelperRequestSchema.safeParse(b).success, false, JSON.stringify(b)?.slice(0, 200));
    assert.equal(HelperResponseSchema.safeParse({ id: 1, ok: false, error: { code: 'NOT_A_CODE', message: 'x' } }).success, false);
  });

  it('fuzz: random mutations of valid requests never throw, and whatever parses keeps its shape', () => {
    const seed = Number(process.env.SKY_FUZZ_SEED ?? Date.now() % 1_000_000);
    const next = rng(seed);
    const values: unknown[] = [null, true, -1, 0, 1.5, 2 ** 53, '', '..', '/etc/shadow', 'sky-a', 'root', 'a'.repeat(5000), [], {}, { x: 1 }, 'SIGKILL'];
    const template: Record<string, unknown> = { id: 1, op: 'read', ...ok, path: 'log', offset: 0, max: 10 };
    const keys = ['id', 'op', 'account', 'node', 'path', 'offset', 'max', 'command', 'signal', 'pgid', 'uid'];
    for (let i = 0; i < 3000; i++) {
      const msg: Record<string, unknown> = { ...template, op: HELPER_OPS[Math.floor(next() * HELPER_OPS.length)] };
      for (let m = 0; m < 1 + Math.floor(next() * 3); m++) msg[keys[Math.floor(next() * keys.length)]!] = values[Math.floor(next() * values.length)];
      const parsed = HelperRequestSchema.safeParse(msg);
      if (parsed.success) {
        const r = parsed.data;
        assert.ok(Number.isSafeInteger(r.id) && r.id > 0, `seed ${seed}: ${JSON.stringify(msg)}`);
        if ('account' in r) assert.match(r.account, ACCOUNT_NAME, `seed ${seed}`);
        if ('node' in r) assert.ok(r.node.startsWith('/') && !r.node.includes('\0'), `seed ${seed}`);
      }
    }
  });

  it('frames: round trip, split anywhere, and refused when too large or not JSON', () => {
    const payload = Buffer.from('hello bytes');
    const frame = Buffer.from(encodeHelperFrame({ id: 7, op: 'hello' }, payload));
    for (let cut = 0; cut <= frame.length; cut++) {
      const decoder = new HelperFrameDecoder();
      const frames = [...decoder.push(frame.subarray(0, cut)), ...decoder.push(frame.subarray(cut))];
      assert.equal(frames.length, 1, `cut at ${cut}`);
      assert.deepEqual(frames[0]!.header, { id: 7, op: 'hello' });
      assert.equal(Buffer.from(frames[0]!.payload).toString(), 'hello bytes');
    }
    const two = new HelperFrameDecoder().push(Buffer.concat([frame, frame]));
    assert.equal(two.length, 2);
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(HELPER_LIMITS.headerBytes + 1, 0);
    assert.throws(() => new HelperFrameDecoder().push(huge), code('VALIDATION_FAILED'));
    huge.writeUInt32BE(2, 0);
    huge.writeUInt32BE(HELPER_LIMITS.payloadBytes + 1, 4);
    assert.throws(() => new HelperFrameDecoder().push(huge), code('VALIDATION_FAILED'));
    const notJson = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]), Buffer.from('{x}')]);
    assert.throws(() => new HelperFrameDecoder().push(notJson), code('VALIDATION_FAILED'));
    assert.throws(() => encodeHelperFrame({}, Buffer.alloc(HELPER_LIMITS.payloadBytes + 1)), code('VALIDATION_FAILED'));
  });
});
