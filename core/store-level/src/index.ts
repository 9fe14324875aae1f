export { LevelStateStore, type LevelStateStoreOptions, type StoreHealthEvent, type StoreMemoryCounts } from './level-store.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export { sublevels, type LevelDb, type Sublevels } from './layout.js';
