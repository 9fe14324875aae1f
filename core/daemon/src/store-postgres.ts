import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import type { StoreHealthEvent as PgHealthEvent } from '@sky/store-postgres';
import type { DaemonConfig } from './config/schema.js';
import type { StoreHealthListener } from './store-factory.js';

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

/**
 * The PostgreSQL store of `store: {kind: postgres, url, schema, pool_max}`. The package (and pg)
 * is imported here, on demand, and stays outside the daemon's bundle.
 */
export async function createPostgresStore(config: DaemonConfig, logger?: Logger, onHealth?: StoreHealthListener): Promise<StateStore> {
  const { DEFAULT_POOL_MAX, DEFAULT_SCHEMA, PostgresStateStore } = await import('@sky/store-postgres');
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
    ...(logger || onHealth
      ? {
          onHealth: (event: PgHealthEvent) => {
            if (logger) logDatabaseHealth(logger, event);
            onHealth?.(event);
          },
        }
      : {}),
  });
}
