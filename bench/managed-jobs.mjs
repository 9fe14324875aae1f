#!/usr/bin/env node
/**
 * Managed jobs at scale through the built daemon (default store, local driver sized to fit):
 * N managed jobs of `sleep 1200` submitted by one client (POST /api/v1/jobs_launch), then
 *   - the launch rate and the time until the last one is RUNNING,
 *   - `sky jobs queue -u` wall time while they all run (the CLI, interleaved with the REST list),
 *   - `sky jobs cancel -a -y`: time until it returns with every job CANCELLED, then the job
 *     processes left (`pgrep` on a marker) and the clusters left in the driver's listing,
 *   - the daemon's VmRSS, sampled every second throughout (maximum reported).
 * The daemon runs with the node flags the CLI starts it with. Figures are reported, never
 * asserted; the daemon is stopped by its pid at the end.
 *
 *   node bench/managed-jobs.mjs [--jobs N] [--json FILE]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setInterval, clearInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { SKY_BIN, operation, startSky, submit } from './lib/sky.mjs';
import { median, rssMib } from './lib/proc.mjs';
import { DAEMON_NODE_ARGS } from '../core/client/dist/index.js';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const JOBS = Number(flag('--jobs') ?? 2000);
const jsonFile = flag('--json');
const MARKER = `sky-bench-mj-${process.pid}`;
const LIMIT_MS = 1_800_000;

async function listAll(sky, query = '') {
  const res = await sky.call('GET', `/api/v1/managed-jobs?all_users=true${query}`);
  if (res.status !== 200) throw new Error(`managed-jobs: ${res.status} ${res.text}`);
  return res.json.items;
}

function countBy(items) {
  const out = {};
  for (const j of items) out[j.status] = (out[j.status] ?? 0) + 1;
  return out;
}

function running(marker) {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

async function main() {
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const sky = await startSky(
    (home) =>
      `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: ${JOBS + 8}\n    memory_gb: ${(JOBS + 8) * 2}\n` +
      `managed_jobs:\n  launch_parallelism: 16\n`,
    // The daemon as the CLI starts it (its heap flags), so memory is what a user's daemon shows.
    { prefix: 'sky-bench-mj-', nodeArgs: [...DAEMON_NODE_ARGS] },
  );
  let maxRss = rssMib(sky.pid);
  // The peak of each phase too, so a peak can be traced to launching, listing or cancelling.
  let phase = 'launch';
  const phaseRss = {};
  const sampler = setInterval(() => {
    try {
      const rss = rssMib(sky.pid);
      maxRss = Math.max(maxRss, rss);
      phaseRss[phase] = Math.max(phaseRss[phase] ?? 0, rss);
    } catch {
      // the daemon is gone
    }
  }, 1000);
  const load = [loadavg()[0]];
  try {
    // Submit as the CLI's user, so that the CLI's queue and cancel (without -u) see these jobs as theirs.
    sky.cli(['jobs', 'queue']);
    sky.headers = { 'x-sky-user-id': readFileSync(join(sky.home, '.sky/user_hash'), 'utf8').trim(), 'x-sky-user-name': userInfo().username };
    const t0 = performance.now();
    const task = { run: `exec -a ${MARKER} sleep 1200`, resources: { cpus: 1, memory: 1 } };
    for (let i = 0; i < JOBS; i += 1) await submit(sky, 'jobs_launch', { tasks: [{ task }] });
    const submittedMs = performance.now() - t0;
    let counts = {};
    for (;;) {
      counts = countBy(await listAll(sky));
      if ((counts.RUNNING ?? 0) + (counts.FAILED ?? 0) + (counts.FAILED_NO_RESOURCE ?? 0) + (counts.FAILED_CONTROLLER ?? 0) >= JOBS) break;
      if (performance.now() - t0 > LIMIT_MS) throw new Error(`not all running: ${JSON.stringify(counts)}`);
      await sleep(1000);
    }
    const allRunningMs = performance.now() - t0;
    const processes = running(MARKER);

    // sky jobs queue -u beside the REST list, interleaved.
    phase = 'queue';
    const cli = [];
    const rest = [];
    for (let i = 0; i < 7; i += 1) {
      let t = performance.now();
      const r = spawnSync(process.execPath, [SKY_BIN, 'jobs', 'queue', '-u'], { env: sky.cliEnv(), encoding: 'utf8', timeout: 120_000 });
      cli.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`sky jobs queue -u: ${r.status} ${r.stderr}`);
      t = performance.now();
      await listAll(sky);
      rest.push(performance.now() - t);
    }

    phase = 'cancel';
    const c0 = performance.now();
    const cancel = spawnSync(process.execPath, [SKY_BIN, 'jobs', 'cancel', '-a', '-y'], { env: sky.cliEnv(), encoding: 'utf8', timeout: 600_000 });
    const cancelMs = performance.now() - c0;
    if (cancel.status !== 0) throw new Error(`sky jobs cancel -a -y: ${cancel.status} ${cancel.stderr}`);
    if (process.env.SKY_BENCH_VERBOSE) console.log(cancel.stdout, cancel.stderr);
    const after = countBy(await listAll(sky));
    const left = running(MARKER);
    const clusters = (await sky.call('GET', '/api/v1/clusters?all_users=true')).json.items.filter((c) => c.name.startsWith('sky-jobs-')).length;
    load.push(loadavg()[0]);
    const result = {
      jobs: JOBS,
      submitted_ms: submittedMs,
      submits_per_s: (JOBS * 1000) / submittedMs,
      all_running_ms: allRunningMs,
      launches_per_s: (JOBS * 1000) / allRunningMs,
      statuses_when_running: counts,
      job_processes_running: processes,
      queue_u_cli_median_ms: median(cli),
      queue_rest_median_ms: median(rest),
      cancel_all_ms: cancelMs,
      statuses_after_cancel: after,
      job_processes_left: left,
      clusters_left: clusters,
      max_rss_mib: maxRss,
      max_rss_mib_by_phase: phaseRss,
      load_average: load,
    };
    const f = (n) => n.toFixed(1);
    console.log(`${JOBS} managed jobs: submitted in ${f(submittedMs)} ms (${f(result.submits_per_s)}/s); all RUNNING after ${f(allRunningMs)} ms (${f(result.launches_per_s)} launches/s): ${JSON.stringify(counts)}, ${processes} job processes`);
    console.log(`sky jobs queue -u: median ${f(result.queue_u_cli_median_ms)} ms (REST list ${f(result.queue_rest_median_ms)} ms)`);
    console.log(`sky jobs cancel -a -y: ${f(cancelMs)} ms; after: ${JSON.stringify(after)}; job processes left ${left}; clusters left ${clusters}`);
    console.log(`daemon VmRSS max ${f(maxRss)} MiB (${Object.entries(phaseRss).map(([k, v]) => `${k} ${f(v)}`).join(', ')}); 1-minute load ${f(load[0])} before, ${f(load[1])} after`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n');
    }
  } finally {
    clearInterval(sampler);
    // Whatever the cancel left is ended with the daemon's tree (and the nodes' processes by marker).
    await operation(sky, 'jobs_cancel', { all: true }).catch(() => undefined);
    await sky.stop();
    spawnSync('pkill', ['-9', '-f', MARKER]);
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`);
  process.exit(1);
});
