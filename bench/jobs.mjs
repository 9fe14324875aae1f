#!/usr/bin/env node
/**
 * The job path beside Slurm, the same work through each in one run (bench/README.md, "Jobs
 * beside Slurm"). sky: the built daemon, a 1-node local cluster of 2 CPUs; Slurm: Debian's
 * slurm-wlm 22.05 with its own munged/slurmctld/slurmd (bench/lib/slurm.mjs), one node with this
 * machine's CPUs, the tuned profile (Epilog=/bin/true, batch_sched_delay=0) and the stock one
 * for reference. Rounds run interleaved, sky, Slurm, sky, and the table shows medians.
 *
 *   completion     N `true` jobs of 1 CPU, from 1 and from 4 clients (sky: POST /api/v1/exec over
 *                  keep-alive connections; Slurm: `sbatch --wrap true`): first submit → every job
 *                  ended, jobs/s
 *   CPU per job    of every process of the system over the completion phases: sky = the daemon, its
 *                  children and the node runtime's own shells (and the jobs); Slurm = slurmctld,
 *                  slurmd, slurmstepd (and the jobs); munged apart. All run under
 *                  bench/lib/reaper.py, a child subreaper, so the CPU of orphaned and short-lived
 *                  processes adds up in its cutime/cstime; plus the live processes of the tree.
 *   CLI loop       `sky exec -d CLUSTER true` vs `sbatch --wrap true` in a shell loop, jobs/s
 *   listing        with N jobs held (2 CPUs busy with `sleep 600`, N pending): REST job list,
 *                  `sky queue CLUSTER` vs `squeue`, median of 10 each
 *   memory         VmRSS of the daemon vs slurmctld: idle (2 s after start) → after the run
 *
 * With --ssh, also the completion throughput on a 2-host SSH pool cluster (sshd hosts in network
 * namespaces; needs root and `ip netns`; run through tsx, as scripts/bench.mjs does). Every
 * process is stopped by pid at the end, also when the bench fails. Figures are reported, never
 * asserted; the exit code is non-zero only when the bench breaks (or a job does not succeed).
 *
 *   node --import tsx bench/jobs.mjs [--quick] [--n N] [--ssh] [--no-slurm] [--json FILE]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median, rssMib, treeCpuMs } from './lib/proc.mjs';
import { activeJobs, run, sbatch, startSlurm } from './lib/slurm.mjs';
import { SKY_BIN, activeRequests, jobs, operation, startSky, submit } from './lib/sky.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const quick = flag('--quick');
const N = Number(value('--n') ?? (quick ? 200 : 1000));
const LOOP = quick ? 30 : 100;
const STOCK_N = quick ? 20 : 50;
const LIST_RUNS = 10;
const jsonFile = value('--json');
const PHASE_LIMIT_MS = 30 * 60_000;
if (!Number.isInteger(N) || N < 1) {
  console.error('jobs bench: --n takes a whole number of jobs');
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, probe, ms = PHASE_LIMIT_MS, everyMs = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Run `send(i)` for i in 0..count-1 from `clients` concurrent workers, each waiting for its answer before its next. */
async function fanOut(count, clients, send) {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) await send(i);
    }),
  );
}

/** Run a shell loop; its wall time in ms. */
function shellLoop(script, env) {
  return new Promise((resolveLoop, reject) => {
    const t0 = performance.now();
    const child = spawn('sh', ['-c', script], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.once('exit', (code) => (code === 0 ? resolveLoop(performance.now() - t0) : reject(new Error(`loop failed (${code}): ${err.slice(-2000)}`))));
  });
}

async function timed(fn, runs = LIST_RUNS) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

// ------------------------------------------------------------------ sky

const TRUE_JOB = { resources: { cpus: 1 }, run: 'true' };
const localConfig = (home) => `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 2\n    memory_gb: 4\n`;

/** Submit `count` 1-CPU `true` jobs to `cluster` from `clients` clients and wait until every one ended; ms and the outcome. */
async function skyCompletion(sky, cluster, count, clients) {
  const t0 = performance.now();
  await fanOut(count, clients, () => submit(sky, 'exec', { cluster, task: TRUE_JOB }));
  const submittedMs = performance.now() - t0;
  await until(`${count} jobs on ${cluster} to end`, async () => (await activeRequests(sky, 'exec')) === 0 && (await jobs(sky, cluster, ['PENDING', 'SETTING_UP', 'RUNNING'])).length === 0, PHASE_LIMIT_MS, 100);
  const ms = performance.now() - t0;
  const all = await jobs(sky, cluster);
  const succeeded = all.filter((j) => j.status === 'SUCCEEDED').length;
  return { clients, jobs: count, submitted_ms: submittedMs, ms, jobs_per_s: (count * 1000) / ms, succeeded_total: succeeded, listed_total: all.length };
}

async function skyRound(label) {
  const sky = await startSky(localConfig);
  try {
    await operation(sky, 'launch', { cluster: 'bench', task: { resources: { cpus: 2 } } });
    await sleep(2000);
    const rssIdle = rssMib(sky.pid);
    const cpu0 = treeCpuMs(sky.reaperPid);
    const completion = [];
    let expected = (await jobs(sky, 'bench', ['SUCCEEDED'])).length;
    for (const clients of [1, 4]) {
      const c = await skyCompletion(sky, 'bench', N, clients);
      expected += N;
      if (c.succeeded_total !== expected) throw new Error(`sky: ${expected} jobs should have SUCCEEDED, ${c.succeeded_total} did (of ${c.listed_total})`);
      completion.push(c);
    }
    const cpuMsPerJob = (treeCpuMs(sky.reaperPid) - cpu0) / (2 * N);
    const loopMs = await shellLoop(`for i in $(seq ${LOOP}); do "${process.execPath}" "${SKY_BIN}" exec -d bench true >/dev/null || exit 1; done`, sky.cliEnv());
    await until('the CLI loop jobs to end', async () => (await jobs(sky, 'bench', ['PENDING', 'SETTING_UP', 'RUNNING'])).length === 0);
    // N held: two 1-CPU `sleep 600` jobs fill the node, N more wait behind them.
    for (let i = 0; i < 2; i++) await operation(sky, 'exec', { cluster: 'bench', task: { resources: { cpus: 1 }, run: 'sleep 600' } });
    await fanOut(N, 4, () => submit(sky, 'exec', { cluster: 'bench', task: TRUE_JOB }));
    await until('the held jobs to be queued', async () => (await activeRequests(sky, 'exec')) === 0);
    const held = (await jobs(sky, 'bench', ['PENDING'])).length;
    const restMs = await timed(async () => {
      const r = await sky.call('GET', '/api/v1/clusters/bench/jobs?all_users=true');
      if (r.status !== 200) throw new Error(`job list: ${r.status}`);
    });
    const queueMs = await timed(async () => {
      const r = sky.cli(['queue', 'bench']);
      if (r.status !== 0) throw new Error(`sky queue: ${r.stderr}`);
    });
    await operation(sky, 'cancel', { cluster: 'bench', all: true });
    await sleep(2000);
    const result = {
      label,
      completion,
      cpu_ms_per_job: cpuMsPerJob,
      cli_loop: { jobs: LOOP, ms: loopMs, jobs_per_s: (LOOP * 1000) / loopMs },
      listing: { held, rest_ms: restMs, cli_ms: queueMs },
      rss_mib: { idle: rssIdle, after: rssMib(sky.pid) },
    };
    console.log(
      `sky (${label}): ${completion.map((c) => `${c.clients} client(s) ${c.jobs_per_s.toFixed(1)} jobs/s`).join(', ')}; CPU ${cpuMsPerJob.toFixed(2)} ms/job; ` +
        `exec -d loop ${result.cli_loop.jobs_per_s.toFixed(1)} jobs/s; ${held} held: REST ${restMs.toFixed(1)} ms, sky queue ${queueMs.toFixed(0)} ms; RSS ${rssIdle?.toFixed(0)} → ${result.rss_mib.after?.toFixed(0)} MiB`,
    );
    return result;
  } finally {
    await sky.stop();
  }
}

async function skySshRound(label) {
  const { createHosts } = await import('../test/helpers/netns-hosts.ts');
  const { sshDaemonConfig } = await import('../test/helpers/ssh-daemon-config.ts');
  const set = await createHosts(2);
  try {
    const sky = await startSky(() => sshDaemonConfig(set));
    try {
      await operation(sky, 'launch', { cluster: 'sshbench', task: { num_nodes: 2, resources: { infra: 'ssh/pool-a' } } });
      const completion = [];
      for (const clients of [1, 4]) completion.push(await skyCompletion(sky, 'sshbench', N, clients));
      console.log(`sky on 2 SSH hosts (${label}): ${completion.map((c) => `${c.clients} client(s) ${c.jobs_per_s.toFixed(1)} jobs/s`).join(', ')}`);
      return { label, completion };
    } finally {
      await sky.stop();
    }
  } finally {
    await set.destroy();
  }
}

// ------------------------------------------------------------------ Slurm

async function slurmCompletion(slurm, count, clients) {
  const t0 = performance.now();
  await fanOut(count, clients, () => sbatch(slurm));
  const submittedMs = performance.now() - t0;
  await until(`${count} Slurm jobs to end`, async () => (await activeJobs(slurm)) === 0, PHASE_LIMIT_MS, 100);
  const ms = performance.now() - t0;
  return { clients, jobs: count, submitted_ms: submittedMs, ms, jobs_per_s: (count * 1000) / ms };
}

const slurmCpu = (slurm) => treeCpuMs(slurm.reapers.slurmctld) + treeCpuMs(slurm.reapers.slurmd);

async function slurmRound(label, profile, count) {
  const slurm = await startSlurm(profile);
  try {
    await sleep(2000);
    const rssIdle = rssMib(slurm.pids.slurmctld);
    const cpu0 = slurmCpu(slurm);
    const munge0 = treeCpuMs(slurm.reapers.munged);
    const completion = [];
    for (const clients of [1, 4]) completion.push(await slurmCompletion(slurm, count, clients));
    const cpuMsPerJob = (slurmCpu(slurm) - cpu0) / (2 * count);
    const mungeMsPerJob = (treeCpuMs(slurm.reapers.munged) - munge0) / (2 * count);
    const result = { label, profile, completion, cpu_ms_per_job: cpuMsPerJob, munged_cpu_ms_per_job: mungeMsPerJob };
    if (profile === 'tuned') {
      const loopMs = await shellLoop(`for i in $(seq ${LOOP}); do sbatch -c 1 -o ${slurm.dir}/out/%j.out --wrap true >/dev/null || exit 1; done`, slurm.env);
      await until('the sbatch loop jobs to end', async () => (await activeJobs(slurm)) === 0);
      for (let i = 0; i < 2; i++) await sbatch(slurm, { wrap: 'sleep 600' });
      await fanOut(count, 4, () => sbatch(slurm));
      const held = Number((await run(['squeue', '-h', '-t', 'PD', '-o', '%i'], slurm.env)).split('\n').filter((l) => l.trim() !== '').length);
      const squeueMs = await timed(() => run(['squeue'], slurm.env));
      await run(['scancel', '--user=root'], slurm.env);
      await until('the cancelled Slurm jobs to go', async () => (await activeJobs(slurm)) === 0, 60_000);
      Object.assign(result, { cli_loop: { jobs: LOOP, ms: loopMs, jobs_per_s: (LOOP * 1000) / loopMs }, listing: { held, cli_ms: squeueMs } });
    }
    result.rss_mib = { idle: rssIdle, after: rssMib(slurm.pids.slurmctld) };
    console.log(
      `Slurm ${profile} (${label}): ${completion.map((c) => `${c.clients} submitter(s) ${c.jobs_per_s.toFixed(1)} jobs/s`).join(', ')}; CPU ${cpuMsPerJob.toFixed(2)} ms/job (munged ${mungeMsPerJob.toFixed(2)})` +
        (result.cli_loop ? `; sbatch loop ${result.cli_loop.jobs_per_s.toFixed(1)} jobs/s; ${result.listing.held} held: squeue ${result.listing.cli_ms.toFixed(1)} ms` : '') +
        `; slurmctld RSS ${rssIdle?.toFixed(0)} → ${result.rss_mib.after?.toFixed(0)} MiB`,
    );
    return result;
  } finally {
    await slurm.stop();
  }
}

// ------------------------------------------------------------------ table

function summarize(sky, slurm, stock, ssh) {
  const med = (rounds, pick) => (rounds.length === 0 ? undefined : median(rounds.map(pick).filter((v) => typeof v === 'number')));
  const rows = [];
  const row = (figure, s, l, better) => {
    const ratio = s !== undefined && l !== undefined && l !== 0 ? (better === 'higher' ? s / l : l / s) : undefined;
    rows.push({ figure, sky: s, slurm: l, 'sky vs Slurm': ratio === undefined ? '' : `${ratio.toFixed(2)}×${ratio >= 1 ? ' better' : ' worse'}` });
  };
  for (const [i, clients] of [1, 4].entries()) {
    row(`completion, ${N} true jobs, ${clients} client(s) (jobs/s)`, med(sky, (r) => r.completion[i].jobs_per_s), med(slurm, (r) => r.completion[i].jobs_per_s), 'higher');
  }
  row('CPU per job, whole system (ms)', med(sky, (r) => r.cpu_ms_per_job), med(slurm, (r) => r.cpu_ms_per_job), 'lower');
  row(`exec -d / sbatch in a shell loop (jobs/s)`, med(sky, (r) => r.cli_loop.jobs_per_s), med(slurm, (r) => r.cli_loop?.jobs_per_s), 'higher');
  row(`job list, ${N} held: REST (ms)`, med(sky, (r) => r.listing.rest_ms), undefined, 'lower');
  row(`job list, ${N} held: sky queue / squeue (ms)`, med(sky, (r) => r.listing.cli_ms), med(slurm, (r) => r.listing?.cli_ms), 'lower');
  row('RSS idle: daemon / slurmctld (MiB)', med(sky, (r) => r.rss_mib.idle), med(slurm, (r) => r.rss_mib.idle), 'lower');
  row('RSS after: daemon / slurmctld (MiB)', med(sky, (r) => r.rss_mib.after), med(slurm, (r) => r.rss_mib.after), 'lower');
  if (stock.length > 0) {
    for (const [i, clients] of [1, 4].entries()) row(`Slurm stock profile, ${STOCK_N} jobs, ${clients} submitter(s) (jobs/s)`, undefined, med(stock, (r) => r.completion[i].jobs_per_s), 'higher');
  }
  if (ssh.length > 0) {
    for (const [i, clients] of [1, 4].entries()) row(`sky on a 2-host SSH pool cluster, ${clients} client(s) (jobs/s)`, med(ssh, (r) => r.completion[i].jobs_per_s), undefined, 'higher');
  }
  for (const r of rows) for (const k of ['sky', 'slurm']) r[k] = typeof r[k] === 'number' ? Number(r[k].toFixed(r[k] >= 100 ? 0 : 2)) : '';
  return rows;
}

async function main() {
  const load = [loadavg()[0]];
  const started = new Date().toISOString();
  const skyRounds = [];
  const slurmRounds = [];
  const stockRounds = [];
  const sshRounds = [];
  const withSlurm = !flag('--no-slurm');
  skyRounds.push(await skyRound('1st'));
  if (withSlurm) slurmRounds.push(await slurmRound('1st', 'tuned', N));
  if (flag('--ssh')) sshRounds.push(await skySshRound('1st'));
  skyRounds.push(await skyRound('2nd'));
  if (withSlurm) {
    slurmRounds.push(await slurmRound('2nd', 'tuned', N));
    stockRounds.push(await slurmRound('stock', 'stock', STOCK_N));
  }
  if (flag('--ssh')) sshRounds.push(await skySshRound('2nd'));
  skyRounds.push(await skyRound('3rd'));
  load.push(loadavg()[0]);
  const table = summarize(skyRounds, slurmRounds, stockRounds, sshRounds);
  console.log(`\njobs bench, ${N} jobs, medians of ${skyRounds.length} sky and ${slurmRounds.length} Slurm rounds (interleaved), ${cpus().length} CPUs; 1-minute load ${load[0].toFixed(1)} → ${load[1].toFixed(1)}`);
  console.table(table);
  if (jsonFile !== undefined) {
    const metric = (id, label, v, unit, better) => (typeof v === 'number' ? [{ id, label, value: v, unit, better }] : []);
    const get = (prefix) => {
      const r = table.find((x) => x.figure.startsWith(prefix));
      return r === undefined ? undefined : { sky: r.sky === '' ? undefined : r.sky, slurm: r.slurm === '' ? undefined : r.slurm };
    };
    const metrics = [
      ...metric('jobs_sky_completion_4_clients', `jobs: sky completion, ${N} jobs, 4 clients`, get('completion, ' + N + ' true jobs, 4')?.sky, '/s', 'higher'),
      ...metric('jobs_slurm_completion_4_submitters', `jobs: Slurm (tuned) completion, ${N} jobs, 4 submitters`, get('completion, ' + N + ' true jobs, 4')?.slurm, '/s', 'higher'),
      ...metric('jobs_sky_cpu_per_job', 'jobs: sky CPU per job (all processes)', get('CPU per job')?.sky, 'ms', 'lower'),
      ...metric('jobs_slurm_cpu_per_job', 'jobs: Slurm CPU per job (ctld+d+stepd)', get('CPU per job')?.slurm, 'ms', 'lower'),
      ...metric('jobs_sky_exec_loop', 'jobs: sky exec -d in a shell loop', get('exec -d')?.sky, '/s', 'higher'),
    ];
    mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
    writeFileSync(jsonFile, JSON.stringify({ bench: 'jobs', recorded: started, quick, n: N, load_average: load, table, metrics, sky: skyRounds, slurm: slurmRounds, slurm_stock: stockRounds, ssh: sshRounds }, null, 2) + '\n');
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
main().catch((err) => {
  console.error(`jobs bench: ${err.stack ?? err}`);
  process.exit(1);
});
