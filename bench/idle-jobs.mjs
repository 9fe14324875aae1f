#!/usr/bin/env node
/**
 * What idle jobs cost the daemon (bench/README.md, "Idle jobs"): 1,000 RUNNING `sleep 600` jobs
 * on 100 local clusters (10 each), or with --ssh on 4 SSH pool hosts (4 clusters of one host,
 * 250 jobs each; sshd hosts in network namespaces, needs root and `ip netns`; run through tsx,
 * as scripts/bench.mjs does). Measured, once every job is RUNNING:
 *
 *   daemon CPU     over 60 s, in % of one core: the daemon process itself (utime+stime, plus the
 *                  children it reaped in that window), and the whole local process tree (the
 *                  daemon under bench/lib/reaper.py, with the node runtime shells and the jobs)
 *   CLI            `sky status -u` and `sky queue -u`, interleaved, 10 runs each: medians with
 *                  the jobs RUNNING beside the medians of the same run with no job (the same
 *                  clusters, before the jobs were submitted)
 *
 * Every process is stopped by pid at the end (SSH jobs: every process working in a host's
 * home; then the reaper's whole tree, local jobs included). Figures are reported, never asserted.
 *
 *   node --import tsx bench/idle-jobs.mjs [--quick] [--ssh] [--json FILE]
 */
import { mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuMsOf, median, rssMib, treeCpuMs } from './lib/proc.mjs';
import { jobs, operation, startSky, submit } from './lib/sky.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const ssh = args.includes('--ssh');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;

const JOBS = quick ? 200 : 1000;
const CLUSTERS = ssh ? 4 : quick ? 20 : 100;
const PER_CLUSTER = JOBS / CLUSTERS;
const WINDOW_S = quick ? 20 : 60;
const CLI_RUNS = quick ? 5 : 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function fanOut(count, clients, send) {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) await send(i);
    }),
  );
}

/** SIGKILL every process whose working directory is under `dir`, by pid. */
function killUnder(dir) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(dir)) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone, or not ours to read
    }
  }
}

/** `sky status -u` and `sky queue -u`, alternating, CLI_RUNS each; medians in ms. */
function cliMedians(sky) {
  const times = { status: [], queue: [] };
  for (let i = 0; i < CLI_RUNS; i++) {
    for (const cmd of ['status', 'queue']) {
      const t0 = performance.now();
      const r = sky.cli([cmd, '-u']);
      times[cmd].push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`sky ${cmd} -u: ${r.stderr}`);
    }
  }
  return { status_ms: median(times.status), queue_ms: median(times.queue) };
}

async function main() {
  const load = [loadavg()[0]];
  let set;
  let sky;
  try {
    let clusterTask;
    let jobTask;
    if (ssh) {
      const { createHosts } = await import('../test/helpers/netns-hosts.ts');
      const { sshDaemonConfig } = await import('../test/helpers/ssh-daemon-config.ts');
      set = await createHosts(CLUSTERS);
      sky = await startSky(() => sshDaemonConfig(set), { prefix: 'sky-bench-idle-' });
      clusterTask = { resources: { infra: 'ssh/pool-a' } };
      // A host has this machine's CPUs: 250 jobs share them by asking for a sliver each.
      jobTask = { resources: { cpus: 0.001 }, run: 'sleep 600' };
    } else {
      sky = await startSky((home) => `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: ${CLUSTERS * PER_CLUSTER}\n    memory_gb: ${CLUSTERS * 8}\n`, { prefix: 'sky-bench-idle-' });
      clusterTask = { resources: { cpus: PER_CLUSTER, memory: 1 } };
      jobTask = { resources: { cpus: 1 }, run: 'sleep 600' };
    }
    const names = Array.from({ length: CLUSTERS }, (_, i) => `idle-${i}`);
    const t0 = performance.now();
    await fanOut(CLUSTERS, 4, (i) => operation(sky, 'launch', { cluster: names[i], task: clusterTask }));
    console.log(`${CLUSTERS} clusters up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(2000);
    const zeroBefore = cliMedians(sky);
    const t1 = performance.now();
    await fanOut(JOBS, 4, (i) => submit(sky, 'exec', { cluster: names[i % CLUSTERS], task: jobTask }));
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      let running = 0;
      for (const name of names) running += (await jobs(sky, name, ['RUNNING'])).length;
      if (running === JOBS) break;
      if (Date.now() > deadline) throw new Error(`only ${running} of ${JOBS} jobs RUNNING after 15 minutes`);
      await sleep(1000);
    }
    console.log(`${JOBS} jobs RUNNING after ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    await sleep(5000);
    const cpu0 = { daemon: cpuMsOf(sky.pid), tree: treeCpuMs(sky.reaperPid), at: performance.now() };
    await sleep(WINDOW_S * 1000);
    const seconds = (performance.now() - cpu0.at) / 1000;
    const cpu = {
      window_s: seconds,
      daemon_pct_of_core: ((cpuMsOf(sky.pid) - cpu0.daemon) / 10) / seconds,
      tree_pct_of_core: ((treeCpuMs(sky.reaperPid) - cpu0.tree) / 10) / seconds,
    };
    const rss = rssMib(sky.pid);
    const loaded = cliMedians(sky);
    let stillRunning = 0;
    for (const name of names) stillRunning += (await jobs(sky, name, ['RUNNING'])).length;
    // The jobs are not cancelled one by one (1,000 cancels take many minutes): the end of the run
    // ends them by pid. So the zero-job medians are those measured before the jobs were submitted.
    load.push(loadavg()[0]);
    const zero = zeroBefore;
    const pct = (a, b) => `${(((a - b) / b) * 100).toFixed(0)} %`;
    const where = ssh ? `${CLUSTERS} SSH pool hosts` : `${CLUSTERS} local clusters`;
    console.log(`\nidle jobs: ${JOBS} RUNNING sleep 600 on ${where} (${stillRunning} still RUNNING at the end of the window)`);
    console.log(`daemon CPU over ${seconds.toFixed(0)} s: ${cpu.daemon_pct_of_core.toFixed(2)} % of one core (whole local tree: ${cpu.tree_pct_of_core.toFixed(2)} %); daemon RSS ${rss?.toFixed(0)} MiB`);
    console.log(`sky status -u: ${loaded.status_ms.toFixed(0)} ms with the jobs, ${zero.status_ms.toFixed(0)} ms without (${pct(loaded.status_ms, zero.status_ms)})`);
    console.log(`sky queue -u: ${loaded.queue_ms.toFixed(0)} ms with the jobs, ${zero.queue_ms.toFixed(0)} ms without (${pct(loaded.queue_ms, zero.queue_ms)})`);
    console.log(`1-minute load ${load[0].toFixed(1)} → ${load[1].toFixed(1)}`);
    if (jsonFile !== undefined) {
      const tag = ssh ? 'ssh' : 'local';
      const metrics = [
        { id: `idle_jobs_${tag}_daemon_cpu_pct`, label: `idle jobs (${tag}): daemon CPU, % of one core`, value: cpu.daemon_pct_of_core, unit: '%', better: 'lower', target: { op: '<=', value: 2 } },
        { id: `idle_jobs_${tag}_status_ms`, label: `idle jobs (${tag}): sky status -u with ${JOBS} jobs`, value: loaded.status_ms, unit: 'ms', better: 'lower' },
        { id: `idle_jobs_${tag}_queue_ms`, label: `idle jobs (${tag}): sky queue -u with ${JOBS} jobs`, value: loaded.queue_ms, unit: 'ms', better: 'lower' },
      ];
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      writeFileSync(
        jsonFile,
        JSON.stringify({ bench: `idle-jobs-${tag}`, quick, jobs: JOBS, clusters: CLUSTERS, still_running: stillRunning, cpu, rss_mib: rss, cli: { zero, loaded }, load_average: load, metrics }, null, 2) + '\n',
      );
    }
  } finally {
    // Jobs on SSH hosts run under the hosts' sshd, not under the daemon: end them by pid (every
    // process whose working directory is in a host's home), then the daemon's tree, then the hosts.
    if (set !== undefined) killUnder(set.dir);
    await sky?.stop();
    await set?.destroy();
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
main().catch((err) => {
  console.error(`idle-jobs bench: ${err.stack ?? err}`);
  process.exit(1);
});
