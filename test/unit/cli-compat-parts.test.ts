// Pure parts of SkyPilot's CLI habits: glob matching, the status JSON shape, the ~/sky_logs
// layout, show-gpus of every driver, and when the pools file enables the ssh driver.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ClusterRecord } from '@sky/protocol';
import { expandNames, globToRegExp, isGlob, matchNames } from '../../cli/src/glob.js';
import { gpuLines } from '../../cli/src/infra-format.js';
import { logFiles, syncDir } from '../../cli/src/log-sync.js';
import { gapSeconds, MAX_GAP_SECONDS } from '../../cli/src/retry.js';
import { endpointLines, statusJson } from '../../cli/src/status-json.js';
import { statusLines } from '../../cli/src/commands/status.js';
import { canShowBrowser } from '../../cli/src/commands/dashboard.js';
import { poolsFilePath, withPoolsFileDriver } from '../../core/daemon/src/plugins/pools-file-driver.js';

describe('cluster-name globs (fnmatch)', () => {
  const names = ['dev-a', 'dev-b', 'dev-10', 'prod', 'dev.x', 'devxa'];
  const cases: Array<[string, string[]]> = [
    ['dev-*', ['dev-a', 'dev-b', 'dev-10']],
    ['dev-?', ['dev-a', 'dev-b']],
    ['dev-[ab]', ['dev-a', 'dev-b']],
    ['dev-[!a]', ['dev-b']],
    ['dev-[0-9]*', ['dev-10']],
    ['dev.*', ['dev.x']],
    ['*', names],
    ['p*d', ['prod']],
    ['dev-[', []],
  ];
  for (const [pattern, expected] of cases) it(pattern, () => assert.deepEqual(matchNames(pattern, names), expected));

  it('a name with no glob character is a plain name; `.` is literal', () => {
    assert.equal(isGlob('dev-a'), false);
    assert.equal(isGlob('dev-*'), true);
    assert.equal(globToRegExp('dev.x').test('devxx'), false);
  });

  it('a set whose range runs backwards is a usage error naming the pattern, not a crash', () => {
    assert.throws(() => globToRegExp('dev-[z-a]'), (err: Error) => err.name === 'UsageError' && err.message.includes("'dev-[z-a]'"));
  });

  it('expandNames keeps plain names, expands patterns, drops duplicates and reports patterns that matched nothing', () => {
    assert.deepEqual(expandNames(['dev-a', 'dev-*', 'zz*'], names), { names: ['dev-a', 'dev-b', 'dev-10'], unmatched: ['zz*'] });
  });
});

const record: ClusterRecord = {
  name: 'web',
  clusterId: 'web-1',
  owner: 'u1',
  ownerName: 'alice',
  workspace: 'default',
  driver: 'local',
  infra: 'local',
  status: 'UP',
  numNodes: 2,
  nodes: [
    { id: 'n1', rank: 1, address: '10.0.0.2', reach: { kind: 'local', root: '/x' }, resources: { cpus: 1, memoryGb: 1, accelerators: [] } },
    { id: 'n0', rank: 0, address: '10.0.0.1', reach: { kind: 'local', root: '/y' }, resources: { cpus: 1, memoryGb: 1, accelerators: [] } },
  ],
  resources: '2x local(cpus=1, mem=1GB)',
  driverState: { secret: 'opaque' },
  launchedAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  updatedAt: 0,
  lastActiveAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  lastCommand: 'python serve.py',
  ports: ['8080', '9000-9002'],
  autostop: { idleMinutes: 30, down: true },
  version: 1,
};

describe('sky status -o json and --endpoints', () => {
  it('has the documented shape: no driver state or node reach, head first', () => {
    const json = statusJson({ enabledInfra: ['local'] }, [record]);
    assert.deepEqual(json, {
      clusters: [
        {
          name: 'web',
          user: 'alice',
          workspace: 'default',
          infra: 'local',
          status: 'UP',
          statusReason: null,
          numNodes: 2,
          resources: '2x local(cpus=1, mem=1GB)',
          launchedAt: '2026-01-02T03:04:05.000Z',
          lastActiveAt: '2026-01-02T03:04:05.000Z',
          autostop: { idleMinutes: 30, down: true },
          command: 'python serve.py',
          headIp: '10.0.0.1',
          nodeIps: ['10.0.0.1', '10.0.0.2'],
          ports: ['8080', '9000-9002'],
        },
      ],
      enabledInfra: ['local'],
    });
  });

  it('--endpoints: one line per port (a range stays one line)', () => {
    const [cluster] = statusJson({ enabledInfra: [] }, [record]).clusters;
    assert.deepEqual(endpointLines(cluster!), ['8080: 10.0.0.1:8080', '9000-9002: 10.0.0.1:9000-9002']);
  });

  it('-v adds INFRA before RESOURCES; the default columns stay', () => {
    const list = { items: [record], enabledInfra: ['local'] };
    const plain = statusLines(list, [], {}, record.launchedAt + 60_000);
    assert.ok(plain.some((l) => /^NAME\s+LAUNCHED\s+RESOURCES\s+STATUS\s+AUTOSTOP\s+COMMAND$/.test(l)), plain.join('\n'));
    const verbose = statusLines(list, [], { verbose: true, allUsers: true }, record.launchedAt + 60_000);
    assert.ok(verbose.some((l) => /^NAME\s+USER\s+LAUNCHED\s+INFRA\s+RESOURCES\s+STATUS\s+AUTOSTOP\s+COMMAND$/.test(l)), verbose.join('\n'));
    assert.ok(verbose.some((l) => /^web\s+alice\s+1 min ago\s+local\s+2x local/.test(l) || /^web\s+alice\s+\S.*\s+local\s+2x local/.test(l)), verbose.join('\n'));
  });
});

describe('sky logs --sync-down layout', () => {
  it('~/sky_logs/CLUSTER/JOB_ID, run.log, and rank-N.log for a multi-node job', () => {
    assert.equal(syncDir('web', 3, '/home/a'), '/home/a/sky_logs/web/3');
    assert.throws(() => syncDir('../etc', 3, '/home/a'), /invalid cluster name/);
    assert.throws(() => syncDir('a/b', 3, '/home/a'), /invalid cluster name/);
    const single = logFiles([{ rank: 0, text: 'a' }, { rank: 0, text: 'b\n' }], 1);
    assert.deepEqual([...single], [['run.log', 'a\nb\n']]);
    const multi = logFiles([{ rank: 0, text: 'h' }, { rank: 1, text: 'w' }], 2);
    assert.deepEqual(Object.fromEntries(multi), { 'run.log': '(rank 0) h\n(rank 1) w\n', 'rank-0.log': 'h\n', 'rank-1.log': 'w\n' });
  });
});

describe('--retry-until-up back-off', () => {
  it('doubles from 2 s and never waits more than a minute', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map(gapSeconds), [2, 4, 8, 16, 32, 60, 60, 60]);
    assert.equal(MAX_GAP_SECONDS, 60);
  });
});

describe('sky show-gpus without --infra', () => {
  it('every driver, then the pools; works with no pool driver at all', () => {
    const lines = gpuLines({ hosts: [], drivers: [{ id: 'local', gpus: [{ name: 'A100', total: 2, free: 1 }] }, { id: 'slurm', gpus: [] }] });
    assert.deepEqual(lines, ['local:', 'GPU   TOTAL  FREE', 'A100  2      1', '', 'slurm: no GPUs']);
    assert.deepEqual(gpuLines({ hosts: [], drivers: [] }), ['No infra is enabled on this API server (see sky check).']);
  });
});

describe('the ssh driver is enabled by the pools file', () => {
  const exists = (files: string[]) => (p: string) => files.includes(p);
  const file = poolsFilePath('/home/admin');

  it('added (skipped if it cannot start) when ~/.sky/ssh_node_pools.yaml exists and no block names the ssh driver', () => {
    assert.deepEqual(withPoolsFileDriver({ local: {} }, '/home/admin', exists([file])), { drivers: { local: {}, ssh: { on_failure: 'skip' } }, added: file });
    assert.deepEqual(withPoolsFileDriver({}, '/home/admin', exists([])), { drivers: {}, added: undefined });
  });

  it('a config that names the ssh driver (even disabled, or under another id) is left as written', () => {
    const off = { ssh: { enabled: false } };
    assert.deepEqual(withPoolsFileDriver(off, '/home/admin', exists([file])), { drivers: off, added: undefined });
    const renamed = { pools: { package: 'sky-driver-ssh' } };
    assert.deepEqual(withPoolsFileDriver(renamed, '/home/admin', exists([file])), { drivers: renamed, added: undefined });
  });
});

describe('sky dashboard opens a browser only where one can be shown', () => {
  it('a terminal with a desktop: yes; no terminal, or Linux without a display: no', () => {
    assert.equal(canShowBrowser({ DISPLAY: ':0' }, 'linux', true), true);
    assert.equal(canShowBrowser({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux', true), true);
    assert.equal(canShowBrowser({}, 'linux', true), false);
    assert.equal(canShowBrowser({ DISPLAY: ':0' }, 'linux', false), false);
    assert.equal(canShowBrowser({}, 'darwin', true), true);
  });
});
