#!/usr/bin/env node
/**
 * The CLI's own cost against a warm daemon: wall time of `sky exec -d CLUSTER true`,
 * `sky status` and `sky queue CLUSTER` as a user runs them (a new node process each time,
 * bin/sky.js of the built CLI), beside `node -e 0` (node's own start on this machine, the
 * floor), interleaved round by round so load on the machine hits all of them alike. Then
 * `sky exec -d` in a shell loop (`for i in ...; do sky exec -d CLUSTER true; done`): jobs/s.
 *
 * The daemon is the built one (core/daemon/dist) with its default store (LevelDB) and the local
 * driver, on a free port with a throwaway HOME; the cluster is a 1-node local cluster. Every job
 * is a real one (`true`) that the cluster runs. The daemon is stopped by its pid at the end, also
 * when the bench fails. Figures are reported, never asserted.
 *
 *   node bench/cli-latency.mjs [--json FILE] [--quick]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const DAEMON_MAIN = join(ROOT, 'core/daemon/dist/sky-daemon.mjs');
const SKY = join(ROOT, 'cli/bin/sky.js');
const HOST = '127.0.0.1';
const CLUSTER = 'bench-cli';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;

const ROUNDS = quick ? 10 : 40;
const LOOP = quick ? 20 : 100;
const WARMUP = 3;

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function percentile(sorted, p) {
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  return sorted[lo] + (sorted[Math.ceil(rank)] - sorted[lo]) * (rank - lo);
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), min: sorted[0], max: sorted[sorted.length - 1] };
}

function health(port) {
  return new Promise((resolveHealth) => {
    const req = request({ host: HOST, port, path: '/api/health', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolveHealth(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveHealth(false));
    req.end();
  });
}

/** Run one command to its end; its wall time in ms. Throws when it fails. */
function timed(argv, env) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { env, encoding: 'utf8', timeout: 60_000 });
  const ms = performance.now() - t0;
  if (r.error || r.status !== 0) throw new Error(`${argv.slice(1).join(' ')}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}${r.stderr}`);
  return ms;
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'sky-bench-cli-'));
  mkdirSync(join(home, '.sky'), { recursive: true });
  const config = join(home, 'daemon.yaml');
  writeFileSync(config, `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 2\n    memory_gb: 4\n`);
  const port = await freePort();
  const url = `http://${HOST}:${port}`;
  const child = spawn(process.execPath, [DAEMON_MAIN, '--host', HOST, '--port', String(port), '--config', config], { env: { ...process.env, HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const env = { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: url, NO_COLOR: '1' };
  const load = [loadavg()[0]];
  try {
    const deadline = Date.now() + 20_000;
    while (!(await health(port))) {
      if (child.exitCode !== null) throw new Error(`the daemon exited: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`the daemon did not start: ${stderr}`);
      await sleep(50);
    }
    timed([process.execPath, SKY, 'launch', '-y', '-c', CLUSTER, '--cpus', '1'], env);

    const commands = {
      'node -e 0': [process.execPath, '-e', '0'],
      'sky exec -d': [process.execPath, SKY, 'exec', '-d', CLUSTER, 'true'],
      'sky status': [process.execPath, SKY, 'status'],
      'sky queue': [process.execPath, SKY, 'queue', CLUSTER],
    };
    const samples = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      for (const [name, argv] of Object.entries(commands)) {
        const ms = timed(argv, env);
        if (round >= WARMUP) samples[name].push(ms);
      }
    }
    const latency = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));

    // The shell loop a user writes: one sky process after the other.
    const script = `for i in $(seq 1 ${LOOP}); do "${process.execPath}" "${SKY}" exec -d ${CLUSTER} true >/dev/null 2>&1 || exit 1; done`;
    const loopMs = timed(['bash', '-c', script], env);
    const loop = { jobs: LOOP, ms: loopMs, jobs_per_s: (LOOP * 1000) / loopMs };
    load.push(loadavg()[0]);

    const f = (n) => n.toFixed(1);
    console.log(`CLI wall time against a warm daemon, ${ROUNDS} interleaved rounds (after ${WARMUP} warm-up rounds):`);
    for (const [name, s] of Object.entries(latency)) console.log(`  ${name.padEnd(12)} median ${f(s.p50)} ms, p95 ${f(s.p95)} ms (min ${f(s.min)}, max ${f(s.max)})`);
    console.log(`sky exec -d in a shell loop: ${LOOP} jobs in ${f(loopMs)} ms = ${f(loop.jobs_per_s)} jobs/s`);
    console.log(`1-minute load average: ${f(load[0])} before, ${f(load[1])} after`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      const metrics = [
        { id: 'cli.exec_d_p50_ms', label: 'sky exec -d, median wall time', value: latency['sky exec -d'].p50, unit: 'ms', better: 'lower', target: { op: '<=', value: 80 } },
        { id: 'cli.status_p50_ms', label: 'sky status, median wall time', value: latency['sky status'].p50, unit: 'ms', better: 'lower' },
        { id: 'cli.queue_p50_ms', label: 'sky queue, median wall time', value: latency['sky queue'].p50, unit: 'ms', better: 'lower' },
        { id: 'cli.node_p50_ms', label: 'node -e 0 (the floor), median', value: latency['node -e 0'].p50, unit: 'ms', better: 'lower' },
        { id: 'cli.exec_loop_jobs_per_s', label: 'sky exec -d in a shell loop', value: loop.jobs_per_s, unit: '/s', better: 'higher', target: { op: '>=', value: 12 } },
      ];
      writeFileSync(jsonFile, JSON.stringify({ bench: 'cli', metrics, latency, loop, quick, load_average: load }, null, 2) + '\n');
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 15_000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(timer);
    }
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench: ${err.stack ?? err}`);
  process.exit(1);
});
