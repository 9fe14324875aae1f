#!/usr/bin/env node
// The sky serve load balancer end to end (bench/README.md, "Services"): two minimal node:http
// replicas in one child process, the built load balancer (core/daemon/dist/serve) in another,
// the load from this one, all on 127.0.0.1.
//   (1) open loop: a request every 1/RATE s, for DURATION s, to a replica directly and through
//       the load balancer, interleaved (each tick sends to both, in alternating order);
//       latency from the tick's planned time, so a stall is counted, not hidden; p50/p99 of
//       each and what the load balancer adds;
//   (2) closed loop: CONNECTIONS keep-alive connections each sending its next request when the
//       last is answered, through the load balancer, then directly; requests/s.
// The load balancer's CPU per request comes from its own process. Figures are reported, never
// asserted; a request that does not end 200 stops the bench.
//
//   npm run build   # or npx tsc -b: the bench loads core/daemon/dist
//   node bench/serve-lb.mjs [--rate N] [--seconds S] [--connections N] [--quick] [--json FILE] [--profile DIR]
// (--profile: a CPU profile of the load balancer's process in DIR; summarise it with bench/cpuprofile.mjs)
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const quick = args.includes('--quick');
const role = args[0] === '--role' ? args[1] : 'main';

function child(roleName, extra = [], execArgv = []) {
  const proc = fork(import.meta.filename, ['--role', roleName, ...extra], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
  const first = new Promise((done, fail) => {
    proc.once('message', done);
    proc.once('exit', (code) => fail(new Error(`${roleName} exited ${code}`)));
  });
  return { proc, first };
}

function ask(proc) {
  return new Promise((done) => {
    proc.once('message', done);
    proc.send('stats');
  });
}

function get(port, agent) {
  return new Promise((done, fail) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/health', agent }, (res) => {
      res.resume();
      res.once('end', () => (res.statusCode === 200 ? done() : fail(new Error(`HTTP ${res.statusCode} from port ${port}`))));
    });
    req.once('error', fail);
    req.end();
  });
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** Open loop: at RATE ticks per second, one request to each target; latency from the planned tick. */
async function openLoop(targets, rate, seconds) {
  const agents = targets.map(() => new Agent({ keepAlive: true, maxSockets: Infinity }));
  const samples = targets.map(() => []);
  const total = Math.round(rate * seconds);
  const pending = [];
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    for (; sent < due; sent++) {
      const planned = start + (sent / rate) * 1000;
      const order = sent % 2 === 0 ? [0, 1] : [1, 0];
      for (const t of order) pending.push(get(targets[t], agents[t]).then(() => samples[t].push(performance.now() - planned)));
    }
    // Sleep until the next tick; the timer's lateness shows in the latencies of both targets alike.
    const next = start + (sent / rate) * 1000;
    await new Promise((done) => setTimeout(done, Math.max(0, next - performance.now())));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  for (const agent of agents) agent.destroy();
  return { elapsed, samples: samples.map((xs) => xs.sort((a, b) => a - b)) };
}

/** Closed loop: `connections` keep-alive connections, each sending its next request when the last is answered. */
async function closedLoop(port, connections, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let done = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        await get(port, agent);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return { requests: done, perSecond: done / elapsed };
}

async function main() {
  const rate = option('--rate', 1000);
  const seconds = option('--seconds', quick ? 3 : 10);
  const connections = option('--connections', 64);
  const closedSeconds = quick ? 3 : 10;
  const jsonAt = args.indexOf('--json');
  const jsonFile = jsonAt === -1 ? undefined : args[jsonAt + 1];
  const loadBefore = loadavg()[0];
  const replicas = child('replicas');
  const { ports } = await replicas.first;
  const profileAt = args.indexOf('--profile');
  const profile = profileAt === -1 ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(args[profileAt + 1])];
  const lb = child('lb', [JSON.stringify(ports), 'round_robin'], profile);
  const { port: lbPort } = await lb.first;
  try {
    console.log(`settings: ${cpus().length} CPUs, Node ${process.version}; replicas: 2 node:http servers in one process (ports ${ports.join(', ')}); load balancer: its own process, round_robin (port ${lbPort}); load: this process`);
    // Warm both paths (JIT, keep-alive connections), not measured.
    await openLoop([ports[0], lbPort], rate, 1);

    const cpuBefore = (await ask(lb.proc)).cpu;
    const open = await openLoop([ports[0], lbPort], rate, seconds);
    const afterOpen = await ask(lb.proc);
    const [direct, viaLb] = open.samples;
    const figures = {
      'serve_lb.open.rate_per_s': rate,
      'serve_lb.open.seconds': seconds,
      'serve_lb.open.direct.p50_ms': percentile(direct, 0.5),
      'serve_lb.open.direct.p99_ms': percentile(direct, 0.99),
      'serve_lb.open.lb.p50_ms': percentile(viaLb, 0.5),
      'serve_lb.open.lb.p99_ms': percentile(viaLb, 0.99),
    };
    figures['serve_lb.open.added.p50_ms'] = figures['serve_lb.open.lb.p50_ms'] - figures['serve_lb.open.direct.p50_ms'];
    figures['serve_lb.open.added.p99_ms'] = figures['serve_lb.open.lb.p99_ms'] - figures['serve_lb.open.direct.p99_ms'];
    const lbCpuOpenMs = (afterOpen.cpu.user + afterOpen.cpu.system - cpuBefore.user - cpuBefore.system) / 1000;
    figures['serve_lb.open.lb_cpu_us_per_request'] = (lbCpuOpenMs * 1000) / viaLb.length;

    const closedLb = await closedLoop(lbPort, connections, closedSeconds);
    const afterClosed = await ask(lb.proc);
    const closedDirect = await closedLoop(ports[0], connections, closedSeconds);
    figures['serve_lb.closed.connections'] = connections;
    figures['serve_lb.closed.lb.per_s'] = closedLb.perSecond;
    figures['serve_lb.closed.direct.per_s'] = closedDirect.perSecond;
    const lbCpuClosedMs = (afterClosed.cpu.user + afterClosed.cpu.system - afterOpen.cpu.user - afterOpen.cpu.system) / 1000;
    figures['serve_lb.closed.lb_cpu_us_per_request'] = (lbCpuClosedMs * 1000) / closedLb.requests;

    const f = (x) => x.toFixed(2).padStart(7);
    console.log(`\n(1) open loop, ${rate} requests/s to each target for ${open.elapsed.toFixed(1)} s (${direct.length} + ${viaLb.length} requests), latency from the planned send time (ms):`);
    console.log('                        p50      p99');
    console.log(`  direct to a replica ${f(figures['serve_lb.open.direct.p50_ms'])}  ${f(figures['serve_lb.open.direct.p99_ms'])}`);
    console.log(`  through the LB      ${f(figures['serve_lb.open.lb.p50_ms'])}  ${f(figures['serve_lb.open.lb.p99_ms'])}`);
    console.log(`  added by the LB     ${f(figures['serve_lb.open.added.p50_ms'])}  ${f(figures['serve_lb.open.added.p99_ms'])}   (target: <= 1 ms p50)`);
    console.log(`  LB process CPU: ${figures['serve_lb.open.lb_cpu_us_per_request'].toFixed(0)} us per request`);
    console.log(`\n(2) closed loop, ${connections} keep-alive connections, ${closedSeconds} s each:`);
    console.log(`  through the LB      ${closedLb.perSecond.toFixed(0).padStart(7)} requests/s   (target: >= 5,000/s); LB process CPU ${figures['serve_lb.closed.lb_cpu_us_per_request'].toFixed(0)} us per request`);
    console.log(`  direct to a replica ${closedDirect.perSecond.toFixed(0).padStart(7)} requests/s`);
    console.log(`  LB stats: ${JSON.stringify(afterClosed.stats)}`);
    const load = { start: loadBefore, end: loadavg()[0] };
    console.log(`\n1-minute load average: ${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end`);
    if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ figures, loadavg_1m: load }, null, 2));
  } finally {
    for (const c of [lb, replicas]) {
      c.proc.kill('SIGTERM');
      if (c.proc.exitCode === null) await once(c.proc, 'exit');
    }
  }
}

async function runReplicas() {
  // Two replicas answering a small fixed body, as a model server's health route would.
  const body = Buffer.from('{"ok":true}');
  const ports = [];
  for (let i = 0; i < 2; i++) {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
    server.keepAliveTimeout = 60_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    ports.push(server.address().port);
  }
  process.send({ ports });
}

async function runLoadBalancer() {
  const { ServiceLoadBalancer } = await import(pathToFileURL(join(root, 'core/daemon/dist/serve/load-balancer.js')).href);
  const ports = JSON.parse(args[2]);
  const lb = new ServiceLoadBalancer({ host: '127.0.0.1', port: 0, policy: args[3] ?? 'round_robin' });
  await lb.start();
  lb.setReplicas(ports.map((port, i) => ({ id: i + 1, endpoint: `http://127.0.0.1:${port}` })));
  process.on('message', (message) => {
    if (message === 'stats') process.send({ stats: lb.stats(), cpu: process.cpuUsage(), qps: lb.qps(10) });
  });
  // Exit rather than die on the signal, so that --cpu-prof writes its profile.
  process.once('SIGTERM', () => void lb.stop().then(() => process.exit(0)));
  process.send({ port: lb.port });
}

if (role === 'replicas') await runReplicas();
else if (role === 'lb') await runLoadBalancer();
else await main();
