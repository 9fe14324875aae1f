import type { InjectionToken } from 'tsyringe';
import type { Driver, StateStore } from '@sky/plugin-api';
import type { InstallPluginsResult, PluginList, PluginState } from '@sky/protocol';
import type { Logger } from 'pino';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';
import type { UploadStore } from './uploads/upload-store.js';
import type { SecretCipher } from './secrets/secret-box.js';
import type { Registry } from 'prom-client';

/** Wall clock, injectable so tests and benches control time. */
export interface Clock {
  now(): number;
}

/** What the rest of the daemon knows about loaded plugins. */
export interface PluginRegistry {
  /** Load every configured plugin, applying each one's failure policy. */
  load(signal: AbortSignal): Promise<void>;
  states(): PluginState[];
  /** Loaded drivers by id, in config order. */
  drivers(): ReadonlyMap<string, Driver>;
  closeAll(): Promise<void>;
  /** GET /api/v1/plugins: the states, the plugin API version provided, and packages installed but not configured. */
  list(): Promise<PluginList>;
  /** Install packages into the plugins directory with npm (scripts off); the caller is an admin. */
  install(packages: readonly string[], signal?: AbortSignal): Promise<InstallPluginsResult>;
}

/** Version and commit this daemon reports. */
export interface BuildInfo {
  version: string;
  commit: string;
}

/** Aborted when the daemon begins to shut down; long-polls and streams end on it. */
export interface ShutdownSignal {
  readonly signal: AbortSignal;
  begin(): void;
}

/** Out-of-band cancel of a request (the scheduler's), for use cases the scheduler itself depends on. */
export interface RequestCanceller {
  cancel(id: string): Promise<'cancelled' | 'finished' | 'missing'>;
}

/** DI tokens: the only way components reach each other. */
export const TOKENS = {
  Config: Symbol('Config') as InjectionToken<DaemonConfig>,
  Paths: Symbol('DaemonPaths') as InjectionToken<DaemonPaths>,
  Logger: Symbol('Logger') as InjectionToken<Logger>,
  Store: Symbol('StateStore') as InjectionToken<StateStore>,
  Clock: Symbol('Clock') as InjectionToken<Clock>,
  Plugins: Symbol('PluginRegistry') as InjectionToken<PluginRegistry>,
  BuildInfo: Symbol('BuildInfo') as InjectionToken<BuildInfo>,
  Shutdown: Symbol('ShutdownSignal') as InjectionToken<ShutdownSignal>,
  UploadStore: Symbol('UploadStore') as InjectionToken<UploadStore>,
  /** Seals task secrets before they are persisted; opens them where they are used. */
  Secrets: Symbol('SecretCipher') as InjectionToken<SecretCipher>,
  RequestCanceller: Symbol('RequestCanceller') as InjectionToken<RequestCanceller>,
  /** This daemon process's replica id (config replica_id, else <hostname>-<random>), stable for the process's life. */
  ReplicaId: Symbol('ReplicaId') as InjectionToken<string>,
  /** This daemon's Prometheus registry (never prom-client's global one: several daemons may share a process). */
  MetricsRegistry: Symbol('MetricsRegistry') as InjectionToken<Registry>,
} as const;
