import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import type { HelperSession, HelperSessionEnd } from '@sky/plugin-api';
import { SkyError, type ClusterRecord, type NodeRecord } from '@sky/protocol';
import { TransportPool } from '../../core/daemon/src/nodes/transports.js';
import type { NodeHelperConnection } from '../../core/daemon/src/nodes/node-helper.js';
import { backendFor, nodeOfRank } from '../../core/daemon/src/ssh-gateway/backends.js';
import { LocalNodeBackend } from '../../core/daemon/src/ssh-gateway/local-backend.js';
import { AccountNodeBackend, sessionProcess } from '../../core/daemon/src/ssh-gateway/account-backend.js';
import { SshNodeBackend } from '../../core/daemon/src/ssh-gateway/ssh-backend.js';
import { HOST_KEY_FILE, loadOrCreateHostKey } from '../../core/daemon/src/ssh-gateway/host-key.js';
import { acceptedEnv } from '../../core/daemon/src/ssh-gateway/node-backend.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const resources = { cpus: 1, memoryGb: 1, accelerators: {} } as unknown as NodeRecord['resources'];
const node = (rank: number, reach: NodeRecord['reach']): NodeRecord => ({ id: `n${rank}`, rank, address: `node-${rank}`, reach, resources });
const cluster = (nodes: NodeRecord[]): ClusterRecord => ({ name: 'c', nodes }) as unknown as ClusterRecord;

describe('the SSH gateway: which node, and how it is reached', () => {
  it('rank 0 is the head; an absent rank names the ranks there are', () => {
    const c = cluster([node(0, { kind: 'local', root: '/n0' }), node(1, { kind: 'local', root: '/n1' })]);
    assert.equal(nodeOfRank(c, 1).address, 'node-1');
    assert.throws(() => nodeOfRank(c, 2), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.match(err.message, /cluster c has no node of rank 2: it has 2 \(rank 0 is the head, 1\.\.1 the workers\)/);
      assert.match(err.hint ?? '', /ssh c-worker1/);
      return true;
    });
  });

  it("SSH nodes get a connection of the tunnel's own; local nodes of the daemon's account run child processes", () => {
    const pool = new TransportPool();
    assert.ok(backendFor(pool, node(0, { kind: 'ssh', host: '10.0.0.1', port: 22, user: 'u' } as NodeRecord['reach'])) instanceof SshNodeBackend);
    assert.ok(backendFor(pool, node(0, { kind: 'local', root: '/n0' })) instanceof LocalNodeBackend);
  });

  it("a team server refuses local nodes without an OS account; account nodes go through the helper, which refuses ssh -L", async () => {
    const team = new TransportPool({}, { client: {} } as unknown as NodeHelperConnection, true);
    assert.throws(() => backendFor(team, node(0, { kind: 'local', root: '/n0' })), { code: 'FORBIDDEN' });
    const backend = backendFor(team, node(0, { kind: 'local', root: '/n0', account: 'sky-alice' }));
    assert.ok(backend instanceof AccountNodeBackend);
    await assert.rejects(backend.connect('127.0.0.1', 8888), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'NOT_SUPPORTED');
      assert.match(err.message, /port forwarding \(to 127\.0\.0\.1:8888\) from local node \/n0 is not supported on a team server: the connection would come from the API server's account, not sky-alice/);
      assert.match(err.hint ?? '', /ssh CLUSTER curl localhost:PORT/);
      return true;
    });
  });

  it('a session on an account node: output and exit status pass through; a refusal reaches stderr with status 255', async () => {
    const fake = (ended: Promise<HelperSessionEnd>, out: string, err: string): { session: HelperSession; writes: string[]; eof: () => boolean } => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const writes: string[] = [];
      let eof = false;
      stdout.end(out);
      stderr.end(err);
      ended.catch(() => undefined);
      const session: HelperSession = {
        stdout,
        stderr,
        ended,
        write: async (data) => void writes.push(Buffer.from(data).toString()),
        endInput: async () => void (eof = true),
        resize: () => undefined,
        signal: () => undefined,
        abort: () => undefined,
      };
      return { session, writes, eof: () => eof };
    };
    const collect = async (proc: ReturnType<typeof sessionProcess>): Promise<{ out: string; err: string; exit: unknown }> => {
      let out = '';
      let err = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exit = await new Promise((resolve) => proc.onClose(resolve));
      return { out, err, exit };
    };
    const good = fake(Promise.resolve({ code: 3 }), 'hello\n', 'warn\n');
    const proc = sessionProcess(good.session);
    proc.stdin.end('typed');
    assert.deepEqual(await collect(proc), { out: 'hello\n', err: 'warn\n', exit: { code: 3 } });
    assert.deepEqual(good.writes, ['typed']);
    assert.equal(good.eof(), true);
    const refused = fake(Promise.reject(new SkyError('NODE_HELPER_REFUSED', 'account "root" is not one sky-node-helper may act as')), '', '');
    assert.deepEqual(await collect(sessionProcess(refused.session)), { out: '', err: 'sky: account "root" is not one sky-node-helper may act as\n', exit: { code: 255 } });
  });

  it('only LANG and LC_* are taken from the client environment', () => {
    assert.equal(acceptedEnv('LANG'), true);
    assert.equal(acceptedEnv('LC_ALL'), true);
    for (const name of ['PATH', 'LD_PRELOAD', 'SKYPILOT_NODE_RANK', 'lc_all', 'LC_']) assert.equal(acceptedEnv(name), false, name);
  });

  it('the host key is made once (0600) and read back the same', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-gateway-key-'));
    dirs.push(dir);
    const made = loadOrCreateHostKey(dir);
    assert.match(made.pub.publicKey, /^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    assert.match(made.pub.fingerprint, /^SHA256:/);
    assert.equal(statSync(join(dir, HOST_KEY_FILE)).mode & 0o777, 0o600);
    const again = loadOrCreateHostKey(dir);
    assert.deepEqual(again.pub, made.pub);
    assert.ok(readFileSync(join(dir, HOST_KEY_FILE)).equals(made.privateKey));
  });

  it('a new host key is always one the gateway can read back (ssh2 writes a malformed one now and then)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sky-gateway-keys-'));
    dirs.push(dir);
    // About 3 in 1,000 of ssh2's ed25519 keys do not parse: 2,000 new keys would meet several.
    for (let i = 0; i < 2000; i++) {
      rmSync(join(dir, HOST_KEY_FILE), { force: true });
      assert.match(loadOrCreateHostKey(dir).pub.publicKey, /^ssh-ed25519 /);
    }
  });
});
