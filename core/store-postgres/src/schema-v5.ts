/**
 * Schema version 5: the usage ledger (plugin API 1.10). One row per entry, keyed like the
 * other stores key it (kind, clusterId, then the interval's start or the job's id); the record
 * itself is the jsonb. The partial unique index keeps at most one open interval per cluster
 * incarnation, whichever replica opens it.
 */
export const SCHEMA_V5: readonly string[] = [
  `CREATE TABLE usage (
     kind text COLLATE "C" NOT NULL,
     cluster_id text COLLATE "C" NOT NULL,
     seq bigint NOT NULL,
     user_id text COLLATE "C" NOT NULL,
     start_at bigint NOT NULL,
     end_at bigint,
     doc jsonb NOT NULL,
     PRIMARY KEY (kind, cluster_id, seq))`,
  `CREATE UNIQUE INDEX usage_open ON usage (cluster_id) WHERE kind = 'cluster' AND end_at IS NULL`,
  `CREATE INDEX usage_start ON usage (start_at)`,
];
