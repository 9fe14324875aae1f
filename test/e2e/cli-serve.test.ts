import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DAEMON_MAIN, REPO_ROOT, freePort, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { runSky, showRun, type CliResult } from '../helpers/sky-cli.js';

/*
 * End to end: `sky serve` of the built CLI against a real daemon with the local driver. A
 * service of one python3 http.server replica comes up, is listed, answers through its endpoint,
 * shows its logs, gets a bearer token, and is torn down. stdin is not a terminal: -y is passed.
 */

let daemon: DaemonHandle;
let dir: string;

const sky = (args: readonly string[]): Promise<CliResult> => runSky(args, { home: daemon.home, endpoint: daemon.url, cwd: dir });

async function expectCode(args: readonly string[], code: number): Promise<CliResult> {
  const r = await sky(args);
  assert.equal(r.code, code, showRun(args, r));
  return r;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 300));
  }
}

function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

const cells = (line: string): string[] => line.trim().split(/\s{2,}/);

before(async () => {
  for (const file of [join(REPO_ROOT, 'cli/dist'), DAEMON_MAIN]) assert.ok(existsSync(file), `${file} is missing: run npm run build before the e2e tests`);
  const lbPort = await freePort();
  daemon = await startDaemon({ config: `drivers:\n  local: {}\nserve:\n  ports: "${lbPort}-${lbPort + 3}"\n  probe_interval_seconds: 1\n` });
  dir = await mkdtemp(join(daemon.home, 'tasks-'));
  await writeFile(
    join(dir, 'service.yaml'),
    [
      'name: cli-web',
      'service:',
      '  readiness_probe:',
      '    path: /',
      '    initial_delay_seconds: 60',
      '  replicas: 1',
      '  ports: 8080',
      'run: exec python3 -m http.server "$SKY_SERVE_PORT" --bind 127.0.0.1',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'plain.yaml'), 'run: echo no service here\n');
});

after(async () => {
  await sky(['serve', 'down', '-a', '-y', '--purge']).catch(() => undefined);
  await daemon?.stop();
  await killAllDaemons();
  if (daemon) removeHome(daemon.home);
});

describe('sky serve on the local driver', { timeout: 240_000 }, () => {
  let endpoint = '';

  it('serve up prints the service name and its endpoint', async () => {
    const r = await expectCode(['serve', 'up', '-n', 'cli-web', '-y', 'service.yaml'], 0);
    assert.match(r.stdout, /^Service name: cli-web$/m);
    endpoint = /^Endpoint URL: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(r.stdout)?.[1] ?? assert.fail(showRun(['serve', 'up'], r));
  });

  it('serve status lists it, READY with 1/1 replicas, and its replica; --endpoint prints the endpoint alone', async () => {
    const table = await waitFor('the replica to be READY', async () => {
      const r = await expectCode(['serve', 'status', 'cli-web'], 0);
      return /\bREADY\b.*\b1\/1\b/.test(r.stdout) ? r.stdout : undefined;
    });
    const lines = table.split('\n');
    const header = lines.findIndex((l) => l.startsWith('NAME'));
    assert.deepEqual(cells(lines[header]!), ['NAME', 'VERSION', 'UPTIME', 'STATUS', 'REPLICAS', 'ENDPOINT']);
    const row = cells(lines[header + 1]!);
    assert.equal(row[0], 'cli-web');
    assert.equal(row[5], endpoint);
    const replicas = lines.findIndex((l) => l.startsWith('SERVICE_NAME'));
    assert.ok(replicas > header, table);
    assert.deepEqual(cells(lines[replicas]!), ['SERVICE_NAME', 'ID', 'VERSION', 'ENDPOINT', 'LAUNCHED', 'RESOURCES', 'STATUS']);
    assert.equal(cells(lines[replicas + 1]!)[0], 'cli-web');
    assert.equal(cells(lines[replicas + 1]!).at(-1), 'READY');
    assert.equal((await expectCode(['serve', 'status', '--endpoint', 'cli-web'], 0)).stdout.trim(), endpoint);
    assert.equal(await get(`${endpoint}/`), 200);
    const missing = await expectCode(['serve', 'status', 'cli-web', 'no-such'], 1);
    assert.match(missing.stderr, /no service named 'no-such'/);
  });

  it("serve logs shows the controller's and the replica's logs", async () => {
    const controller = await expectCode(['serve', 'logs', 'cli-web', '--controller', '--no-follow'], 0);
    assert.match(controller.stdout, /replica 1: READY/);
    const replica = await expectCode(['serve', 'logs', 'cli-web', '1', '--no-follow'], 0);
    assert.match(replica.stdout, /"GET \/ HTTP\/1\.1" 200/, 'the probes reached the replica');
  });

  it('serve token protects the endpoint; --off opens it again', async () => {
    const r = await expectCode(['serve', 'token', 'cli-web'], 0);
    const token = r.stdout.trim();
    assert.match(token, /^sky_svc_/);
    assert.equal(await get(`${endpoint}/`), 401);
    assert.equal(await get(`${endpoint}/`, { authorization: `Bearer ${token}` }), 200);
    await expectCode(['serve', 'token', 'cli-web', '--off'], 0);
    assert.equal(await get(`${endpoint}/`), 200);
  });

  it('serve up of a task without a service section is refused with the way to add one', async () => {
    const r = await expectCode(['serve', 'up', '-n', 'nope', '-y', 'plain.yaml'], 1);
    assert.match(r.stderr, /no service section/);
    assert.match(r.stderr, /readiness_probe/);
  });

  it('serve down tears it down: no service, no replica cluster, no endpoint', async () => {
    const r = await expectCode(['serve', 'down', 'cli-web', '-y'], 0);
    assert.match(r.stdout, /torn down: cli-web/);
    await expectCode(['serve', 'status', 'cli-web'], 1);
    const clusters = await expectCode(['status', '-u'], 0);
    assert.doesNotMatch(clusters.stdout, /cli-web-1/);
    await assert.rejects(get(`${endpoint}/`));
  });
});
