// The driver conformance suite from @sky/plugin-api/testing, run on sky-driver-ssh with a fake
// ctx.ssh that answers like real hosts: canned probe output per host (one with login noise, one
// with GPUs), one host refusing connections, one rejecting the key, one refusing the pool's user.
// SSH node pool hosts cannot be powered off, so the driver declares stops:false (stop is refused
// with NOT_SUPPORTED). Real sshd hosts are the integration tests' business.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginLogger } from '@sky/plugin-api';
import { runDriverConformance } from '@sky/plugin-api/testing';
import sshPlugin, { SshDriver, validateSshConfig, poolSources } from 'sky-driver-ssh';
import { FakeSsh, type FakeHost } from 'sky-driver-ssh/testing';

const quiet: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };
const A100 = 'NVIDIA A100-SXM4-80GB, 81920 MiB';

function fakeHosts(): Map<string, FakeHost> {
  return new Map<string, FakeHost>([
    ['10.0.0.1', { kind: 'host', cpus: 8, memKb: 32 * 2 ** 20 }],
    ['10.0.0.2', { kind: 'refused' }],
    ['10.0.0.3', { kind: 'host', cpus: 16, memKb: 64 * 2 ** 20, gpus: [A100, A100] }],
    ['10.0.0.4', { kind: 'auth' }],
    ['10.0.0.5', { kind: 'host', cpus: 8, memKb: 32 * 2 ** 20, noise: 'Welcome to node 5\n' }],
    ['10.0.0.6', { kind: 'host', cpus: 4, memKb: 16 * 2 ** 20, user: 'sky' }],
    ['10.0.0.7', { kind: 'host', cpus: 8, memKb: 32 * 2 ** 20 }],
  ]);
}

const POOLS = `lab:
  user: sky
  identity_file: ~/.ssh/id_sky
  hosts:
    - 10.0.0.1
    - 10.0.0.2
    - 10.0.0.3
    - 10.0.0.4
    - 10.0.0.5
    - {ip: 10.0.0.6, user: other}
    - 10.0.0.7
`;

async function scratch(): Promise<{ dir: string; poolsFile: string; sshConfig: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'sky-conf-ssh-'));
  const poolsFile = join(dir, 'ssh_node_pools.yaml');
  const sshConfig = join(dir, 'ssh_config');
  await writeFile(poolsFile, POOLS);
  await writeFile(sshConfig, '');
  return { dir, poolsFile, sshConfig };
}

runDriverConformance('ssh (fake hosts)', async () => {
  const { dir, poolsFile, sshConfig } = await scratch();
  const checked = validateSshConfig({ pools_file: poolsFile, ssh_config: sshConfig });
  if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
  const ssh = new FakeSsh(fakeHosts());
  const make = (): SshDriver => new SshDriver({ ssh, dataDir: join(dir, 'data'), sources: poolSources(checked.value) });
  return {
    driver: make(),
    infra: 'lab',
    stops: false,
    reopen: async () => make(),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

runDriverConformance('ssh via plugin init, pools inline', async () => {
  const { dir, sshConfig } = await scratch();
  const emptyPoolsFile = join(dir, 'no_pools.yaml');
  await writeFile(emptyPoolsFile, '# every pool of this daemon is in its config\n');
  const checked = validateSshConfig({
    pools_file: emptyPoolsFile,
    ssh_config: sshConfig,
    pools: { lab: { user: 'sky', hosts: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.7'] } },
  });
  if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
  const config = checked.value;
  const ssh = new FakeSsh(fakeHosts());
  const init = () => sshPlugin.init({ id: 'ssh', config, logger: quiet, dataDir: join(dir, 'data'), signal: new AbortController().signal, ssh });
  return {
    driver: await init(),
    nodeRequest: { cpus: { min: 4, orMore: true }, memoryGb: { min: 16, orMore: true } },
    reopen: init,
    stops: false,
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
