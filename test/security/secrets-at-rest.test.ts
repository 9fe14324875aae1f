// Task secrets at rest: a launch with --secret (CLI) and with task `secrets` (API) leaves no
// trace of the values in the server log or in the raw LevelDB files, only sealed values; the
// key file is 0600; a daemon whose key file is gone refuses to start while a queued request
// holds secrets sealed with it, and with the key back the queued request runs with its secret.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { http, killAllDaemons, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { runOperation } from '../helpers/team.js';

const HEADERS = { 'content-type': 'application/json' };

interface Rec {
  id: string;
  status: string;
  body?: { task?: { secrets?: Record<string, string> } };
  result?: { jobId?: number };
  error?: { code: string; message: string };
}

/** A shell test that the variable holds the value, without the value on the command line (it is not a secret there). */
function checks(name: string, value: string): string {
  const digest = createHash('sha256').update(value).digest('hex');
  return `[ "$(printf %s "$${name}" | sha256sum | cut -c1-64)" = "${digest}" ]`;
}

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('task secrets at rest', () => {
  const values = {
    SKY_SECRET_CLI: `cli-${randomBytes(12).toString('hex')}`,
    SKY_SECRET_API: `api-${randomBytes(12).toString('hex')}`,
    SKY_SECRET_QUEUED: `queued-${randomBytes(12).toString('hex')}`,
  };
  let home: string;
  let d: DaemonHandle;
  let config: string;
  const stateDir = (): string => join(home, '.sky', 'api_server');

  /** Where a value would leak: the server log, every file of the state store, the daemon's stderr. */
  function assertNowhere(): void {
    const files = filesUnder(stateDir());
    assert.ok(files.some((f) => f.endsWith('.log') && f.includes(`${join('api_server', 'state')}`)), 'the LevelDB log is among the files read');
    let sealed = false;
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const [name, value] of Object.entries(values)) assert.equal(bytes.includes(value), false, `${name}'s value is in ${file}`);
      sealed ||= bytes.includes('sky-sealed:v1:');
    }
    assert.ok(sealed, 'the store holds sealed values');
    for (const value of Object.values(values)) assert.equal(d.stderr().includes(value), false, 'a secret on the daemon stderr');
  }

  before(async () => {
    home = tempHome();
    config = `requests:\n  long_workers: 1\ndrivers:\n  local:\n    root: ${join(home, 'nodes')}\n    cpus: 4\n    memory_gb: 4\n`;
    d = await startDaemon({ home, config });
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (home) removeHome(home);
  });

  it('seals --secret and task secrets before they are stored, and never logs them', async () => {
    const cli = spawnSync(
      process.execPath,
      [SKY_BIN, 'launch', '-y', '-c', 'sec-cli', '--secret', `SKY_SECRET_CLI=${values.SKY_SECRET_CLI}`, `${checks('SKY_SECRET_CLI', values.SKY_SECRET_CLI)} && echo cli-secret-ok`],
      { env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url }, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /cli-secret-ok/);

    const api = await runOperation<Rec>(d.url, 'launch', { cluster: 'sec-api', task: { secrets: { SKY_SECRET_API: values.SKY_SECRET_API }, run: `${checks('SKY_SECRET_API', values.SKY_SECRET_API)}` } }, HEADERS);
    assert.equal(api.status, 'SUCCEEDED', JSON.stringify(api.error));
    const jobId = api.result!.jobId!;
    for (let end = Date.now() + 30_000; ; ) {
      const res = await http(`${d.url}/api/v1/clusters/sec-api/jobs`, { headers: HEADERS });
      const job = (res.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === jobId);
      if (job?.status === 'SUCCEEDED') break;
      assert.ok(!['FAILED', 'CANCELLED', 'FAILED_SETUP'].includes(job?.status ?? ''), `the job got its secret: ${job?.status}`);
      assert.ok(Date.now() < end, 'the job ends');
      await sleep(100);
    }
    const shown = await http(`${d.url}/api/v1/requests/${api.id}`, { headers: HEADERS });
    assert.deepEqual((shown.json() as Rec).body?.task?.secrets, { SKY_SECRET_API: '***' }, 'listings still mask the names');

    const key = join(stateDir(), 'secrets.key');
    assert.equal(statSync(key).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(key, 'utf8').trim(), 'base64').length, 32);
    assertNowhere();
  });

  it('refuses to start without the key that sealed a queued request, and runs it once the key is back', async () => {
    const blocker = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ sleep: 120, lane: 'long' }) });
    assert.equal(blocker.status, 202, blocker.text);
    const queued = await http(`${d.url}/api/v1/launch`, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ cluster: 'queued', task: { secrets: { SKY_SECRET_QUEUED: values.SKY_SECRET_QUEUED }, run: checks('SKY_SECRET_QUEUED', values.SKY_SECRET_QUEUED) } }),
    });
    assert.equal(queued.status, 202, queued.text);
    const id = (queued.json() as { requestId: string }).requestId;
    assert.equal(((await http(`${d.url}/api/v1/requests/${id}`, { headers: HEADERS })).json() as Rec).status, 'PENDING', 'the launch waits behind the long ping');
    assertNowhere();

    await d.kill9();
    const key = join(stateDir(), 'secrets.key');
    renameSync(key, `${key}.away`);
    await assert.rejects(startDaemon({ home, port: d.port, config }), (err: Error) => {
      assert.match(err.message, /the secrets key \S*secrets\.key is missing, but queued requests and unfinished jobs hold secrets sealed with it \(1 sealed with key [0-9a-f]{16}\)/);
      assert.match(err.message, /hint: Restore the key file/);
      return true;
    });

    renameSync(`${key}.away`, key);
    d = await startDaemon({ home, port: d.port, config });
    let rec: Rec;
    for (let end = Date.now() + 60_000; ; ) {
      rec = (await http(`${d.url}/api/v1/requests/${id}/wait?timeout=20`, { headers: HEADERS })).json() as Rec;
      if (!['PENDING', 'RUNNING'].includes(rec.status)) break;
      assert.ok(Date.now() < end, 'the queued launch ends');
    }
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    for (let end = Date.now() + 30_000; ; ) {
      const res = await http(`${d.url}/api/v1/clusters/queued/jobs`, { headers: HEADERS });
      const job = (res.json() as { items: Array<{ id: number; status: string }> }).items.find((j) => j.id === rec.result!.jobId);
      if (job?.status === 'SUCCEEDED') break;
      assert.ok(!['FAILED', 'CANCELLED', 'FAILED_SETUP'].includes(job?.status ?? ''), `the queued job got its secret after the restart: ${job?.status}`);
      assert.ok(Date.now() < end, 'the queued job ends');
      await sleep(100);
    }
    assertNowhere();
    for (const cluster of ['sec-api', 'queued']) assert.equal((await runOperation<Rec>(d.url, 'down', { cluster }, HEADERS)).status, 'SUCCEEDED');
    const down = spawnSync(process.execPath, [SKY_BIN, 'down', '-y', 'sec-cli'], { env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(down.status, 0, down.stderr);
  });
});
