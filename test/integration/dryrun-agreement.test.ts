/**
 * `sky launch --dryrun` and the launch take the same decision: one daemon with the local driver
 * (8 CPUs, 16 GB, two fake H100s from a fake nvidia-smi) and an SSH pool of two hosts in network
 * namespaces; each task of the table goes through a dry run and then a real launch, and both
 * must accept it, or both refuse it with the same code and message (what the table expects).
 * Accepted tasks are torn down again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Rec {
  status: string;
  result?: { cluster: string; plan: { driver: string; infra: string } };
  error?: { code: string; message: string };
}

interface Row {
  what: string;
  task: Record<string, unknown>;
  /** `runs` on this driver, or the refusal's code and a pattern its message matches. */
  expect: { runs: string } | { code: string; message: RegExp };
}

const TABLE: Row[] = [
  { what: 'H100:2 on local (the machine has two)', task: { resources: { infra: 'local', accelerators: 'H100:2' } }, expect: { runs: 'local' } },
  {
    what: 'A100:8 on local (the machine has none)',
    task: { resources: { infra: 'local', accelerators: 'A100:8' } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /local: local driver: 1 node × A100:8 cannot fit: this machine has H100:2/ },
  },
  {
    what: 'H100:1 on each of 3 nodes (two H100s in all)',
    task: { num_nodes: 3, resources: { infra: 'local', accelerators: 'H100:1' } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /3 nodes × H100:1 cannot fit/ },
  },
  {
    what: 'more CPUs than the local driver hands out',
    task: { num_nodes: 2, resources: { infra: 'local', cpus: 6 } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /2 nodes × 6 CPUs is more than this machine hands out 8 CPUs/ },
  },
  {
    what: 'a disk_size larger than the node root’s disk',
    task: { resources: { infra: 'local', disk_size: 100_000_000 } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /local driver: not enough disk \(100000000 GB requested/ },
  },
  { what: 'use_spot on local', task: { resources: { infra: 'local', use_spot: true } }, expect: { code: 'RESOURCES_UNAVAILABLE', message: /local cannot provide spot capacity/ } },
  { what: 'a region on local', task: { resources: { infra: 'local/us-east-1' } }, expect: { code: 'RESOURCES_UNAVAILABLE', message: /local cannot place nodes in a region or zone/ } },
  { what: 'two hosts of the SSH pool', task: { num_nodes: 2, resources: { infra: 'ssh/pool-a' } }, expect: { runs: 'ssh' } },
  {
    what: 'three hosts of a pool of two',
    task: { num_nodes: 3, resources: { infra: 'ssh/pool-a' } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /ssh\/pool-a: ssh driver: pool pool-a has 2 hosts that can hold a node of 3 nodes/ },
  },
  {
    what: 'A100:1 on an SSH pool without GPUs',
    task: { resources: { infra: 'ssh/pool-a', accelerators: 'A100:1' } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /pool pool-a has 0 hosts .*accelerators: has no GPUs, requested A100:1/ },
  },
  {
    what: 'a disk_size larger than the SSH hosts’ disks',
    task: { resources: { infra: 'ssh/pool-a', disk_size: 100_000_000 } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /pool pool-a has 0 hosts .*disk: [\d.]+ GB free in the home directory, requested 100000000 GB/ },
  },
  {
    what: 'A100:8 anywhere: every enabled driver says why not',
    task: { resources: { accelerators: 'A100:8' } },
    expect: { code: 'RESOURCES_UNAVAILABLE', message: /local: local driver: 1 node × A100:8 cannot fit[^]*ssh: ssh driver: pool pool-a has 0 hosts/ },
  },
  { what: 'H100:1 anywhere: planned on the driver that has it', task: { resources: { accelerators: 'H100:1' } }, expect: { runs: 'local' } },
];

describe('the dry run and the launch take the same decision', () => {
  let set: TestHosts;
  let daemon: DaemonHandle;
  let home: string;
  let bin: string;

  before(async () => {
    set = await createHosts(2);
    home = tempHome();
    bin = mkdtempSync(join(tmpdir(), 'sky-fake-gpus-'));
    writeFileSync(join(bin, 'nvidia-smi'), '#!/bin/sh\nfor i in 0 1; do echo "NVIDIA H100 80GB HBM3, 81559 MiB"; done\n');
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    const local = `  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n`;
    const config = sshDaemonConfig(set).replace('drivers:\n', `drivers:\n${local}`);
    daemon = await startDaemon({ home, config, env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` } });
  });

  after(async () => {
    await daemon?.stop();
    await killAllDaemons();
    await set?.destroy();
    if (home !== undefined) removeHome(home);
    if (bin !== undefined) rmSync(bin, { recursive: true, force: true });
  });

  it('a host that does not answer in time is not known never to fit: the dry run plans, the launch finds no capacity now', async () => {
    // A daemon of its own whose pool is both hosts, the second cut off (packets vanish).
    const [first, second] = [set.hosts[0]!, set.hosts[1]!];
    const config = [
      'ssh:',
      `  known_hosts: ${set.knownHostsFile}`,
      '  connect_timeout_seconds: 2',
      'drivers:',
      '  ssh:',
      '    probe_timeout_seconds: 3',
      '    pools:',
      '      pool-b:',
      `        user: ${first.user}`,
      `        identity_file: ${first.identityFile}`,
      '        hosts:',
      `          - {ip: ${first.ip}, port: ${first.port}}`,
      `          - {ip: ${second.ip}, port: ${second.port}}`,
      '',
    ].join('\n');
    const otherHome = tempHome();
    const other = await startDaemon({ home: otherHome, config });
    await set.cutLink(1);
    try {
      await oneHostDown(other, second.ip);
    } finally {
      await set.restoreLink(1);
      await other.stop();
      removeHome(otherHome);
    }
  });

  async function oneHostDown(other: DaemonHandle, lost: string): Promise<void> {
    const task = { num_nodes: 2, resources: { infra: 'ssh/pool-b' } };
    const dry = await runOperation<Rec>(other.url, 'launch', { cluster: 'agree-down', task, dryrun: true }, HEADERS);
    assert.equal(dry.status, 'SUCCEEDED', JSON.stringify(dry.error));
    assert.equal(dry.result?.plan.driver, 'ssh');
    const real = await runOperation<Rec>(other.url, 'launch', { cluster: 'agree-down', task }, HEADERS);
    assert.equal(real.status, 'FAILED');
    assert.equal(real.error?.code, 'NO_CAPACITY', JSON.stringify(real.error));
    assert.ok(real.error!.message.includes(lost), real.error!.message);
  }

  TABLE.forEach((row, i) => {
    it(row.what, async () => {
      const cluster = `agree-${i}`;
      const dry = await runOperation<Rec>(daemon.url, 'launch', { cluster, task: row.task, dryrun: true }, HEADERS);
      const real = await runOperation<Rec>(daemon.url, 'launch', { cluster, task: row.task }, HEADERS);
      const seen = `dry run: ${JSON.stringify(dry.error ?? dry.result)}; launch: ${JSON.stringify(real.error ?? real.result)}`;
      assert.equal(dry.status, real.status, seen);
      if ('runs' in row.expect) {
        assert.equal(real.status, 'SUCCEEDED', seen);
        assert.equal(dry.result?.plan.driver, row.expect.runs, 'the dry run plans the driver the launch then uses');
        assert.equal(real.result?.plan.driver, row.expect.runs, seen);
        assert.equal((await runOperation<Rec>(daemon.url, 'down', { cluster }, HEADERS)).status, 'SUCCEEDED');
      } else {
        assert.equal(real.status, 'FAILED', seen);
        assert.equal(dry.error?.code, row.expect.code, seen);
        assert.equal(real.error?.code, row.expect.code, seen);
        assert.equal(dry.error?.message, real.error?.message, 'the same reason, word for word');
        assert.match(real.error!.message, row.expect.message);
      }
    });
  });
});
