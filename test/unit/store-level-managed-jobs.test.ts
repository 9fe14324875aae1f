import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Level } from 'level';
import { MANAGED_JOB_TERMINAL, SkyError, isManagedJobTerminal } from '@sky/protocol';
import type { ManagedJobRecord, ManagedJobStatus } from '@sky/protocol';
import { makeManagedJob, makeManagedJobSpec } from '@sky/plugin-api/testing';
import { LevelStateStore, sublevels } from '@sky/store-level';
import { managedJobEventKey, managedJobIndexKey, managedJobKey, parseManagedJobKey, seqOfEventKey } from '../../core/store-level/src/keys.js';

let dir: string;
let path: string;
const stores: LevelStateStore[] = [];

async function open(): Promise<LevelStateStore> {
  const s = new LevelStateStore({ path });
  stores.push(s);
  await s.open();
  return s;
}

async function close(s: LevelStateStore): Promise<void> {
  await s.close();
  stores.splice(stores.indexOf(s), 1);
}

/** Read (or write) the sublevels of a closed store directly. */
async function onDisk<T>(use: (subs: ReturnType<typeof sublevels>) => Promise<T>): Promise<T> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  await db.open();
  try {
    return await use(sublevels(db));
  } finally {
    await db.close();
  }
}

/** Overwrite the given keys of a sublevel of a closed store with text that is not JSON: any read of them fails. */
async function corrupt(which: 'managedJobs' | 'managedJobEvents', keys: readonly string[]): Promise<number> {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  await db.open();
  try {
    const sublevel = sublevels(db)[which];
    await db.batch(keys.map((key) => ({ type: 'put' as const, sublevel, key, value: '{not json', valueEncoding: 'utf8' })));
    return keys.length;
  } finally {
    await db.close();
  }
}

function isSkyError(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SkyError, `expected a SkyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sky-store-level-managed-'));
  path = join(dir, 'state');
});

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('LevelStateStore managed job layout', () => {
  it('keys managed jobs and their log lines by zero-padded numbers, so they sort numerically', () => {
    assert.equal(managedJobKey(7), '0000000000000007');
    assert.ok(managedJobKey(10) > managedJobKey(9));
    assert.equal(parseManagedJobKey(managedJobKey(123)), 123);
    assert.equal(parseManagedJobKey(managedJobIndexKey('u-a', 42)), 42);
    assert.ok(managedJobIndexKey('u-a', 99) < managedJobIndexKey('u-a!b', 1), "one user's range holds no key of a user whose id merely starts with it");
    assert.ok(managedJobEventKey(1, 10) > managedJobEventKey(1, 9));
    assert.ok(managedJobEventKey(1, 999_999) < managedJobEventKey(2, 0));
    assert.equal(seqOfEventKey(managedJobEventKey(3, 1234)), 1234);
  });

  it('keeps the indexes, specs, counter and logs exactly in step with the records', async () => {
    const s = await open();
    const jobs: ManagedJobRecord[] = [];
    for (let i = 0; i < 40; i++) {
      const job = await s.managedJobs.create(makeManagedJob({ user: `u-${i % 3}` }), makeManagedJobSpec());
      const status = (i % 4 === 0 ? MANAGED_JOB_TERMINAL[i % MANAGED_JOB_TERMINAL.length] : ['RUNNING', 'PENDING', 'RECOVERING'][i % 3]) as ManagedJobStatus;
      jobs.push(status === 'PENDING' ? job : ((await s.managedJobs.update(job.id, 1, { status })) as ManagedJobRecord));
      await s.managedJobs.appendEvents(job.id, Array.from({ length: i * 30 }, (_, k) => ({ at: k, text: `l${k}` })));
    }
    // One job ends and comes back, one is created ended.
    const revived = await s.managedJobs.update(4, jobs[3]!.version, { status: 'CANCELLED' });
    jobs[3] = (await s.managedJobs.update(4, revived!.version, { status: 'RECOVERING' }))!;
    jobs.push(await s.managedJobs.create(makeManagedJob({ user: 'u-0', status: 'FAILED' }), makeManagedJobSpec()));
    assert.deepEqual(s.inMemory().activeManagedJobs, jobs.filter((j) => !isManagedJobTerminal(j.status)).length);
    await close(s);

    const disk = await onDisk(async (subs) => ({
      records: await subs.managedJobs.iterator().all(),
      specs: await subs.managedJobSpecs.keys().all(),
      active: await subs.managedJobsActive.iterator().all(),
      byUser: await subs.managedJobsByUser.iterator().all(),
      byRequest: await subs.managedJobsByRequest.iterator().all(),
      counter: await subs.managedJobCounter.iterator().all(),
      events: await subs.managedJobEvents.keys().all(),
      eventSeqs: await subs.managedJobEventSeqs.iterator().all(),
    }));
    assert.deepEqual(
      disk.records.map(([key, record]) => [key, record]),
      jobs.map((j) => [managedJobKey(j.id), j]),
    );
    const active = jobs.filter((j) => !isManagedJobTerminal(j.status)).map((j) => managedJobKey(j.id));
    // Job 4 came back from CANCELLED: its spec went when it ended.
    assert.deepEqual(
      disk.specs,
      active.filter((key) => key !== managedJobKey(4)),
      'a spec exactly for each job that has not ended',
    );
    assert.deepEqual(disk.active, active.map((key) => [key, '1']), 'index entries carry a one-character value, never an empty one');
    assert.deepEqual(disk.byUser.sort(), jobs.map((j) => [managedJobIndexKey(j.user, j.id), '1']).sort());
    assert.deepEqual(disk.byRequest.sort(), jobs.map((j) => [managedJobIndexKey(j.requestId, j.id), '1']).sort());
    assert.deepEqual(disk.counter, [['last', jobs.length]]);
    assert.deepEqual(
      disk.eventSeqs,
      jobs.filter((j) => j.id > 1 && j.id <= 40).map((j) => [managedJobKey(j.id), (j.id - 1) * 30]),
      'the next sequence number of each log',
    );
    for (const job of jobs) {
      const total = job.id <= 40 ? (job.id - 1) * 30 : 0;
      const lines = Math.min(1000, total);
      const seqs = disk.events.filter((key) => key.startsWith(managedJobKey(job.id) + '\x00')).map(seqOfEventKey);
      assert.deepEqual(seqs, Array.from({ length: lines }, (_, k) => total - lines + k), `log of job ${job.id}`);
    }
  });

  it('writes the spec, with its secrets, only under managed-job-specs, and deletes it when the job ends', async () => {
    const s = await open();
    const secret = 'hf_ThisIsTheSecret';
    const spec = makeManagedJobSpec({ tasks: [{ task: { run: 'train', secrets: { HF_TOKEN: secret } } }] });
    const job = await s.managedJobs.create(makeManagedJob(), spec);
    await s.managedJobs.appendEvents(job.id, [{ at: 1, text: 'launching' }]);
    await close(s);
    const raw = async (): Promise<string[]> => {
      const db = new Level<string, string>(path, { valueEncoding: 'utf8' });
      await db.open();
      try {
        return (await db.iterator().all()).filter(([, value]) => value.includes(secret)).map(([key]) => key);
      } finally {
        await db.close();
      }
    };
    assert.deepEqual(await raw(), [`!managed-job-specs!${managedJobKey(job.id)}`]);
    const again = await open();
    await again.managedJobs.update(job.id, 1, { status: 'CANCELLED', endedAt: 2 });
    await close(again);
    assert.deepEqual(await raw(), []);
  });

  it('refuses a user or request id that cannot be a key part, storing nothing', async () => {
    const s = await open();
    for (const bad of [{ user: '' }, { user: 'u\x00x' }, { requestId: '' }, { requestId: 'r\x00' }]) {
      await assert.rejects(s.managedJobs.create(makeManagedJob(bad), makeManagedJobSpec()), isSkyError('VALIDATION_FAILED'));
    }
    assert.deepEqual(await s.managedJobs.list(), []);
    assert.equal((await s.managedJobs.create(makeManagedJob(), makeManagedJobSpec())).id, 1);
    assert.deepEqual(await s.managedJobs.list({ user: 'u\x00x' }), []);
    assert.deepEqual(await s.managedJobs.list({ requestId: '' }), []);
  });

  it('holds only the jobs not ended on the heap, and the log positions of those', async () => {
    const s = await open();
    const a = await s.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
    const b = await s.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
    await s.managedJobs.appendEvents(a.id, [{ at: 1, text: 'x' }]);
    assert.equal(s.inMemory().activeManagedJobs, 2);
    assert.equal(s.inMemory().managedJobLogSequences, 2);
    await s.managedJobs.update(a.id, 1, { status: 'SUCCEEDED' });
    await s.managedJobs.appendEvents(a.id, [{ at: 2, text: 'cluster down' }]);
    await s.managedJobs.update(b.id, 1, { status: 'FAILED_CONTROLLER' });
    assert.equal(s.inMemory().activeManagedJobs, 0);
    assert.equal(s.inMemory().managedJobLogSequences, 0);
    assert.deepEqual(await s.managedJobs.events(a.id), [
      { at: 1, text: 'x' },
      { at: 2, text: 'cluster down' },
    ]);
  });
});

describe('LevelStateStore managed job listings', () => {
  const USERS = 4;
  const JOBS = 2400;

  /** JOBS managed jobs of USERS users; every 50th is still running; each with a controller log. */
  async function seed(): Promise<ManagedJobRecord[]> {
    const s = await open();
    const created = await Promise.all(
      Array.from({ length: JOBS }, (_, i) => s.managedJobs.create(makeManagedJob({ user: `u-${i % USERS}`, name: `job-${i}` }), makeManagedJobSpec())),
    );
    created.sort((a, b) => a.id - b.id);
    const jobs = await Promise.all(created.map((job) => s.managedJobs.update(job.id, 1, { status: job.id % 50 === 0 ? 'RUNNING' : 'SUCCEEDED' })));
    await Promise.all(created.map((job) => s.managedJobs.appendEvents(job.id, [{ at: 1, text: 'launched' }, { at: 2, text: 'done' }])));
    await close(s);
    return jobs.map((job) => job as ManagedJobRecord);
  }

  it('never reads a controller log', async () => {
    const jobs = await seed();
    const broken = await corrupt(
      'managedJobEvents',
      jobs.flatMap((j) => [managedJobEventKey(j.id, 0), managedJobEventKey(j.id, 1)]),
    );
    assert.equal(broken, JOBS * 2);
    const s = await open();
    assert.equal((await s.managedJobs.list()).length, JOBS);
    assert.equal((await s.managedJobs.list({ user: 'u-1' })).length, JOBS / USERS);
    assert.equal((await s.managedJobs.list({ active: true })).length, JOBS / 50);
    assert.equal((await s.managedJobs.list({ requestId: jobs[7]!.requestId })).length, 1);
    await assert.rejects(s.managedJobs.events(1), 'the log itself is what was broken');
  });

  it('reads only the records it returns through the user, active and request indexes', async () => {
    const jobs = await seed();
    const newest = [...jobs].sort((a, b) => b.id - a.id);
    const keep = new Set<number>([
      ...newest.filter((j) => j.user === 'u-2').slice(0, 25).map((j) => j.id),
      ...jobs.filter((j) => !isManagedJobTerminal(j.status)).map((j) => j.id),
      jobs[1234]!.id,
    ]);
    // Every other record is unreadable: a listing that scanned them would fail.
    await corrupt(
      'managedJobs',
      jobs.filter((j) => !keep.has(j.id)).map((j) => managedJobKey(j.id)),
    );
    const s = await open();
    assert.deepEqual(await s.managedJobs.list({ user: 'u-2', limit: 25 }), newest.filter((j) => j.user === 'u-2').slice(0, 25));
    assert.deepEqual(await s.managedJobs.list({ active: true }), newest.filter((j) => !isManagedJobTerminal(j.status)));
    assert.deepEqual(await s.managedJobs.list({ active: true, user: 'u-0', limit: 3 }), newest.filter((j) => j.user === 'u-0' && !isManagedJobTerminal(j.status)).slice(0, 3));
    assert.deepEqual(await s.managedJobs.list({ requestId: jobs[1234]!.requestId }), [jobs[1234]]);
    await assert.rejects(s.managedJobs.list({ user: 'u-2' }), 'a listing past the limit does read the other records');
  });
});
