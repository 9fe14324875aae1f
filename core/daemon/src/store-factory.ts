import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { LevelStateStore, type StoreHealthEvent } from '@sky/store-level';
import { DEFAULT_POOL_MAX, DEFAULT_SCHEMA, PostgresStateStore, type StoreHealthEvent as PgHealthEvent } from '@sky/store-postgres';
import { SkyError } from '@sky/protocol';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';

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

function logDatabaseHealth(logger: Logger, event: PgHealthEvent): void {
  switch (event.state) {
    case 'degraded':
      // The error's message and details carry the URL with its password hidden.
      logger.error({ err: event.error, code: event.error.code }, 'the state store lost its database (requests answer 503 with Retry-After until it is back)');
      return;
    case 'recovered':
      logger.warn({ downMs: event.downMs }, 'the state store reaches its database again');
      return;
    case 'recovery-failed':
      logger.warn({ err: event.error }, 'the state store could not reach its database yet; retrying');
  }
}

/** The one place that knows concrete stores, chosen by name from config. */
export function createStore(config: DaemonConfig, paths: DaemonPaths, logger?: Logger): StateStore {
  switch (config.store.kind) {
    case 'memory':
      return new MemoryStateStore();
    case 'level':
      return new LevelStateStore({
        path: paths.storePath,
        sync: config.store.sync,
        ...(logger ? { onHealth: (event: StoreHealthEvent) => logHealth(logger, event) } : {}),
      });
    case 'postgres': {
      const { url } = config.store;
      if (url === undefined) {
        // The config schema requires it; a config built in code may still leave it out.
        throw new SkyError('CONFIG_INVALID', 'store.kind is postgres but store.url is not set', {
          hint: 'set store.url to postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or SKY_DB_URL',
        });
      }
      return new PostgresStateStore({
        url,
        schema: config.store.schema ?? DEFAULT_SCHEMA,
        poolMax: config.store.pool_max ?? DEFAULT_POOL_MAX,
        ...(logger ? { onHealth: (event: PgHealthEvent) => logDatabaseHealth(logger, event) } : {}),
      });
    }
  }
}
