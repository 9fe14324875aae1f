/**
 * Schema version 3: plugins' documents (plugin API 1.8), so that every replica sees the same
 * one (the SSH driver's ledger of which cluster holds which host). Each is changed by
 * compare-and-set on its revision.
 */
export const SCHEMA_V3: readonly string[] = [
  `CREATE TABLE plugin_documents (
     plugin text COLLATE "C" NOT NULL,
     name text COLLATE "C" NOT NULL,
     revision bigint NOT NULL,
     value jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
     PRIMARY KEY (plugin, name))`,
];
