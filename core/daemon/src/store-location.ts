import { parseDatabaseUrl } from '@sky/store-postgres/url';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';

const DEFAULT_SCHEMA = 'sky';

/**
 * Where the state lives, for admins (sky api info, the not-ready answer): PostgreSQL as
 * user@host:port/database and schema, never the password; LevelDB as its directory.
 */
export function storeLocation(config: DaemonConfig, paths: DaemonPaths): string | undefined {
  switch (config.store.kind) {
    case 'memory':
      return undefined;
    case 'level':
      return paths.storePath;
    case 'postgres': {
      if (config.store.url === undefined) return undefined;
      try {
        const { host, port, database, user } = parseDatabaseUrl(config.store.url);
        return `postgres://${user === '' ? '' : `${encodeURIComponent(user)}@`}${host}:${port}/${database} (schema ${config.store.schema ?? DEFAULT_SCHEMA})`;
      } catch {
        return undefined;
      }
    }
  }
}
