#!/usr/bin/env node
/**
 * Job completion through the REST API of the built daemon (core/daemon/dist) on its default
 * store and the local driver: a 1-node local cluster with 2 CPUs, N trivial jobs (`true`, 1 CPU
 * each) submitted with POST /api/v1/exec from 4 keep-alive clients; what is timed is the jobs,
 * from the first submit until every job has ended (the list of active jobs read every 250 ms meanwhile,
 * as a user would). Reports jobs/s, jobs not SUCCEEDED, and CPU per job of the daemon and of
 * what it started: its children (live ones such as a node's launcher, with what they reaped) plus every process the reaper it runs under adopted
 * (the detached runners and the jobs' own shells; see bench/lib/reaper.py). Figures are
 * reported, never asserted; the daemon is stopped by its pid at the end (bench/lib/sky.mjs).
 *
 *   node bench/job-completion.mjs [--json FILE] [--quick]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { cpuMsOf, treeCpuMs } from './lib/proc.mjs';
import { jobs, operation, startSky, submit } from './lib/sky.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;

const JOBS = quick ? 300 : 1000;
const CLIENTS = 4;
const PHASE_LIMIT_MS = 600_000;
const ACTIVE = ['PENDING', 'SETTING_UP', 'RUNNING'];

async function completion(sky) {
  const cluster = 'jobs';
  await operation(sky, 'launch', { cluster, task: { resources: { cpus: 2 } } });
  // The daemon's own CPU, and the rest of the tree under the reaper: what the daemon reaped, live
  // children such as a node's launcher with what they reaped, and the orphaned runners and shells.
  const started = () => {
    const daemon = cpuMsOf(sky.pid, false);
    return { daemon, shells: treeCpuMs(sky.reaperPid) - daemon };
  };
  const before = started();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < JOBS) {
        next += 1;
        await submit(sky, 'exec', { cluster, task: { run: 'true', resources: { cpus: 1 } } });
      }
    }),
  );
  const submittedMs = performance.now() - t0;
  for (let active = await jobs(sky, cluster, ACTIVE); active.length > 0; active = await jobs(sky, cluster, ACTIVE)) {
    if (performance.now() - t0 > PHASE_LIMIT_MS) throw new Error(`${active.length} of ${JOBS} jobs have not ended`);
    await sleep(active.length < 20 ? 10 : 250);
  }
  const allEndedMs = performance.now() - t0;
  const failed = (await jobs(sky, cluster)).filter((j) => j.status !== 'SUCCEEDED').length;
  const after = started();
  await operation(sky, 'down', { cluster });
  return {
    jobs: JOBS,
    clients: CLIENTS,
    submitted_ms: submittedMs,
    all_ended_ms: allEndedMs,
    jobs_per_s: (JOBS * 1000) / allEndedMs,
    not_succeeded: failed,
    daemon_cpu_ms_per_job: (after.daemon - before.daemon) / JOBS,
    shells_cpu_ms_per_job: (after.shells - before.shells) / JOBS,
  };
}

async function main() {
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const sky = await startSky((home) => `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n`);
  const load = [loadavg()[0]];
  try {
    const result = await completion(sky);
    load.push(loadavg()[0]);
    const f = (n) => n.toFixed(1);
    console.log(
      `${result.jobs} trivial jobs on a 2-CPU local node from ${result.clients} clients: all ended in ${f(result.all_ended_ms)} ms (${f(result.jobs_per_s)} jobs/s; submits done at ${f(result.submitted_ms)} ms); not SUCCEEDED ${result.not_succeeded}; CPU per job: daemon ${f(result.daemon_cpu_ms_per_job)} ms, what it started ${f(result.shells_cpu_ms_per_job)} ms`,
    );
    console.log(`1-minute load average: ${f(load[0])} before, ${f(load[1])} after`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      writeFileSync(jsonFile, JSON.stringify({ ...result, quick, load_average: load }, null, 2) + '\n');
    }
  } finally {
    await sky.stop();
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`);
  process.exit(1);
});
