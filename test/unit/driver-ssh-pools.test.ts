// sky-driver-ssh: the pools file (SkyPilot's ssh_node_pools.yaml shape) and its error messages
// with file:line:col, pools given inline in the daemon config, the driver's config block, and
// how ~/.ssh/config completes a host (HostName, User, Port, IdentityFile, ProxyJump, wildcard
// Host blocks, Include) under the documented precedence.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  listPools,
  loadSshConfig,
  parsePoolsYaml,
  parseSshConfig,
  poolSources,
  resolvePools,
  sshSettings,
  validateSshConfig,
  type PoolSpec,
  type SshDriverConfig,
} from 'sky-driver-ssh';

const F = '/etc/sky/pools.yaml';
const HOME = '/home/tester';

/** Each bad pools file and exactly what the driver says about it. */
const BAD_FILES: Array<{ name: string; yaml: string; problems: string[] }> = [
  {
    name: 'a list instead of a mapping of pools',
    yaml: '- 10.0.0.1\n- 10.0.0.2\n',
    problems: [`${F}:1:1: expected a mapping of pool names to pools, got a list`],
  },
  {
    name: 'a pool that is a bare host',
    yaml: 'gpu-a: 10.0.0.1\n',
    problems: [`${F}:1:8: pool gpu-a: expected a mapping with hosts (and optionally user, identity_file, password), got a string`],
  },
  {
    name: 'a pool with no hosts key',
    yaml: 'gpu-a:\n  user: ubuntu\n',
    problems: [`${F}:1:1: pool gpu-a: hosts is missing: list the pool's hosts (IP addresses or ~/.ssh/config aliases)`],
  },
  {
    name: 'an empty hosts list',
    yaml: 'gpu-a:\n  hosts: []\n',
    problems: [`${F}:2:10: pool gpu-a: hosts: the list is empty: list at least one host`],
  },
  {
    name: 'hosts as a mapping',
    yaml: 'gpu-a:\n  hosts:\n    ip: 10.0.0.1\n',
    problems: [`${F}:3:5: pool gpu-a: hosts: expected a list of hosts, got a mapping`],
  },
  {
    name: 'a pool name that cannot be written as --infra ssh/<pool>',
    yaml: '"gpu a":\n  hosts: [10.0.0.1]\n',
    problems: [`${F}:1:1: pool gpu a: invalid pool name: use letters, digits, ".", "_" and "-" (it is written as --infra ssh/<pool>)`],
  },
  {
    name: 'a misspelt pool key',
    yaml: 'gpu-a:\n  usr: ubuntu\n  hosts: [10.0.0.1]\n',
    problems: [`${F}:2:3: pool gpu-a: usr: unknown key; a pool takes user, identity_file, password, hosts`],
  },
  {
    name: 'a host that is a number',
    yaml: 'gpu-a:\n  hosts:\n    - 10.0.0.1\n    - 42\n',
    problems: [`${F}:4:7: pool gpu-a: hosts[1]: expected an IP address, a ~/.ssh/config alias or a mapping with ip, got a number`],
  },
  {
    name: 'user@host written as a host',
    yaml: 'gpu-a:\n  hosts:\n    - alice@10.0.0.1\n',
    problems: [`${F}:3:7: pool gpu-a: hosts[0]: "alice@10.0.0.1" names a user: write {ip: 10.0.0.1, user: alice}`],
  },
  {
    name: 'host:port written as a host',
    yaml: 'gpu-a:\n  hosts:\n    - 10.0.0.1:2222\n',
    problems: [`${F}:3:7: pool gpu-a: hosts[0]: "10.0.0.1:2222" names a port: write {ip: 10.0.0.1, port: 2222}`],
  },
  {
    name: 'a misspelt host key',
    yaml: 'gpu-a:\n  hosts:\n    - {ip: 10.0.0.1, prot: 2222}\n',
    problems: [`${F}:3:22: pool gpu-a: hosts[0].prot: unknown key; a host takes ip, user, identity_file, password, port`],
  },
  {
    name: 'a host mapping without ip',
    yaml: 'gpu-a:\n  hosts:\n    - user: bob\n      port: 22\n',
    problems: [`${F}:3:7: pool gpu-a: hosts[0]: ip is missing: give the host's IP address or ~/.ssh/config alias`],
  },
  {
    name: 'a port that is not a number',
    yaml: 'gpu-a:\n  hosts:\n    - 10.0.0.1\n    - ip: 10.0.0.2\n      port: 22x\n',
    problems: [`${F}:5:13: pool gpu-a: hosts[1].port: expected a port number (1-65535), got "22x"`],
  },
  {
    name: 'a port out of range',
    yaml: 'gpu-a:\n  hosts:\n    - {ip: 10.0.0.2, port: 70000}\n',
    problems: [`${F}:3:28: pool gpu-a: hosts[0].port: expected a port number (1-65535), got the number 70000`],
  },
  {
    name: 'a relative identity_file',
    yaml: 'gpu-a:\n  identity_file: id_rsa\n  hosts: [10.0.0.1]\n',
    problems: [`${F}:2:18: pool gpu-a: identity_file: expected an absolute path or one starting with ~/, got "id_rsa"`],
  },
  {
    name: 'a password of the wrong type (and its value never echoed)',
    yaml: 'gpu-a:\n  hosts:\n    - {ip: 10.0.0.1, password: 918273}\n',
    problems: [`${F}:3:32: pool gpu-a: hosts[0].password: expected a password string, got a number`],
  },
  {
    name: 'an empty user on a host',
    yaml: 'gpu-a:\n  hosts:\n    - {ip: 10.0.0.1, user: ""}\n',
    problems: [`${F}:3:28: pool gpu-a: hosts[0].user: expected a user name, got an empty string`],
  },
  {
    name: 'a host listed twice',
    yaml: 'gpu-a:\n  hosts:\n    - 10.0.0.1\n    - 10.0.0.2\n    - 10.0.0.1\n',
    problems: [`${F}:5:7: pool gpu-a: hosts[2]: 10.0.0.1 is listed twice in the pool (also hosts[0])`],
  },
  {
    name: 'a YAML key given twice',
    yaml: 'gpu-a:\n  hosts: [10.0.0.1]\n  hosts: [10.0.0.2]\n',
    problems: [`${F}:3:3: Map keys must be unique`],
  },
  {
    name: 'broken YAML',
    yaml: 'gpu-a:\n  hosts: [10.0.0.1\n',
    problems: [`${F}:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]`],
  },
  {
    name: 'several problems in several pools, all reported',
    yaml: 'gpu-a:\n  user: 7\n  hosts: [10.0.0.1]\ncpu:\n  hosts:\n    - {ip: 10.0.1.1, port: 0}\n',
    problems: [`${F}:2:9: pool gpu-a: user: expected a user name, got a number`, `${F}:6:28: pool cpu: hosts[0].port: expected a port number (1-65535), got the number 0`],
  },
];

describe('driver-ssh: the pools file', () => {
  for (const bad of BAD_FILES) {
    it(`refuses ${bad.name}`, () => {
      const { problems } = parsePoolsYaml(bad.yaml, F, HOME);
      assert.deepEqual(problems, bad.problems);
    });
  }

  it('never prints a password in a problem', () => {
    const { problems } = parsePoolsYaml('gpu-a:\n  password: [hunter2]\n  hosts: [10.0.0.1]\n', F, HOME);
    assert.equal(problems.length, 1);
    assert.doesNotMatch(problems[0] ?? '', /hunter2/);
  });

  it("reads SkyPilot's shape: pool defaults, plain hosts, host mappings with overrides and a port", () => {
    const yaml = [
      'gpu-a:',
      '  user: ubuntu',
      '  identity_file: ~/.ssh/id_pool',
      '  hosts:',
      '    - 10.0.0.1',
      '    - gpu-box',
      '    - ip: 10.0.0.3',
      '      user: root',
      '      identity_file: /keys/root',
      '      port: 2222',
      'cpu:',
      '  password: s3cret',
      '  hosts: [10.0.1.1, "fe80::1"]',
      'empty-file-is-fine: {hosts: [h]}',
      '',
    ].join('\n');
    const { pools, problems } = parsePoolsYaml(yaml, F, HOME);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      pools.map((p) => ({ name: p.name, user: p.user, identityFile: p.identityFile, password: p.password, where: p.where })),
      [
        { name: 'gpu-a', user: 'ubuntu', identityFile: '/home/tester/.ssh/id_pool', password: undefined, where: `${F}:1:1` },
        { name: 'cpu', user: undefined, identityFile: undefined, password: 's3cret', where: `${F}:11:1` },
        { name: 'empty-file-is-fine', user: undefined, identityFile: undefined, password: undefined, where: `${F}:14:1` },
      ],
    );
    assert.deepEqual(pools[0]?.hosts, [
      { index: 0, name: '10.0.0.1', where: `${F}:5:7` },
      { index: 1, name: 'gpu-box', where: `${F}:6:7` },
      { index: 2, name: '10.0.0.3', user: 'root', identityFile: '/keys/root', port: 2222, where: `${F}:7:7` },
    ]);
    assert.deepEqual(pools[1]?.hosts.map((h) => h.name), ['10.0.1.1', 'fe80::1']);
  });

  it('reads an empty file as no pools', () => {
    assert.deepEqual(parsePoolsYaml('# nothing yet\n', F, HOME), { pools: [], problems: [] });
  });
});

describe('driver-ssh: the driver config block', () => {
  it('takes defaults under the home directory', () => {
    const checked = validateSshConfig(undefined, HOME);
    assert.equal(checked.issues, undefined);
    assert.deepEqual('value' in checked ? checked.value : undefined, {
      poolsFile: '/home/tester/.sky/ssh_node_pools.yaml',
      poolsFileExplicit: false,
      pools: undefined,
      sshConfig: '/home/tester/.ssh/config',
      sshConfigExplicit: false,
      knownHosts: '/home/tester/.ssh/known_hosts',
      trustOnFirstUse: false,
      probeTimeoutMs: 20_000,
      statusTimeoutMs: 5_000,
    });
  });

  it('exposes known_hosts and trust_on_first_use for the daemon', () => {
    const checked = validateSshConfig({ known_hosts: '~/.sky/known_hosts', trust_on_first_use: true }, HOME);
    assert.ok(checked.issues === undefined);
    assert.deepEqual(sshSettings(checked.value), { knownHostsFile: '/home/tester/.sky/known_hosts', trustOnFirstUse: true });
  });

  it('names every bad key, including inside inline pools (by pool, host index and key)', () => {
    const checked = validateSshConfig(
      {
        pool_file: 'x',
        ssh_config: 'relative/config',
        trust_on_first_use: 'yes',
        probe_timeout_seconds: 0,
        pools: { 'gpu-a': { hosts: ['10.0.0.1', { ip: '10.0.0.2', port: 'ssh' }] }, cpu: { user: 'x' } },
      },
      HOME,
    );
    assert.deepEqual(
      checked.issues?.map((i) => ({ path: i.path, message: i.message })),
      [
        { path: ['pool_file'], message: 'unknown key; the ssh driver takes pools_file, pools, ssh_config, known_hosts, trust_on_first_use, probe_timeout_seconds, status_timeout_seconds' },
        { path: ['ssh_config'], message: 'expected an absolute path or one starting with ~/, got "relative/config"' },
        { path: ['trust_on_first_use'], message: 'expected true or false, got "yes"' },
        { path: ['probe_timeout_seconds'], message: 'expected a number of seconds (0-3600], got 0' },
        { path: ['pools', 'gpu-a', 'hosts', 1, 'port'], message: 'expected a port number (1-65535), got "ssh"' },
        { path: ['pools', 'cpu'], message: "hosts is missing: list the pool's hosts (IP addresses or ~/.ssh/config aliases)" },
      ],
    );
  });
});

const SSH_CONFIG = `
# a typical team config
Host gpu1
  HostName 10.1.0.1
  User alice
  Port 2201
  IdentityFile ~/.ssh/id_gpu1

Host gpu2
  HostName 10.1.0.2
  ProxyJump bastion

Host gpu3
  HostName 10.1.0.3
  ProxyJump ops@bastion:2022,edge

Host bastion
  HostName 203.0.113.5
  User jump
  Port 2222

Host edge
  HostName 198.51.100.7

Host legacy
  HostName 10.1.0.9
  ProxyCommand nc -X 5 -x proxy:1080 %h %p

Host badport
  Port twenty-two

Host rack-*
  User rackuser
  IdentityFile %d/.ssh/%h.key

Host *
  User fallback
  IdentityFile ~/.ssh/id_default
`;

function spec(name: string, hosts: PoolSpec['hosts'], defaults: Partial<PoolSpec> = {}): PoolSpec {
  return { name, hosts, source: F, where: `${F}:1:1`, ...defaults };
}

describe('driver-ssh: ~/.ssh/config aliases', () => {
  const sshConfig = parseSshConfig(SSH_CONFIG, '/home/tester/.ssh/config');
  const ctx = { sshConfig, localUser: 'me', home: HOME };
  const resolveOne = (pool: PoolSpec) => {
    const { pools, problems } = resolvePools([pool], ctx);
    assert.deepEqual(problems, []);
    return pools[0]?.hosts ?? [];
  };

  it('takes HostName, User, Port and IdentityFile of an alias', () => {
    const [host] = resolveOne(spec('p', [{ index: 0, name: 'gpu1', where: 'w' }]));
    assert.deepEqual(host, {
      pool: 'p',
      index: 0,
      label: 'gpu1',
      id: 'p/gpu1',
      host: '10.1.0.1',
      port: 2201,
      user: 'alice',
      identityFile: '/home/tester/.ssh/id_gpu1',
      endpoint: '10.1.0.1:2201',
      where: 'w',
    });
  });

  it('resolves a ProxyJump alias to user@host:port through the same config', () => {
    const [host] = resolveOne(spec('p', [{ index: 0, name: 'gpu2', where: 'w' }]));
    assert.equal(host?.host, '10.1.0.2');
    assert.equal(host?.port, 22);
    assert.equal(host?.proxyJump, 'jump@203.0.113.5:2222');
    assert.equal(host?.endpoint, '10.1.0.2:22 via jump@203.0.113.5:2222');
    // `Host *` still applies to gpu2 (first value obtained wins, as in ssh).
    assert.equal(host?.user, 'fallback');
    assert.equal(host?.identityFile, '/home/tester/.ssh/id_default');
  });

  it('keeps the user and port a ProxyJump hop names, and resolves every hop of a chain', () => {
    const [host] = resolveOne(spec('p', [{ index: 0, name: 'gpu3', where: 'w' }]));
    assert.equal(host?.proxyJump, 'ops@203.0.113.5:2022,fallback@198.51.100.7:22');
  });

  it('applies wildcard Host blocks, with %d and %h tokens', () => {
    const [host] = resolveOne(spec('p', [{ index: 0, name: 'rack-07', where: 'w' }]));
    assert.equal(host?.host, 'rack-07');
    assert.equal(host?.user, 'rackuser');
    assert.equal(host?.identityFile, '/home/tester/.ssh/rack-07.key');
    const [plain] = resolveOne(spec('p', [{ index: 0, name: '10.9.9.9', where: 'w' }]));
    assert.equal(plain?.user, 'fallback');
    assert.equal(plain?.port, 22);
  });

  it('lets a host mapping win over the pool, and the pool over the ssh config', () => {
    const hosts = resolveOne(
      spec(
        'p',
        [
          { index: 0, name: 'gpu1', where: 'a' },
          { index: 1, name: 'gpu1b', user: 'root', port: 2300, identityFile: '/keys/root', where: 'b' },
        ],
        { user: 'ubuntu', identityFile: '/keys/pool' },
      ),
    );
    assert.deepEqual(
      hosts.map((h) => [h.label, h.host, h.user, h.port, h.identityFile]),
      [
        ['gpu1', '10.1.0.1', 'ubuntu', 2201, '/keys/pool'],
        ['gpu1b:2300', 'gpu1b', 'root', 2300, '/keys/root'],
      ],
    );
  });

  it('falls back to the local user and port 22 when nothing says otherwise', () => {
    const { pools } = resolvePools([spec('p', [{ index: 0, name: '10.0.0.1', where: 'w' }])], { sshConfig: parseSshConfig(''), localUser: 'me', home: HOME });
    assert.deepEqual(pools[0]?.hosts.map((h) => [h.user, h.port, h.identityFile]), [['me', 22, undefined]]);
  });

  it('refuses a ProxyCommand, a bad Port and two names for one machine, naming pool, host and place', () => {
    const { problems } = resolvePools(
      [
        spec('p', [
          { index: 0, name: 'legacy', where: `${F}:3:7` },
          { index: 1, name: 'badport', where: `${F}:4:7` },
          { index: 2, name: '10.1.0.1', port: 2201, where: `${F}:5:7` },
          { index: 3, name: 'gpu1', where: `${F}:6:7` },
        ]),
      ],
      ctx,
    );
    assert.deepEqual(problems, [
      `${F}:3:7: pool p: hosts[0] (legacy): /home/tester/.ssh/config gives it a ProxyCommand, which sky cannot use; reach it with ProxyJump instead`,
      `${F}:4:7: pool p: hosts[1] (badport): /home/tester/.ssh/config gives it Port "twenty-two", not a port number`,
      `${F}:6:7: pool p: hosts[3] (gpu1): reaches 10.1.0.1:2201, as hosts[2] (10.1.0.1:2201) does; list each machine once`,
    ]);
  });
});

describe('driver-ssh: listPools over real files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sky-ssh-pools-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function config(block: Record<string, unknown>): Promise<SshDriverConfig> {
    const checked = validateSshConfig(block);
    if (checked.issues !== undefined) throw new Error(JSON.stringify(checked.issues));
    return checked.value;
  }

  it('follows Include (relative to the config directory, with globs) and merges inline pools with the file', async () => {
    await mkdir(join(dir, 'conf.d'), { recursive: true });
    await writeFile(join(dir, 'ssh_config'), 'Include conf.d/*.conf\nHost *\n  User everyone\n');
    await writeFile(join(dir, 'conf.d', '10-lab.conf'), 'Host lab1\n  HostName 192.0.2.11\n  Port 2022\n');
    await writeFile(join(dir, 'conf.d', 'ignored.txt'), 'Host lab1\n  HostName 192.0.2.99\n');
    await writeFile(join(dir, 'pools.yaml'), 'lab:\n  hosts: [lab1]\n');
    const pools = await listPools(
      await config({ pools_file: join(dir, 'pools.yaml'), ssh_config: join(dir, 'ssh_config'), pools: { shared: { user: 'svc', hosts: ['192.0.2.20'] } } }),
      'ssh-team',
    );
    assert.deepEqual(
      pools.map((p) => ({ name: p.name, source: p.source, hosts: p.hosts.map((h) => `${h.user}@${h.host}:${h.port}`) })),
      [
        { name: 'shared', source: 'drivers.ssh-team.pools', hosts: ['svc@192.0.2.20:22'] },
        { name: 'lab', source: join(dir, 'pools.yaml'), hosts: ['everyone@192.0.2.11:2022'] },
      ],
    );
  });

  it('is fine without a pools file or ssh config at their default places, and not when a named one is missing', async () => {
    const absent = await config({ ssh_config: join(dir, 'nope') });
    const sources = { ...poolSources(absent), poolsFile: join(dir, 'missing.yaml'), poolsFileExplicit: false, sshConfigExplicit: false };
    const { loadPools } = await import('sky-driver-ssh');
    assert.deepEqual(await loadPools(sources), []);
    await assert.rejects(loadPools({ ...sources, poolsFileExplicit: true }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.match(e.message, /cannot read the SSH node pools file .*missing\.yaml: ENOENT/);
      return true;
    });
    await assert.rejects(loadSshConfig(join(dir, 'nope'), true), /cannot read the ssh config .*nope/);
  });

  it('reports a pool defined both inline and in the file, and every file problem, as one CONFIG_INVALID', async () => {
    const file = join(dir, 'dupe.yaml');
    await writeFile(file, 'lab:\n  hosts: [10.0.0.1]\nbad:\n  hosts: [42]\n');
    const cfg = await config({ pools_file: file, ssh_config: join(dir, 'ssh_config'), pools: { lab: { hosts: ['10.0.0.2'] } } });
    await assert.rejects(listPools(cfg), (e: Error & { code?: string; details?: { problems?: string[] } }) => {
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.deepEqual(e.details?.problems, [
        `${file}:4:11: pool bad: hosts[0]: expected an IP address, a ~/.ssh/config alias or a mapping with ip, got a number`,
        `${file}:1:1: pool lab is also defined at drivers.ssh.pools.lab; give one of them another name`,
      ]);
      assert.match(e.message, /^ssh driver: the SSH node pools have 2 problems: /);
      return true;
    });
  });
});
