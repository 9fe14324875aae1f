/**
 * Schema version 4: `sky serve` services (plugin API 1.9). The record is changed by
 * compare-and-set on its revision; the controller log (its last 1,000 lines) lives in the same
 * row, apart from the record, as for managed jobs. Each version's spec (the task as submitted,
 * secrets and the bearer token included) has a row of its own, deleted with its service.
 */
export const SCHEMA_V4: readonly string[] = [
  `CREATE TABLE services (
     name text COLLATE "C" PRIMARY KEY,
     user_id text COLLATE "C" NOT NULL,
     revision int NOT NULL,
     doc jsonb NOT NULL,
     log jsonb NOT NULL DEFAULT '[]')`,
  `CREATE INDEX services_user ON services (user_id, name)`,
  `CREATE TABLE service_versions (
     name text COLLATE "C" NOT NULL REFERENCES services (name) ON DELETE CASCADE,
     version int NOT NULL,
     spec jsonb NOT NULL,
     PRIMARY KEY (name, version))`,
];
