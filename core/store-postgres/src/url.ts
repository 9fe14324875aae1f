import { SkyError } from '@sky/protocol';

/** A schema name the store accepts: a plain lower-case SQL identifier (no quoting needed anywhere). */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The URL with its password (and any `password=` query parameter) replaced by `***`, for
 * errors and logs. Works on the text, so URLs that do not parse (or parse oddly, like
 * `user:secret@host/db` without a scheme) are redacted as well.
 */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/|^|\s)([^\s/@:]*):([^/]*)@/g, '$1$2:***@').replace(/([?&]password=)[^&\s]*/gi, '$1***');
}

/** Where the store's database is, as a URL checked for shape (reachability is open()'s to find out). */
export interface DatabaseAddress {
  url: string;
  host: string;
  port: number;
  database: string;
  user: string;
}

function badUrl(url: string, why: string): SkyError {
  return new SkyError('VALIDATION_FAILED', `the PostgreSQL URL ${redactUrl(url)} is not usable: ${why}`, {
    hint: 'write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (store.url in sky.config.yaml, or SKY_DB_URL)',
    details: { field: 'store.url' },
  });
}

/** Check a postgres:// URL's shape; throws VALIDATION_FAILED (with the password hidden) when it cannot be used. */
export function parseDatabaseUrl(url: string): DatabaseAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badUrl(url, 'it does not parse as a URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw badUrl(url, `the scheme is "${parsed.protocol.replace(/:$/, '')}", not postgres or postgresql`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw badUrl(url, 'it names no database (the path after the host)');
  const host = parsed.hostname === '' ? (parsed.searchParams.get('host') ?? '') : parsed.hostname;
  if (host === '') throw badUrl(url, 'it names no host');
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw badUrl(url, `port ${parsed.port} is out of range`);
  return { url, host, port, database, user: decodeURIComponent(parsed.username) };
}

/** Check a schema name; throws VALIDATION_FAILED naming the rule. */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new SkyError('VALIDATION_FAILED', `the schema name ${JSON.stringify(schema)} is not accepted`, {
      hint: 'use lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters (store.schema)',
      details: { field: 'store.schema' },
    });
  }
  return schema;
}
