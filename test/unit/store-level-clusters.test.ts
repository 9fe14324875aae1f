import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Level } from 'level';
import { SkyError, isJobTerminal } from '@sky/protocol';
import type { FeedChange, StoreChange } from '@sky/plugin-api';
import { makeCluster, makeJob, makeSpec } from '@sky/plugin-api/testing';
import { LevelStateStore, sublevels, type LevelStateStoreOptions } from '@sky/store-level';
import { jobKey, parseJobKey } from '../../core/store-level/src/keys.js';

let dir: string;
let path: string;
const stores: LevelStateStore[] = [];

async function open(options: Omit<LevelStateStoreOptions, 'path'> = {}): Promise<LevelStateStore> {
  const s = new LevelStateStore({ path, ...options });
  stores.push(s);
  await s.open();
  return s;
}

/** Read the sublevels of a closed store directly. */
async function onDisk<T>(read: (subs: ReturnType<typeof sublevels>) => Promise<T>): Promise<T> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  await db.open();
  try {
    return await read(sublevels(db));
  } finally {
    await db.close();
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sky-store-level-clusters-'));
  path = join(dir, 'state');
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('LevelStateStore cluster layout', () => {
  it('keys jobs by cluster and a zero-padded id, so one cluster is one ordered range', () => {
    assert.equal(jobKey('train', 3), 'train\x000000000000000003');
    assert.ok(jobKey('train', 10) > jobKey('train', 9));
    assert.deepEqual(parseJobKey(jobKey('a!b', 42)), { cluster: 'a!b', id: 42 });
    // NUL sorts below every character a name has: `a`'s range holds none of `a!b`'s or `a-b`'s keys.
    assert.ok(jobKey('a', 99) < jobKey('a!b', 1));
    assert.ok(jobKey('a', 99) < jobKey('a-b', 1));
  });

  it('keeps every index exactly in step with the records after a mixed workload', async () => {
    const s = await open();
    const names = ['idx-a', 'idx-a-b', 'idx-b', 'idx-c'];
    for (const name of names) {
      const cluster = (await s.clusters.create(makeCluster({ name }))).record;
      for (let i = 0; i < 12; i++) await s.jobs.create(makeJob(cluster), makeSpec({ run: `${name} ${i}` }));
    }
    for (const name of names) {
      for (let id = 1; id <= 12; id++) {
        if (id % 3 === 0) await s.jobs.transition(name, id, ['PENDING'], { status: 'RUNNING' });
        if (id % 4 === 0) await s.jobs.transition(name, id, ['PENDING', 'RUNNING'], { status: id % 8 ? 'SUCCEEDED' : 'FAILED_SETUP' });
      }
    }
    await s.clusters.delete('idx-b');
    await s.clusters.delete('idx-c');
    const c2 = (await s.clusters.create(makeCluster({ name: 'idx-c' }))).record;
    await s.jobs.create(makeJob(c2), makeSpec());
    await s.close();

    await onDisk(async (subs) => {
      const clusters = new Map(await subs.clusters.iterator().all());
      assert.deepEqual([...clusters.keys()], ['idx-a', 'idx-a-b', 'idx-c']);
      const jobs = await subs.jobs.iterator().all();
      for (const [key, job] of jobs) {
        assert.equal(key, jobKey(job.cluster, job.id));
        assert.ok(clusters.has(job.cluster), `job ${key} outlived its cluster`);
        assert.equal(job.clusterId, clusters.get(job.cluster)?.clusterId, `job ${key} belongs to an earlier incarnation`);
      }
      const active = jobs.filter(([, job]) => !isJobTerminal(job.status)).map(([key]) => key);
      assert.deepEqual(await subs.activeJobs.keys().all(), active);
      assert.deepEqual(await subs.jobSpecs.keys().all(), active, 'a spec exactly for every job that has not ended');
      const counters = Object.fromEntries(await subs.jobCounters.iterator().all());
      assert.deepEqual(counters, { 'idx-a': 12, 'idx-a-b': 12, 'idx-c': 1 });
      assert.deepEqual(
        jobs.filter(([, job]) => job.cluster === 'idx-c').map(([key]) => parseJobKey(key).id),
        [1],
      );
    });
  });

  it('refuses a cluster name with a NUL in it and stores nothing', async () => {
    const s = await open();
    await assert.rejects(s.clusters.create(makeCluster({ name: 'a\x00b' })), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'VALIDATION_FAILED');
      assert.equal(err.details?.field, 'name');
      return true;
    });
    await assert.rejects(s.clusters.create(makeCluster({ name: '' })), SkyError);
    assert.deepEqual(await s.clusters.list(), []);
    assert.deepEqual(await s.jobs.list('a\x00b'), []);
  });
});

describe('LevelStateStore change feed', () => {
  it('hands a throwing listener\'s error and the change to onListenerError', async () => {
    const reported: Array<[unknown, FeedChange]> = [];
    const s = await open({ onListenerError: (error, change) => reported.push([error, change]) });
    const boom = new Error('listener on fire');
    s.subscribe(() => {
      throw boom;
    });
    const { record } = await s.clusters.create(makeCluster({ name: 'loud' }));
    assert.deepEqual(reported, [[boom, { kind: 'cluster', name: 'loud', record }]]);
  });

  it('reports a throwing listener as a process warning by default', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const s = await open();
      s.subscribe(() => {
        throw new Error('listener on fire');
      });
      assert.equal((await s.clusters.create(makeCluster())).created, true);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.equal(warnings.length, 1);
    assert.equal((warnings[0] as { code?: string }).code, 'SKY_STORE_LISTENER');
    assert.match(warnings[0]!.message, /listener on fire/);
  });

  it('delivers nothing and changes nothing when the batch fails to commit', async () => {
    const s = await open();
    const cluster = (await s.clusters.create(makeCluster({ name: 'failing' }))).record;
    const job = await s.jobs.create(makeJob(cluster), makeSpec());
    const changes: StoreChange[] = [];
    s.subscribe((change) => changes.push(change));

    const original = Level.prototype.batch;
    // Every batch fails, as on a full disk: the writer's group commit is the only caller now.
    Level.prototype.batch = function failingBatch(): Promise<void> {
      return Promise.reject(new Error('disk full'));
    } as unknown as typeof original;
    let results: PromiseSettledResult<unknown>[];
    try {
      results = await Promise.allSettled([
        s.clusters.update('failing', 1, { status: 'STOPPED' }),
        s.jobs.create(makeJob(cluster), makeSpec()),
        s.jobs.transition('failing', job.id, ['PENDING'], { status: 'CANCELLED' }),
        s.clusters.delete('failing'),
      ]);
    } finally {
      Level.prototype.batch = original;
    }
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      assert.equal((result as PromiseRejectedResult).reason.code, 'STATE_UNAVAILABLE');
    }
    assert.deepEqual(changes, []);
    assert.deepEqual(await s.clusters.get('failing'), cluster);
    assert.deepEqual(await s.jobs.listActive(), [job]);
    assert.ok(await s.jobs.getSpec('failing', job.id));
    // The cache did not move on either: the next writes decide from the committed state.
    assert.equal((await s.clusters.update('failing', 1, { status: 'STOPPED' }))?.version, 2);
    assert.equal((await s.jobs.create(makeJob(cluster), makeSpec())).id, 2);
    assert.equal(changes.length, 2);
  });
});
