/**
 * The dispatch hot path, in process: submit → persist → claim → dispatch → finish of a no-op
 * request (ping with an empty body), on the in-memory store and on LevelDB in a temp dir.
 *
 *   throughput:    one iteration submits BATCH requests at once and awaits every one of them
 *                  through RequestService.wait (the log bus), so BATCH are in flight together;
 *                  dispatches/s = BATCH / iteration time. The 50,000/s target applies here.
 *   ten users:     the same batch from ten users at once: the lanes' per-user caps and
 *                  round-robin between users at work (a personal daemon has one user).
 *   dispatch only: the same batch with nobody waiting (a diagnostic: what the waiters cost).
 *   round trip:    one request, submitted and awaited alone (latency of a single dispatch).
 *
 * Every request must end SUCCEEDED, or the bench fails. bench/README.md explains the figures.
 *
 * Run (from the repo root; scripts/bench.mjs does this):
 *   TSX_TSCONFIG_PATH=test/tsconfig.json node --conditions=sky-source --import tsx bench/dispatch.bench.ts [--json FILE] [--quick] [--filter TEXT]
 *
 * --filter TEXT runs only the cases whose name contains TEXT, e.g. to profile one of them:
 *   ... node --cpu-prof --cpu-prof-dir=.bench-out/profile/one ... bench/dispatch.bench.ts --filter 'waited (level)'
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { setImmediate as tick } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { Bench, type Task } from 'tinybench';
import type { StateStore } from '@sky/plugin-api';
import { MemoryStateStore } from '@sky/plugin-api/testing';
import { LevelStateStore } from '@sky/store-level';
import { alice, inProcess, type InProcess } from '../test/helpers/in-process.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const filterIndex = args.indexOf('--filter');
/** Only the cases whose name contains this text (to profile one case). */
const filter = filterIndex >= 0 ? args[filterIndex + 1] : undefined;

/** Requests in flight together in one throughput iteration. */
const BATCH = 1000;
/** Time budget per task (ms); tinybench also runs at least `iterations` of each. */
const THROUGHPUT_TIME_MS = quick ? 1000 : 4000;
const LATENCY_TIME_MS = quick ? 500 : 2000;
/** The floor the design asks of the in-process dispatcher. */
const TARGET_PER_SECOND = 50_000;

/** One figure for scripts/bench.mjs: compared with the baseline, and with a target when there is one. */
interface BenchMetric {
  id: string;
  label: string;
  value: number;
  unit: string;
  better: 'higher' | 'lower';
  target?: { op: '>=' | '<='; value: number };
}

const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));

interface Graph {
  name: 'memory' | 'level';
  graph: InProcess;
  cleanup: () => void;
  /** Requests dispatched, every one seen SUCCEEDED. */
  dispatched: number;
  /** Requests of the no-waiters diagnostic whose outcome is not checked yet. */
  unchecked: number;
}

async function openGraph(name: 'memory' | 'level'): Promise<Graph> {
  let store: StateStore;
  let cleanup = (): void => undefined;
  if (name === 'level') {
    const dir = mkdtempSync(join(tmpdir(), 'sky-bench-level-'));
    store = new LevelStateStore({ path: join(dir, 'state'), sync: false });
    cleanup = () => rmSync(dir, { recursive: true, force: true });
  } else {
    store = new MemoryStateStore();
  }
  return { name, graph: await inProcess({}, store), cleanup, dispatched: 0, unchecked: 0 };
}

/** Users of the many-users case. */
const USERS = Array.from({ length: 10 }, (_, i) => ({ user: `u-bench-${i}`, userName: `bench-${i}`, workspace: 'default', privileged: false }));

/** One no-op request from submit to its finished record, awaited through the bus. */
async function roundTrip(g: Graph, who: { user: string; userName: string; workspace: string; privileged?: boolean } = alice): Promise<void> {
  const { record } = await g.graph.scheduler.submit({ name: 'ping', body: {}, lane: 'short', ...who });
  const done = await g.graph.service.wait(record.id, 60);
  if (done.status !== 'SUCCEEDED') {
    throw new Error(`request ${record.id} ended ${done.status}: ${JSON.stringify(done.error)}`);
  }
  g.dispatched += 1;
}

async function batch(g: Graph): Promise<void> {
  const inFlight = new Array<Promise<void>>(BATCH);
  for (let i = 0; i < BATCH; i++) inFlight[i] = roundTrip(g);
  await Promise.all(inFlight);
}

/** The same batch from ten users, interleaved. */
async function batchUsers(g: Graph): Promise<void> {
  const inFlight = new Array<Promise<void>>(BATCH);
  for (let i = 0; i < BATCH; i++) inFlight[i] = roundTrip(g, USERS[i % USERS.length]);
  await Promise.all(inFlight);
}

/**
 * Diagnostic: the same batch with nobody waiting on the requests. Completion is read from
 * the scheduler's own counters (nothing queued, nothing running), so this is the
 * dispatcher and the store alone; the difference to `batch` is the cost of the waiters.
 * Outcomes are checked outside the timed part (see `settle`).
 */
async function batchNoWaiters(g: Graph): Promise<void> {
  const submits = new Array<Promise<unknown>>(BATCH);
  for (let i = 0; i < BATCH; i++) submits[i] = g.graph.scheduler.submit({ name: 'ping', body: {}, lane: 'short', ...alice });
  await Promise.all(submits);
  const deadline = performance.now() + 60_000;
  for (;;) {
    const { queued, running } = g.graph.scheduler.stats();
    if (queued.short + running.short === 0) break;
    if (performance.now() > deadline) throw new Error(`${g.name}: requests still queued or running after 60 s`);
    await tick();
  }
  g.unchecked += BATCH;
}

/**
 * Between iterations, untimed (and its CPU is not counted): check the no-waiters requests
 * and, on the in-memory store, drop finished requests. That store is a test double that
 * keeps every record on the JS heap; left alone, hundreds of thousands of them pile up
 * during a run and the figures would measure the garbage collector walking them. (The
 * LevelDB store keeps finished requests on disk, as the daemon does, and only the active
 * ones in memory, so it is left to grow.)
 */
async function settle(g: Graph): Promise<void> {
  if (g.name !== 'memory') return;
  if (g.unchecked > 0) {
    const succeeded = (await g.graph.store.requests.listByStatus('SUCCEEDED')).length;
    if (succeeded !== g.unchecked) throw new Error(`memory: ${g.unchecked} requests dispatched but ${succeeded} SUCCEEDED`);
    g.dispatched += g.unchecked;
    g.unchecked = 0;
  }
  await g.graph.store.requests.prune(Number.MAX_SAFE_INTEGER);
}

/** At the end, on LevelDB: every request dispatched (waited or not) is stored as SUCCEEDED. */
async function checkOutcomes(g: Graph): Promise<void> {
  if (g.name !== 'level') return;
  const succeeded = (await g.graph.store.requests.listByStatus('SUCCEEDED')).length;
  if (succeeded !== g.dispatched + g.unchecked) {
    throw new Error(`level: ${g.dispatched + g.unchecked} requests dispatched but ${succeeded} SUCCEEDED`);
  }
  g.dispatched += g.unchecked;
  g.unchecked = 0;
}

/** CPU time of this process over a task's measured phase (not its warmup), less the untimed `settle` calls. */
interface CpuEntry {
  start: NodeJS.CpuUsage;
  wallStart: number;
  excludedUs: number;
  usedUs?: number;
  wallMs?: number;
}
const cpu = new Map<string, CpuEntry>();
function hooks(name: string, g: Graph) {
  return {
    beforeAll(this: Task, mode?: string) {
      if (mode === 'run') cpu.set(name, { start: process.cpuUsage(), wallStart: performance.now(), excludedUs: 0 });
    },
    async afterEach(this: Task, mode?: string) {
      const before = process.cpuUsage();
      await settle(g);
      const used = process.cpuUsage(before);
      const entry = cpu.get(name);
      if (mode === 'run' && entry) entry.excludedUs += used.user + used.system;
    },
    afterAll(this: Task, mode?: string) {
      const entry = cpu.get(name);
      if (mode === 'run' && entry) {
        const used = process.cpuUsage(entry.start);
        entry.usedUs = used.user + used.system - entry.excludedUs;
        entry.wallMs = performance.now() - entry.wallStart;
      }
    },
  };
}

type Kind = 'waited' | 'users' | 'unwaited' | 'single';

interface Case {
  name: string;
  kind: Kind;
  graph: Graph;
  /** Requests per iteration. */
  ops: number;
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? '' : n.toFixed(digits);
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const graphs = [await openGraph('memory'), await openGraph('level')];
  const throughput = new Bench({ name: 'throughput', time: THROUGHPUT_TIME_MS, iterations: 5, warmupTime: 500, warmupIterations: 3, throws: true });
  // Thousands of samples are plenty for the percentiles of one round trip: a shorter budget.
  const latency = new Bench({ name: 'latency', time: LATENCY_TIME_MS, iterations: 100, warmupTime: 200, warmupIterations: 50, throws: true });
  const cases: Case[] = [];
  const add = (bench: Bench, c: Case, fn: () => Promise<void>): void => {
    if (filter !== undefined && !c.name.includes(filter)) return;
    cases.push(c);
    bench.add(c.name, fn, { async: true, ...hooks(c.name, c.graph) });
  };
  try {
    for (const g of graphs) add(throughput, { name: `throughput, ${BATCH} in flight, waited (${g.name})`, kind: 'waited', graph: g, ops: BATCH }, () => batch(g));
    for (const g of graphs) add(throughput, { name: `throughput, ${BATCH} in flight from ${USERS.length} users, waited (${g.name})`, kind: 'users', graph: g, ops: BATCH }, () => batchUsers(g));
    for (const g of graphs) add(throughput, { name: `dispatch only, ${BATCH} in flight, no waiters (${g.name})`, kind: 'unwaited', graph: g, ops: BATCH }, () => batchNoWaiters(g));
    for (const g of graphs) add(latency, { name: `round trip, one at a time (${g.name})`, kind: 'single', graph: g, ops: 1 }, () => roundTrip(g));
    if (cases.length === 0) throw new Error(`no case matches --filter ${filter}`);
    if (throughput.tasks.length > 0) await throughput.run();
    if (latency.tasks.length > 0) await latency.run();
    for (const g of graphs) await checkOutcomes(g);

    const rows: Record<string, string | number>[] = [];
    const metrics: BenchMetric[] = [];
    const results: unknown[] = [];
    for (const c of cases) {
      const task = [...throughput.tasks, ...latency.tasks].find((t) => t.name === c.name)!;
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`${c.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
      const store = c.graph.name;
      const usage = cpu.get(c.name);
      const cpuMs = usage?.usedUs !== undefined ? usage.usedUs / 1000 : undefined;
      const cpuUsPerOp = cpuMs !== undefined ? (cpuMs * 1000) / (r.latency.samplesCount * c.ops) : undefined;
      const perSecond = (c.ops * 1000) / r.latency.mean;
      results.push({
        task: c.name,
        kind: c.kind,
        store,
        ops_per_iteration: c.ops,
        iterations: r.latency.samplesCount,
        latency_ms: { mean: r.latency.mean, p50: r.latency.p50, p75: r.latency.p75, p99: r.latency.p99, min: r.latency.min, max: r.latency.max, rme_pct: r.latency.rme },
        per_second_mean: perSecond,
        per_second_median: (c.ops * 1000) / r.latency.p50,
        cpu_us_per_op: cpuUsPerOp,
        cpu_busy_share: usage?.wallMs && cpuMs !== undefined ? cpuMs / usage.wallMs : undefined,
      });
      rows.push({
        task: c.name,
        iterations: r.latency.samplesCount,
        'mean ms': r.latency.mean.toFixed(3),
        'p50 ms': r.latency.p50.toFixed(3),
        'p99 ms': r.latency.p99.toFixed(3),
        '±%': fmt(r.latency.rme),
        'requests/s': Math.round(perSecond),
        'CPU µs/request': fmt(cpuUsPerOp),
      });
      if (c.kind === 'waited') {
        metrics.push({
          id: `inproc.dispatch.${store}.per_s`,
          label: `in-process dispatches/s, ${BATCH} in flight, waited (${store})`,
          value: perSecond,
          unit: '/s',
          better: 'higher',
          target: { op: '>=', value: TARGET_PER_SECOND },
        });
      } else if (c.kind === 'users') {
        metrics.push({ id: `inproc.dispatch_users.${store}.per_s`, label: `in-process dispatches/s, ${BATCH} in flight from ${USERS.length} users (${store})`, value: perSecond, unit: '/s', better: 'higher' });
      } else if (c.kind === 'unwaited') {
        metrics.push({ id: `inproc.dispatch_nowait.${store}.per_s`, label: `in-process dispatches/s, no waiters (${store})`, value: perSecond, unit: '/s', better: 'higher' });
      } else {
        metrics.push({ id: `inproc.roundtrip.${store}.p50_ms`, label: `in-process single round trip p50 (${store})`, value: r.latency.p50, unit: 'ms', better: 'lower' });
        metrics.push({ id: `inproc.roundtrip.${store}.p99_ms`, label: `in-process single round trip p99 (${store})`, value: r.latency.p99, unit: 'ms', better: 'lower' });
      }
      if (cpuUsPerOp !== undefined && (c.kind === 'waited' || c.kind === 'unwaited')) {
        metrics.push({ id: `inproc.${c.kind === 'waited' ? 'dispatch' : 'dispatch_nowait'}.${store}.cpu_us`, label: `in-process CPU per request, ${c.kind} (${store})`, value: cpuUsPerOp, unit: 'µs', better: 'lower' });
      }
    }
    console.table(rows);
    for (const g of graphs) console.log(`${g.name}: ${g.dispatched} requests dispatched, every one SUCCEEDED`);
    const loadAfter = loadavg()[0]!;
    console.log(`1-minute load average: ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (this bench uses about one core)`);
    const seen = [...new Set(warnings)];
    if (seen.length > 0) console.log(`process warnings during the run:\n  ${seen.join('\n  ')}`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(jsonFile), { recursive: true });
      const out = { bench: 'dispatch', batch: BATCH, quick, loadavg_1m: { before: loadBefore, after: loadAfter }, results, metrics, warnings: seen };
      writeFileSync(jsonFile, JSON.stringify(out, null, 2) + '\n');
    }
  } finally {
    for (const g of graphs) {
      await g.graph.close();
      g.cleanup();
    }
  }
}

await main();
