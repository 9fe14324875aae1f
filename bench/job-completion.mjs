#!/usr/bin/env node
/**
 * Job completion through the REST API of the built daemon (core/daemon/dist) on its default
 * store and the local driver: a 1-node local cluster with 2 CPUs, N trivial jobs (`true`, 1 CPU
 * each) submitted with POST /api/v1/exec from 4 keep-alive clients; what is timed is the jobs,
 * from the first submit until every job has ended (the list of active jobs read every 250 ms meanwhile,
 * as a user would). Reports jobs/s, jobs not SUCCEEDED, and CPU per job of the daemon and of the
 * shells it ran (its reaped children; the detached runners and the jobs' own shells are not
 * counted). Figures are reported, never asserted; the daemon is stopped by its pid at the end.
 *
 *   node bench/job-completion.mjs [--json FILE] [--quick]
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

const JOBS = quick ? 300 : 1000;
const CLIENTS = 4;
const PHASE_LIMIT_MS = 600_000;

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

let ticks;
/** CPU ms (user + system) a process has used, from /proc/<pid>/stat. */
function cpuMsOf(pid) {
  ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
}

/** CPU ms of the process's reaped children (the shells it ran on the node: start, status, cancel). */
function childCpuMsOf(pid) {
  ticks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / ticks;
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

async function jobList(port, cluster, active) {
  const res = await call(port, 'GET', `/api/v1/clusters/${cluster}/jobs${active ? '?skip_finished=true' : ''}`);
  if (res.status !== 200) throw new Error(`job list: ${res.status} ${res.text}`);
  return res.json.items ?? [];
}

async function completion(daemon) {
  const cluster = 'jobs';
  await operation(daemon.port, 'launch', { cluster, task: { resources: { cpus: 2 } } });
  const cpuBefore = cpuMsOf(daemon.pid);
  const childBefore = childCpuMsOf(daemon.pid);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < JOBS) {
        next += 1;
        await submit(daemon.port, 'exec', { cluster, task: { run: 'true', resources: { cpus: 1 } } });
      }
    }),
  );
  const submittedMs = performance.now() - t0;
  for (let active = await jobList(daemon.port, cluster, true); active.length > 0; active = await jobList(daemon.port, cluster, true)) {
    if (performance.now() - t0 > PHASE_LIMIT_MS) throw new Error(`${active.length} of ${JOBS} jobs have not ended`);
    await sleep(active.length < 20 ? 10 : 250);
  }
  const allEndedMs = performance.now() - t0;
  const all = await jobList(daemon.port, cluster, false);
  const state = { failed: all.filter((j) => j.status !== 'SUCCEEDED').length };
  const cpuMs = cpuMsOf(daemon.pid) - cpuBefore;
  const childMs = childCpuMsOf(daemon.pid) - childBefore;
  await operation(daemon.port, 'down', { cluster });
  return { jobs: JOBS, clients: CLIENTS, submitted_ms: submittedMs, all_ended_ms: allEndedMs, jobs_per_s: (JOBS * 1000) / allEndedMs, not_succeeded: state.failed, daemon_cpu_ms_per_job: cpuMs / JOBS, shells_cpu_ms_per_job: childMs / JOBS };
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'sky-bench-jobs-'));
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
    const result = await completion(daemon);
    load.push(loadavg()[0]);
    const f = (n) => n.toFixed(1);
    console.log(
      `${result.jobs} trivial jobs on a 2-CPU local node from ${result.clients} clients: all ended in ${f(result.all_ended_ms)} ms (${f(result.jobs_per_s)} jobs/s; submits done at ${f(result.submitted_ms)} ms); not SUCCEEDED ${result.not_succeeded}; CPU per job: daemon ${f(result.daemon_cpu_ms_per_job)} ms, its shells ${f(result.shells_cpu_ms_per_job)} ms`,
    );
    console.log(`1-minute load average: ${f(load[0])} before, ${f(load[1])} after`);
    if (jsonFile !== undefined) {
      mkdirSync(dirname(resolve(jsonFile)), { recursive: true });
      writeFileSync(jsonFile, JSON.stringify({ ...result, quick, load_average: load }, null, 2) + '\n');
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
