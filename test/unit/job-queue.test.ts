// The job queue's decisions, driven by an injectable clock and a recording node runtime (no
// node, no sleep): FIFO with fit, gang start, a finished job freeing room for the next in the
// same pass, the unreachable grace, and replayed journal events changing nothing.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { DependencyContainer } from 'tsyringe';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { SkyError, type ClusterRecord, type JobRecord, type NodeRecord } from '@sky/protocol';
import { compose, DaemonConfigSchema } from '@sky/daemon';
import { JobQueue } from '../../core/daemon/src/clusters/job-queue.js';
import { JobEvents } from '../../core/daemon/src/clusters/job-events.js';
import { NodeRuntime, type JobState, type RankRef, type RankSpec } from '../../core/daemon/src/nodes/node-runtime.js';
import type { NodeTransport } from '../../core/daemon/src/nodes/transport.js';
import type { Driver, NodeStatusReport, ProvisionedCluster } from '@sky/plugin-api';
import type { PluginRegistry } from '../../core/daemon/src/tokens.js';
import { noPlugins } from '../helpers/in-process.js';

/** Records what the queue asks of nodes; answers status from `states` (RUNNING by default). */
class RecordingRuntime extends NodeRuntime {
  readonly started: Array<{ node: string; spec: RankSpec }> = [];
  readonly cancelled: Array<{ node: string; ref: RankRef }> = [];
  readonly states = new Map<string, JobState>();
  readonly unreachable = new Set<string>();
  /** Status reads asked of nodes. */
  statusReads = 0;
  /** Runs while a rank is being started (before start returns). */
  duringStart: ((spec: RankSpec) => Promise<void>) | undefined;

  override async start(_t: NodeTransport, node: string, spec: RankSpec): Promise<number> {
    this.started.push({ node, spec });
    await this.duringStart?.(spec);
    return 1000 + this.started.length;
  }

  override async status(_t: NodeTransport, node: string, ranks: readonly RankRef[]): Promise<JobState[]> {
    this.statusReads += 1;
    if (this.unreachable.has(node)) throw new SkyError('NODE_UNREACHABLE', `cannot connect to ${node}`);
    return ranks.map((r) => this.states.get(`${r.job}/${r.rank}`) ?? { status: 'RUNNING', exitCode: null });
  }

  override async cancel(_t: NodeTransport, node: string, ranks: readonly RankRef[]): Promise<JobState[]> {
    for (const ref of ranks) {
      this.cancelled.push({ node, ref });
      this.states.set(`${ref.job}/${ref.rank}`, { status: 'CANCELLED', exitCode: 143 });
    }
    return ranks.map(() => ({ status: 'CANCELLED', exitCode: 143 }));
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function sshNode(rank: number, cpus: number): NodeRecord {
  return {
    id: `n${rank}`,
    rank,
    address: `10.9.0.${rank + 1}`,
    reach: { kind: 'ssh', host: `10.9.0.${rank + 1}`, port: 22, user: 'u' },
    resources: { cpus, memoryGb: 8, accelerators: [] },
  };
}

interface World {
  clock: { t: number; now(): number };
  store: MemoryStateStore;
  runtime: RecordingRuntime;
  queue: JobQueue;
  events: JobEvents;
  cluster: ClusterRecord;
}

/** A stand-in ssh driver whose status answers from `gone` (node id → why it is TERMINATED). */
function statusDriver(gone: Map<string, string>): PluginRegistry {
  const driver = {
    capacity: async () => ({ total: { cpus: 0, memoryGb: 0, accelerators: [] }, free: { cpus: 0, memoryGb: 0, accelerators: [] } }),
    provision: async () => ({ nodes: [], state: null }),
    status: async (cluster: ProvisionedCluster): Promise<NodeStatusReport[]> =>
      cluster.nodes.map((n) => (gone.has(n.id) ? { nodeId: n.id, status: 'TERMINATED' as const, reason: gone.get(n.id)! } : { nodeId: n.id, status: 'UP' as const })),
    stop: async () => undefined,
    start: async (c: ProvisionedCluster) => c,
    terminate: async () => undefined,
  } satisfies Driver;
  return { ...noPlugins, drivers: () => new Map([['ssh', driver]]) };
}

async function world(nodes: NodeRecord[], plugins: PluginRegistry = noPlugins): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'sky-jobqueue-'));
  dirs.push(dir);
  const clock = {
    t: 1_000_000,
    now(): number {
      return this.t;
    },
  };
  const store = new MemoryStateStore();
  await store.open();
  const container: DependencyContainer = compose({
    config: DaemonConfigSchema.parse({ state_dir: dir, jobs: { unreachable_grace_seconds: 30 } }),
    paths: { stateDir: dir, storePath: join(dir, 'state'), logFile: join(dir, 'server.log'), pidFile: join(dir, 'daemon.json') },
    logger: pino({ level: 'silent' }),
    store,
    clock,
    plugins,
  });
  const runtime = new RecordingRuntime();
  container.register(NodeRuntime, { useValue: runtime });
  const events = container.resolve(JobEvents);
  // No journal is followed here: events are handed to apply() by the test.
  events.follow = async () => undefined;
  const queue = container.resolve(JobQueue);
  const { record: cluster } = await store.clusters.create({
    name: 'c', clusterId: 'c-1', owner: 'u-a', ownerName: 'a', workspace: 'default', driver: 'ssh', infra: 'ssh/p',
    status: 'UP', numNodes: nodes.length, nodes, resources: '', driverState: null, launchedAt: clock.t, updatedAt: clock.t, lastActiveAt: clock.t,
  });
  return { clock, store, runtime, queue, events, cluster };
}

async function submit(w: World, cpus: number, numNodes = 1): Promise<JobRecord> {
  return w.queue.submit(w.cluster, { user: 'u-a', userName: 'a', numNodes, demand: { cpus, memoryGb: 0, accelerators: [] } }, { run: 'true', envs: {}, secrets: {}, fileMounts: {} });
}

async function statuses(w: World): Promise<string[]> {
  const jobs = await w.store.jobs.list('c');
  return jobs.sort((a, b) => a.id - b.id).map((j) => `${j.id}:${j.status}`);
}

/** The scheduling passes submits and events ask for run on their own: wait until the store shows `want`. */
async function until(w: World, want: string[]): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (JSON.stringify(await statuses(w)) === JSON.stringify(want)) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(await statuses(w), want);
}

describe('job queue (injectable clock, recording runtime)', () => {
  let w: World;

  it('FIFO with fit: the first job that does not fit blocks the ones behind it', async () => {
    w = await world([sshNode(0, 2)]);
    await submit(w, 1);
    await submit(w, 2);
    await submit(w, 1);
    await until(w, ['1:SETTING_UP', '2:PENDING', '3:PENDING']);
    await w.queue.schedule('c');
    assert.deepEqual(await statuses(w), ['1:SETTING_UP', '2:PENDING', '3:PENDING'], 'job 3 would fit, but job 2 is first');
    assert.deepEqual(w.runtime.started.map((s) => s.spec.jobId), ['c-1-1']);
    assert.equal((await w.store.jobs.get('c', 1))?.startedAt, w.clock.t);
  });

  it('a finished job frees its resources and the next one starts in the pass its end event asks for', async () => {
    w = await world([sshNode(0, 2)]);
    await submit(w, 2);
    await submit(w, 2);
    await until(w, ['1:SETTING_UP', '2:PENDING']);
    w.clock.t += 5_000;
    await w.events.apply(['c-1-1-r0 0 RUNNING -', 'c-1-1-r0 0 SUCCEEDED 0']);
    await until(w, ['1:SUCCEEDED', '2:SETTING_UP']);
    const first = await w.store.jobs.get('c', 1);
    assert.equal(first?.endedAt, w.clock.t);
    assert.deepEqual(first?.exitCodes, [0]);
    assert.deepEqual(w.runtime.started.map((s) => s.spec.jobId), ['c-1-1', 'c-1-2']);
  });

  it('a job that ends while it is being started ends from its journal events once started, with no status read', async () => {
    w = await world([sshNode(0, 1)]);
    w.runtime.duringStart = async (spec) => {
      // A short job: its runner reports its run and its end before start has returned.
      await w.events.apply([`${spec.jobId}-r0 0 RUNNING -`, `${spec.jobId}-r0 0 FAILED 4`]);
    };
    await submit(w, 1);
    await submit(w, 1);
    await until(w, ['1:FAILED', '2:FAILED']);
    assert.deepEqual((await w.store.jobs.get('c', 1))?.exitCodes, [4]);
    assert.equal(w.runtime.statusReads, 0, 'the events were enough: no node was asked');
    assert.deepEqual(w.runtime.started.map((s) => s.spec.jobId), ['c-1-1', 'c-1-2'], 'the end freed the node for the next job');
  });

  it('a queue longer than one pass reads is started whole, in order', async () => {
    w = await world([sshNode(0, 100)]);
    for (let i = 0; i < 70; i++) await submit(w, 1);
    await until(w, Array.from({ length: 70 }, (_, i) => `${i + 1}:SETTING_UP`));
    assert.deepEqual(
      w.runtime.started.map((s) => s.spec.jobId),
      Array.from({ length: 70 }, (_, i) => `c-1-${i + 1}`),
    );
  });

  it('job ends mark the cluster active, but a stream of them within a second writes its record once', async () => {
    w = await world([sshNode(0, 4)]);
    for (let i = 0; i < 3; i++) await submit(w, 1);
    await until(w, ['1:SETTING_UP', '2:SETTING_UP', '3:SETTING_UP']);
    w.clock.t += 60_000;
    const first = w.clock.t;
    await w.events.apply(['c-1-1-r0 0 SUCCEEDED 0']);
    const marked = (await w.store.clusters.get('c'))!;
    assert.equal(marked.lastActiveAt, first);
    w.clock.t += 400;
    await w.events.apply(['c-1-2-r0 0 SUCCEEDED 0']);
    assert.equal((await w.store.clusters.get('c'))!.version, marked.version, 'an end 0.4 s later leaves the record as it is');
    w.clock.t += 1_000;
    await w.events.apply(['c-1-3-r0 0 SUCCEEDED 0']);
    assert.equal((await w.store.clusters.get('c'))!.lastActiveAt, w.clock.t, 'an end a second after the mark moves it');
  });

  it('replayed and stale events change nothing: transitions are compare-and-set', async () => {
    w = await world([sshNode(0, 4)]);
    await submit(w, 1);
    await until(w, ['1:SETTING_UP']);
    await w.events.apply(['c-1-1-r0 0 FAILED 3']);
    await until(w, ['1:FAILED']);
    const ended = await w.store.jobs.get('c', 1);
    w.clock.t += 60_000;
    // The same journal read again (a reconnect, a daemon restart), and events of other incarnations or garbage.
    await w.events.apply(['c-1-1-r0 0 RUNNING -', 'c-1-1-r0 0 SUCCEEDED 0', 'c-0-1-r0 0 SUCCEEDED 0', 'not an event', 'c-1-9-r0 0 SUCCEEDED 0']);
    await w.events.apply(['c-1-1-r0 0 FAILED 3']);
    assert.deepEqual(await w.store.jobs.get('c', 1), ended);
    assert.deepEqual(await statuses(w), ['1:FAILED']);
  });

  it('gang start: every rank is started with the node addresses in rank order; one failed rank ends the job and the others', async () => {
    w = await world([sshNode(0, 2), sshNode(1, 2), sshNode(2, 2)]);
    await submit(w, 1, 3);
    await until(w, ['1:SETTING_UP']);
    assert.deepEqual(
      w.runtime.started.map((s) => [s.node, s.spec.rank, s.spec.nodeIps.join(',')]),
      [0, 1, 2].map((r) => [`10.9.0.${r + 1}`, r, '10.9.0.1,10.9.0.2,10.9.0.3']),
    );
    await w.events.apply(['c-1-1-r0 0 RUNNING -']);
    await until(w, ['1:RUNNING']);
    w.runtime.states.set('c-1-1/2', { status: 'FAILED', exitCode: 9 });
    await w.events.apply(['c-1-1-r2 2 FAILED 9']);
    await until(w, ['1:FAILED']);
    const job = await w.store.jobs.get('c', 1);
    assert.deepEqual(job?.exitCodes, [null, null, 9]);
    assert.deepEqual(
      w.runtime.cancelled.map((c) => c.ref.rank),
      [0, 1, 2],
      'the ranks still running are ended',
    );
  });

  it('a node that stays unreachable fails its jobs once the grace has passed, not before', async () => {
    w = await world([sshNode(0, 2), sshNode(1, 2)]);
    await submit(w, 1, 2);
    await until(w, ['1:SETTING_UP']);
    await w.events.apply(['c-1-1-r0 0 RUNNING -']);
    await until(w, ['1:RUNNING']);
    w.runtime.unreachable.add('10.9.0.2');
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:RUNNING']);
    assert.match((await w.store.clusters.get('c'))?.statusReason ?? '', /node 10\.9\.0\.2 unreachable/);
    w.clock.t += 29_999;
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:RUNNING'], 'still within the grace');
    w.clock.t += 1;
    await w.queue.reconcileOnce();
    const job = await w.store.jobs.get('c', 1);
    assert.equal(job?.status, 'FAILED');
    assert.equal(job?.reason, 'node 10.9.0.2 unreachable');
    assert.equal(job?.endedAt, w.clock.t);
  });

  it('a node its driver reports gone (a pod evicted) fails its jobs at once, with the driver\'s reason', async () => {
    const gone = new Map<string, string>();
    w = await world([sshNode(0, 2), sshNode(1, 2)], statusDriver(gone));
    await submit(w, 1, 2);
    await until(w, ['1:SETTING_UP']);
    await w.events.apply(['c-1-1-r0 0 RUNNING -']);
    await until(w, ['1:RUNNING']);
    // Unreachable while the driver still has the node: the grace applies as before.
    w.runtime.unreachable.add('10.9.0.2');
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:RUNNING']);
    // The driver now says the node is gone: no grace is waited for.
    gone.set('n1', 'evicted: The node was low on resource: memory.');
    w.clock.t += 1_000;
    await w.queue.reconcileOnce();
    const job = await w.store.jobs.get('c', 1);
    assert.equal(job?.status, 'FAILED');
    assert.equal(job?.reason, 'node 10.9.0.2 lost: evicted: The node was low on resource: memory.');
    assert.ok(w.runtime.cancelled.some((c) => c.node === '10.9.0.1'), 'the rank on the node still up is ended');
  });

  it('a job claimed to start of which no rank exists anywhere is queued again after the start grace, not failed', async () => {
    w = await world([sshNode(0, 2)]);
    await submit(w, 1);
    await until(w, ['1:SETTING_UP']);
    assert.equal(w.runtime.started.length, 1);
    // As if whoever claimed it died before a rank was written: every rank reads MISSING.
    const ref = w.runtime.started[0]!.spec.jobId;
    w.runtime.states.set(`${ref}/0`, { status: 'MISSING', exitCode: null });
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:SETTING_UP'], 'a start may still be under way elsewhere');
    w.clock.t += 120_000;
    // Its next start writes the rank: from then on it reads as running.
    w.runtime.duringStart = async (spec) => {
      if (spec.jobId === ref) w.runtime.states.delete(`${ref}/0`);
    };
    await w.queue.reconcileOnce();
    for (let i = 0; i < 2000 && w.runtime.started.length < 2; i++) await new Promise((r) => setImmediate(r));
    assert.equal(w.runtime.started.length, 2, 'queued again and started once more');
    const job = await w.store.jobs.get('c', 1);
    assert.ok(job?.status === 'SETTING_UP' || job?.status === 'RUNNING', job?.status);
    assert.equal(job?.reason, undefined, 'not failed');
  });

  it('a job whose rank files were written but whose runner never started (the starter died in between) is queued again after the grace', async () => {
    w = await world([sshNode(0, 2)]);
    await submit(w, 1);
    await until(w, ['1:SETTING_UP']);
    const ref = w.runtime.started[0]!.spec.jobId;
    // The rank's files are there (status PENDING), but no runner ever recorded a phase.
    w.runtime.states.set(`${ref}/0`, { status: 'PENDING', exitCode: null });
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:SETTING_UP'], 'within the grace a start may still be under way');
    w.clock.t += 120_000;
    w.runtime.duringStart = async (spec) => {
      if (spec.jobId === ref) w.runtime.states.set(`${ref}/0`, { status: 'RUNNING', exitCode: null });
    };
    await w.queue.reconcileOnce();
    for (let i = 0; i < 2000 && w.runtime.started.length < 2; i++) await new Promise((r) => setImmediate(r));
    assert.equal(w.runtime.started.length, 2, 'queued again and started once more');
    assert.equal((await w.store.jobs.get('c', 1))?.reason, undefined, 'not failed');
  });

  it('a node that answers again within the grace keeps its jobs', async () => {
    w = await world([sshNode(0, 2)]);
    await submit(w, 1);
    await until(w, ['1:SETTING_UP']);
    w.runtime.unreachable.add('10.9.0.1');
    await w.queue.reconcileOnce();
    w.clock.t += 20_000;
    w.runtime.unreachable.clear();
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:RUNNING']);
    assert.equal((await w.store.clusters.get('c'))?.statusReason, undefined);
    w.clock.t += 20_000;
    w.runtime.unreachable.add('10.9.0.1');
    await w.queue.reconcileOnce();
    assert.deepEqual(await statuses(w), ['1:RUNNING'], 'the grace counts again from the new failure');
  });
});
