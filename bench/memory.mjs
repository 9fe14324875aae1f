#!/usr/bin/env node
/**
 * The daemon's memory (VmRSS, from /proc) in its default personal configuration: the built
 * daemon, started the way the CLI starts it (core/client spawnDaemon: same node flags and
 * environment), on a free port with a throwaway HOME.
 *
 *   idle     VmRSS 2 s after one launch / exec / status round trip through the CLI
 *   jobs     the largest VmRSS sampled each second while N trivial jobs (`true`, exec requests
 *            from 4 keep-alive clients) run to their end on a 1-node local cluster, and VmRSS
 *            once they have (default 10,000; a time limit bounds the phase and says so)
 *   soak     no-op requests (POST /api/v1/ping, each stored and finished) from 50 keep-alive
 *            clients for S seconds (default 150; --quick 20): requests/s, errors, p99, and
 *            the largest VmRSS sampled each second, with the samples at 10 % steps to show
 *            whether it plateaus
 *
 * Every loop is bounded; the daemon is stopped by its pid at the end, also when the bench
 * fails. Figures are reported, never asserted.
 *
 * --soak-requests N ends the soak after N requests (or S seconds, whichever comes first).
 * --heap-snapshots DIR: the daemon also gets `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR`
 * and writes a heap snapshot (after a full collection) when idle and 2 s after each phase, named
 * for it (idle.heapsnapshot, jobs.heapsnapshot, soak.heapsnapshot); compare two with
 * `node bench/heap-diff.mjs A B` to see what a phase left on the heap.
 *
 *   node bench/memory.mjs [--json FILE] [--quick] [--only idle|jobs|soak] [--jobs N] [--soak-seconds S]
 *                         [--soak-requests N] [--heap-snapshots DIR]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setInterval, clearInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const DAEMON_MAIN = join(ROOT, 'core/daemon/dist/sky-daemon.mjs');
const SKY = join(ROOT, 'cli/bin/sky.js');
const HOST = '127.0.0.1';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const valueOf = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const jsonFile = valueOf('--json');
const only = valueOf('--only');
const JOBS = Number(valueOf('--jobs') ?? (quick ? 1000 : 10_000));
const SOAK_SECONDS = Number(valueOf('--soak-seconds') ?? (quick ? 20 : 150));
const SOAK_REQUESTS = Number(valueOf('--soak-requests') ?? Infinity);
const snapshotDir = valueOf('--heap-snapshots');
const SOAK_CLIENTS = 50;
const JOB_CLIENTS = 4;
const JOBS_LIMIT_MS = quick ? 120_000 : 900_000;

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

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Samples VmRSS every second until stopped: the largest, and every sample. */
function sampler(pid) {
  const samples = [rssMb(pid)];
  const timer = setInterval(() => samples.push(rssMb(pid)), 1000);
  return {
    stop() {
      clearInterval(timer);
      samples.push(rssMb(pid));
      return { max_mb: Math.max(...samples), samples_mb: samples };
    },
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  return sorted[lo] + (sorted[Math.ceil(rank)] - sorted[lo]) * (rank - lo);
}

let token = '';
function call(agent, port, method, path, body) {
  return new Promise((resolveCall, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { 'x-sky-local-token': token };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const req = request({ host: HOST, port, method, path, headers, agent, timeout: 60_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolveCall({ status: res.statusCode, headers: res.headers, json, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function sky(env, ...argv) {
  const r = spawnSync(process.execPath, [SKY, ...argv], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) throw new Error(`sky ${argv.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The node flags and environment the CLI starts a daemon with (core/client spawnDaemon). */
async function daemonLaunch() {
  const client = await import(join(ROOT, 'core/client/dist/autostart.js'));
  const nodeArgs = [...client.daemonNodeArgs(process.env)];
  if (snapshotDir !== undefined) nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${resolve(snapshotDir)}`);
  return { nodeArgs, env: process.env };
}

/**
 * Have the daemon write a heap snapshot and name it `<label>.heapsnapshot`. The daemon writes it
 * synchronously, so once it answers again the file is complete.
 */
async function heapSnapshot(child, health, label) {
  if (snapshotDir === undefined) return;
  const before = new Set(readdirSync(snapshotDir));
  child.kill('SIGUSR2');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const fresh = readdirSync(snapshotDir).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (fresh.length > 0 && (await health().catch(() => false))) {
      renameSync(join(snapshotDir, fresh[0]), join(snapshotDir, `${label}.heapsnapshot`));
      console.log(`  heap snapshot: ${join(snapshotDir, `${label}.heapsnapshot`)}`);
      return;
    }
    if (Date.now() > deadline) throw new Error('the daemon wrote no heap snapshot in 120 s');
    await sleep(200);
  }
}

async function main() {
  if (snapshotDir !== undefined) mkdirSync(snapshotDir, { recursive: true });
  const home = mkdtempSync(join(tmpdir(), 'sky-bench-memory-'));
  mkdirSync(join(home, '.sky'), { recursive: true });
  const port = await freePort();
  const url = `http://${HOST}:${port}`;
  const launch = await daemonLaunch();
  const child = spawn(process.execPath, [...launch.nodeArgs, DAEMON_MAIN, '--host', HOST, '--port', String(port)], { env: { ...launch.env, HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const env = { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: url, NO_COLOR: '1' };
  const pid = child.pid;
  const agent = new Agent({ keepAlive: true, maxSockets: SOAK_CLIENTS });
  const out = { quick, node_args: launch.nodeArgs, load_average: [loadavg()[0]] };
  const f = (n) => n.toFixed(1);
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the daemon exited: ${stderr}`);
      try {
        if ((await call(agent, port, 'GET', '/api/health')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the daemon did not start: ${stderr}`);
      await sleep(50);
    }
    token = readFileSync(join(home, '.sky/api_server/local_token'), 'utf8').trim();
    out.started_mb = rssMb(pid);

    // idle: one round trip through the CLI, then 2 s.
    sky(env, 'launch', '-y', '-c', 'mem', '--cpus', '1', 'true');
    sky(env, 'exec', 'mem', 'true');
    sky(env, 'status');
    await sleep(2000);
    out.idle_mb = rssMb(pid);
    console.log(`daemon node flags: ${launch.nodeArgs.join(' ') || '(none)'}`);
    console.log(`idle: VmRSS ${f(out.idle_mb)} MB (${f(out.started_mb)} MB just after start)`);
    const health = async () => (await call(agent, port, 'GET', '/api/health')).status === 200;
    await heapSnapshot(child, health, 'idle');

    if (only === undefined || only === 'jobs') {
      const s = sampler(pid);
      const t0 = performance.now();
      let next = 0;
      let failed = 0;
      const ids = [];
      await Promise.all(
        Array.from({ length: JOB_CLIENTS }, async () => {
          while (next < JOBS && performance.now() - t0 < JOBS_LIMIT_MS) {
            next += 1;
            const res = await call(agent, port, 'POST', '/api/v1/exec', { cluster: 'mem', task: { run: 'true' } });
            if (res.status === 202) ids.push(res.json.requestId);
            else failed += 1;
          }
        }),
      );
      // Every job ended: none left in the queue that is not finished.
      let ended = 0;
      for (;;) {
        const res = await call(agent, port, 'GET', '/api/v1/clusters/mem/jobs?skip_finished=true');
        const active = res.json?.items?.length ?? res.json?.jobs?.length ?? 0;
        if (res.status === 200 && active === 0) {
          ended = ids.length;
          break;
        }
        if (performance.now() - t0 > JOBS_LIMIT_MS) break;
        await sleep(1000);
      }
      const seconds = (performance.now() - t0) / 1000;
      const rss = s.stop();
      await sleep(2000);
      out.jobs = { submitted: ids.length, refused: failed, all_ended: ended === ids.length && ids.length === JOBS, seconds, max_mb: rss.max_mb, after_mb: rssMb(pid) };
      console.log(`jobs: ${ids.length} exec requests (${failed} refused) from ${JOB_CLIENTS} clients, ${out.jobs.all_ended ? 'every job ended' : 'NOT every job ended within the time limit'} in ${f(seconds)} s; VmRSS max ${f(rss.max_mb)} MB, ${f(out.jobs.after_mb)} MB 2 s after`);
      await heapSnapshot(child, health, 'jobs');
    }

    if (only === undefined || only === 'soak') {
      const s = sampler(pid);
      const t0 = performance.now();
      const stopAt = t0 + SOAK_SECONDS * 1000;
      let started = 0;
      let deferred = 0;
      let requests = 0;
      let errors = 0;
      const latency = [];
      await Promise.all(
        Array.from({ length: SOAK_CLIENTS }, async () => {
          while (performance.now() < stopAt && started < SOAK_REQUESTS) {
            started += 1;
            const a = performance.now();
            try {
              const res = await call(agent, port, 'POST', '/api/v1/ping', {});
              if (res.status === 503 && res.json?.error?.code === 'QUEUE_FULL') {
                // The daemon's queue is full (submits outran the workers): back off as asked.
                deferred += 1;
                started -= 1;
                await sleep(Number(res.headers['retry-after'] ?? 1) * 1000);
                continue;
              } else if (res.status !== 202) errors += 1;
            } catch {
              errors += 1;
            }
            requests += 1;
            if (requests % 20 === 0) latency.push(performance.now() - a);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      await sleep(2000);
      const rss = s.stop();
      const endMb = rssMb(pid);
      latency.sort((a, b) => a - b);
      const n = rss.samples_mb.length;
      const steps = Array.from({ length: 11 }, (_, i) => rss.samples_mb[Math.min(n - 1, Math.round((i * (n - 1)) / 10))]);
      out.soak = { clients: SOAK_CLIENTS, seconds, requests, errors, queue_full: deferred, requests_per_s: requests / seconds, p99_ms: percentile(latency, 99), max_mb: rss.max_mb, end_mb: endMb, at_tenths_mb: steps };
      console.log(`soak: ${requests} no-op requests from ${SOAK_CLIENTS} keep-alive clients in ${f(seconds)} s (${f(out.soak.requests_per_s)}/s, ${errors} errors, ${deferred} refused QUEUE_FULL and retried, p99 ${f(out.soak.p99_ms)} ms); VmRSS max ${f(rss.max_mb)} MB, ${f(endMb)} MB 2 s after`);
      console.log(`  VmRSS at each tenth of the soak: ${steps.map((v) => f(v)).join(' → ')} MB`);
      await heapSnapshot(child, health, 'soak');
    }
    out.load_average.push(loadavg()[0]);
    console.log(`1-minute load average: ${f(out.load_average[0])} before, ${f(out.load_average[1])} after`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      const metrics = [{ id: 'memory.idle_mb', label: 'daemon VmRSS idle (2 s after launch/exec/status)', value: out.idle_mb, unit: 'MB', better: 'lower', target: { op: '<=', value: 70 } }];
      if (out.jobs) metrics.push({ id: 'memory.jobs_max_mb', label: `daemon VmRSS max over ${out.jobs.submitted} jobs`, value: out.jobs.max_mb, unit: 'MB', better: 'lower', target: { op: '<=', value: 150 } });
      if (out.soak) metrics.push({ id: 'memory.soak_max_mb', label: `daemon VmRSS max over a ${Math.round(out.soak.seconds)} s soak`, value: out.soak.max_mb, unit: 'MB', better: 'lower', target: { op: '<=', value: 200 } });
      writeFileSync(jsonFile, JSON.stringify({ bench: 'memory', metrics, ...out }, null, 2) + '\n');
    }
  } finally {
    agent.destroy();
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
