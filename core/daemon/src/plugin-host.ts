import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { expandHome } from './config/load.js';
import type { PluginState } from '@sky/protocol';
import type { Driver } from '@sky/plugin-api';
import { TOKENS, type PluginRegistry } from './tokens.js';
import { isMultiUser, type DaemonConfig, type DaemonPaths } from './config/schema.js';
import { PluginLoader, type LoadedPlugins } from './plugins/index.js';
import { withPoolsFileDriver } from './plugins/pools-file-driver.js';
import { TransportPool } from './nodes/transports.js';
import { PooledPluginSsh } from './nodes/plugin-ssh.js';
import { NodeHelperConnection } from './nodes/node-helper.js';

/** Where packages are looked up after the configured plugin dirs: the working directory, then the daemon's own install. */
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

  async load(signal: AbortSignal): Promise<void> {
    const loader = new PluginLoader({
      pluginDirs: this.config.plugins.dirs.map(expandHome),
      searchFrom: [process.cwd(), DAEMON_DIR],
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
}
