import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStateStore, runStateStoreConformance } from '@sky/plugin-api/testing';
import { LevelStateStore } from '@sky/store-level';

runStateStoreConformance('memory', async () => ({
  store: new MemoryStateStore(),
  cleanup: async () => {},
}));

runStateStoreConformance('level', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sky-store-level-'));
  const path = join(dir, 'state');
  return {
    store: new LevelStateStore({ path }),
    reopen: async () => new LevelStateStore({ path }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
