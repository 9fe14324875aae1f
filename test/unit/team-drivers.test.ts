import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DaemonConfigSchema } from '@sky/daemon';
import { AccountTransport } from '../../core/daemon/src/nodes/account-transport.js';
import { NodeHelperConnection } from '../../core/daemon/src/nodes/node-helper.js';
import { TransportPool } from '../../core/daemon/src/nodes/transports.js';
import type { HelperResult } from '@sky/protocol';
import { SkyError } from '@sky/protocol';
import type { NodeHelper } from '@sky/plugin-api';
import { connectAccounts, LocalDriver, requireAccountsWhenShared, type AccountsConfig } from 'sky-driver-local';

// Which drivers a daemon has when its config names none, and the local driver's refusal to serve
// a team without accounts (the daemon-level replay is in test/security/local-accounts.test.ts).

describe('drivers by auth mode', () => {
  it('a personal server (auth none) gets the local driver; a team server (basic, token, proxy) none', () => {
    assert.deepEqual(DaemonConfigSchema.parse({}).drivers, { local: {} });
    assert.deepEqual(DaemonConfigSchema.parse({ auth: { mode: 'none' } }).drivers, { local: {} });
    for (const mode of ['basic', 'token', 'proxy'] as const) assert.deepEqual(DaemonConfigSchema.parse({ auth: { mode } }).drivers, {}, mode);
    assert.deepEqual(DaemonConfigSchema.parse({ auth: { mode: 'basic' }, drivers: { ssh: {} } }).drivers, { ssh: {} }, 'named drivers are kept');
    assert.equal(DaemonConfigSchema.parse({}).node_helper.socket, undefined);
    assert.equal(DaemonConfigSchema.parse({ node_helper: { socket: '/run/x.sock' } }).node_helper.call_timeout_seconds, 120);
  });
});

const hello = (over: Partial<HelperResult<'hello'>> = {}): HelperResult<'hello'> => ({
  protocol: 1,
  version: '0.1.0',
  nodeRoot: '/var/lib/sky-nodes',
  minUid: 1000,
  canCreate: true,
  accounts: { names: ['alice-os'], prefixes: ['sky-'] },
  ...over,
});

function fakeHelper(answer: () => Promise<HelperResult<'hello'>>): NodeHelper {
  const no = (): Promise<never> => Promise.reject(new Error('not in this test'));
  return {
    socketPath: '/run/sky-node-helper/helper.sock',
    hello: answer,
    ensureAccount: no,
    makeNodeDir: no,
    statNodeDir: no,
    removeNodeDir: no,
    run: no,
    stream: () => ({
      [Symbol.asyncIterator]: () => ({ next: no }),
    }),
    read: no,
    writeFiles: no,
    syncFiles: no,
    signal: no,
    session: no,
  };
}

describe('the local driver on a team server', () => {
  it('refuses to start without accounts when the daemon is multi-user, explaining both ways out', () => {
    assert.throws(
      () => requireAccountsWhenShared({ multiUser: true, config: { root: '/x', cpus: 1, memoryGb: 1, maxNodes: undefined, accounts: undefined } }),
      (err: unknown) => {
        assert.ok(err instanceof SkyError && err.code === 'CONFIG_INVALID');
        assert.match(err.message, /shared by a team/);
        assert.match(err.hint ?? '', /accounts: block/);
        assert.match(err.hint ?? '', /sky-node-helper/);
        assert.match(err.hint ?? '', /remove drivers\.local/);
        return true;
      },
    );
    assert.doesNotThrow(() => requireAccountsWhenShared({ multiUser: false, config: { root: '/x', cpus: 1, memoryGb: 1, maxNodes: undefined, accounts: undefined } }));
    assert.doesNotThrow(() => requireAccountsWhenShared({ config: { root: '/x', cpus: 1, memoryGb: 1, maxNodes: undefined, accounts: undefined } }), 'absent: single-user');
  });

  it('with accounts, needs a reachable helper that allows every mapped account (and may create, under the prefix)', async () => {
    const config: AccountsConfig = { map: { alice: 'alice-os' }, create: true, prefix: 'sky-' };
    const ok = await connectAccounts({ nodeHelper: fakeHelper(async () => hello()) }, config);
    assert.equal(ok.nodeRoot, '/var/lib/sky-nodes');
    const table: Array<[Parameters<typeof connectAccounts>[0], AccountsConfig, RegExp]> = [
      [{}, config, /node_helper\.socket is not set/],
      [{ nodeHelper: fakeHelper(() => Promise.reject(new SkyError('NODE_UNREACHABLE', 'ECONNREFUSED'))) }, config, /cannot reach sky-node-helper at .*ECONNREFUSED/],
      [{ nodeHelper: fakeHelper(async () => hello({ protocol: 2 })) }, config, /speaks protocol 2/],
      [{ nodeHelper: fakeHelper(async () => hello()) }, { ...config, map: { bob: 'root-ish' } }, /does not allow: bob: root-ish/],
      [{ nodeHelper: fakeHelper(async () => hello({ canCreate: false })) }, config, /may not create accounts/],
      [{ nodeHelper: fakeHelper(async () => hello()) }, { ...config, prefix: 'team-' }, /not within the helper's allowed prefixes/],
    ];
    for (const [ctx, cfg, want] of table) {
      await assert.rejects(connectAccounts(ctx, cfg), (err: unknown) => err instanceof SkyError && err.code === 'CONFIG_INVALID' && want.test(err.message), String(want));
    }
  });
});

describe('no job runs as the daemon on a team server', () => {
  it("the daemon's transports refuse a local node without an OS account, and reach one with an account only through the helper", async () => {
    const local = { kind: 'local' as const, root: '/tmp/some-node' };
    const team = new TransportPool({}, new NodeHelperConnection({ call_timeout_seconds: 1 }), true);
    assert.throws(() => team.forReach(local, 'n0'), (err: unknown) => err instanceof SkyError && err.code === 'FORBIDDEN' && /no job runs as the daemon's own account/.test(err.message));
    assert.throws(() => team.forReach({ ...local, account: 'sky-a' }, 'n0'), (err: unknown) => err instanceof SkyError && err.code === 'NODE_UNREACHABLE' && /node_helper\.socket is not set/.test(err.message));
    const withHelper = new TransportPool({}, new NodeHelperConnection({ socket: '/run/none.sock', call_timeout_seconds: 1 }), true);
    assert.ok(withHelper.forReach({ ...local, account: 'sky-a' }, 'n0') instanceof AccountTransport);
    assert.ok(!(new TransportPool().forReach(local, 'n0') instanceof AccountTransport), 'a personal server reaches its nodes directly');
  });

  it('the local driver with accounts tears down, but never reuses, a cluster made before them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sky-team-drivers-'));
    const signal = new AbortController().signal;
    const opts = { signal, log: () => undefined };
    const req = { clusterName: 'old', clusterId: 'old-1', owner: 'u-1', ownerName: 'alice', numNodes: 1, resources: {} };
    try {
      const before = new LocalDriver({ root, cpus: 4, memoryGb: 4 });
      const cluster = await before.provision(req, opts);
      const helper: NodeHelper = {
        ...fakeHelper(async () => hello()),
        ensureAccount: async () => ({ uid: 2000, gid: 2000, created: false, home: '/var/lib/sky-nodes/alice-os' }),
      };
      const after = new LocalDriver({ root, cpus: 4, memoryGb: 4, accounts: { config: { map: { alice: 'alice-os' }, create: false, prefix: undefined }, helper, nodeRoot: '/var/lib/sky-nodes' } });
      const refused = (err: unknown): boolean => err instanceof SkyError && err.code === 'FORBIDDEN' && /made before drivers\.local\.accounts/.test(err.message);
      await assert.rejects(after.provision(req, opts), refused);
      await after.stop(cluster, opts);
      await assert.rejects(after.start(cluster, opts), refused);
      await after.terminate(cluster, opts);
      assert.equal(existsSync(join(root, 'old-1')), false, 'terminate removed it');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
