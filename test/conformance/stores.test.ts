import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStateStore, runStateStoreConformance } from '@sky/plugin-api/testing';
import { LevelStateStore } from '@sky/store-level';
import { pgStoreFixture } from '../integration/store-postgres-fixture.js';

// The change-feed section throws from listeners on purpose; keep its reports out of the output.
const onListenerError = (): void => {};

runStateStoreConformance('memory', async () => ({
  store: new MemoryStateStore({ onListenerError }),
  cleanup: async () => {},
}));

runStateStoreConformance('level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sky-store-level-'));
  const path = join(dir, 'state');
  return {
    store: new LevelStateStore({ path, onListenerError }),
    reopen: async () => new LevelStateStore({ path, onListenerError }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

// The machine's PostgreSQL, each test in a schema of its own, dropped after; never skipped.
runStateStoreConformance('postgres', async () => {
  const fixture = await pgStoreFixture({ onListenerError });
  return {
    store: fixture.make(),
    reopen: async () => fixture.make(),
    cleanup: fixture.cleanup,
  };
});
