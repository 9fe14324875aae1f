import type { Driver, DriverPlugin, NodeHelper, PluginDocuments, PluginLogger, PluginSsh } from '@sky/plugin-api';
import type { PluginState, SkyError } from '@sky/protocol';
import type { PluginGuard } from './guard.js';

/** The logger the loader writes to: the pino subset it needs (debug is optional). */
export type LoaderLogger = Pick<PluginLogger, 'info' | 'warn' | 'error'> & Partial<Pick<PluginLogger, 'debug'>>;

export interface PluginLoaderOptions {
  /** Plugin directories searched first, as `<dir>/<package>/package.json`: plugins.dirs, then the plugins directory's node_modules. */
  readonly pluginDirs: readonly string[];
  /** Directories whose `node_modules` (walking up to the filesystem root) are searched next. */
  readonly searchFrom: readonly string[];
  /** Searched last, as `<dir>/<package>`: npm's global packages. */
  readonly lastDirs?: readonly string[];
  /** Where a plugin may keep files; created before its init runs. */
  readonly dataDir: (id: string) => string;
  readonly logger: LoaderLogger;
  /** The plugin-API version this daemon provides; defaults to PLUGIN_API_VERSION. */
  readonly apiVersion?: string;
  /** The daemon's SSH connections, lent to plugins through their context. */
  readonly ssh?: PluginSsh;
  /** Whether the daemon serves a team (PluginContext.multiUser). */
  readonly multiUser?: boolean;
  /** The daemon's connection to sky-node-helper, lent to plugins through their context. */
  readonly nodeHelper?: NodeHelper | undefined;
  /** Each plugin's documents in the state store (PluginContext.documents), when the store keeps them. */
  readonly documents?: ((id: string) => PluginDocuments) | undefined;
  /** Aborted when the daemon shuts down: stops loading and aborts a running init. */
  readonly signal?: AbortSignal;
  /** Learns where each plugin's code lives before it is imported, marks its calls and wraps its driver. */
  readonly guard?: PluginGuard;
  /** A PLUGIN_FAILED refusal for a plugin that must not be loaded (quarantined), checked once its version is known. */
  readonly refuse?: (id: string, packageName: string, version: string | undefined) => SkyError | undefined;
}

/** What `on_failure` asks for when a plugin cannot be loaded. */
export type FailurePolicy = 'abort' | 'skip';

/** A driver plugin that loaded and initialised. */
export interface LoadedDriver {
  /** The key under `drivers:` in the daemon config. */
  readonly id: string;
  readonly packageName: string;
  /** From the plugin's package.json; undefined when it declares none. */
  readonly version: string | undefined;
  readonly plugin: DriverPlugin<unknown>;
  readonly driver: Driver;
}

export interface LoadedPlugins {
  /** Initialised drivers by id, in config order. */
  readonly drivers: ReadonlyMap<string, LoadedDriver>;
  /** One entry per configured driver: loaded, or skipped with the reason (none when disabled). */
  readonly states: readonly PluginState[];
  /** Close every loaded driver; errors and timeouts are logged, never thrown. Idempotent. */
  closeAll(): Promise<void>;
}
