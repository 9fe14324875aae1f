#!/usr/bin/env node
/**
 * End-to-end figures of the built daemon (core/daemon/dist) on its default store (LevelDB),
 * with a throwaway HOME and a free port on 127.0.0.1:
 *
 *   rss            VmRSS of the daemon idle after start, after 10,000 requests, and after the load phase
 *   cli            wall time of `node cli/bin/sky.js api status` against the warm daemon (20 runs)
 *   http load      no-op pings (POST /api/v1/ping {} → 202) from 50 keep-alive clients:
 *                  submits/s, finishes/s and submit latency percentiles
 *   http round trip one ping at a time, submit then long-poll its /wait: latency percentiles
 *
 * Every loop is bounded in count and in time, and talks to 127.0.0.1 only. The daemon is
 * stopped by its pid at the end, also when the bench fails or is interrupted.
 *
 *   node bench/e2e.mjs [--json FILE] [--quick] [--profile DIR]
 *
 * --profile DIR runs the daemon under `node --cpu-prof` and summarises where its CPU went
 * (the profiler slows it down: figures of a profiled run are not comparable).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { printSummary, summarize } from './cpuprofile.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const DAEMON_MAIN = join(ROOT, 'core/daemon/dist/sky-daemon.mjs');
const SKY_BIN = join(ROOT, 'cli/bin/sky.js');
const CLI_DIST = join(ROOT, 'cli/dist/index.js');
const HOST = '127.0.0.1';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const jsonFile = option('--json');
const profileDir = option('--profile') === undefined ? undefined : resolve(option('--profile'));

const CLIENTS = 50;
const LOAD_REQUESTS = quick ? 5_000 : 20_000;
const RSS_REQUESTS = quick ? 2_000 : 10_000;
const LOAD_TIME_LIMIT_MS = 60_000;
const FINISH_TIME_LIMIT_MS = 60_000;
const CLI_RUNS = quick ? 5 : 20;
const ROUND_TRIPS = quick ? 100 : 300;
const IDLE_SETTLE_MS = 2_000;

const TARGETS = {
  cliMedianMs: 100,
  idleRssMb: 80,
  submitsPerSecond: 5_000,
};

// ---------------------------------------------------------------- helpers

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
  if (sorted.length === 0) return undefined;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function stats(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return {
    count: sorted.length,
    mean,
    min: sorted[0],
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/** VmRSS and VmHWM of a process, in MB (Linux /proc). */
function memoryOf(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) / 1024 : undefined;
  };
  return { rss_mb: kb('VmRSS'), hwm_mb: kb('VmHWM') };
}

let clockTicks;
/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
function ticksPerSecond() {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    clockTicks = Number(r.stdout?.trim()) || 100;
  }
  return clockTicks;
}

/**
 * CPU time (ms) a process used so far from /proc/<pid>/stat: its own user + system time, or
 * with `children` that of its waited-for children. Unlike wall time this hardly moves when
 * other work shares the machine.
 */
function cpuMsOf(pid, children = false) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime = 14, stime = 15, cutime = 16, cstime = 17.
  const [user, system] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return ((Number(user) + Number(system)) * 1000) / ticksPerSecond();
}

const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS, maxFreeSockets: CLIENTS });
/** The local token of each personal daemon, by port: its owner's clients send it with every call. */
const localTokens = new Map();

/** One HTTP exchange with the daemon over the keep-alive agent. */
function call(port, method, path, body) {
  return new Promise((resolveCall, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { 'x-sky-user-id': 'bench', 'x-sky-user-name': 'bench' };
    if (localTokens.has(port)) headers['x-sky-local-token'] = localTokens.get(port);
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const req = request({ host: HOST, port, method, path, headers, agent, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolveCall({ status: res.statusCode, headers: res.headers, json, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

// ---------------------------------------------------------------- the daemon

class DaemonProcess {
  constructor() {
    this.home = mkdtempSync(join(tmpdir(), 'sky-bench-home-'));
    mkdirSync(join(this.home, '.sky'), { recursive: true });
    this.child = undefined;
    this.stderr = '';
  }

  get pid() {
    return this.child?.pid;
  }

  get alive() {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start() {
    this.port = await freePort();
    this.url = `http://${HOST}:${this.port}`;
    const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
    this.child = spawn(process.execPath, [...nodeArgs, DAEMON_MAIN, '--host', HOST, '--port', String(this.port)], {
      env: { ...process.env, HOME: this.home },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.exited = new Promise((r) => this.child.once('exit', (code, signal) => r({ code, signal })));
    this.child.stderr.on('data', (c) => (this.stderr += c.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!this.alive) throw new Error(`the daemon exited during start: ${this.stderr.trim()}`);
      try {
        const res = await call(this.port, 'GET', '/api/health');
        if (res.status === 200) {
          localTokens.set(this.port, readFileSync(join(this.home, '.sky/api_server/local_token'), 'utf8').trim());
          return;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the daemon did not answer /api/health within 20 s: ${this.stderr.trim()}`);
      await sleep(50);
    }
  }

  /** SIGTERM by pid and wait for it to drain; SIGKILL after 15 s. */
  async stop() {
    if (!this.alive) return this.exited ? await this.exited : undefined;
    process.kill(this.child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (this.alive) process.kill(this.child.pid, 'SIGKILL');
    }, 15_000);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Last resort from an exit handler: synchronous. */
  killNow() {
    if (this.alive) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  removeHome() {
    rmSync(this.home, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- phases

/** Median wall time of a command, run `runs` times after one unmeasured warm-up run. */
function timeCommand(argv, env, runs) {
  const once = () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, argv, { env, encoding: 'utf8', timeout: 15_000 });
    return { ms: performance.now() - t0, status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, error: r.error };
  };
  const warm = once();
  if (warm.error || warm.status !== 0) return { ok: false, first: warm };
  const samples = [];
  const cpuBefore = cpuMsOf('self', true);
  for (let i = 0; i < runs; i++) {
    const r = once();
    if (r.error || r.status !== 0) return { ok: false, first: r };
    samples.push(r.ms);
  }
  const cpuMs = (cpuMsOf('self', true) - cpuBefore) / runs;
  return { ok: true, stats: stats(samples), cpu_ms: cpuMs, output: warm.stdout.trim() };
}

async function cliPhase(daemon) {
  if (!existsSync(CLI_DIST) || !existsSync(SKY_BIN)) {
    return { skipped: `the CLI is not built (${existsSync(SKY_BIN) ? CLI_DIST : SKY_BIN} is missing): run npm run build once it exists` };
  }
  const env = { ...process.env, HOME: daemon.home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url, NO_COLOR: '1' };
  delete env.SKY_DEBUG;
  const cli = timeCommand([SKY_BIN, 'api', 'status'], env, CLI_RUNS);
  const floor = timeCommand(['-e', '0'], env, CLI_RUNS);
  if (!cli.ok) {
    const f = cli.first;
    const why = f.error ? f.error.message : f.signal ? `killed by ${f.signal}` : `exit ${f.status}`;
    return { skipped: `\`sky api status\` failed (${why}): ${(f.stderr || f.stdout || '').trim().slice(0, 400)}` };
  }
  return {
    runs: CLI_RUNS,
    api_status_ms: cli.stats,
    api_status_cpu_ms: cli.cpu_ms,
    node_startup_ms: floor.ok ? floor.stats : undefined,
    node_startup_cpu_ms: floor.ok ? floor.cpu_ms : undefined,
    sample_output: cli.output.slice(0, 200),
  };
}

/**
 * `total` pings from CLIENTS concurrent keep-alive clients, bounded by count and time.
 * Returns when every submit is answered; then waits (bounded) until none is left active.
 */
async function loadPhase(daemon, total) {
  const latencies = [];
  const ids = [];
  const failures = new Map();
  let issued = 0;
  let deferred = 0;
  const cpuStart = cpuMsOf(daemon.pid);
  const t0 = performance.now();
  const deadline = t0 + LOAD_TIME_LIMIT_MS;
  const client = async () => {
    while (issued < total && performance.now() < deadline) {
      issued += 1;
      const start = performance.now();
      try {
        const res = await call(daemon.port, 'POST', '/api/v1/ping', {});
        if (res.status === 202 && typeof res.json?.requestId === 'string') {
          latencies.push(performance.now() - start);
          ids.push(res.json.requestId);
        } else if (res.status === 503 && res.json?.error?.code === 'QUEUE_FULL') {
          // The bounded queue asks clients to come back: do as told, and submit this one again.
          deferred += 1;
          issued -= 1;
          await sleep(Number(res.headers['retry-after'] ?? 1) * 1000);
        } else {
          const key = `${res.status} ${res.json?.error?.code ?? res.text.slice(0, 80)}`;
          failures.set(key, (failures.get(key) ?? 0) + 1);
        }
      } catch (err) {
        const key = err.code ?? err.message;
        failures.set(key, (failures.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const tSubmitted = performance.now();

  // Finished: nothing of anyone's left PENDING or RUNNING (the list reads the active cache).
  let tFinished;
  const finishDeadline = tSubmitted + FINISH_TIME_LIMIT_MS;
  while (performance.now() < finishDeadline) {
    const res = await call(daemon.port, 'GET', '/api/v1/requests?all_users=true&status=PENDING,RUNNING&limit=1');
    if (res.status !== 200) throw new Error(`listing active requests answered ${res.status}: ${res.text.slice(0, 200)}`);
    if (res.json.items.length === 0) {
      tFinished = performance.now();
      break;
    }
    await sleep(5);
  }

  const daemonCpuMs = cpuMsOf(daemon.pid) - cpuStart;

  // Spot check: a sample of the accepted requests must have SUCCEEDED.
  const sample = [];
  for (let i = 0; i < Math.min(100, ids.length); i++) sample.push(ids[Math.floor((i * ids.length) / Math.min(100, ids.length))]);
  if (ids.length > 0) sample.push(ids[ids.length - 1]);
  const notSucceeded = [];
  for (const id of sample) {
    const res = await call(daemon.port, 'GET', `/api/v1/requests/${id}`);
    if (res.json?.status !== 'SUCCEEDED') notSucceeded.push(`${id}: ${res.json?.status ?? res.status}`);
  }

  const submitSeconds = (tSubmitted - t0) / 1000;
  return {
    clients: CLIENTS,
    planned: total,
    accepted: ids.length,
    deferred_queue_full: deferred,
    failed: Object.fromEntries(failures),
    stopped_by_time_limit: issued < total,
    submit_seconds: submitSeconds,
    submits_per_second: ids.length / submitSeconds,
    finish_seconds: tFinished === undefined ? undefined : (tFinished - t0) / 1000,
    finishes_per_second: tFinished === undefined ? undefined : ids.length / ((tFinished - t0) / 1000),
    all_finished_within_limit: tFinished !== undefined,
    submit_latency_ms: stats(latencies),
    daemon_cpu_ms: daemonCpuMs,
    daemon_cpu_us_per_request: ids.length > 0 ? (daemonCpuMs * 1000) / ids.length : undefined,
    spot_check: { checked: sample.length, not_succeeded: notSucceeded },
  };
}

/** One ping at a time: submit, then long-poll its /wait until it is finished. */
async function roundTripPhase(daemon) {
  const samples = [];
  const deadline = performance.now() + 30_000;
  for (let i = 0; i < ROUND_TRIPS && performance.now() < deadline; i++) {
    const t0 = performance.now();
    const submitted = await call(daemon.port, 'POST', '/api/v1/ping', {});
    if (submitted.status !== 202) throw new Error(`ping answered ${submitted.status}: ${submitted.text.slice(0, 200)}`);
    const done = await call(daemon.port, 'GET', `/api/v1/requests/${submitted.json.requestId}/wait?timeout=10`);
    if (done.json?.status !== 'SUCCEEDED') throw new Error(`request ${submitted.json.requestId} ended ${done.json?.status ?? done.status}`);
    samples.push(performance.now() - t0);
  }
  return stats(samples);
}

// ---------------------------------------------------------------- main

function metricsOf(out) {
  const m = [];
  const add = (id, label, value, unit, better, target) => {
    if (typeof value === 'number' && Number.isFinite(value)) m.push({ id, label, value, unit, better, ...(target ? { target } : {}) });
  };
  add('e2e.rss.idle_mb', 'daemon RSS idle after start', out.rss.idle.rss_mb, 'MB', 'lower', { op: '<=', value: TARGETS.idleRssMb });
  add('e2e.rss.after_warmup_mb', `daemon RSS idle after ${RSS_REQUESTS} requests`, out.rss.after_warmup.rss_mb, 'MB', 'lower');
  add('e2e.rss.after_load_mb', `daemon RSS idle after ${RSS_REQUESTS + LOAD_REQUESTS} requests`, out.rss.after_load.rss_mb, 'MB', 'lower');
  add('e2e.rss.peak_mb', 'daemon RSS peak (VmHWM)', out.rss.after_load.hwm_mb, 'MB', 'lower');
  if (out.cli.api_status_ms) {
    add('e2e.cli.api_status.p50_ms', '`sky api status` wall time, median', out.cli.api_status_ms.p50, 'ms', 'lower', { op: '<=', value: TARGETS.cliMedianMs });
    add('e2e.cli.api_status.p90_ms', '`sky api status` wall time, p90', out.cli.api_status_ms.p90, 'ms', 'lower');
    add('e2e.cli.api_status.cpu_ms', '`sky api status` CPU time (user+sys), mean', out.cli.api_status_cpu_ms, 'ms', 'lower');
  }
  if (out.cli.node_startup_ms) {
    add('e2e.cli.node_floor.p50_ms', '`node -e 0` wall time, median (floor)', out.cli.node_startup_ms.p50, 'ms', 'lower');
    add('e2e.cli.node_floor.cpu_ms', '`node -e 0` CPU time (user+sys), mean', out.cli.node_startup_cpu_ms, 'ms', 'lower');
  }
  add('e2e.http.submits_per_s', `HTTP submits/s (${CLIENTS} keep-alive clients)`, out.load.submits_per_second, '/s', 'higher', { op: '>=', value: TARGETS.submitsPerSecond });
  add('e2e.http.finishes_per_s', 'HTTP requests finished/s (same load)', out.load.finishes_per_second, '/s', 'higher', { op: '>=', value: TARGETS.submitsPerSecond });
  add('e2e.http.daemon_cpu_us', 'daemon CPU per request under HTTP load (user+sys, all threads)', out.load.daemon_cpu_us_per_request, 'µs', 'lower');
  add('e2e.http.submit.p50_ms', 'HTTP submit latency p50 under load', out.load.submit_latency_ms.p50, 'ms', 'lower');
  add('e2e.http.submit.p90_ms', 'HTTP submit latency p90 under load', out.load.submit_latency_ms.p90, 'ms', 'lower');
  add('e2e.http.submit.p99_ms', 'HTTP submit latency p99 under load', out.load.submit_latency_ms.p99, 'ms', 'lower');
  add('e2e.http.roundtrip.p50_ms', 'HTTP round trip (submit + wait), one at a time, p50', out.round_trip_ms.p50, 'ms', 'lower');
  add('e2e.http.roundtrip.p90_ms', 'HTTP round trip (submit + wait), one at a time, p90', out.round_trip_ms.p90, 'ms', 'lower');
  add('e2e.http.roundtrip.p99_ms', 'HTTP round trip (submit + wait), one at a time, p99', out.round_trip_ms.p99, 'ms', 'lower');
  return m;
}

function report(out) {
  const f = (v, d = 1) => (typeof v === 'number' ? v.toFixed(d) : 'n/a');
  console.log(`daemon: pid ${out.daemon.pid}, store LevelDB in a temp HOME, exit on SIGTERM ${JSON.stringify(out.daemon_exit)}`);
  console.log(`RSS: idle ${f(out.rss.idle.rss_mb)} MB · after ${RSS_REQUESTS} requests ${f(out.rss.after_warmup.rss_mb)} MB · after ${RSS_REQUESTS + LOAD_REQUESTS} ${f(out.rss.after_load.rss_mb)} MB · peak ${f(out.rss.after_load.hwm_mb)} MB`);
  if (out.cli.skipped) console.log(`CLI: SKIPPED — ${out.cli.skipped}`);
  else {
    const c = out.cli.api_status_ms;
    const n = out.cli.node_startup_ms;
    console.log(
      `CLI \`sky api status\` (${out.cli.runs} runs): median ${f(c.p50)} ms, p90 ${f(c.p90)} ms, min ${f(c.min)} ms, CPU ${f(out.cli.api_status_cpu_ms)} ms` +
        (n ? ` · bare \`node -e 0\`: median ${f(n.p50)} ms, CPU ${f(out.cli.node_startup_cpu_ms)} ms` : ''),
    );
  }
  const l = out.load;
  console.log(
    `HTTP load: ${l.accepted}/${l.planned} accepted in ${f(l.submit_seconds, 2)} s → ${f(l.submits_per_second, 0)} submits/s; ` +
      (l.all_finished_within_limit ? `all finished after ${f(l.finish_seconds, 2)} s → ${f(l.finishes_per_second, 0)} finished/s` : 'NOT all finished within the time limit'),
  );
  const s = l.submit_latency_ms;
  console.log(`  daemon CPU: ${f(l.daemon_cpu_ms, 0)} ms over the phase = ${f(l.daemon_cpu_us_per_request, 0)} µs per request`);
  console.log(`  submit latency ms: p50 ${f(s.p50, 2)} · p90 ${f(s.p90, 2)} · p99 ${f(s.p99, 2)} · max ${f(s.max, 2)}`);
  if (Object.keys(l.failed).length > 0) console.log(`  failures: ${JSON.stringify(l.failed)}`);
  if (l.deferred_queue_full > 0) console.log(`  refused QUEUE_FULL and submitted again after Retry-After: ${l.deferred_queue_full}`);
  if (l.spot_check.not_succeeded.length > 0) console.log(`  spot check: NOT SUCCEEDED: ${l.spot_check.not_succeeded.slice(0, 5).join(', ')}`);
  else console.log(`  spot check: ${l.spot_check.checked} sampled requests all SUCCEEDED`);
  const r = out.round_trip_ms;
  console.log(`HTTP round trip one at a time (${r.count}): p50 ${f(r.p50, 2)} ms · p90 ${f(r.p90, 2)} ms · p99 ${f(r.p99, 2)} ms`);
}

async function main() {
  if (!existsSync(DAEMON_MAIN)) {
    console.error(`e2e bench: ${DAEMON_MAIN} is missing; run npm run build first`);
    process.exit(1);
  }
  const daemon = new DaemonProcess();
  const onSignal = (signal) => {
    daemon.killNow();
    daemon.removeHome();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => daemon.killNow());
  const loadBefore = loadavg()[0];
  const out = { bench: 'e2e', quick, profiled: profileDir !== undefined };
  try {
    await daemon.start();
    out.daemon = { pid: daemon.pid, url: daemon.url };
    console.log(`daemon pid ${daemon.pid} listening on ${daemon.url}, HOME ${daemon.home}`);
    await sleep(IDLE_SETTLE_MS);
    out.rss = { idle: memoryOf(daemon.pid) };

    out.cli = await cliPhase(daemon);

    // Also the JIT warm-up of the load phase.
    out.warmup = await loadPhase(daemon, RSS_REQUESTS);
    await sleep(IDLE_SETTLE_MS);
    out.rss.after_warmup = memoryOf(daemon.pid);

    out.load = await loadPhase(daemon, LOAD_REQUESTS);
    out.round_trip_ms = await roundTripPhase(daemon);
    await sleep(IDLE_SETTLE_MS);
    out.rss.after_load = memoryOf(daemon.pid);
  } finally {
    const exit = await daemon.stop();
    out.daemon_exit = exit;
    agent.destroy();
    daemon.removeHome();
  }
  out.loadavg_1m = { before: loadBefore, after: loadavg()[0] };
  out.metrics = metricsOf(out);
  report(out);
  console.log(`1-minute load average: ${out.loadavg_1m.before.toFixed(2)} before, ${out.loadavg_1m.after.toFixed(2)} after`);
  if (out.daemon_exit && (out.daemon_exit.code !== 0 || out.daemon_exit.signal !== null)) {
    console.log(`note: the daemon exited with ${JSON.stringify(out.daemon_exit)} on SIGTERM`);
  }

  if (profileDir !== undefined) {
    const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort() : [];
    const newest = files.at(-1);
    if (newest === undefined) console.log(`profile: no .cpuprofile was written to ${profileDir}`);
    else {
      const file = join(profileDir, newest);
      const summary = summarize(JSON.parse(readFileSync(file, 'utf8')), 40);
      out.profile = { file, ...summary };
      console.log(`daemon CPU profile: ${file}`);
      printSummary(summary);
    }
  }

  if (jsonFile !== undefined) {
    mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
    writeFileSync(jsonFile, JSON.stringify(out, null, 2) + '\n');
  }
}

main().catch((err) => {
  console.error(`e2e bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
