// Every driver passes the same conformance suite from @sky/plugin-api/testing. The local driver
// runs it on a temp root: once on the CPU/memory defaults, once with (simulated) GPUs requested,
// and once through its plugin's init, the way the daemon loads it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginLogger } from '@sky/plugin-api';
import { runDriverConformance } from '@sky/plugin-api/testing';
import localPlugin, { LocalDriver, parseNvidiaSmi, validateLocalConfig } from 'sky-driver-local';

const quiet: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

runDriverConformance('local', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sky-conf-local-'));
  const make = (): LocalDriver => new LocalDriver({ root, cpus: 8, memoryGb: 16, killGraceMs: 500 });
  return {
    driver: make(),
    reopen: async () => make(),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

runDriverConformance('local with GPUs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sky-conf-local-gpu-'));
  const gpus = parseNvidiaSmi('NVIDIA L4, 23034 MiB\n'.repeat(4));
  const make = (): LocalDriver => new LocalDriver({ root, cpus: 8, memoryGb: 32, gpus, killGraceMs: 500 });
  return {
    driver: make(),
    nodeRequest: { cpus: { min: 2, orMore: false }, memoryGb: { min: 4, orMore: true }, accelerators: [{ name: 'H100', count: 1 }, { name: 'L4', count: 1 }] },
    reopen: async () => make(),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

runDriverConformance('local via plugin init', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sky-conf-local-plugin-'));
  const checked = validateLocalConfig({ root, cpus: 4, memory_gb: 8, max_nodes: 6 });
  if (checked.issues !== undefined) throw new Error(checked.issues.map((i) => i.message).join('; '));
  const init = () =>
    localPlugin.init({ id: 'local', config: checked.value, logger: quiet, dataDir: join(root, '.data'), signal: new AbortController().signal });
  return {
    driver: await init(),
    reopen: init,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});
