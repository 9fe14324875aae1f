import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { LevelStateStore, type StoreHealthEvent } from '@sky/store-level';
import { SkyError } from '@sky/protocol';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';

/** Told when the store loses or regains its disk or database (the daemon's readiness follows it). */
export type StoreHealthListener = (event: { state: 'degraded'; error: SkyError } | { state: 'recovered' } | { state: 'recovery-failed' }) => void;

function logHealth(logger: Logger, event: StoreHealthEvent): void {
  switch (event.state) {
    case 'degraded':
      logger.error({ err: event.error, code: event.error.code }, 'the state store refuses writes until it can reopen (submits answer 503; reads go on)');
      return;
    case 'recovered':
      logger.warn({ downMs: event.downMs }, 'the state store takes writes again');
      return;
    case 'recovery-failed':
      logger.warn({ err: event.error }, 'the state store could not reopen yet; retrying');
  }
}

/**
 * A store for the config, with the PostgreSQL store's module (and pg) loaded only when the config
 * asks for it, so a daemon on LevelDB never loads them.
 */
export async function loadStore(config: DaemonConfig, paths: DaemonPaths, logger?: Logger, onHealth?: StoreHealthListener): Promise<StateStore> {
  if (config.store.kind !== 'postgres') return createStore(config, paths, logger, onHealth);
  const { createPostgresStore } = await import('./store-postgres.js');
  return createPostgresStore(config, logger, onHealth);
}

/** The one place that knows the embedded stores, chosen by name from config (PostgreSQL: loadStore). */
export function createStore(config: DaemonConfig, paths: DaemonPaths, logger?: Logger, onHealth?: StoreHealthListener): StateStore {
  switch (config.store.kind) {
    case 'memory':
      return new MemoryStateStore();
    case 'level':
      return new LevelStateStore({
        path: paths.storePath,
        sync: config.store.sync,
        ...(logger || onHealth
          ? {
              onHealth: (event: StoreHealthEvent) => {
                if (logger) logHealth(logger, event);
                onHealth?.(event);
              },
            }
          : {}),
      });
    case 'postgres':
      // pg is loaded only by daemons that use it: loadStore opens it before compose.
      throw new SkyError('CONFIG_INVALID', 'store.kind postgres is opened through loadStore(), not createStore()', {
        hint: 'Call loadStore(config, paths, logger) and pass the store to compose().',
      });
  }
}
