/**
 * Nodes reached through their driver (plugin API TunnelExtension): the daemon's transport pool
 * speaks SSH over the stream a driver's openTunnel gives, against a real sshd (netns-hosts). The
 * node's host is an address nothing routes to (TEST-NET-3), so only the tunnel can carry it.
 * Pooled connections, stream connections and the SSH gateway's dedicated ones all go through it;
 * failures are NODE_UNREACHABLE naming the node and the driver's reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Driver } from '@sky/plugin-api';
import { SkyError, type NodeRecord } from '@sky/protocol';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { TransportPool, type SshReach } from '../../core/daemon/src/nodes/transports.js';
import { SshTransport } from '../../core/daemon/src/nodes/ssh-transport.js';
import { driverTunnels } from '../../core/daemon/src/nodes/driver-tunnels.js';

let set: TestHosts;
let pool: TransportPool;
const calls: Array<{ id: string; port: number }> = [];

/** A driver whose tunnels are TCP connections to the test host (as port-forward ends in the pod). */
const fakeDriver = {
  openTunnel(id: string, port: number, opts: { signal: AbortSignal }): Promise<Duplex> {
    calls.push({ id, port });
    if (id === 'gone') return Promise.reject(new SkyError('DRIVER_FAILED', 'pod p-1 is not running', { hint: 'Look at the pod.' }));
    const host = set.hosts[0]!;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: host.ip, port });
      const onAbort = (): void => {
        socket.destroy();
        reject(new Error('aborted'));
      };
      opts.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        opts.signal.removeEventListener('abort', onAbort);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  },
};

function reach(id: string, driver = 'fake'): SshReach {
  const host = set.hosts[0]!;
  return {
    kind: 'ssh',
    host: '203.0.113.7',
    port: host.port,
    user: host.user,
    identityFile: host.identityFile,
    hostKeys: [host.knownHostsLine.split(' ').slice(1).join(' ')],
    tunnel: { driver, id },
  };
}

async function rejectsWith(promise: Promise<unknown>, pattern: RegExp): Promise<SkyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    assert.equal(err.code, 'NODE_UNREACHABLE', err.message);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail('expected NODE_UNREACHABLE');
}

before(async () => {
  set = await createHosts(1);
  const drivers = new Map<string, Driver>([
    ['fake', fakeDriver as unknown as Driver],
    ['plain', {} as unknown as Driver],
  ]);
  pool = new TransportPool({ knownHostsFile: '/nonexistent/known_hosts', connectTimeoutMs: 5000, agentSocket: null }, undefined, false, {}, driverTunnels(() => drivers));
});

after(async () => {
  await pool?.closeAll();
  await set?.destroy();
});

describe('SSH through a driver tunnel', () => {
  it('runs commands over the tunnel, with the pinned host key, on one pooled connection', async () => {
    const t = pool.forReach(reach('ctx/ns/pod-0'), 'pod-0');
    const out = await t.run('echo through-the-tunnel');
    assert.equal(out.code, 0);
    assert.match(out.stdout, /through-the-tunnel/);
    assert.deepEqual(calls.at(-1), { id: 'ctx/ns/pod-0', port: set.hosts[0]!.port });
    // The pooled connection is reused: no new tunnel for the next command.
    const before = calls.length;
    assert.match((await t.run('echo again')).stdout, /again/);
    assert.equal(calls.length, before);
    assert.equal(pool.openSshConnections, 1);
  });

  it('streams, and opens overflow stream connections through the tunnel too', async () => {
    const t = pool.forReach(reach('ctx/ns/pod-0'), 'pod-0');
    assert.ok(t instanceof SshTransport);
    const before = calls.length;
    // More concurrent streams than the main connection carries: the rest go on an overflow connection.
    const texts = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        let out = '';
        for await (const chunk of t.stream(`sleep 0.3; echo stream-${i}`, { signal: new AbortController().signal })) out += chunk.toString();
        return out;
      }),
    );
    assert.deepEqual(texts.map((x) => x.trim()), ['stream-0', 'stream-1', 'stream-2', 'stream-3']);
    assert.ok(calls.length > before, 'no tunnel opened for the overflow connection');
    assert.ok(calls.slice(before).every((c) => c.id === 'ctx/ns/pod-0'));
  });

  it('keys the pool by tunnel: another tunnel id is another connection', async () => {
    const a = pool.forReach(reach('ctx/ns/pod-0'), 'pod-0');
    const b = pool.forReach(reach('ctx/ns/pod-1'), 'pod-1');
    assert.notEqual(a, b);
    await b.run('true');
    assert.equal(calls.at(-1)?.id, 'ctx/ns/pod-1');
  });

  it('opens the SSH gateway\'s dedicated connections through the tunnel too', async () => {
    const connection = pool.dedicatedSsh(reach('ctx/ns/pod-0'), 'pod-0');
    try {
      const before = calls.length;
      const channel = await connection.session({ kind: 'exec', command: 'echo gateway-session', pty: undefined, env: {} });
      const text = await new Promise<string>((resolve) => {
        let out = '';
        channel.on('data', (d: Buffer) => (out += d.toString()));
        channel.on('close', () => resolve(out));
      });
      assert.match(text, /gateway-session/);
      assert.equal(calls.length, before + 1);
    } finally {
      await connection.close(true);
    }
  });

  it('reports a tunnel the driver cannot open as NODE_UNREACHABLE naming the node, the driver and its reason', async () => {
    const err = await rejectsWith(pool.forReach(reach('gone'), 'pod-9').run('true'), /node pod-9 through driver fake \(tunnel gone\): pod p-1 is not running/);
    assert.equal(err.hint, 'Look at the pod.');
  });

  it('refuses a node of a driver that is not loaded, or that opens no tunnels', async () => {
    await rejectsWith(pool.forReach(reach('x', 'missing'), 'pod-m').run('true'), /node pod-m is reached through driver missing, which is not loaded/);
    await rejectsWith(pool.forReach(reach('x', 'plain'), 'pod-p').run('true'), /driver plain, which opens no tunnels/);
  });

  it('refuses tunnels where the pool has no resolver', async () => {
    const bare = new TransportPool({ agentSocket: null });
    const node: NodeRecord = { id: 'n', rank: 0, address: '10.0.0.1', reach: reach('x'), resources: { cpus: 1, memoryGb: 1, accelerators: [] } };
    assert.throws(() => bare.for(node), /opens no driver tunnels/);
    await bare.closeAll();
  });
});
