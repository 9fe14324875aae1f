import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStateStore, type PostgresStateStoreOptions } from '@sky/store-postgres';

/**
 * The machine's PostgreSQL (127.0.0.1:5432, database `test`, trust auth), or SKY_TEST_PG_URL.
 * The user is the OS user `root` when the server knows it, else `postgres`.
 */
const CANDIDATES = process.env.SKY_TEST_PG_URL !== undefined ? [process.env.SKY_TEST_PG_URL] : ['postgres://root@127.0.0.1:5432/test', 'postgres://postgres@127.0.0.1:5432/test'];

let chosen: Promise<string> | undefined;

/** A URL of the test database that accepts a connection; fails loudly (never skips) when none does. */
export function testDatabaseUrl(): Promise<string> {
  chosen ??= (async () => {
    const failures: string[] = [];
    for (const url of CANDIDATES) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return url;
      } catch (err) {
        failures.push(`${url}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    throw new Error(`no PostgreSQL for the store tests (start the server at 127.0.0.1:5432 with database "test", or set SKY_TEST_PG_URL): ${failures.join('; ')}`);
  })();
  return chosen;
}

/** A fresh schema name for one test: sky_t_<pid>_<random>. */
export function testSchemaName(): string {
  return `sky_t_${process.pid}_${randomBytes(5).toString('hex')}`;
}

/** Run statements on a connection of their own (not a store's). */
export async function adminQuery<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: await testDatabaseUrl(), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/** A store over a new schema, plus a factory of further instances on that schema and its cleanup. */
export async function pgStoreFixture(options: Partial<PostgresStateStoreOptions> = {}): Promise<{
  url: string;
  schema: string;
  make: (more?: Partial<PostgresStateStoreOptions>) => PostgresStateStore;
  cleanup: () => Promise<void>;
}> {
  const url = await testDatabaseUrl();
  const schema = testSchemaName();
  return {
    url,
    schema,
    make: (more = {}) => new PostgresStateStore({ url, schema, poolMax: 4, ...options, ...more }),
    cleanup: () => dropSchema(schema),
  };
}
