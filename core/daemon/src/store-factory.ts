import type { StateStore } from '@sky/plugin-api';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { LevelStateStore } from '@sky/store-level';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';

/** The one place that knows concrete stores, chosen by name from config. */
export function createStore(config: DaemonConfig, paths: DaemonPaths): StateStore {
  switch (config.store.kind) {
    case 'memory':
      return new MemoryStateStore();
    case 'level':
      return new LevelStateStore({ path: paths.storePath, sync: config.store.sync });
  }
}
