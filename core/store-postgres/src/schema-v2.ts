/**
 * Schema version 2: blobs every replica reaches (a daemon keeps its users' uploads here).
 * Blobs are content-addressed and kept per owner (the same bytes of two owners are two rows,
 * so nobody learns what another stored). A manifest names the blobs it refers to in
 * blob_refs, so a blob a manifest still names is never deleted, whichever replica collects.
 */
export const SCHEMA_V2: readonly string[] = [
  `CREATE TABLE blob_manifests (
     id text COLLATE "C" PRIMARY KEY,
     owner text COLLATE "C" NOT NULL,
     bytes bigint NOT NULL,
     created_at bigint NOT NULL,
     last_used_at bigint NOT NULL,
     body jsonb NOT NULL)`,
  `CREATE INDEX blob_manifests_owner ON blob_manifests (owner, id)`,
  `CREATE TABLE blobs (
     owner text COLLATE "C" NOT NULL,
     sha256 text COLLATE "C" NOT NULL,
     size int NOT NULL,
     stored_at bigint NOT NULL,
     data bytea NOT NULL,
     PRIMARY KEY (owner, sha256))`,
  // Blobs are mostly compressed or random already: stored out of line, not compressed again.
  `ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL`,
  `CREATE TABLE blob_refs (
     owner text COLLATE "C" NOT NULL,
     sha256 text COLLATE "C" NOT NULL,
     manifest_id text COLLATE "C" NOT NULL REFERENCES blob_manifests (id) ON DELETE CASCADE,
     PRIMARY KEY (owner, sha256, manifest_id))`,
  `CREATE INDEX blob_refs_manifest ON blob_refs (manifest_id)`,
];
