import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { expandHome } from './config/load.js';
import type { InstalledPlugin, InstallPluginsResult, PluginList, PluginState } from '@sky/protocol';
import { PLUGIN_API_VERSION, type Driver, type StateStore } from '@sky/plugin-api';
import { TOKENS, type PluginRegistry } from './tokens.js';
import { isMultiUser, type DaemonConfig, type DaemonPaths } from './config/schema.js';
import { installPlugins, PluginLoader, pluginSearchPath, type LoadedPlugins } from './plugins/index.js';
import { withPoolsFileDriver } from './plugins/pools-file-driver.js';
import { StoreDocuments } from './plugins/store-documents.js';
import type { SecretCipher } from './secrets/secret-box.js';
import { PluginGuard } from './plugins/guard.js';
import { addToQuarantine, quarantineRefusal, readQuarantine, type QuarantineEntry } from './plugins/quarantine.js';
import { takeStalls } from './plugins/call-marker.js';
import { TransportPool } from './nodes/transports.js';
import { PooledPluginSsh } from './nodes/plugin-ssh.js';
import { NodeHelperConnection } from './nodes/node-helper.js';

/** Where packages are looked up after the plugin dirs: the working directory, then the daemon's own install (and npm's global packages last). */
const DAEMON_DIR = fileURLToPath(new URL('.', import.meta.url));

/**
 * Holds the plugins the daemon config names, loaded at start-up through the plugin loader. A
 * plugin the guard stopped after a fault in its code is reported failed and serves nothing more;
 * one quarantined in the state directory (it blocked the event loop of an earlier daemon) is not
 * loaded at all.
 */
@injectable()
export class PluginHost implements PluginRegistry {
  private loaded: LoadedPlugins | undefined;

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Paths) private readonly paths: DaemonPaths,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeHelperConnection) private readonly helper: NodeHelperConnection,
    @inject(PluginGuard) private readonly guard: PluginGuard,
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
  ) {}

  /** The plugins directory (plugins.install_dir): an npm prefix that `sky plugins install` fills. */
  private get installDir(): string {
    return expandHome(this.config.plugins.install_dir);
  }

  async load(signal: AbortSignal): Promise<void> {
    this.quarantineStalls();
    const quarantine = readQuarantine(this.paths.stateDir);
    if (quarantine.problem !== undefined) this.logger.warn({ component: 'plugins' }, `plugin quarantine: ${quarantine.problem}`);
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
      documents: documentsOf(this.store, this.secrets),
      signal,
      guard: this.guard,
      refuse: (id, packageName, version) => {
        const entry = quarantine.entries.get(id);
        return entry === undefined ? undefined : quarantineRefusal(this.paths.stateDir, id, entry, packageName, version);
      },
    });
    const { drivers, added } = withPoolsFileDriver(this.config.drivers);
    if (added !== undefined) this.logger.info({ plugin: 'ssh', poolsFile: added }, `drivers.ssh: enabled because ${added} exists`);
    this.loaded = await loader.load(drivers);
  }

  /**
   * An earlier daemon process the supervisor's watchdog killed while a plugin's code held its
   * event loop (a busy loop) left the watchdog's verdict naming that plugin: it goes into the
   * quarantine list before anything loads. A process that died any other way while plugin code
   * ran (a kill -9, the OOM killer) is only logged: that is no evidence against the plugin.
   */
  private quarantineStalls(): void {
    const added = new Map<string, QuarantineEntry>();
    for (const { pid, at, record, stalled } of takeStalls(this.paths.stateDir)) {
      if (!stalled) {
        this.logger.warn(
          { component: 'plugins', plugin: record.id, package: record.packageName, version: record.version, operation: record.op },
          `the daemon process (pid ${pid}) died while drivers.${record.id}'s ${record.op} ran; no watchdog blamed it, so it is not quarantined`,
        );
        continue;
      }
      const reason = `its ${record.op} was running when the daemon process (pid ${pid}) died at ${new Date(at).toISOString()}: it held the event loop until the process was killed (a busy loop?)`;
      added.set(record.id, { package: record.packageName, ...(record.version === undefined ? {} : { version: record.version }), reason, at });
      this.logger.error(
        { component: 'plugins', plugin: record.id, package: record.packageName, version: record.version, operation: record.op, kind: 'event-loop stall' },
        `drivers.${record.id}: ${record.packageName}${record.version === undefined ? '' : `@${record.version}`}: ${reason}; it is quarantined`,
      );
    }
    if (added.size === 0) return;
    try {
      addToQuarantine(this.paths.stateDir, added);
    } catch (err) {
      this.logger.error({ component: 'plugins', err }, 'cannot write the plugin quarantine list; the plugins named above are loaded again');
    }
  }

  states(): PluginState[] {
    return (this.loaded?.states ?? []).map((state) => {
      const fault = state.state === 'loaded' ? this.guard.failure(state.id) : undefined;
      return fault === undefined ? { ...state } : { ...state, state: 'failed', error: { code: fault.error.code, message: fault.error.message } };
    });
  }

  drivers(): ReadonlyMap<string, Driver> {
    const out = new Map<string, Driver>();
    for (const [id, loaded] of this.loaded?.drivers ?? []) {
      if (this.guard.failure(id) === undefined) out.set(id, loaded.driver);
    }
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

/** Each plugin's documents in the store, when the store keeps them (stores shared by several replicas). */
function documentsOf(store: StateStore, secrets: SecretCipher): ((id: string) => StoreDocuments) | undefined {
  const repository = store.pluginDocuments;
  return repository === undefined ? undefined : (id) => new StoreDocuments(repository, id, secrets);
}
