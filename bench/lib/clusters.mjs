// Clusters written straight into a daemon's state before it starts, as the daemon would have
// written them: for benches of listing many clusters (status, the dashboard, PostgreSQL). Into
// the LevelDB state under a HOME (fillClusters), or into any open StateStore (fillStore), e.g. a
// PostgresStateStore on the schema the daemon will use.
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = resolve(import.meta.dirname, '../..');
const { LevelStateStore } = await import(join(ROOT, 'core/store-level/dist/index.js'));

/**
 * Store `count` UP clusters (every 7th STOPPED) of one local node each under HOME's state
 * directory; `shape(i, now)` gives the fields that differ per bench (owner, workspace, …).
 * Resolves with the milliseconds the fill took.
 */
export async function fillClusters(home, count, shape) {
  const started = performance.now();
  const store = new LevelStateStore({ path: join(home, '.sky/api_server/state') });
  await store.open();
  try {
    await fillStore(store, count, shape);
  } finally {
    await store.close();
  }
  return performance.now() - started;
}

/** The same clusters into an open store (left open); resolves with the milliseconds it took. */
export async function fillStore(store, count, shape) {
  const started = performance.now();
  const now = Date.now();
  const pending = [];
  for (let i = 0; i < count; i++) {
    pending.push(
      store.clusters.create({
        name: `c-${i}`,
        clusterId: `c-${i}-0000`,
        workspace: 'default',
        driver: 'local',
        infra: 'local',
        status: i % 7 === 0 ? 'STOPPED' : 'UP',
        numNodes: 1,
        nodes: [{ id: `c-${i}-n0`, rank: 0, address: '127.0.0.1', reach: { kind: 'local', root: `/nonexistent/c-${i}` }, resources: { cpus: 1, memoryGb: 1, accelerators: [] } }],
        resources: '1x local(cpus=1, mem=1GB)',
        driverState: null,
        launchedAt: now - i * 1000,
        updatedAt: now,
        lastActiveAt: now,
        lastCommand: 'python train.py',
        ...shape(i, now),
      }),
    );
    if (pending.length >= 500) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return performance.now() - started;
}
