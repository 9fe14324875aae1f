import { strict as assert } from 'node:assert';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { SkyClient, ensureDaemon, isPidAlive, parseEndpoint, probeHealth, spawnDaemon, waitForExit } from '@sky/client';
import { SkyError } from '@sky/protocol';

/**
 * A stand-in daemon entry point: records each start in spawns.log, then (after a delay that
 * widens any race) serves /api/health on --host/--port, or fails like a daemon that cannot start.
 */
const FAKE_DAEMON = `
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
const arg = (flag) => process.argv[process.argv.indexOf(flag) + 1];
appendFileSync(join(process.env.HOME, '.sky', 'api_server', 'spawns.log'), process.pid + '\\n');
if (process.env.FAKE_DAEMON_FAIL) {
  console.error('fake daemon: ' + process.env.FAKE_DAEMON_FAIL);
  process.exit(3);
}
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'x-sky-api-version': '1' });
  res.end(JSON.stringify({ status: 'healthy', version: '0.0.0-fake', commit: 'fake', apiVersion: 1, pid: process.pid,
    startedAt: Date.now(), user: { id: req.headers['x-sky-user-id'], name: req.headers['x-sky-user-name'] } }));
});
setTimeout(() => server.listen(Number(arg('--port')), arg('--host')), 300);
process.on('SIGTERM', () => process.exit(0));
`;

const homes: string[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function setup(): Promise<{ home: string; main: string; client: SkyClient; env: NodeJS.ProcessEnv }> {
  const home = await mkdtemp(join(tmpdir(), 'sky-autostart-'));
  homes.push(home);
  await mkdir(join(home, '.sky', 'api_server'), { recursive: true });
  const main = join(home, 'fake-daemon.mjs');
  await writeFile(main, FAKE_DAEMON);
  const endpoint = await parseEndpoint(`http://127.0.0.1:${await freePort()}`, 'test');
  const client = new SkyClient({ endpoint, identity: { id: 'abcd1234', name: 'tester' } });
  return { home, main, client, env: { ...process.env, HOME: home } };
}

async function spawned(home: string): Promise<number[]> {
  try {
    const text = await readFile(join(home, '.sky', 'api_server', 'spawns.log'), 'utf8');
    return text.split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return [];
  }
}

afterEach(async () => {
  for (const home of homes) {
    for (const pid of await spawned(home)) {
      if (!isPidAlive(pid)) continue;
      process.kill(pid, 'SIGTERM');
      if (!(await waitForExit(pid, 3_000))) process.kill(pid, 'SIGKILL');
    }
  }
});

after(async () => {
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

/*
 * These start the stand-in daemon on a free port, which only an explicit start (sky api start
 * --port N) does; starting the default endpoint by itself is tested end to end in
 * test/e2e/cli-sky.test.ts, in a network namespace of its own.
 */
describe('ensureDaemon', () => {
  it('starts exactly one daemon for ten concurrent callers, and every caller sees it healthy', async () => {
    const { home, main, client, env } = await setup();
    const results = await Promise.all(Array.from({ length: 10 }, () => ensureDaemon(client, { daemonMain: main, home, env, explicit: true })));
    const pids = await spawned(home);
    assert.equal(pids.length, 1, `spawned ${pids.length} daemons`);
    assert.equal(results.filter((r) => r.started).length, 1);
    assert.ok(results.every((r) => r.health.pid === pids[0]));
    assert.equal(isPidAlive(pids[0] ?? -1), true, 'the daemon outlives the call that spawned it');
    await assert.rejects(readFile(join(home, '.sky', 'api_server', 'autostart.lock')), /ENOENT/);
    assert.equal((await ensureDaemon(client, { daemonMain: main, home, env, explicit: true })).started, false);
    client.close();
  });

  it('takes over a lock left by a dead process', async () => {
    const { home, main, client, env } = await setup();
    await writeFile(join(home, '.sky', 'api_server', 'autostart.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, at: Date.now() }));
    const result = await ensureDaemon(client, { daemonMain: main, home, env, explicit: true });
    assert.equal(result.started, true);
    client.close();
  });

  it('waits for a live holder of the lock instead of spawning, and says so when it gives up', async () => {
    const { home, main, client, env } = await setup();
    await writeFile(join(home, '.sky', 'api_server', 'autostart.lock'), JSON.stringify({ pid: process.pid, at: Date.now() }));
    await assert.rejects(ensureDaemon(client, { daemonMain: main, home, env, timeoutMs: 600, explicit: true }), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_START_FAILED');
      assert.match(err.message, /another sky command is starting the API server/);
      return true;
    });
    assert.deepEqual(await spawned(home), []);
  });

  it('reports a daemon that exits at start with SERVER_START_FAILED, the log path and its last lines', async () => {
    const { home, main, client, env } = await setup();
    await assert.rejects(
      ensureDaemon(client, { daemonMain: main, home, env: { ...env, FAKE_DAEMON_FAIL: 'port 1234 is in use' }, explicit: true }),
      (err: unknown) => {
        assert.ok(err instanceof SkyError);
        assert.equal(err.code, 'SERVER_START_FAILED');
        assert.match(err.message, /it exited with code 3/);
        assert.ok(err.message.includes(join(home, '.sky', 'api_server', 'server.log')), err.message);
        assert.match(err.message, /fake daemon: port 1234 is in use/);
        return true;
      },
    );
  });

  it('never starts a local endpoint other than the default one unless asked to: another port, another loopback address, https', async () => {
    const { home, main, env } = await setup();
    const port = await freePort();
    for (const url of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, 'http://127.0.0.2:46580', `http://127.0.0.1:${port}/prefix`]) {
      const client = new SkyClient({ endpoint: await parseEndpoint(url, 'test'), identity: { id: 'abcd1234', name: 'tester' } });
      assert.equal(client.endpoint.autoStart, false, url);
      await assert.rejects(ensureDaemon(client, { daemonMain: main, home, env }), (err: unknown) => {
        assert.ok(err instanceof SkyError);
        assert.equal(err.code, 'SERVER_UNREACHABLE');
        assert.match(err.message, /^no API server at http:\/\/\S+ \(connection refused\)$/, url);
        assert.match(err.hint ?? '', /SSH tunnel or port-forward/);
        assert.match(err.hint ?? '', /Only http:\/\/127\.0\.0\.1:46580 is started automatically/);
        return true;
      });
      client.close();
    }
    // Even an explicit start never spawns for an https endpoint (the daemon would not speak TLS there).
    const tls = new SkyClient({ endpoint: await parseEndpoint(`https://127.0.0.1:${port}`, 'test'), identity: { id: 'abcd1234', name: 'tester' } });
    await assert.rejects(ensureDaemon(tls, { daemonMain: main, home, env, explicit: true }), /no API server at https:\/\/127\.0\.0\.1/);
    tls.close();
    assert.deepEqual(await spawned(home), []);
  });

  it('never starts a remote endpoint', async () => {
    const { home, main, env } = await setup();
    const remote = new SkyClient({
      endpoint: await parseEndpoint('http://sky-remote.invalid:46580', 'test'),
      identity: { id: 'abcd1234', name: 'tester' },
    });
    await assert.rejects(ensureDaemon(remote, { daemonMain: main, home, env, explicit: true }), (err: unknown) => {
      assert.ok(err instanceof SkyError);
      assert.equal(err.code, 'SERVER_UNREACHABLE');
      assert.match(err.hint ?? '', /never started automatically/);
      return true;
    });
    assert.deepEqual(await spawned(home), []);
  });
});

describe('spawnDaemon', () => {
  it('makes the daemon directory private (0700) and creates the server log 0600', async () => {
    const { home, main, client, env } = await setup();
    const dir = join(home, '.sky', 'api_server');
    await rm(dir, { recursive: true });
    await chmod(join(home, '.sky'), 0o755);
    const started = await spawnDaemon({ daemonMain: main, args: ['--host', client.endpoint.host, '--port', String(client.endpoint.port)], home, env, probe: () => probeHealth(client) });
    assert.equal(isPidAlive(started.pid), true);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'server.log'))).mode & 0o777, 0o600);
    client.close();
  });

  it('takes group and other access away from an existing daemon directory', async () => {
    const { home, main, client, env } = await setup();
    const dir = join(home, '.sky', 'api_server');
    await chmod(dir, 0o755);
    await spawnDaemon({ daemonMain: main, args: ['--host', client.endpoint.host, '--port', String(client.endpoint.port)], home, env, probe: () => probeHealth(client) });
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    client.close();
  });
});
