import type pg from 'pg';
import { SkyError } from '@sky/protocol';
import { SCHEMA_V1 } from './schema-v1.js';
import { SCHEMA_V2 } from './schema-v2.js';
import { SCHEMA_V3 } from './schema-v3.js';
import { SCHEMA_V4 } from './schema-v4.js';
import { SCHEMA_V5 } from './schema-v5.js';

/** One step of the schema ladder: the statements that take the schema from version - 1 to version. */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** The ladder this version of sky ships. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial tables', statements: SCHEMA_V1 },
  { version: 2, name: 'blobs and manifests', statements: SCHEMA_V2 },
  { version: 3, name: 'plugin documents', statements: SCHEMA_V3 },
  { version: 4, name: 'services', statements: SCHEMA_V4 },
  { version: 5, name: 'usage ledger', statements: SCHEMA_V5 },
];

/** What open() must do: the migrations to apply, in order, or that the schema is newer than the ladder. */
export type MigrationPlan = { kind: 'apply'; pending: Migration[] } | { kind: 'too-new'; found: number; known: number };

/**
 * Check the ladder (versions 1, 2, 3, … with no gap or repeat, in any order given) and pick
 * the steps above `current`. A schema above the ladder's top is refused, never written.
 */
export function planMigrations(current: number, ladder: readonly Migration[]): MigrationPlan {
  const sorted = [...ladder].sort((a, b) => a.version - b.version);
  sorted.forEach((step, i) => {
    if (step.version !== i + 1) {
      throw new SkyError('INTERNAL', `the migration ladder is broken: expected version ${i + 1}, found ${step.version} ("${step.name}")`, {
        hint: 'migrations must be numbered 1, 2, 3, … without gaps or repeats',
      });
    }
  });
  const known = sorted.length;
  if (current > known) return { kind: 'too-new', found: current, known };
  return { kind: 'apply', pending: sorted.filter((step) => step.version > current) };
}

/** Key of the advisory lock that serializes migrations of one schema across replicas. */
export function migrationLockKey(schema: string): string {
  return `sky-store-migrations:${schema}`;
}

/**
 * Create the schema if missing and bring it to the ladder's top in one transaction, under a
 * transaction-scoped advisory lock (so of several replicas starting at once one migrates and
 * the others find the work done). Returns the version now in place; throws the too-new plan.
 */
export async function runMigrations(client: pg.PoolClient | pg.Client, schema: string, ladder: readonly Migration[]): Promise<MigrationPlan & { version: number }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [migrationLockKey(schema)]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`SET LOCAL search_path TO "${schema}"`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const found = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const current = found.rows[0]?.version ?? 0;
    const plan = planMigrations(current, ladder);
    if (plan.kind === 'too-new') {
      await client.query('ROLLBACK');
      return { ...plan, version: current };
    }
    for (const step of plan.pending) {
      for (const statement of step.statements) await client.query(statement);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [step.version, step.name]);
    }
    await client.query('COMMIT');
    return { ...plan, version: plan.pending.length > 0 ? plan.pending[plan.pending.length - 1]!.version : current };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
