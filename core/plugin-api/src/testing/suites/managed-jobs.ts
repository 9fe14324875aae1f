import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MANAGED_JOB_STATUSES, MANAGED_JOB_TERMINAL, isManagedJobTerminal } from '@sky/protocol';
import type { ManagedJobEvent, ManagedJobRecord, ManagedJobStatus } from '@sky/protocol';
import type { ManagedJobFilter, ManagedJobPatch, StateStore, StoreChange } from '../../store.js';
import { makeManagedJob, makeManagedJobSpec } from '../fixtures.js';
import { rejectsWithCode, requireReopen, shuffled, type StoreHarness } from './harness.js';

type NewManagedJob = Omit<ManagedJobRecord, 'id' | 'version'>;

const ACTIVE: readonly ManagedJobStatus[] = MANAGED_JOB_STATUSES.filter((s) => !isManagedJobTerminal(s));
const CAP = 1000;

/** A managed job with every optional field set: a two-task pipeline, non-ASCII text. */
function fullManagedJob(overrides: Partial<NewManagedJob> = {}): NewManagedJob {
  return makeManagedJob({
    name: 'pipe-✨',
    user: 'u-bob',
    userName: 'bøb',
    workspace: 'ml-team',
    status: 'RECOVERING',
    reason: 'node lost: "head" stopped answering\nretrying',
    submittedAt: 1_700_000_000_000,
    endedAt: 1_700_000_009_000,
    recoveringSince: 1_700_000_005_000,
    currentTask: 1,
    attempts: 3,
    tasks: [
      {
        index: 0,
        name: 'prep',
        resources: '1x local(cpus=2, mem=4GB)',
        status: 'SUCCEEDED',
        infra: 'local',
        startedAt: 1_700_000_001_000,
        endedAt: 1_700_000_002_000,
        runningMs: 1000,
        exitCodes: [0, null],
        recoveries: 0,
        restarts: 1,
      },
      {
        index: 1,
        resources: '2x ssh(cpus=8, A100:8)',
        status: 'RECOVERING',
        cluster: 'sky-jobs-7-bob',
        clusterJobId: 4,
        infra: 'ssh/pool-a',
        startedAt: 1_700_000_003_000,
        runningMs: 2500,
        runningSince: 1_700_000_004_000,
        recoveries: 2,
        restarts: 0,
      },
    ],
    ...overrides,
  });
}

function events(from: number, count: number, prefix = 'line'): ManagedJobEvent[] {
  return Array.from({ length: count }, (_, i) => ({ at: 1_700_000_000_000 + from + i, text: `${prefix} ${from + i}` }));
}

async function ids(store: StateStore, filter?: ManagedJobFilter): Promise<number[]> {
  return (await store.managedJobs.list(filter)).map((job) => job.id);
}

/** Create a job and move it to `status` (through one update when it is not PENDING). */
async function jobIn(store: StateStore, status: ManagedJobStatus, overrides: Partial<NewManagedJob> = {}): Promise<ManagedJobRecord> {
  const created = await store.managedJobs.create(makeManagedJob(overrides), makeManagedJobSpec());
  if (status === 'PENDING') return created;
  const moved = await store.managedJobs.update(created.id, created.version, { status, ...(isManagedJobTerminal(status) ? { endedAt: 5 } : {}) });
  assert.ok(moved !== undefined);
  return moved;
}

function collect(store: StateStore): StoreChange[] {
  const changes: StoreChange[] = [];
  store.subscribe((change) => changes.push(change));
  return changes;
}

const change = (record: ManagedJobRecord): StoreChange => ({ kind: 'managedJob', id: record.id, record });

export function describeManagedJobs(h: StoreHarness): void {
  describe('managed jobs: create and get', () => {
    it('assigns ids 1, 2, 3, ... at version 1', async () => {
      const created: ManagedJobRecord[] = [];
      for (let i = 0; i < 5; i++) created.push(await h.store.managedJobs.create(makeManagedJob({ name: `j${i}` }), makeManagedJobSpec()));
      assert.deepEqual(
        created.map((j) => [j.id, j.version, j.name]),
        [
          [1, 1, 'j0'],
          [2, 1, 'j1'],
          [3, 1, 'j2'],
          [4, 1, 'j3'],
          [5, 1, 'j4'],
        ],
      );
      for (const job of created) assert.deepEqual(await h.store.managedJobs.get(job.id), job);
    });

    it('hands out distinct consecutive ids to concurrent creates', async () => {
      const created = await Promise.all(Array.from({ length: 100 }, (_, i) => h.store.managedJobs.create(makeManagedJob({ name: `c${i}` }), makeManagedJobSpec())));
      assert.deepEqual(
        created.map((j) => j.id).sort((a, b) => a - b),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      for (const job of shuffled(created)) assert.deepEqual(await h.store.managedJobs.get(job.id), job);
    });

    it('round-trips every field', async () => {
      const input = fullManagedJob();
      const created = await h.store.managedJobs.create(input, makeManagedJobSpec());
      assert.deepEqual(created, { ...input, id: 1, version: 1 });
      assert.deepEqual(await h.store.managedJobs.get(1), created);
    });

    it('assigns the id and version itself, whatever the input carries', async () => {
      const sneaky = { ...makeManagedJob(), id: 42, version: 9 } as NewManagedJob;
      const created = await h.store.managedJobs.create(sneaky, makeManagedJobSpec());
      assert.equal(created.id, 1);
      assert.equal(created.version, 1);
      assert.equal(await h.store.managedJobs.get(42), undefined);
    });

    it('shares no objects with the caller', async () => {
      const input = fullManagedJob();
      const spec = makeManagedJobSpec();
      const created = await h.store.managedJobs.create(input, spec);
      const firstTask = input.tasks[0];
      assert.ok(firstTask !== undefined);
      firstTask.status = 'FAILED';
      input.tasks.push({ ...firstTask, index: 9 });
      spec.tasks.length = 0;
      created.tasks.length = 0;
      const stored = await h.store.managedJobs.get(1);
      assert.equal(stored?.tasks.length, 2);
      assert.equal(stored?.tasks[0]?.status, 'SUCCEEDED');
      assert.deepEqual(await h.store.managedJobs.getSpec(1), makeManagedJobSpec());
      stored?.tasks.pop();
      assert.equal((await h.store.managedJobs.get(1))?.tasks.length, 2);
      const listed = await h.store.managedJobs.list();
      listed[0]?.tasks.pop();
      assert.equal((await h.store.managedJobs.get(1))?.tasks.length, 2);
    });

    it('finds nothing for ids it never handed out', async () => {
      await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      for (const id of [0, -1, 1.5, 2, 99, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
        assert.equal(await h.store.managedJobs.get(id), undefined, `get(${id})`);
        assert.equal(await h.store.managedJobs.getSpec(id), undefined, `getSpec(${id})`);
        assert.equal(await h.store.managedJobs.update(id, 1, { status: 'RUNNING' }), undefined, `update(${id})`);
        await h.store.managedJobs.appendEvents(id, events(0, 1));
        assert.deepEqual(await h.store.managedJobs.events(id), [], `events(${id})`);
      }
    });

    it('never reuses an id, also after a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      await jobIn(h.store, 'PENDING');
      await jobIn(h.store, 'SUCCEEDED');
      await jobIn(h.store, 'CANCELLED');
      const store = await h.reopen();
      assert.equal((await store.managedJobs.create(makeManagedJob(), makeManagedJobSpec())).id, 4);
      const again = await h.reopen();
      const more = await Promise.all(Array.from({ length: 5 }, () => again.managedJobs.create(makeManagedJob(), makeManagedJobSpec())));
      assert.deepEqual(
        more.map((j) => j.id).sort((a, b) => a - b),
        [5, 6, 7, 8, 9],
      );
    });
  });

  describe('managed jobs: specs', () => {
    it('keeps the spec while the job has not ended, through every active status', async () => {
      const spec = makeManagedJobSpec({
        tasks: [
          { task: { name: 'a', run: 'echo 🚀', envs: { A: '1' }, secrets: { KEY: 'v' } }, uploads: { workdir: `up-${'a'.repeat(64)}` } },
          { task: { name: 'b', resources: { accelerators: 'A100:8' } }, uploads: { file_mounts: { '/data': `up-${'b'.repeat(64)}` } } },
        ],
      });
      let job = await h.store.managedJobs.create(makeManagedJob(), spec);
      for (const status of ACTIVE) {
        const next = await h.store.managedJobs.update(job.id, job.version, { status });
        assert.ok(next !== undefined);
        job = next;
        assert.deepEqual(await h.store.managedJobs.getSpec(job.id), spec, `spec while ${status}`);
      }
    });

    for (const terminal of MANAGED_JOB_TERMINAL) {
      it(`drops the spec when the job moves to ${terminal}, and keeps others'`, async () => {
        const other = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
        const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
        const running = await h.store.managedJobs.update(job.id, 1, { status: 'RUNNING' });
        assert.ok(running !== undefined);
        assert.ok(await h.store.managedJobs.update(job.id, running.version, { status: terminal, endedAt: 9 }));
        assert.equal(await h.store.managedJobs.getSpec(job.id), undefined);
        assert.deepEqual(await h.store.managedJobs.getSpec(other.id), makeManagedJobSpec());
      });
    }

    it('keeps no spec for a job created already ended, nor for one that leaves a terminal status', async () => {
      const ended = await h.store.managedJobs.create(makeManagedJob({ status: 'FAILED_CONTROLLER', endedAt: 3 }), makeManagedJobSpec());
      assert.equal(await h.store.managedJobs.getSpec(ended.id), undefined);
      const revived = await h.store.managedJobs.update(ended.id, 1, { status: 'PENDING', endedAt: undefined });
      assert.equal(revived?.status, 'PENDING');
      assert.equal(await h.store.managedJobs.getSpec(ended.id), undefined);
    });

    it('keeps the spec when a terminal update loses its compare-and-set', async () => {
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      await h.store.managedJobs.update(job.id, 1, { status: 'RUNNING' });
      assert.equal(await h.store.managedJobs.update(job.id, 1, { status: 'CANCELLED' }), undefined);
      assert.deepEqual(await h.store.managedJobs.getSpec(job.id), makeManagedJobSpec());
    });

    it('keeps specs (and their absence) across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const live = await jobIn(h.store, 'RUNNING');
      const done = await jobIn(h.store, 'SUCCEEDED');
      const store = await h.reopen();
      assert.deepEqual(await store.managedJobs.getSpec(live.id), makeManagedJobSpec());
      assert.equal(await store.managedJobs.getSpec(done.id), undefined);
      assert.ok(await store.managedJobs.update(live.id, live.version, { status: 'FAILED', endedAt: 4 }));
      assert.equal(await store.managedJobs.getSpec(live.id), undefined);
      const again = await h.reopen();
      assert.equal(await again.managedJobs.getSpec(live.id), undefined);
    });
  });

  describe('managed jobs: update', () => {
    it('applies the patch at the expected version and moves the version up by one', async () => {
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      const tasks = [{ ...fullManagedJob().tasks[1]!, index: 0, status: 'RUNNING' as const }];
      const next = await h.store.managedJobs.update(job.id, 1, { status: 'RUNNING', currentTask: 0, attempts: 1, tasks, name: 'renamed' });
      assert.deepEqual(next, { ...job, status: 'RUNNING', attempts: 1, tasks, name: 'renamed', version: 2 });
      assert.deepEqual(await h.store.managedJobs.get(job.id), next);
      const third = await h.store.managedJobs.update(job.id, 2, { reason: 'waiting for a node' });
      assert.equal(third?.version, 3);
      assert.equal(third?.reason, 'waiting for a node');
      assert.equal(third?.status, 'RUNNING');
    });

    it('changes nothing at another version, or for a missing job', async () => {
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      const changes = collect(h.store);
      for (const version of [0, 2, -1, 1.5]) assert.equal(await h.store.managedJobs.update(job.id, version, { status: 'FAILED', reason: 'x' }), undefined);
      assert.equal(await h.store.managedJobs.update(job.id + 1, 1, { status: 'RUNNING' }), undefined);
      assert.deepEqual(await h.store.managedJobs.get(job.id), job);
      assert.deepEqual(await h.store.managedJobs.getSpec(job.id), makeManagedJobSpec());
      assert.deepEqual(await ids(h.store, { active: true }), [job.id]);
      assert.deepEqual(changes, []);
    });

    it('lets exactly one of several updates racing from one version win', async () => {
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h.store.managedJobs.update(job.id, 1, i % 2 === 0 ? { status: 'CANCELLED', endedAt: i } : { status: 'RUNNING', attempts: i })),
      );
      const won = results.filter((r) => r !== undefined);
      assert.equal(won.length, 1);
      assert.deepEqual(await h.store.managedJobs.get(job.id), won[0]);
      assert.equal(won[0]?.version, 2);
    });

    it('removes reason, endedAt and recoveringSince given as undefined, and ignores undefined for other fields', async () => {
      const job = await h.store.managedJobs.create(fullManagedJob({ status: 'RECOVERING' }), makeManagedJobSpec());
      const patch: ManagedJobPatch = { reason: undefined, endedAt: undefined, recoveringSince: undefined, status: undefined, tasks: undefined, currentTask: undefined, attempts: undefined };
      const next = await h.store.managedJobs.update(job.id, 1, patch);
      const { reason: _r, endedAt: _e, recoveringSince: _s, ...rest } = job;
      assert.deepEqual(next, { ...rest, version: 2 });
      assert.deepEqual(await h.store.managedJobs.get(job.id), next);
      assert.equal(next !== undefined && 'reason' in next, false);
      const unchanged = await h.store.managedJobs.update(job.id, 2, {});
      assert.deepEqual(unchanged, { ...rest, version: 3 });
    });

    it('never changes the fields a patch may not set', async () => {
      const job = await h.store.managedJobs.create(makeManagedJob({ user: 'u-owner', requestId: 'req-fixed' }), makeManagedJobSpec());
      const sneaky = { id: 77, version: 50, user: 'u-other', userName: 'mallory', workspace: 'else', requestId: 'req-other', submittedAt: 1, status: 'RUNNING' } as ManagedJobPatch;
      const next = await h.store.managedJobs.update(job.id, 1, sneaky);
      assert.deepEqual(next, { ...job, status: 'RUNNING', version: 2 });
      assert.deepEqual(await ids(h.store, { user: 'u-owner' }), [job.id]);
      assert.deepEqual(await ids(h.store, { user: 'u-other' }), []);
      assert.deepEqual(await ids(h.store, { requestId: 'req-fixed' }), [job.id]);
      assert.equal(await h.store.managedJobs.get(77), undefined);
    });

    it('copies the patch: changing it afterwards changes nothing stored', async () => {
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      const tasks = fullManagedJob().tasks;
      const pending = h.store.managedJobs.update(job.id, 1, { tasks });
      tasks.length = 0;
      const next = await pending;
      assert.equal(next?.tasks.length, 2);
      next?.tasks.pop();
      assert.equal((await h.store.managedJobs.get(job.id))?.tasks.length, 2);
    });

    it('keeps updates across a reopen, with compare-and-set on the stored version', async (t) => {
      if (!requireReopen(h, t)) return;
      const job = await jobIn(h.store, 'RUNNING');
      const store = await h.reopen();
      assert.deepEqual(await store.managedJobs.get(job.id), job);
      assert.equal(await store.managedJobs.update(job.id, 1, { status: 'FAILED' }), undefined);
      const next = await store.managedJobs.update(job.id, job.version, { status: 'RECOVERING', recoveringSince: 7 });
      assert.equal(next?.version, job.version + 1);
      const again = await h.reopen();
      assert.deepEqual(await again.managedJobs.get(job.id), next);
    });
  });

  describe('managed jobs: list', () => {
    it('lists newest first, filtered by user, active and request, cut to the limit', async () => {
      const made: ManagedJobRecord[] = [];
      const statuses: ManagedJobStatus[] = [...MANAGED_JOB_STATUSES, 'RUNNING', 'SUCCEEDED', 'PENDING'];
      for (const [i, status] of statuses.entries()) made.push(await jobIn(h.store, status, { user: `u-${i % 3}`, userName: `user ${i % 3}` }));
      const expect = (filter: ManagedJobFilter): number[] => {
        const found = made
          .filter((j) => filter.user === undefined || j.user === filter.user)
          .filter((j) => filter.active !== true || !isManagedJobTerminal(j.status))
          .filter((j) => filter.requestId === undefined || j.requestId === filter.requestId)
          .map((j) => j.id)
          .sort((a, b) => b - a);
        return filter.limit === undefined ? found : found.slice(0, filter.limit);
      };
      const third = made[3];
      assert.ok(third !== undefined);
      const filters: ManagedJobFilter[] = [
        {},
        { active: false },
        { active: true },
        { user: 'u-1' },
        { user: 'u-2', active: true },
        { user: 'nobody' },
        { limit: 1 },
        { limit: 4 },
        { limit: 1000 },
        { active: true, limit: 2 },
        { user: 'u-0', limit: 2 },
        { user: 'u-0', active: true, limit: 1 },
        { requestId: third.requestId },
        { requestId: third.requestId, user: third.user },
        { requestId: third.requestId, user: 'u-not-its-owner' },
        { requestId: third.requestId, active: true, limit: 1 },
        { requestId: 'req-none' },
      ];
      for (const filter of filters) assert.deepEqual(await ids(h.store, filter), expect(filter), JSON.stringify(filter));
      assert.deepEqual(await h.store.managedJobs.list(), [...made].sort((a, b) => b.id - a.id));
    });

    it('returns the records as stored, the active ones current', async () => {
      const a = await jobIn(h.store, 'PENDING', { user: 'u-a' });
      const b = await jobIn(h.store, 'SUCCEEDED', { user: 'u-a' });
      const moved = await h.store.managedJobs.update(a.id, a.version, { status: 'STARTING', tasks: fullManagedJob().tasks });
      for (const filter of [{}, { user: 'u-a' }, { active: true }, { requestId: a.requestId }] satisfies ManagedJobFilter[]) {
        const listed = await h.store.managedJobs.list(filter);
        assert.deepEqual(
          listed.find((j) => j.id === a.id),
          moved,
          JSON.stringify(filter),
        );
      }
      assert.deepEqual(await h.store.managedJobs.list({ user: 'u-a' }), [b, moved]);
    });

    it('follows jobs in and out of the active list', async () => {
      const a = await jobIn(h.store, 'RUNNING', { user: 'u-a' });
      const b = await jobIn(h.store, 'PENDING', { user: 'u-b' });
      assert.deepEqual(await ids(h.store, { active: true }), [b.id, a.id]);
      const ended = await h.store.managedJobs.update(a.id, a.version, { status: 'FAILED_NO_RESOURCE', endedAt: 3 });
      assert.deepEqual(await ids(h.store, { active: true }), [b.id]);
      assert.deepEqual(await ids(h.store, { active: true, user: 'u-a' }), []);
      assert.ok(ended !== undefined);
      await h.store.managedJobs.update(a.id, ended.version, { status: 'RECOVERING', endedAt: undefined });
      assert.deepEqual(await ids(h.store, { active: true }), [b.id, a.id]);
      assert.deepEqual(await ids(h.store, { active: true, user: 'u-a' }), [a.id]);
      assert.deepEqual(await ids(h.store), [b.id, a.id]);
    });

    it('refuses a limit that is not a positive whole number', async () => {
      await jobIn(h.store, 'PENDING');
      for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        await rejectsWithCode(h.store.managedJobs.list({ limit }), 'VALIDATION_FAILED');
        await rejectsWithCode(h.store.managedJobs.list({ user: 'u-alice', active: true, limit }), 'VALIDATION_FAILED');
      }
    });

    it('lists a few hundred jobs of several users consistently with get', async () => {
      const made = await Promise.all(
        Array.from({ length: 300 }, (_, i) => h.store.managedJobs.create(makeManagedJob({ user: `u-${i % 4}`, name: `n${i}` }), makeManagedJobSpec())),
      );
      const byId = new Map(made.map((j) => [j.id, j]));
      for (const job of shuffled(made, 3).slice(0, 120)) {
        const status = MANAGED_JOB_TERMINAL[job.id % MANAGED_JOB_TERMINAL.length] as ManagedJobStatus;
        const next = await h.store.managedJobs.update(job.id, 1, { status });
        assert.ok(next !== undefined);
        byId.set(job.id, next);
      }
      const all = [...byId.values()].sort((a, b) => b.id - a.id);
      assert.deepEqual(await h.store.managedJobs.list(), all);
      for (const user of ['u-0', 'u-3']) {
        assert.deepEqual(await h.store.managedJobs.list({ user }), all.filter((j) => j.user === user));
        assert.deepEqual(await h.store.managedJobs.list({ user, limit: 10 }), all.filter((j) => j.user === user).slice(0, 10));
        assert.deepEqual(await h.store.managedJobs.list({ user, active: true }), all.filter((j) => j.user === user && !isManagedJobTerminal(j.status)));
      }
      assert.deepEqual(await h.store.managedJobs.list({ active: true, limit: 25 }), all.filter((j) => !isManagedJobTerminal(j.status)).slice(0, 25));
    });

    it('lists the same after a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const made: ManagedJobRecord[] = [];
      for (const [i, status] of MANAGED_JOB_STATUSES.entries()) made.push(await jobIn(h.store, status, { user: `u-${i % 2}` }));
      const filters: ManagedJobFilter[] = [{}, { active: true }, { user: 'u-1' }, { user: 'u-0', active: true, limit: 2 }, { requestId: made[4]?.requestId ?? '' }, { limit: 3 }];
      const before = await Promise.all(filters.map((f) => h.store.managedJobs.list(f)));
      const store = await h.reopen();
      const after = await Promise.all(filters.map((f) => store.managedJobs.list(f)));
      assert.deepEqual(after, before);
    });
  });

  describe('managed jobs: controller log', () => {
    it('appends lines in order and reads them oldest first', async () => {
      const job = await jobIn(h.store, 'PENDING');
      const other = await jobIn(h.store, 'PENDING');
      await h.store.managedJobs.appendEvents(job.id, events(0, 3));
      await h.store.managedJobs.appendEvents(other.id, events(0, 1, 'other'));
      await h.store.managedJobs.appendEvents(job.id, []);
      await h.store.managedJobs.appendEvents(job.id, [{ at: 9, text: 'multi\nline "quoted" ✨' }, { at: 9, text: '' }]);
      assert.deepEqual(await h.store.managedJobs.events(job.id), [...events(0, 3), { at: 9, text: 'multi\nline "quoted" ✨' }, { at: 9, text: '' }]);
      assert.deepEqual(await h.store.managedJobs.events(other.id), events(0, 1, 'other'));
      assert.deepEqual(await h.store.managedJobs.events(job.id + 100), []);
    });

    it('keeps the lines of concurrent appends, each call in its own order', async () => {
      const job = await jobIn(h.store, 'RUNNING');
      await Promise.all(Array.from({ length: 50 }, (_, i) => h.store.managedJobs.appendEvents(job.id, events(i * 2, 2, `call ${i}`))));
      const got = await h.store.managedJobs.events(job.id);
      assert.equal(got.length, 100);
      for (let i = 0; i < 50; i++) {
        const mine = got.filter((e) => e.text.startsWith(`call ${i} `)).map((e) => e.text);
        assert.deepEqual(mine, [`call ${i} ${i * 2}`, `call ${i} ${i * 2 + 1}`]);
      }
    });

    it('keeps the last 1,000 lines', async () => {
      const job = await jobIn(h.store, 'RUNNING');
      const sizes = [400, 1, 550, 48, 2, 300];
      let from = 0;
      for (const size of sizes) {
        await h.store.managedJobs.appendEvents(job.id, events(from, size));
        from += size;
        const got = await h.store.managedJobs.events(job.id);
        assert.deepEqual(got, events(Math.max(0, from - CAP), Math.min(from, CAP)), `after ${from} lines`);
      }
      await h.store.managedJobs.appendEvents(job.id, events(from, 2500));
      from += 2500;
      assert.deepEqual(await h.store.managedJobs.events(job.id), events(from - CAP, CAP));
      const fresh = await jobIn(h.store, 'PENDING');
      await h.store.managedJobs.appendEvents(fresh.id, events(0, 1001));
      assert.deepEqual(await h.store.managedJobs.events(fresh.id), events(1, CAP));
    });

    it('appends to an ended job and leaves its record alone', async () => {
      const job = await jobIn(h.store, 'RUNNING');
      await h.store.managedJobs.appendEvents(job.id, events(0, 2));
      const ended = await h.store.managedJobs.update(job.id, job.version, { status: 'SUCCEEDED', endedAt: 5 });
      const changes = collect(h.store);
      await h.store.managedJobs.appendEvents(job.id, events(2, 2));
      assert.deepEqual(await h.store.managedJobs.events(job.id), events(0, 4));
      assert.deepEqual(await h.store.managedJobs.get(job.id), ended);
      assert.deepEqual(changes, [], 'appending to the controller log is not a change of the record');
    });

    it('shares no objects with the caller and stores only at and text', async () => {
      const job = await jobIn(h.store, 'PENDING');
      const input = [{ at: 1, text: 'one', extra: 'dropped' }] as unknown as ManagedJobEvent[];
      await h.store.managedJobs.appendEvents(job.id, input);
      (input[0] as { text: string }).text = 'changed';
      const got = await h.store.managedJobs.events(job.id);
      assert.deepEqual(got, [{ at: 1, text: 'one' }]);
      (got[0] as { text: string }).text = 'changed';
      assert.deepEqual(await h.store.managedJobs.events(job.id), [{ at: 1, text: 'one' }]);
    });

    it('keeps the log and its cap across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const live = await jobIn(h.store, 'RUNNING');
      const done = await jobIn(h.store, 'FAILED');
      await h.store.managedJobs.appendEvents(live.id, events(0, 990));
      await h.store.managedJobs.appendEvents(done.id, events(0, 5));
      const store = await h.reopen();
      assert.deepEqual(await store.managedJobs.events(live.id), events(0, 990));
      await store.managedJobs.appendEvents(live.id, events(990, 20));
      await store.managedJobs.appendEvents(done.id, events(5, 1));
      assert.deepEqual(await store.managedJobs.events(live.id), events(10, CAP));
      const again = await h.reopen();
      assert.deepEqual(await again.managedJobs.events(live.id), events(10, CAP));
      assert.deepEqual(await again.managedJobs.events(done.id), events(0, 6));
      await again.managedJobs.appendEvents(live.id, events(1010, 1));
      assert.deepEqual(await again.managedJobs.events(live.id), events(11, CAP));
    });
  });

  describe('managed jobs: change feed', () => {
    it('delivers creates and updates with the committed record', async () => {
      const changes = collect(h.store);
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      assert.equal(changes.length, 1, 'delivered by the time create resolves');
      const running = await h.store.managedJobs.update(job.id, 1, { status: 'RUNNING', reason: 'r' });
      assert.equal(changes.length, 2, 'delivered by the time update resolves');
      const cleared = await h.store.managedJobs.update(job.id, 2, { status: 'SUCCEEDED', reason: undefined, endedAt: 3 });
      assert.ok(running !== undefined && cleared !== undefined);
      assert.deepEqual(changes, [change(job), change(running), change(cleared)]);
    });

    it('lets a listener read the change from the store', async () => {
      const reads: Array<Promise<[StoreChange, unknown]>> = [];
      h.store.subscribe((c) => {
        if (c.kind === 'managedJob') reads.push(h.store.managedJobs.get(c.id).then((got) => [c, got]));
      });
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      await h.store.managedJobs.update(job.id, 1, { status: 'CANCELLING' });
      await h.store.managedJobs.update(job.id, 2, { status: 'CANCELLED', endedAt: 3 });
      const settled = await Promise.all(reads);
      assert.equal(settled.length, 3);
      for (const [c, got] of settled) assert.deepEqual(got, c.record);
    });

    it('delivers concurrent writes in commit order, only the ones that won', async () => {
      const changes = collect(h.store);
      const jobs = await Promise.all(Array.from({ length: 50 }, () => h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec())));
      assert.deepEqual(
        changes.map((c) => (c.kind === 'managedJob' ? c.id : -1)),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      changes.length = 0;
      const results = await Promise.all(
        jobs.flatMap((j) => [h.store.managedJobs.update(j.id, 1, { status: 'RUNNING' }), h.store.managedJobs.update(j.id, 1, { status: 'CANCELLED' })]),
      );
      assert.deepEqual(
        changes.map((c) => c.record),
        results.filter((r) => r !== undefined),
      );
      assert.equal(changes.length, 50);
    });

    it('gives each listener its own copy, and survives a listener that throws', async () => {
      h.store.subscribe((c) => {
        if (c.kind === 'managedJob') c.record.tasks.length = 0;
        throw new Error('listener on fire');
      });
      const changes = collect(h.store);
      const job = await h.store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
      assert.equal(job.tasks.length, 1);
      assert.deepEqual(changes, [change(job)]);
      assert.deepEqual(await h.store.managedJobs.get(job.id), job);
      assert.equal((await h.store.managedJobs.update(job.id, 1, { status: 'RUNNING' }))?.version, 2);
    });

    it('delivers the writes of a reopened store to its subscribers', async (t) => {
      if (!requireReopen(h, t)) return;
      const job = await jobIn(h.store, 'PENDING');
      const store = await h.reopen();
      const changes = collect(store);
      const next = await store.managedJobs.update(job.id, 1, { status: 'STARTING' });
      assert.ok(next !== undefined);
      assert.deepEqual(changes, [change(next)]);
    });
  });
}
