import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { expandHome } from './config/load.js';
import type { InstalledPlugin, InstallPluginsResult, PluginList, PluginState } from '@sky/protocol';
import { PLUGIN_API_VERSION, type Driver } from '@sky/plugin-api';
import { TOKENS, type PluginRegistry } from './tokens.js';
import { isMultiUser, type DaemonConfig, type DaemonPaths } from './config/schema.js';
import { installPlugins, PluginLoader, pluginSearchPath, type LoadedPlugins } from './plugins/index.js';
import { withPoolsFileDriver } from './plugins/pools-file-driver.js';
import { TransportPool } from './nodes/transports.js';
import { PooledPluginSsh } from './nodes/plugin-ssh.js';
import { NodeHelperConnection } from './nodes/node-helper.js';

/** Where packages are looked up after the plugin dirs: the working directory, then the daemon's own install (and npm's global packages last). */
const DAEMON_DIR = fileURLToPath(new URL('.', import.meta.url));

/** Holds the plugins the daemon config names, loaded at start-up through the plugin loader. */
@injectable()
export class PluginHost implements PluginRegistry {
  private loaded: LoadedPlugins | undefined;

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Paths) private readonly paths: DaemonPaths,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeHelperConnection) private readonly helper: NodeHelperConnection,
  ) {}

  /** The plugins directory (plugins.install_dir): an npm prefix that `sky plugins install` fills. */
  private get installDir(): string {
    return expandHome(this.config.plugins.install_dir);
  }

  async load(signal: AbortSignal): Promise<void> {
    const search = pluginSearchPath({
      dirs: this.config.plugins.dirs.map(expandHome),
      installDir: this.installDir,
      global: this.config.plugins.global,
      searchFrom: [process.cwd(), DAEMON_DIR],
      env: process.env,
      execPath: process.execPath,
    });
    const loader = new PluginLoader({
      ...search,
      dataDir: (id) => join(this.config.plugins.data_dir !== undefined ? expandHome(this.config.plugins.data_dir) : join(this.paths.stateDir, 'plugins'), id.replace(/[^A-Za-z0-9._-]/g, '_')),
      logger: this.logger.child({ component: 'plugins' }),
      ssh: new PooledPluginSsh(this.transports),
      multiUser: isMultiUser(this.config),
      nodeHelper: this.helper.client,
      signal,
    });
    const { drivers, added } = withPoolsFileDriver(this.config.drivers);
    if (added !== undefined) this.logger.info({ plugin: 'ssh', poolsFile: added }, `drivers.ssh: enabled because ${added} exists`);
    this.loaded = await loader.load(drivers);
  }

  states(): PluginState[] {
    return this.loaded ? [...this.loaded.states] : [];
  }

  drivers(): ReadonlyMap<string, Driver> {
    const out = new Map<string, Driver>();
    for (const [id, loaded] of this.loaded?.drivers ?? []) out.set(id, loaded.driver);
    return out;
  }

  async closeAll(): Promise<void> {
    await this.loaded?.closeAll();
  }

  async list(): Promise<PluginList> {
    const items = this.states();
    const configured = new Set(items.map((s) => s.package));
    const installed = (await installedDriverPackages(this.installDir)).filter((p) => !configured.has(p.package));
    return { items, apiVersion: PLUGIN_API_VERSION, installed };
  }

  async install(packages: readonly string[], signal?: AbortSignal): Promise<InstallPluginsResult> {
    const dir = this.installDir;
    const options = { dir, execPath: process.execPath, env: process.env, timeoutMs: INSTALL_TIMEOUT_MS, ...(signal === undefined ? {} : { signal }) };
    const { installed, log } = await installPlugins(packages, options);
    return { dir, installed: installed.map((i) => ({ ...i })), log };
  }
}

/** How long one `sky plugins install` may run npm. */
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/** `sky-driver-*` packages (scoped ones too) in `<dir>/node_modules`, with their versions. */
async function installedDriverPackages(dir: string): Promise<InstalledPlugin[]> {
  const root = join(dir, 'node_modules');
  const names: string[] = [];
  const entries = await readdir(root).catch(() => [] as string[]);
  for (const entry of entries) {
    if (entry.startsWith('@')) {
      for (const inner of await readdir(join(root, entry)).catch(() => [] as string[])) if (inner.startsWith('sky-driver-')) names.push(`${entry}/${inner}`);
    } else if (entry.startsWith('sky-driver-')) {
      names.push(entry);
    }
  }
  const out: InstalledPlugin[] = [];
  for (const name of names.sort()) {
    try {
      const pkg = JSON.parse(await readFile(join(root, name, 'package.json'), 'utf8')) as { version?: unknown };
      out.push(typeof pkg.version === 'string' ? { package: name, version: pkg.version } : { package: name });
    } catch {
      out.push({ package: name });
    }
  }
  return out;
}
