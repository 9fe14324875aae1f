export { LevelStateStore, type LevelStateStoreOptions } from './level-store.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export { sublevels, type LevelDb, type Sublevels } from './layout.js';
