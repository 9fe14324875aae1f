import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { DAEMON_MAIN, REPO_ROOT, freePort, http, killAllDaemons, readDaemonJson, removeHome, startDaemon, tempHome, withLocalToken } from '../helpers/daemon-process.js';

interface Submit {
  requestId: string;
}
interface Rec {
  id: string;
  status: string;
  attempts: number;
  error?: { code: string; message: string };
  result?: unknown;
}

const JSON_HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u1', 'x-sky-user-name': 'alice' };

async function submit(url: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const res = await http(`${url}/api/v1/ping`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) });
  assert.equal(res.status, 202, res.text);
  return (res.json() as Submit).requestId;
}

async function get(url: string, id: string): Promise<Rec> {
  const res = await http(`${url}/api/v1/requests/${id}`, { headers: JSON_HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as Rec;
}

async function waitDone(url: string, id: string): Promise<Rec> {
  for (let i = 0; i < 20; i++) {
    const res = await http(`${url}/api/v1/requests/${id}/wait?timeout=5`, { headers: JSON_HEADERS });
    const rec = res.json() as Rec;
    if (!['PENDING', 'RUNNING'].includes(rec.status)) return rec;
  }
  throw new Error(`request ${id} did not finish`);
}

async function until(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function runDaemon(home: string, args: string[]): { status: number | null; stderr: string } {
  const res = spawnSync(process.execPath, [DAEMON_MAIN, ...args], { env: { ...process.env, HOME: home }, encoding: 'utf8', timeout: 20_000 });
  return { status: res.status, stderr: res.stderr };
}

const homes: string[] = [];
function home(): string {
  const h = tempHome();
  homes.push(h);
  return h;
}

after(async () => {
  await killAllDaemons();
  homes.forEach(removeHome);
});

describe('daemon restart safety', () => {
  it('after kill -9, PENDING requests still run and the RUNNING one ends FAILED "daemon restarted"', async () => {
    const h = home();
    const port = await freePort();
    const config = 'requests:\n  long_workers: 1\n';
    const first = await startDaemon({ home: h, port, config });
    const running = await submit(first.url, { sleep: 60, lane: 'long' });
    const pending1 = await submit(first.url, { lane: 'long' });
    const pending2 = await submit(first.url, { lane: 'long', sleep: 0.1 });
    await until(async () => (await get(first.url, running)).status === 'RUNNING', 'the long request to run');
    assert.equal((await get(first.url, pending1)).status, 'PENDING');
    await first.kill9();

    const second = await startDaemon({ home: h, port, config });
    const failed = await get(second.url, running);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.error?.code, 'DAEMON_RESTARTED');
    assert.equal(failed.error?.message, 'daemon restarted');
    assert.equal((await waitDone(second.url, pending1)).status, 'SUCCEEDED');
    assert.equal((await waitDone(second.url, pending2)).status, 'SUCCEEDED');
    assert.equal(await second.stop(), 0);
  });

  it('a request is durable once 202 is answered, even if the daemon dies right after', async () => {
    const h = home();
    const port = await freePort();
    const first = await startDaemon({ home: h, port, config: 'requests:\n  long_workers: 1\n' });
    const ids = await Promise.all(Array.from({ length: 20 }, () => submit(first.url, { lane: 'long', sleep: 0.01 })));
    await first.kill9();
    const second = await startDaemon({ home: h, port });
    for (const id of ids) assert.ok(['SUCCEEDED', 'FAILED', 'PENDING', 'RUNNING'].includes((await get(second.url, id)).status));
    for (const id of ids) assert.notEqual((await waitDone(second.url, id)).status, 'PENDING');
    await second.stop();
  });

  it('SIGTERM lets running requests finish within the drain period', async () => {
    const h = home();
    const d = await startDaemon({ home: h, config: 'shutdown:\n  drain_seconds: 20\n' });
    const id = await submit(d.url, { sleep: 1 });
    await until(async () => (await get(d.url, id)).status === 'RUNNING', 'running');
    assert.equal(await d.stop(), 0);
    assert.equal(existsSync(join(h, '.sky/api_server/daemon.json')), false, 'daemon.json removed on clean exit');
    const again = await startDaemon({ home: h });
    assert.equal((await get(again.url, id)).status, 'SUCCEEDED');
    await again.stop();
  });

  it('SIGTERM hands requests still running after the drain period back as PENDING; the next daemon runs them', async () => {
    const h = home();
    const d = await startDaemon({ home: h, config: 'shutdown:\n  drain_seconds: 0.2\n' });
    const id = await submit(d.url, { sleep: 1.5 });
    await until(async () => (await get(d.url, id)).status === 'RUNNING', 'running');
    assert.equal(await d.stop(), 0);
    const again = await startDaemon({ home: h });
    const done = await waitDone(again.url, id);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(done.attempts, 2);
    await again.stop();
  });

  it('refuses new requests while draining', async () => {
    const h = home();
    const d = await startDaemon({ home: h, config: 'shutdown:\n  drain_seconds: 5\n' });
    const id = await submit(d.url, { sleep: 1 });
    await until(async () => (await get(d.url, id)).status === 'RUNNING', 'running');
    d.child.kill('SIGTERM');
    await until(async () => ((await http(`${d.url}/api/health`)).json() as { status: string }).status === 'draining', 'draining');
    const res = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: JSON_HEADERS, body: '{}' });
    assert.equal(res.status, 503);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'SHUTTING_DOWN');
    assert.equal(await d.stop(), 0);
  });
});

describe('log streaming', () => {
  it('follows a running request live and ends with its status', async () => {
    const d = await startDaemon({ home: home() });
    const id = await submit(d.url, { sleep: 1.2 });
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      request(`${d.url}/api/v1/requests/${id}/logs?follow=true`, { headers: withLocalToken(d.url, JSON_HEADERS) }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (c: string) => {
          buf += c;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            events.push(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    const texts = events.filter((e) => e.startsWith('event: log')).map((e) => (JSON.parse(e.split('data: ')[1]!) as { text: string }).text);
    assert.deepEqual(texts, ['ping: sleeping 1.2s', 'ping: 1s elapsed', 'ping: 1.2s elapsed', 'pong']);
    assert.equal(events.at(-1), 'event: end\ndata: {"status":"SUCCEEDED"}');
    await d.stop();
  });

  it('a stream cut by kill -9 ends without an end event', async () => {
    const d = await startDaemon({ home: home() });
    const id = await submit(d.url, { sleep: 30 });
    const body = await new Promise<string>((resolve) => {
      const req = request(`${d.url}/api/v1/requests/${id}/logs?follow=true`, { headers: withLocalToken(d.url, JSON_HEADERS) }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
          if (text.includes('sleeping')) void d.kill9();
        });
        res.on('close', () => resolve(text));
        res.on('error', () => resolve(text));
      });
      req.on('error', () => resolve(''));
      req.end();
    });
    assert.match(body, /sleeping 30s/);
    assert.doesNotMatch(body, /event: end/);
  });
});

describe('long-polls', () => {
  it('serves many concurrent waiters of one request without listener leaks', async () => {
    const d = await startDaemon({ home: home() });
    const id = await submit(d.url, { sleep: 0.5 });
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => http(`${d.url}/api/v1/requests/${id}/wait?timeout=10`, { headers: JSON_HEADERS })),
    );
    for (const a of answers) assert.equal((a.json() as Rec).status, 'SUCCEEDED');
    assert.equal(await d.stop(), 0);
    assert.doesNotMatch(d.stderr(), /MaxListenersExceeded|Warning/);
  });
});

describe('start-up errors', () => {
  it('names the bad key with its file, line and column', () => {
    const h = home();
    const file = join(h, 'bad.yaml');
    writeFileSync(file, 'listen:\n  port: 1\nrequests:\n  short_workers: "many"\n  bogus_key: 3\n');
    const res = runDaemon(h, ['--config', file]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /bad\.yaml:4:\d+: requests\.short_workers: /);
    assert.match(res.stderr, /bad\.yaml:5:\d+: requests\.bogus_key: unknown key/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
  });

  it('reports YAML syntax errors with line and column', () => {
    const h = home();
    const file = join(h, 'broken.yaml');
    writeFileSync(file, 'listen:\n  port: [1,\n');
    const res = runDaemon(h, ['--config', file]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /broken\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('reads the daemon block of ~/.sky/config.yaml and validates it', () => {
    const h = home();
    writeFileSync(join(h, '.sky/config.yaml'), 'api_server:\n  endpoint: http://127.0.0.1:1\ndaemon:\n  store:\n    kind: cassandra\n');
    const res = runDaemon(h, []);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /config\.yaml:5:\d+: store\.kind: /);
  });

  it('rejects unknown flags and bad ports with usage errors', () => {
    const h = home();
    assert.equal(runDaemon(h, ['--bogus']).status, 2);
    const bad = runDaemon(h, ['--port', 'abc']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--port must be an integer/);
  });

  it('says the port is in use', async () => {
    const d = await startDaemon({ home: home() });
    const res = runDaemon(home(), ['--port', String(d.port)]);
    assert.equal(res.status, 1);
    assert.match(res.stderr, new RegExp(`127\\.0\\.0\\.1:${d.port} is already in use`));
    await d.stop();
  });

  it('refuses a state directory another daemon holds', async () => {
    const h = home();
    const d = await startDaemon({ home: h });
    const res = runDaemon(h, ['--port', String(await freePort())]);
    assert.equal(res.status, 78, res.stderr);
    assert.match(res.stderr, /another sky daemon|locked|in use/i);
    assert.match(res.stderr, /several replicas.*PostgreSQL/);
    assert.equal(readDaemonJson(h).pid, d.pid, 'the running daemon is untouched');
    await d.stop();
  });

  it('says when the state directory cannot be written', () => {
    const h = home();
    const locked = join(h, 'ro');
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    const file = join(h, 'cfg.yaml');
    writeFileSync(file, `state_dir: ${join(h, 'file-not-dir', 'x')}\n`);
    writeFileSync(join(h, 'file-not-dir'), 'a file where a directory should be');
    const res = runDaemon(h, ['--config', file, '--port', '0']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /file-not-dir/);
    assert.match(res.stderr, /ENOTDIR|cannot/);
  });

  it('refuses a non-loopback listen address without auth', () => {
    const res = runDaemon(home(), ['--host', '0.0.0.0', '--port', '0']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /refusing to listen on 0\.0\.0\.0 without authentication/);
  });
});

describe('plugins at start-up', () => {
  const dirs = `plugins:\n  dirs: [${join(REPO_ROOT, 'test/fixtures/plugins')}]\n`;

  it('aborts start-up for a missing plugin by default, naming it', () => {
    const h = home();
    const file = join(h, 'p.yaml');
    writeFileSync(file, `${dirs}drivers:\n  nosuch: {}\n`);
    const res = runDaemon(h, ['--config', file, '--port', '0']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /sky-driver-nosuch/);
  });

  it('skips a broken plugin with on_failure: skip and reports it', async () => {
    const d = await startDaemon({
      home: home(),
      config: `${dirs}drivers:\n  good:\n    greeting: hi\n  throwinit:\n    on_failure: skip\n`,
    });
    const res = await http(`${d.url}/api/v1/plugins`);
    const states = (res.json() as { items: Array<{ id: string; state: string; error?: { code: string } }> }).items;
    assert.deepEqual(states.map((s) => [s.id, s.state, s.error?.code]), [
      ['good', 'loaded', undefined],
      ['throwinit', 'skipped', 'PLUGIN_INIT_FAILED'],
    ]);
    const log = readFileSync(join(d.home, '.sky/api_server/server.log'), 'utf8');
    assert.match(log, /PLUGIN_INIT_FAILED/);
    await d.stop();
  });
});

describe('retention', () => {
  it('prunes finished requests and their logs after the retention period', async () => {
    const d = await startDaemon({ home: home(), config: 'requests:\n  retention_hours: 0.0003\n  prune_interval_seconds: 0.2\n' });
    const id = await submit(d.url, { sleep: 0.01 });
    await waitDone(d.url, id);
    await until(async () => (await http(`${d.url}/api/v1/requests/${id}`)).status === 404, 'pruning', 15_000);
    await d.stop();
  });
});
