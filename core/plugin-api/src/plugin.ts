import type { PluginDocuments } from './documents.js';
import type { DriverOperations } from './driver.js';
import type { NodeHelper } from './node/helper.js';
import type { PluginSsh } from './ssh.js';
import type { StateStore } from './store.js';
import { PLUGIN_BRAND } from './version.js';

/**
 * A validator for a plugin's own config block, in the Standard Schema shape, so a plugin
 * may use zod, valibot, arktype or a hand-written check without sharing a library with the daemon.
 */
export interface ConfigSchema<T> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => ConfigResult<T> | Promise<ConfigResult<T>>;
  };
}
export type ConfigResult<T> =
  | { readonly value: T; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> }> };

/** Structured logger handed to plugins (pino-compatible subset). */
export interface PluginLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** What the daemon gives a plugin at init. */
export interface PluginContext<C> {
  /** The id the plugin is configured under (`drivers.<id>`). */
  readonly id: string;
  /** The validated config block. */
  readonly config: C;
  readonly logger: PluginLogger;
  /** A directory the plugin may keep files in. */
  readonly dataDir: string;
  /** Aborted when init runs out of time or the daemon shuts down. */
  readonly signal: AbortSignal;
  /** The daemon's SSH connections, for drivers that reach hosts (absent only in tests that do not need it). */
  readonly ssh?: PluginSsh;
  /**
   * Whether the daemon serves a team (auth basic, token or proxy) rather than its owner alone
   * (auth none). A driver that would run jobs on the daemon's own machine must then run each
   * user's jobs under an account of their own, never the daemon's. Absent: single-user.
   */
  readonly multiUser?: boolean;
  /**
   * The daemon's connection to sky-node-helper (node_helper.socket in the daemon config), which
   * runs commands and handles files as allowed OS accounts. Absent when none is configured.
   */
  readonly nodeHelper?: NodeHelper;
  /**
   * Plugin API 1.8: JSON documents kept in the daemon's state store, seen alike by every
   * replica of a daemon on a shared store (see documents.ts). Absent when the store keeps none
   * (LevelDB: one daemon per state directory, so dataDir serves the same purpose).
   */
  readonly documents?: PluginDocuments;
}

/**
 * A running driver, as a driver plugin's init returns it: the operations of the driver contract
 * (see driver.ts) plus an optional close. A plain object type (not an interface), so a driver
 * is also a `Record<string, unknown>` to code that inspects it generically.
 */
export type Driver = Pick<DriverOperations, keyof DriverOperations> & {
  /** Release connections and timers. Called once, when the daemon shuts down or drops the driver. */
  close?(): Promise<void>;
};

interface PluginBase<C> {
  readonly [PLUGIN_BRAND]: true;
  /** npm package name, for messages. */
  readonly name: string;
  /** Semver range of the plugin API this plugin was built for, e.g. '^1.0.0'. */
  readonly apiVersion: string;
  readonly configSchema?: ConfigSchema<C>;
}

export interface DriverPlugin<C = unknown> extends PluginBase<C> {
  readonly kind: 'driver';
  init(ctx: PluginContext<C>): Promise<Driver>;
}

export interface StorePlugin<C = unknown> extends PluginBase<C> {
  readonly kind: 'store';
  init(ctx: PluginContext<C>): Promise<StateStore>;
}

export type SkyPlugin = DriverPlugin<never> | StorePlugin<never>;

type Unbranded<P> = Omit<P, typeof PLUGIN_BRAND | 'kind'>;

/** Declare a driver plugin: `export default defineDriverPlugin({ name, apiVersion, configSchema, init })`. */
export function defineDriverPlugin<C>(plugin: Unbranded<DriverPlugin<C>>): DriverPlugin<C> {
  return { ...plugin, kind: 'driver', [PLUGIN_BRAND]: true };
}

/** Declare a state-store plugin. */
export function defineStorePlugin<C>(plugin: Unbranded<StorePlugin<C>>): StorePlugin<C> {
  return { ...plugin, kind: 'store', [PLUGIN_BRAND]: true };
}
