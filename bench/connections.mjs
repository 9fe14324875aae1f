#!/usr/bin/env node
// The daemon's socket layer end to end (bench/README.md): the built daemon over plain HTTP and
// over HTTPS (a throwaway certificate made with openssl), interleaved rounds of
//   - keep-alive: GET /api/health from 20 keep-alive clients,
//   - new connection per request: 10 clients, each request on a fresh connection (TCP, and TLS
//     handshake for https), which is what the connection guard and the TLS layer cost most on,
// and the latency one client sees while another address holds its whole connection budget and
// keeps knocking (1,000 idle sockets, 256 admitted, the rest refused). Figures are reported,
// never asserted.
//
//   node bench/connections.mjs [--json FILE] [--quick]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = resolve(import.meta.dirname, '..');
const DAEMON = join(root, 'core/daemon/dist/sky-daemon.mjs');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt === -1 ? undefined : args[jsonAt + 1];
const ROUNDS = quick ? 1 : 3;
const KEEPALIVE_REQUESTS = quick ? 1000 : 4000;
const FRESH_REQUESTS = quick ? 200 : 800;

function freePort() {
  return new Promise((done) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'sky-bench-conn-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });

async function startDaemon(tls) {
  const home = join(dir, tls ? 'home-tls' : 'home-plain');
  const port = await freePort();
  const extra = tls ? ['--tls-cert', cert, '--tls-key', key] : [];
  const child = spawn(process.execPath, [DAEMON, '--host', '127.0.0.1', '--port', String(port), ...extra], { env: { ...process.env, HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((done, fail) => {
    child.stdout.on('data', (d) => String(d).includes('listening') && done());
    child.once('exit', (code) => fail(new Error(`daemon exited ${code}`)));
  });
  return { child, port, tls };
}

function get(d, agent, localAddress) {
  const send = d.tls ? httpsRequest : httpRequest;
  return new Promise((done, fail) => {
    const req = send(
      { host: '127.0.0.1', port: d.port, path: '/api/health', agent, ...(d.tls ? { ca: readFileSync(cert) } : {}), ...(localAddress ? { localAddress } : {}) },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? done() : fail(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', fail);
    req.end();
  });
}

/** `total` requests from `clients` concurrent loops; requests/s. */
async function load(d, total, clients, agentFor) {
  let left = total;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const agent = agentFor();
      while (left-- > 0) await get(d, agent);
      agent?.destroy?.();
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

const keepAlive = (d) => load(d, KEEPALIVE_REQUESTS, 20, () => {
  const A = d.tls ? HttpsAgent : HttpAgent;
  return new A({ keepAlive: true, maxSockets: 1, ...(d.tls ? { ca: readFileSync(cert) } : {}) });
});
const fresh = (d) => load(d, FRESH_REQUESTS, 10, () => false);

async function latencies(d, n, localAddress) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await get(d, false, localAddress);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const loadBefore = loadavg()[0];
const plain = await startDaemon(false);
const tls = await startDaemon(true);
const results = { keepalive: { plain: [], tls: [] }, fresh: { plain: [], tls: [] } };
try {
  await keepAlive(plain);
  await keepAlive(tls);
  for (let round = 0; round < ROUNDS; round++) {
    for (const d of round % 2 === 0 ? [plain, tls] : [tls, plain]) {
      results.keepalive[d.tls ? 'tls' : 'plain'].push(await keepAlive(d));
      results.fresh[d.tls ? 'tls' : 'plain'].push(await fresh(d));
    }
  }
  // One address holds its whole budget (and 744 more sockets knock); another client's latency.
  const quiet = await latencies(plain, 200, '127.0.0.3');
  const idle = [];
  for (let i = 0; i < 1000; i += 100) {
    const batch = Array.from({ length: 100 }, () => connect({ host: '127.0.0.1', port: plain.port, localAddress: '127.0.0.2' }).on('error', () => undefined));
    await Promise.all(batch.map((s) => new Promise((done) => (s.connecting ? s.once('connect', done).once('error', done) : done()))));
    idle.push(...batch);
  }
  const flooded = await latencies(plain, 200, '127.0.0.3');
  for (const s of idle) s.destroy();
  const figures = {
    'conn.keepalive.plain.per_s': median(results.keepalive.plain),
    'conn.keepalive.tls.per_s': median(results.keepalive.tls),
    'conn.fresh.plain.per_s': median(results.fresh.plain),
    'conn.fresh.tls.per_s': median(results.fresh.tls),
    'conn.flood.quiet.p50_ms': quiet[Math.floor(quiet.length / 2)],
    'conn.flood.flooded.p50_ms': flooded[Math.floor(flooded.length / 2)],
    'conn.flood.flooded.p99_ms': flooded[Math.floor(flooded.length * 0.99)],
  };
  const rows = [
    ['GET /api/health, 20 keep-alive clients', figures['conn.keepalive.plain.per_s'], figures['conn.keepalive.tls.per_s']],
    ['GET /api/health, a new connection each, 10 clients', figures['conn.fresh.plain.per_s'], figures['conn.fresh.tls.per_s']],
  ];
  console.log('requests/s (median of rounds)            plain HTTP     HTTPS   HTTPS/plain');
  for (const [what, p, t] of rows) console.log(`${what.padEnd(52)} ${p.toFixed(0).padStart(7)} ${t.toFixed(0).padStart(9)} ${(t / p).toFixed(2).padStart(9)}`);
  console.log(`another client's p50 latency: ${figures['conn.flood.quiet.p50_ms'].toFixed(2)} ms quiet, ${figures['conn.flood.flooded.p50_ms'].toFixed(2)} ms while 127.0.0.2 holds 1,000 idle sockets (p99 ${figures['conn.flood.flooded.p99_ms'].toFixed(2)} ms)`);
  const load = { start: loadBefore, end: loadavg()[0] };
  console.log(`1-minute load average: ${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end`);
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ figures, rounds: results, loadavg_1m: load }, null, 2));
} finally {
  plain.child.kill('SIGTERM');
  tls.child.kill('SIGTERM');
  await Promise.all([plain, tls].map((d) => new Promise((done) => (d.child.exitCode !== null ? done() : d.child.once('exit', done)))));
  rmSync(dir, { recursive: true, force: true });
}
