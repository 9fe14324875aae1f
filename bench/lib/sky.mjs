// A sky daemon for the job benches: the built daemon (core/daemon/dist) on its default store
// (LevelDB), a throwaway HOME, a free port on 127.0.0.1, run under bench/lib/reaper.py so that
// the CPU of every process it starts (node runtime shells, jobs) can be added up; plus a small
// REST client (keep-alive, the owner's local token) and the CLI.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { killTreeNow, mainPid, spawnReaped, stopTree } from './proc.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
export const DAEMON_MAIN = join(ROOT, 'core/daemon/dist/sky-daemon.mjs');
export const SKY_BIN = join(ROOT, 'cli/bin/sky.js');
const HOST = '127.0.0.1';

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Start a daemon whose config is `config(home)` (YAML text). Resolves once /api/health answers;
 * `stop()` ends the daemon and everything it started, by pid, and removes the HOME.
 */
export async function startSky(config, { prefix = 'sky-bench-jobs-', nodeArgs: given } = {}) {
  const home = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(home, '.sky'), { recursive: true });
  const configFile = join(home, 'daemon.yaml');
  writeFileSync(configFile, config(home));
  const port = await freePort();
  // SKY_BENCH_DAEMON_NODE_ARGS: extra node flags for the daemon, e.g. `--cpu-prof --cpu-prof-dir=DIR`.
  // `nodeArgs` (e.g. the flags the CLI starts the daemon with) come first; the variable adds to them.
  const nodeArgs = [...(given ?? []), ...(process.env.SKY_BENCH_DAEMON_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '')];
  const reaper = spawnReaped([process.execPath, ...nodeArgs, DAEMON_MAIN, '--host', HOST, '--port', String(port), '--config', configFile], {
    env: { ...process.env, HOME: home },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  reaper.stderr.on('data', (c) => (stderr += c));
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const sky = {
    home,
    port,
    url: `http://${HOST}:${port}`,
    reaperPid: reaper.pid,
    pid: 0,
    token: '',
    /** Extra headers of every REST call, e.g. the CLI's identity (x-sky-user-id / x-sky-user-name) to act as the CLI's user. */
    headers: {},
    async call(method, path, body) {
      try {
        return await call(sky, agent, method, path, body);
      } catch (err) {
        // A keep-alive socket the server closed just as it was reused: a GET is safely sent again once.
        if (method !== 'GET' || !/socket hang up|ECONNRESET/.test(err.message)) throw err;
        return call(sky, agent, method, path, body);
      }
    },
    /** Run the CLI against this daemon; resolves with its exit status and output. */
    cli(argv) {
      const r = spawnSync(process.execPath, [SKY_BIN, ...argv], {
        env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: sky.url, NO_COLOR: '1' },
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    cliEnv() {
      return { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: sky.url, NO_COLOR: '1' };
    },
    async stop() {
      agent.destroy();
      await stopTree(reaper, 15_000);
      process.off('exit', onExit); // stopped: a bench starting many daemons keeps no listener per daemon
      if (process.env.SKY_BENCH_KEEP_HOME) console.error(`kept ${home}`);
      else rmSync(home, { recursive: true, force: true });
    },
  };
  const onExit = () => killTreeNow(reaper.pid);
  process.once('exit', onExit);
  try {
    sky.pid = await mainPid(reaper.pid);
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (reaper.exitCode !== null) throw new Error(`the daemon exited: ${stderr}`);
      try {
        if ((await call(sky, agent, 'GET', '/api/health')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the daemon did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    sky.token = readFileSync(join(home, '.sky/api_server/local_token'), 'utf8').trim();
  } catch (err) {
    await sky.stop();
    throw err;
  }
  return sky;
}

function call(sky, agent, method, path, body) {
  return new Promise((resolveCall, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { 'x-sky-local-token': sky.token, ...sky.headers };
    if (payload !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    const req = request({ host: HOST, port: sky.port, method, path, headers, agent, timeout: 120_000 }, (res) => {
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
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 120 s`)));
    req.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`, { cause: err })));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function submit(sky, op, body) {
  const res = await sky.call('POST', `/api/v1/${op}`, body);
  if (res.status !== 202) throw new Error(`POST ${op}: ${res.status} ${res.text}`);
  return res.json.requestId;
}

/** Submit and wait until the request ended SUCCEEDED; its record. */
export async function operation(sky, op, body, limitMs = 300_000) {
  const id = await submit(sky, op, body);
  const deadline = Date.now() + limitMs;
  for (;;) {
    const res = await sky.call('GET', `/api/v1/requests/${id}/wait?timeout=30`);
    if (res.status !== 200) throw new Error(`wait ${id}: ${res.status} ${res.text}`);
    if (!['PENDING', 'RUNNING'].includes(res.json.status)) {
      if (res.json.status !== 'SUCCEEDED') throw new Error(`${op} ${JSON.stringify(body)}: ${res.json.status} ${JSON.stringify(res.json.error)}`);
      return res.json;
    }
    if (Date.now() > deadline) throw new Error(`${op} request ${id} still ${res.json.status}`);
  }
}

/** The cluster's jobs (every user's), optionally only those in `statuses`. */
export async function jobs(sky, cluster, statuses) {
  const res = await sky.call('GET', `/api/v1/clusters/${cluster}/jobs?all_users=true${statuses ? `&status=${statuses.join(',')}` : ''}`);
  if (res.status !== 200) throw new Error(`jobs of ${cluster}: ${res.status} ${res.text}`);
  return res.json.items;
}

/** Active requests of an operation (PENDING or RUNNING), counted over every page. */
export async function activeRequests(sky, name) {
  let count = 0;
  let cursor;
  do {
    const res = await sky.call('GET', `/api/v1/requests?name=${name}&status=PENDING,RUNNING&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (res.status !== 200) throw new Error(`requests: ${res.status} ${res.text}`);
    count += res.json.items.length;
    cursor = res.json.nextCursor;
  } while (cursor !== undefined);
  return count;
}
