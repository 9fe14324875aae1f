import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { privateLoopback, type PrivateLoopback } from '../helpers/private-loopback.js';

/*
 * End to end: the built `sky` binary against the real daemon, each scenario in its own temp
 * HOME and on its own free port. Every daemon started here is stopped by pid afterwards.
 */

const ROOT = process.env.SKY_REPO_ROOT ?? resolve(import.meta.dirname, '../..');
const SKY = join(ROOT, 'cli/bin/sky.js');
const BUILT = [join(ROOT, 'cli/dist/index.js'), join(ROOT, 'core/daemon/dist/sky-daemon.mjs')];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Env {
  home: string;
  port: number;
  url: string;
  /** A network namespace of its own: commands run there against the default endpoint. */
  net?: PrivateLoopback;
}

const homes: string[] = [];
const extraPids = new Set<number>();
const nets: PrivateLoopback[] = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

async function newEnv(): Promise<Env> {
  const home = await mkdtemp(join(tmpdir(), 'sky-e2e-'));
  homes.push(home);
  const port = await freePort();
  return { home, port, url: `http://127.0.0.1:${port}` };
}

/**
 * A fresh HOME in a network namespace of its own, where the default endpoint
 * (http://127.0.0.1:46580, the only one started automatically) is free. Undefined (the test
 * skips, saying why) where namespaces cannot be made; never under CI=true.
 */
async function newDefaultEnv(): Promise<Env | undefined> {
  const net = await privateLoopback();
  if (net === undefined) return undefined;
  nets.push(net);
  const home = await mkdtemp(join(tmpdir(), 'sky-e2e-'));
  homes.push(home);
  return { home, port: 46580, url: 'http://127.0.0.1:46580', net };
}

const NO_NAMESPACE = 'needs root and ip netns to get a private 127.0.0.1:46580 (the default endpoint)';

function envFor(e: Env, endpoint: string | undefined = e.net === undefined ? e.url : undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: e.home };
  if (endpoint === undefined) delete env.SKYPILOT_API_SERVER_ENDPOINT;
  else env.SKYPILOT_API_SERVER_ENDPOINT = endpoint;
  delete env.SKY_DEBUG;
  delete env.NODE_OPTIONS;
  return env;
}

function start(e: Env, args: string[], endpoint?: string): ChildProcess {
  const argv = e.net === undefined ? { command: process.execPath, args: [SKY, ...args] } : e.net.wrap(process.execPath, [SKY, ...args]);
  return spawn(argv.command, argv.args, { env: envFor(e, endpoint), stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((done) => child.on('close', (code) => done({ code, stdout, stderr })));
}

function sky(e: Env, args: string[], endpoint?: string): Promise<Result> {
  return collect(start(e, args, endpoint));
}

async function ok(e: Env, args: string[]): Promise<Result> {
  const result = await sky(e, args);
  assert.equal(result.code, 0, `sky ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

async function daemonInfo(e: Env): Promise<{ pid: number; url: string } | undefined> {
  try {
    return JSON.parse(await readFile(join(e.home, '.sky/api_server/daemon.json'), 'utf8')) as { pid: number; url: string };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

async function kill(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

before(() => {
  for (const file of BUILT) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
});

after(async () => {
  for (const home of homes) {
    const info = await daemonInfo({ home, port: 0, url: '' });
    if (info !== undefined) await kill(info.pid);
  }
  for (const pid of extraPids) await kill(pid);
  for (const net of nets) await net.destroy();
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

describe('sky api info and auto-start', () => {
  it('ten concurrent commands against a fresh machine start exactly one daemon at the default endpoint', async (t) => {
    const e = await newDefaultEnv();
    if (e === undefined) return t.skip(NO_NAMESPACE);
    const results = await Promise.all(Array.from({ length: 10 }, () => sky(e, ['api', 'info', '-o', 'json'])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const pids = new Set(results.map((r) => (JSON.parse(r.stdout) as { pid: number }).pid));
    assert.equal(pids.size, 1, `answers came from ${[...pids].join(', ')}`);
    const info = await daemonInfo(e);
    assert.ok(info !== undefined, 'daemon.json was written');
    assert.deepEqual([...pids], [info.pid]);
    assert.equal(info.url, 'http://127.0.0.1:46580');
    assert.equal(results.filter((r) => r.stderr.includes('Started a local API server')).length, 1);
    const log = await readFile(join(e.home, '.sky/api_server/server.log'), 'utf8');
    assert.equal(log.match(/"msg":"sky API server listening"/g)?.length, 1, log);
  });

  it('prints the API server, its health and the user in the documented shape', async (t) => {
    const e = await newDefaultEnv();
    if (e === undefined) return t.skip(NO_NAMESPACE);
    const { stdout, stderr } = await ok(e, ['api', 'info']);
    const userId = (await readFile(join(e.home, '.sky/user_hash'), 'utf8')).trim();
    const lines = stdout.split('\n');
    assert.equal(lines[0], `Using SkyPilot API server: ${e.url} Dashboard: ${e.url}/dashboard`);
    assert.match(lines[1] ?? '', /^├── Status: healthy, commit: [0-9a-z]+, version: \d+\.\d+\.\d+\S*$/);
    // The owner of a personal daemon is its admin: it sees where the state lives, and which replica answered.
    assert.match(lines[2] ?? '', /^├── Store: level \/\S+\/\.sky\/api_server\/state$/);
    assert.match(lines[3] ?? '', /^├── Replica: \S+$/);
    assert.match(lines[4] ?? '', new RegExp(`^└── User: \\S+ \\(${userId}\\)$`));
    assert.equal(lines.length, 6);
    assert.match(stderr, /Started a local API server/);
    assert.equal((await ok(e, ['api', 'info'])).stderr, '', 'a running server is used as is');
  });

  it('never starts a daemon for a loopback URL other than the default one (a dead SSH tunnel): says there is no API server there', async () => {
    const e = await newEnv();
    for (const url of [e.url, `http://localhost:${e.port}`, 'http://127.0.0.2:46580']) {
      const r = await sky(e, ['status'], url);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^sky: no API server at http:\/\/\S+ \(connection refused\)\n/, url);
      assert.match(r.stderr, /hint: .*SSH tunnel or port-forward.*Only http:\/\/127\.0\.0\.1:46580 is started automatically/);
      assert.doesNotMatch(r.stderr, /Started a local API server/);
    }
    assert.equal(existsSync(join(e.home, '.sky/api_server/daemon.json')), false);
    assert.equal(existsSync(join(e.home, '.sky/api_server/server.log')), false);
  });

  it('never contacts or starts a remote endpoint, and never prints its credentials', async () => {
    const e = await newEnv();
    // .invalid never resolves (RFC 6761): nothing is sent to any remote host.
    const started = Date.now();
    const r = await sky(e, ['api', 'info'], 'http://alice:s3cretpw@sky-remote.invalid:46580');
    assert.equal(r.code, 1);
    assert.ok(Date.now() - started < 10_000);
    assert.match(r.stderr, /^sky: cannot reach API server at http:\/\/sky-remote\.invalid:46580 \(/);
    assert.match(r.stderr, /\n {2}hint: .*never started automatically/);
    assert.ok(!r.stderr.includes('s3cretpw') && !r.stdout.includes('s3cretpw'));
    assert.equal(existsSync(join(e.home, '.sky/api_server/daemon.json')), false);
    assert.equal(existsSync(join(e.home, '.sky/api_server/server.log')), false);
  });

  it('reports a daemon that cannot start with the log path and its last lines', async () => {
    const e = await newEnv();
    await ok(e, ['api', 'start', '--port', String(e.port)]); // holds ~/.sky/api_server state
    const other = await freePort();
    const r = await sky(e, ['api', 'start', '--port', String(other)], `http://127.0.0.1:${other}`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^sky: the API server did not start: it exited with code \d+; last lines of .*server\.log:/);
    assert.match(r.stderr, /hint: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});

describe('requests: ping, status, logs, cancel', () => {
  let e: Env;
  before(async () => {
    e = await newEnv();
    await ok(e, ['api', 'start', '--port', String(e.port)]);
  });

  it('sky api ping streams the log and prints the answer', async () => {
    const { stdout } = await ok(e, ['api', 'ping', '--sleep', '1']);
    assert.match(stdout, /^ping: sleeping 1s\nping: 1s elapsed\npong\npong from the API server \(pid \d+\) after \d/);
  });

  it('a failing request exits 1 with its error and hint', async () => {
    const r = await sky(e, ['api', 'ping', '--fail', 'boom']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sky: request \S+ failed: boom\n {2}hint: /);
  });

  it('--async prints only the id; status, logs and cancel follow it', async () => {
    const id = (await ok(e, ['api', 'ping', '--sleep', '60', '--lane', 'long', '--async'])).stdout.trim();
    assert.match(id, /^\S+$/);
    const status = (await ok(e, ['api', 'status'])).stdout.split('\n');
    assert.match(status[0] ?? '', /^ID\s+USER\s+NAME\s+CREATED\s+STATUS$/);
    assert.ok(status.some((l) => new RegExp(`^${id}\\s+\\S+\\s+ping\\s+(just now|\\d+s ago)\\s+(PENDING|RUNNING)$`).test(l)), status.join('\n'));
    const json = JSON.parse((await ok(e, ['api', 'status', id, '-o', 'json'])).stdout) as Array<{ id: string; lane: string }>;
    assert.deepEqual(json.map((r) => [r.id, r.lane]), [[id, 'long']]);
    await waitFor('the first log line', async () => ((await ok(e, ['api', 'logs', id, '--no-follow'])).stdout.includes('ping: sleeping 60s') ? true : undefined));
    assert.equal((await ok(e, ['api', 'cancel', id])).stdout.trim(), `Cancelled 1 request: ${id}`);
    const logs = await sky(e, ['api', 'logs', id]);
    assert.equal(logs.code, 1);
    assert.match(logs.stderr, new RegExp(`request ${id} was cancelled`));
    assert.ok(!(await ok(e, ['api', 'status'])).stdout.includes(id), 'finished requests are hidden without -a');
    assert.match((await ok(e, ['api', 'status', '-a'])).stdout, new RegExp(`^${id}\\s.*CANCELLED$`, 'm'));
    assert.match((await ok(e, ['api', 'cancel', id])).stdout, new RegExp(`Already finished: ${id}`));
  });

  it('sky api logs without an id follows your newest request', async () => {
    await ok(e, ['api', 'ping', '--sleep', '1', '--async']);
    const { stdout } = await ok(e, ['api', 'logs']);
    assert.equal(stdout, 'ping: sleeping 1s\nping: 1s elapsed\npong\n');
  });

  it('Ctrl-C while following detaches and leaves the request running', async () => {
    const child = start(e, ['api', 'ping', '--sleep', '60']);
    const done = collect(child);
    let seen = '';
    child.stdout?.on('data', (d: Buffer | string) => (seen += String(d)));
    await waitFor('the ping to log', () => (seen.includes('ping: sleeping') ? true : undefined));
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, 130);
    const id = /Request ID: (\S+)/.exec(r.stderr)?.[1] ?? assert.fail(r.stderr);
    assert.match(r.stderr, new RegExp(`Detached from request ${id}; it keeps running\\. Re-attach with: sky api logs ${id}`));
    assert.match((await ok(e, ['api', 'status', id])).stdout, /RUNNING$/m);
    await ok(e, ['api', 'cancel', id]);
  });

  it('cancel -a wants -y when stdin is not a terminal', async () => {
    const id = (await ok(e, ['api', 'ping', '--sleep', '60', '--async'])).stdout.trim();
    const refused = await sky(e, ['api', 'cancel', '-a']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /add -y to confirm/);
    assert.match((await ok(e, ['api', 'cancel', '-a', '-y'])).stdout, new RegExp(`Cancelled \\d+ requests?: .*${id}`));
    assert.equal((await ok(e, ['api', 'status'])).stdout.trim(), 'No active requests (sky api status -a also shows finished ones).');
  });

  it('sky api logs --server-logs --no-follow prints the daemon log', async () => {
    const { stdout } = await ok(e, ['api', 'logs', '--server-logs', '--no-follow']);
    assert.match(stdout, /sky API server listening/);
  });

  it('sky api stop drains and stops the server, and says so when none runs', async () => {
    const info = await daemonInfo(e);
    assert.ok(info !== undefined);
    assert.equal((await ok(e, ['api', 'stop'])).stdout.trim(), `API server at ${e.url} (pid ${info.pid}) stopped.`);
    assert.equal(alive(info.pid), false);
    assert.equal(await daemonInfo(e), undefined);
    assert.equal((await ok(e, ['api', 'stop'])).stdout.trim(), 'No API server running.');
  });
});

describe('sky daemon', () => {
  it('start, status and stop the API server of this machine', async () => {
    const e = await newEnv();
    const notRunning = await sky(e, ['daemon', 'status']);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stdout, /No API server running/);
    assert.match((await ok(e, ['daemon', 'start', '--port', String(e.port)])).stdout, new RegExp(`API server started at ${e.url} \\(pid \\d+`));
    const status = await ok(e, ['daemon', 'status']);
    assert.match(status.stdout, /^API server: running \(pid \d+\), healthy$/m);
    assert.match((await ok(e, ['daemon', 'start'])).stderr, /already running/);
    await ok(e, ['daemon', 'stop']);
    assert.equal((await sky(e, ['daemon', 'status'])).code, 1);
  });

  it('api start --foreground runs attached and stops on SIGTERM', async () => {
    const e = await newEnv();
    const child = start(e, ['api', 'start', '--foreground', '--port', String(e.port)]);
    const done = collect(child);
    const info = await waitFor('daemon.json', () => daemonInfo(e));
    extraPids.add(info.pid);
    await ok(e, ['api', 'info']);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    await waitFor('the daemon to exit', () => (alive(info.pid) ? undefined : true));
  });
});

describe('usage errors', () => {
  const cases: Array<[string[], RegExp]> = [
    [['bogus'], /^sky: unknown command 'bogus'\. Run 'sky --help'\.\n$/],
    [['api', 'status', '--bogus'], /^sky: unknown option --bogus\. Run 'sky api status --help'\.\n$/],
    [['api', 'info', '--follow'], /^sky: option --follow is not valid for 'sky api info'\. Run 'sky api info --help'\.\n$/],
    [['api', 'ping', '--lane', 'huge'], /^sky: --lane must be one of short, long, got 'huge'\. Run 'sky api ping --help'\.\n$/],
    [['daemon', 'reboot'], /^sky: unknown action 'reboot' for sky daemon; one of start, stop, status\. Run 'sky daemon --help'\.\n$/],
  ];
  for (const [args, message] of cases) {
    it(`sky ${args.join(' ')} exits 2 with one line, and starts nothing`, async () => {
      const e = await newEnv();
      const r = await sky(e, args);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
      assert.equal(existsSync(join(e.home, '.sky/api_server')), false);
    });
  }

  it('sky --help lists the commands that exist and sky --version prints the version', async () => {
    const e = await newEnv();
    const help = await ok(e, ['--help']);
    for (const command of ['api info', 'api status', 'api logs', 'api cancel', 'api ping', 'api start', 'api stop', 'daemon start', 'daemon stop', 'daemon status']) {
      assert.ok(help.stdout.includes(`  ${command}`), command);
    }
    assert.match((await ok(e, ['--version'])).stdout, /^sky\/\d+\.\d+\.\d+/);
  });
});
