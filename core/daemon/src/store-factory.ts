import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { LevelStateStore, type StoreHealthEvent } from '@sky/store-level';
import type { DaemonConfig, DaemonPaths } from './config/schema.js';

function logHealth(logger: Logger, event: StoreHealthEvent): void {
  switch (event.state) {
    case 'degraded':
      logger.error({ err: event.error, code: event.error.code }, 'the state store refuses writes until it can reopen (submits answer 503; reads go on)');
      return;
    case 'recovered':
      logger.warn({ downMs: event.downMs }, 'the state store takes writes again');
      return;
    case 'recovery-failed':
      logger.warn({ err: event.error }, 'the state store could not reopen yet; retrying');
  }
}

/** The one place that knows concrete stores, chosen by name from config. */
export function createStore(config: DaemonConfig, paths: DaemonPaths, logger?: Logger): StateStore {
  switch (config.store.kind) {
    case 'memory':
      return new MemoryStateStore();
    case 'level':
      return new LevelStateStore({
        path: paths.storePath,
        sync: config.store.sync,
        ...(logger ? { onHealth: (event: StoreHealthEvent) => logHealth(logger, event) } : {}),
      });
  }
}
