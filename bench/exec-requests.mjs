#!/usr/bin/env node
/**
 * Exec requests through the REST API of the built daemon (core/daemon/dist) on its default
 * store (LevelDB) and the local driver, with a throwaway HOME and a free port on 127.0.0.1.
 * What is timed is the request, not the job: an exec request ends SUCCEEDED once its job is
 * queued (recorded on the request in the same write); the jobs (`true`) then run on a 1-node
 * cluster of 2 CPUs at whatever pace the job path has.
 *
 *   round trip   one exec at a time: POST /api/v1/exec → 202, then /wait until it ended;
 *                latency of the 202 and of the whole request (percentiles)
 *   bursts       1,000 execs to one cluster from 1 and from 8 keep-alive clients: time from the
 *                first submit until every request has ended, requests/s, requests FAILED and
 *                ended INTERNAL (both must be 0), and the daemon's CPU per request (/proc)
 *
 * Each phase uses a cluster of its own, torn down after it. Every loop is bounded; the daemon is
 * stopped by its pid at the end, also when the bench fails or is interrupted. Figures are
 * reported, never asserted; the exit code is non-zero only when a request fails or the bench breaks.
 *
 *   node bench/exec-requests.mjs [--json FILE] [--quick]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = resolve(import.meta.dirname, '..');
const DAEMON_MAIN = join(ROOT, 'core/daemon/dist/sky-daemon.mjs');
const HOST = '127.0.0.1';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;

const ROUND_TRIPS = quick ? 50 : 200;
const BURST = quick ? 300 : 1000;
const PHASE_LIMIT_MS = 120_000;

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
  return { count: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

let ticks;
/** CPU ms (user + system) a process has used, from /proc/<pid>/stat. */
function cpuMsOf(pid) {
  ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });
let token;

function call(port, method, path, body) {
  return new Promise((resolveCall, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { 'x-sky-local-token': token ?? '' };
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
        resolveCall({ status: res.statusCode, json, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

async function submit(port, op, body) {
  const res = await call(port, 'POST', `/api/v1/${op}`, body);
  if (res.status !== 202) throw new Error(`POST ${op}: ${res.status} ${res.text}`);
  return res.json.requestId;
}

/** Wait until the request has ended; resolves with its record. */
async function ended(port, id) {
  const deadline = Date.now() + PHASE_LIMIT_MS;
  for (;;) {
    const res = await call(port, 'GET', `/api/v1/requests/${id}/wait?timeout=30`);
    if (res.status !== 200) throw new Error(`wait ${id}: ${res.status} ${res.text}`);
    if (!['PENDING', 'RUNNING'].includes(res.json.status)) return res.json;
    if (Date.now() > deadline) throw new Error(`request ${id} still ${res.json.status}`);
  }
}

async function operation(port, op, body) {
  const record = await ended(port, await submit(port, op, body));
  if (record.status !== 'SUCCEEDED') throw new Error(`${op} ${JSON.stringify(body)}: ${record.status} ${JSON.stringify(record.error)}`);
  return record;
}

const execBody = (cluster) => ({ cluster, task: { run: 'true' } });

async function roundTrips(port) {
  await operation(port, 'launch', { cluster: 'rt', task: { resources: { cpus: 2 } } });
  const submitMs = [];
  const totalMs = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const t0 = performance.now();
    const id = await submit(port, 'exec', execBody('rt'));
    submitMs.push(performance.now() - t0);
    const record = await ended(port, id);
    totalMs.push(performance.now() - t0);
    if (record.status !== 'SUCCEEDED') throw new Error(`exec ${id}: ${record.status} ${JSON.stringify(record.error)}`);
  }
  await operation(port, 'down', { cluster: 'rt' });
  return { submit_ms: stats(submitMs), request_ms: stats(totalMs) };
}

async function burst(daemon, clients) {
  const cluster = `burst-${clients}`;
  await operation(daemon.port, 'launch', { cluster, task: { resources: { cpus: 2 } } });
  const cpuBefore = cpuMsOf(daemon.pid);
  const t0 = performance.now();
  const ids = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < BURST) {
        next += 1;
        ids.push(await submit(daemon.port, 'exec', execBody(cluster)));
      }
    }),
  );
  const submittedMs = performance.now() - t0;
  const outcomes = {};
  for (const id of ids) {
    const record = await ended(daemon.port, id);
    const key = record.status === 'SUCCEEDED' ? 'SUCCEEDED' : `${record.status} ${record.error?.code}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  const allEndedMs = performance.now() - t0;
  const cpuMs = cpuMsOf(daemon.pid) - cpuBefore;
  const failed = ids.length - (outcomes.SUCCEEDED ?? 0);
  const internal = Object.entries(outcomes).filter(([k]) => k.endsWith('INTERNAL')).reduce((n, [, v]) => n + v, 0);
  await operation(daemon.port, 'down', { cluster });
  return { clients, requests: ids.length, submitted_ms: submittedMs, all_ended_ms: allEndedMs, requests_per_s: (ids.length * 1000) / allEndedMs, failed, internal, outcomes, daemon_cpu_ms_per_request: cpuMs / ids.length };
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'sky-bench-exec-'));
  mkdirSync(join(home, '.sky'), { recursive: true });
  const config = join(home, 'daemon.yaml');
  writeFileSync(config, `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 8\n    memory_gb: 16\n`);
  const port = await freePort();
  const child = spawn(process.execPath, [DAEMON_MAIN, '--host', HOST, '--port', String(port), '--config', config], { env: { ...process.env, HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));
  const daemon = { port, pid: child.pid };
  const load = [loadavg()[0]];
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the daemon exited: ${stderr}`);
      try {
        if ((await call(port, 'GET', '/api/health')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the daemon did not start: ${stderr}`);
      await sleep(50);
    }
    token = readFileSync(join(home, '.sky/api_server/local_token'), 'utf8').trim();
    const result = { round_trip: await roundTrips(port), bursts: [await burst(daemon, 1), await burst(daemon, 8)] };
    load.push(loadavg()[0]);
    const f = (n) => n.toFixed(1);
    console.log(`exec request, one at a time (${ROUND_TRIPS}): 202 p50 ${f(result.round_trip.submit_ms.p50)} ms, p90 ${f(result.round_trip.submit_ms.p90)} ms; ended (job queued) p50 ${f(result.round_trip.request_ms.p50)} ms, p90 ${f(result.round_trip.request_ms.p90)} ms, p99 ${f(result.round_trip.request_ms.p99)} ms`);
    for (const b of result.bursts) {
      console.log(
        `burst of ${b.requests} from ${b.clients} client(s): every request ended in ${f(b.all_ended_ms)} ms (${f(b.requests_per_s)} requests/s; submits done at ${f(b.submitted_ms)} ms); FAILED ${b.failed}, INTERNAL ${b.internal}; daemon CPU ${f(b.daemon_cpu_ms_per_request)} ms/request`,
      );
    }
    console.log(`1-minute load average: ${f(load[0])} before, ${f(load[1])} after`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      writeFileSync(jsonFile, JSON.stringify({ ...result, quick, load_average: load }, null, 2) + '\n');
    }
    if (result.bursts.some((b) => b.failed > 0)) {
      console.error('bench: requests failed in a burst');
      process.exitCode = 1;
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
