export { PostgresStateStore, DEFAULT_POOL_MAX, DEFAULT_SCHEMA, type PostgresStateStoreOptions } from './pg-store.js';
export type { StoreHealthEvent } from './health.js';
export type { Leases } from './leases.js';
export type { FeedFollower, FollowOptions } from './follower.js';
export { MIGRATIONS, planMigrations, type Migration, type MigrationPlan } from './migrations.js';
export { SCHEMA_NAME, checkSchemaName, parseDatabaseUrl, redactUrl, type DatabaseAddress } from './url.js';
export { isConnectionFailure } from './errors.js';
export { PgBlobStore, type BlobInfo, type BlobManifest } from './blobs.js';
