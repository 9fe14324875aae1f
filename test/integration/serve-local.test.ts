import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, Agent } from 'node:http';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';

// sky serve on the local driver, through a real daemon: replicas are small Node HTTP servers
// started by the task's run command on the port the daemon gives each (SKY_SERVE_PORT); the
// load balancer runs in the daemon.

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Replica {
  id: number;
  version: number;
  status: string;
  cluster: string;
  endpoint?: string;
  reason?: string;
}
interface Service {
  name: string;
  status: string;
  version: number;
  endpoint?: string;
  targetReplicas: number;
  replicas: Replica[];
}
interface Rec {
  id: string;
  status: string;
  result?: { name?: string; endpoint?: string; version?: number; down?: string[]; notFound?: string[] };
  error?: { code: string; message: string };
}

let d: DaemonHandle;
let home: string;
let scratch: string;
let server: string;
/** Another process's server on the first port of serve.ports: the load balancer must pass it over. */
let squatter: Server;
let lbPort = 0;

const op = (name: string, body: unknown): Promise<Rec> => runOperation<Rec>(d.url, name, body, HEADERS);

/** The replica: answers every path with who it is, streams /stream as server-sent events, and writes its pid where the test can kill it. */
const REPLICA = `
const http = require('node:http');
const fs = require('node:fs');
const id = process.env.SKY_SERVE_REPLICA_ID;
fs.writeFileSync(process.env.PID_DIR + '/replica-' + id, String(process.pid));
http.createServer((req, res) => {
  if (req.url === '/stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let n = 0;
    const t = setInterval(() => { res.write('data: token-' + n + '\\n\\n'); if (++n === 5) { clearInterval(t); res.end(); } }, 200);
    return;
  }
  const body = JSON.stringify({ replica: Number(id), version: process.env.VERSION });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}).listen(Number(process.env.SKY_SERVE_PORT), '127.0.0.1');
`;

function task(version: string, service: Record<string, unknown> = { replicas: 2 }): Record<string, unknown> {
  return {
    name: 'web',
    envs: { VERSION: version, PID_DIR: scratch },
    run: `exec ${process.execPath} ${server}`,
    service: { readiness_probe: { path: '/health', initial_delay_seconds: 60, timeout_seconds: 2 }, ports: 8080, ...service },
  };
}

async function get(name: string): Promise<{ service: Service; events: Array<{ text: string }> }> {
  const res = await http(`${d.url}/api/v1/services/${name}`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as { service: Service; events: Array<{ text: string }> };
}

async function until(name: string, want: (s: Service) => boolean, ms = 90_000): Promise<Service> {
  const end = Date.now() + ms;
  for (;;) {
    const { service, events } = await get(name);
    if (want(service)) return service;
    if (Date.now() > end) throw new Error(`service ${name}: ${JSON.stringify(service)}\n${events.map((e) => e.text).join('\n')}`);
    await sleep(200);
  }
}

const GONE = ['FAILED', 'FAILED_PROBING', 'PREEMPTED'];
const readyCount = (s: Service, version?: number): number => s.replicas.filter((r) => r.status === 'READY' && (version === undefined || r.version === version)).length;

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function call(endpoint: string, path = '/'): Promise<{ status: number; body: string }> {
  return callWith(endpoint, {}, path);
}

function callWith(endpoint: string, headers: Record<string, string>, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(`${endpoint}${path}`, { agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

before(async () => {
  home = tempHome();
  scratch = mkdtempSync(join(tmpdir(), 'sky-serve-'));
  server = join(scratch, 'replica.cjs');
  writeFileSync(server, REPLICA);
  lbPort = await freePort();
  squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(lbPort, '127.0.0.1', resolve));
  const config =
    `drivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 64\n    memory_gb: 256\n` +
    `jobs:\n  reconcile_seconds: 1\n` +
    `serve:\n  ports: "${lbPort}-${lbPort + 5}"\n  probe_interval_seconds: 1\n  not_ready_grace_seconds: 3\n  qps_window_seconds: 4\n`;
  d = await startDaemon({ home, config });
});

after(async () => {
  await op('serve_down', { all: true, purge: true }).catch(() => undefined);
  agent.destroy();
  squatter.close();
  await d.stop();
  await killAllDaemons();
  removeHome(home);
  rmSync(scratch, { recursive: true, force: true });
});

describe('sky serve on the local driver', () => {
  let endpoint = '';

  it('brings a service up: two replicas become READY and requests are spread over both', async () => {
    const rec = await op('serve_up', { task: task('1'), service_name: 'web' });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal(rec.result?.name, 'web');
    endpoint = rec.result!.endpoint!;
    assert.equal(endpoint, `http://127.0.0.1:${lbPort + 1}`, 'the first port of the range is taken by another server: the next one');
    const service = await until('web', (s) => readyCount(s) === 2);
    assert.equal(service.status, 'READY');
    assert.deepEqual(service.replicas.map((r) => r.cluster).sort(), ['web-1', 'web-2']);
    const seen = new Map<number, number>();
    for (let i = 0; i < 20; i += 1) {
      const res = await call(endpoint);
      assert.equal(res.status, 200, res.body);
      const who = (JSON.parse(res.body) as { replica: number }).replica;
      seen.set(who, (seen.get(who) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), [1, 2], 'both replicas answered');
    assert.equal(seen.get(1), 10, 'round robin: half each');
  });

  it('streams server-sent events through the load balancer as the replica writes them', async () => {
    const arrivals: number[] = [];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      request(`${endpoint}/stream`, { agent }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          for (const _ of chunk.matchAll(/data: token-/g)) arrivals.push(Date.now() - started);
        });
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(arrivals.length, 5);
    // Five events written 200 ms apart: had the proxy buffered the response, all would arrive together at the end.
    assert.ok(arrivals[4]! - arrivals[0]! >= 400, `events arrived spread out: ${arrivals.join(', ')}`);
  });

  it('protects the endpoint with a bearer token when asked, and opens it again', async () => {
    const set = await http(`${d.url}/api/v1/services/web/token`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ enable: true }) });
    assert.equal(set.status, 200, set.text);
    const { token, protected: on } = set.json() as { token: string; protected: boolean };
    assert.equal(on, true);
    assert.match(token, /^sky_svc_[A-Za-z0-9_-]{32}$/);
    const without = await call(endpoint);
    assert.equal(without.status, 401, 'no token: refused');
    const withToken = await callWith(endpoint, { authorization: `Bearer ${token}` });
    assert.equal(withToken.status, 200, withToken.body);
    assert.equal((await callWith(endpoint, { authorization: 'Bearer sky_svc_wrong' })).status, 401);
    const { service, events } = await get('web');
    assert.equal((service as unknown as { protected: boolean }).protected, true);
    assert.ok(!JSON.stringify({ service, events }).includes(token), 'the token is in no record or log');
    const open = await http(`${d.url}/api/v1/services/web/token`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ enable: false }) });
    assert.equal(open.status, 200, open.text);
    assert.equal((await call(endpoint)).status, 200);
  });

  it('replaces a replica whose process dies, while requests keep succeeding', async () => {
    const pid = Number(readFileSync(join(scratch, 'replica-1'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    let failures = 0;
    const stop = Date.now() + 4_000;
    while (Date.now() < stop) {
      const res = await call(endpoint).catch(() => ({ status: 0, body: '' }));
      if (res.status !== 200) failures += 1;
      await sleep(50);
    }
    assert.equal(failures, 0, 'GETs are retried on the other replica');
    const service = await until('web', (s) => readyCount(s) === 2 && s.replicas.some((r) => r.id >= 3 && r.status === 'READY'));
    assert.ok(!service.replicas.some((r) => r.id === 1 && r.status === 'READY'));
    const { events } = await get('web');
    assert.ok(events.some((e) => /replica 1: (FAILED|PREEMPTED)/.test(e.text)), events.map((e) => e.text).join('\n'));
  });

  it('rolls an update over with no failed request, ending with every replica on the new version', async () => {
    let failures = 0;
    let newest = '';
    let running = true;
    const load = (async () => {
      while (running) {
        const res = await call(endpoint).catch((err: Error) => ({ status: 0, body: err.message }));
        if (res.status !== 200) failures += 1;
        else newest = (JSON.parse(res.body) as { version: string }).version;
        await sleep(20);
      }
    })();
    const rec = await op('serve_update', { service_name: 'web', task: task('2') });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal(rec.result?.version, 2);
    const service = await until('web', (s) => readyCount(s, 2) === 2 && s.replicas.filter((r) => r.version === 1 && !GONE.includes(r.status)).length === 0);
    await sleep(500);
    running = false;
    await load;
    assert.equal(failures, 0, 'no request failed during the rolling update');
    assert.equal(newest, '2');
    assert.equal(service.version, 2);
  });

  it('blue-green: the old version answers every request until all new replicas are READY, then the new one alone', async () => {
    const versions: string[] = [];
    let failures = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        const res = await call(endpoint).catch((err: Error) => ({ status: 0, body: err.message }));
        if (res.status !== 200) failures += 1;
        else versions.push((JSON.parse(res.body) as { version: string }).version);
        await sleep(20);
      }
    })();
    const rec = await op('serve_update', { service_name: 'web', task: task('bg'), mode: 'blue_green' });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    await until('web', (s) => readyCount(s, rec.result!.version) === 2 && s.replicas.filter((r) => r.version !== rec.result!.version && !GONE.includes(r.status)).length === 0);
    await sleep(500);
    running = false;
    await load;
    assert.equal(failures, 0);
    const switched = versions.indexOf('bg');
    assert.ok(switched > 0, `the old version answered first, then the new: ${versions.join(',')}`);
    assert.ok(versions.slice(switched).every((v) => v === 'bg'), 'once switched, never back to the old version');
    assert.ok(versions.slice(0, switched).every((v) => v === '2'), 'before the switch, only the old version');
  });

  it('scales up under load and back down when it stops', async () => {
    const rec = await op('serve_update', {
      service_name: 'web',
      task: task('3', { replica_policy: { min_replicas: 1, max_replicas: 3, target_qps_per_replica: 5, upscale_delay_seconds: 1, downscale_delay_seconds: 2 } }),
    });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    // The load of the update before may hold it up at first: it settles at the minimum once that load is out of the window.
    await until('web', (s) => s.version === rec.result!.version && s.targetReplicas === 1 && readyCount(s) === 1 && readyCount(s, rec.result!.version) === 1);
    let running = true;
    const load = (async () => {
      while (running) {
        await Promise.all(Array.from({ length: 4 }, () => call(endpoint).catch(() => undefined)));
        await sleep(100);
      }
    })();
    try {
      const up = await until('web', (s) => s.targetReplicas === 3 && readyCount(s) === 3);
      assert.equal(up.targetReplicas, 3);
    } finally {
      running = false;
      await load;
    }
    const down = await until('web', (s) => s.targetReplicas === 1 && readyCount(s) === 1);
    assert.equal(down.targetReplicas, 1);
    const { events } = await get('web');
    assert.ok(events.some((e) => /autoscaler: .* → 3 replicas/.test(e.text)));
  });

  it('serve down leaves no replica cluster and closes the endpoint', async () => {
    const rec = await op('serve_down', { service_names: ['web', 'no-such-service'] });
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.deepEqual(rec.result?.down, ['web']);
    assert.deepEqual(rec.result?.notFound, ['no-such-service']);
    const list = await http(`${d.url}/api/v1/clusters?all_users=true`, { headers: HEADERS });
    assert.deepEqual((list.json() as { items: Array<{ name: string }> }).items.filter((c) => c.name.startsWith('web-')), []);
    const gone = await http(`${d.url}/api/v1/services/web`, { headers: HEADERS });
    assert.equal(gone.status, 404);
    await assert.rejects(call(endpoint), /ECONNREFUSED|ECONNRESET|socket hang up/);
  });
});
