import { SkyError } from '@sky/protocol';
import { corruptError, tooNewError } from './errors.js';
import type { LevelDb, Sublevels } from './layout.js';

/** One step of the schema ladder. `up` must be safe to re-run if the process dies mid-way. */
export interface Migration {
  version: number;
  description: string;
  up(db: LevelDb): Promise<void>;
}

/** The schema ladder this code knows. Append only; never edit a shipped step. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial layout: requests, logs, and the by-status, by-user and idempotency indexes',
    // The sublevels need no preparation; this step only stamps the version.
    up: async () => {},
  },
  {
    version: 2,
    description: 'clusters and job queues: the clusters, jobs, job-specs, job-counters and active-jobs sublevels',
    // Additive: the new sublevels are empty in a v1 store and nothing existing changes. The
    // stamp is what matters: a sky that knows only v1 refuses this store (STATE_TOO_NEW)
    // instead of running without seeing its clusters.
    up: async () => {},
  },
  {
    version: 3,
    description: 'users, tokens, workspaces and the audit log: the users, tokens, token-hashes, workspaces, audit and audit-by-user sublevels',
    // Additive like v2: the new sublevels are empty in a v2 store and nothing existing
    // changes; the stamp keeps a sky that knows only v2 from running without its users.
    up: async () => {},
  },
  {
    version: 4,
    description: 'managed jobs: the managed-jobs, managed-job-specs, managed-job-counter, managed-jobs-by-user, managed-jobs-by-request, managed-jobs-active, managed-job-events and managed-job-event-seqs sublevels',
    // Additive like v2 and v3. The stamp matters more here: a sky that knows only v3 would
    // run without seeing the managed jobs, leaving their clusters up with nothing to follow
    // them; it refuses this store instead.
    up: async () => {},
  },
  {
    version: 5,
    description: 'the change feed: the events sublevel (seq → commit time and change) and meta/eventFloor',
    // Additive: a v4 store has no feed yet and starts it at seq 1. The stamp keeps a sky that
    // knows only v4 from writing changes the feed would miss (resumed streams would skip them).
    up: async () => {},
  },
  {
    version: 6,
    description: 'services: the services, service-versions, service-events and service-event-seqs sublevels',
    // Additive like the steps before it. The stamp keeps a sky that knows only v5 from running
    // without seeing the services, whose replica clusters would then run on with nobody to
    // probe, scale or stop them.
    up: async () => {},
  },
  {
    version: 7,
    description: 'the usage ledger: the usage and usage-open sublevels',
    // Additive. The stamp keeps a sky that knows only v6 from running on without recording
    // usage, which would leave holes in the ledger that no later sky could fill.
    up: async () => {},
  },
];

const VERSION_KEY = 'schemaVersion';

/** Check the ladder is well formed and return it in ascending order. */
function sortedLadder(migrations: readonly Migration[]): Migration[] {
  const ladder = [...migrations].sort((a, b) => a.version - b.version);
  ladder.forEach((m, i) => {
    const previous = i === 0 ? 0 : (ladder[i - 1]?.version ?? 0);
    if (!Number.isInteger(m.version) || m.version <= previous) {
      throw new SkyError('INTERNAL', `invalid migration ladder: version ${m.version} ("${m.description}") is not a unique positive integer`);
    }
  });
  return ladder;
}

export async function readSchemaVersion(meta: Sublevels['meta'], path: string): Promise<number> {
  const value = await meta.get(VERSION_KEY);
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw corruptError(path, `meta/${VERSION_KEY} is ${JSON.stringify(value)}, not a version number`);
  }
  return value;
}

/**
 * Bring the store up to the newest version in `migrations`, one step at a time, recording
 * each step's version as soon as it completes. Refuses a store newer than the ladder.
 * Returns the version the store is at afterwards.
 */
export async function migrate(
  db: LevelDb,
  meta: Sublevels['meta'],
  migrations: readonly Migration[],
  path: string,
): Promise<number> {
  const ladder = sortedLadder(migrations);
  const known = ladder[ladder.length - 1]?.version ?? 0;
  let current = await readSchemaVersion(meta, path);
  if (current > known) throw tooNewError(path, current, known);
  for (const step of ladder) {
    if (step.version <= current) continue;
    await step.up(db);
    await db.batch([{ type: 'put', sublevel: meta, key: VERSION_KEY, value: step.version }], { sync: true });
    current = step.version;
  }
  return current;
}
