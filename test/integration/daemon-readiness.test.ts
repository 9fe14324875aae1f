import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Health, Readiness, RequestRecord } from '@sky/protocol';
import { DAEMON_MAIN, freePort, http, killAllDaemons, readDaemonJson, removeHome, startDaemon, tempHome, useLocalToken, type DaemonHandle } from '../helpers/daemon-process.js';
import { ownPostgres, type OwnPostgres } from '../helpers/own-postgres.js';
import { runSky, showRun } from '../helpers/sky-cli.js';
import { dropSchema, testDatabaseUrl, testSchemaName } from './store-postgres-fixture.js';

/** Poll `check` until it holds, at most `bound` tries `everyMs` apart. */
async function until(what: string, check: () => Promise<boolean>, bound = 400, everyMs = 100): Promise<void> {
  for (let i = 0; i < bound; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const homes: string[] = [];
const daemons: DaemonHandle[] = [];
const servers: OwnPostgres[] = [];
const schemas: string[] = [];

after(async () => {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await killAllDaemons();
  await Promise.allSettled(servers.map((s) => s.destroy()));
  await Promise.allSettled(schemas.map((s) => dropSchema(s)));
  for (const home of homes) removeHome(home);
});

async function health(url: string): Promise<Health> {
  const res = await http(`${url}/api/health`);
  assert.equal(res.status, 200, res.text);
  return res.json() as Health;
}

async function ready(url: string): Promise<boolean> {
  return (await http(`${url}/api/health/ready`)).status === 200;
}

/** Submit a ping and wait for it to end; the finished record. */
async function ping(url: string): Promise<RequestRecord> {
  const submit = await http(`${url}/api/v1/ping`, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'wait=20' }, body: '{}' });
  assert.ok(submit.status === 200 || submit.status === 202, submit.text);
  const { requestId } = submit.json() as { requestId: string };
  let record: RequestRecord | undefined;
  await until('the ping to finish', async () => {
    record = (await http(`${url}/api/v1/requests/${requestId}`)).json() as RequestRecord;
    return record.status === 'SUCCEEDED';
  });
  return record!;
}

/** Run the built daemon until it exits by itself; its exit code and stderr. */
function runDaemonToExit(home: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [DAEMON_MAIN, '--host', '127.0.0.1', '--port', '0'], { env: { ...process.env, HOME: home, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe('daemon readiness with a database that is not there yet', () => {
  it('listens not ready, refuses with 503 + Retry-After, becomes ready when the database appears, and follows its loss and return', async () => {
    const dbPort = await freePort();
    const server = ownPostgres(dbPort);
    servers.push(server);
    const home = tempHome();
    homes.push(home);
    const daemon = await startDaemon({ home, env: { SKY_DB_URL: server.url.replace('root@', 'root:hunter2@') } });
    daemons.push(daemon);

    const before = await health(daemon.url);
    assert.equal(before.ready, false);
    assert.equal(before.store?.kind, 'postgres');
    assert.equal(before.store?.state, 'opening');
    assert.equal(before.store?.location, undefined, 'an anonymous caller is not told where the database is');
    assert.match(before.replica ?? '', /^[A-Za-z0-9][A-Za-z0-9._-]*-[0-9a-f]{6}$/);

    const notReady = await http(`${daemon.url}/api/health/ready`);
    assert.equal(notReady.status, 503);
    assert.equal(notReady.headers['retry-after'], '5');

    const refused = await http(`${daemon.url}/api/v1/ping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.headers['retry-after'], '5');
    const body = refused.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'STATE_UNAVAILABLE');
    assert.match(body.error.message, /state store is not reachable yet/);
    assert.doesNotMatch(refused.text, /hunter2/);
    const listing = await http(`${daemon.url}/api/v1/requests`);
    assert.equal(listing.status, 503, 'reads wait for the store as well');

    await server.start();
    await until('the daemon to become ready', () => ready(daemon.url));
    useLocalToken(daemon.url, home); // made once the store opened (auth bootstrap)
    const after = await health(daemon.url);
    assert.equal(after.ready, true);
    assert.equal(after.store?.state, 'open');
    assert.equal(after.store?.location, `postgres://root@127.0.0.1:${dbPort}/postgres (schema sky)`, 'the owner (admin) sees where, without the password');
    assert.equal(after.replica, before.replica, 'the replica id lasts as long as the process');
    const record = await ping(daemon.url);
    assert.equal(record.replica, after.replica);

    await server.stop();
    await until('the daemon to notice the database is gone', async () => !(await ready(daemon.url)));
    const lost = await health(daemon.url);
    assert.equal(lost.ready, false);
    assert.equal(lost.store?.state, 'unavailable');
    const whileLost = await http(`${daemon.url}/api/health/ready`);
    assert.equal(whileLost.headers['retry-after'], '5');

    await server.start();
    await until('the daemon to be ready again', () => ready(daemon.url));
    assert.equal((await ping(daemon.url)).replica, after.replica);
    assert.equal(await daemon.stop(), 0, daemon.stderr());
  });
});

describe('stopping a daemon that is not ready', () => {
  it('drains and exits 0 on SIGTERM while it waits for its database, removing daemon.json', async () => {
    const home = tempHome();
    homes.push(home);
    const daemon = await startDaemon({ home, env: { SKY_DB_URL: `postgres://root@127.0.0.1:${await freePort()}/postgres` } });
    daemons.push(daemon);
    assert.equal((await health(daemon.url)).ready, false);
    assert.equal(readDaemonJson(home).pid, daemon.pid, 'daemon.json names the not-ready daemon, so sky api stop finds it');
    assert.equal(await daemon.stop(), 0, daemon.stderr());
    assert.equal(existsSync(join(home, '.sky/api_server/daemon.json')), false);
  });
});

describe('replica identity and the store in sky api info', () => {
  it('records the configured replica_id on every request it runs and shows store and replica', async () => {
    const url = await testDatabaseUrl();
    const schema = testSchemaName();
    schemas.push(schema);
    const home = tempHome();
    homes.push(home);
    const daemon = await startDaemon({ home, config: `replica_id: sky-a\nstore:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\n` });
    daemons.push(daemon);
    await until('ready', () => ready(daemon.url));
    useLocalToken(daemon.url, home);
    const readiness = (await http(`${daemon.url}/api/health/ready`)).json() as Readiness;
    assert.deepEqual({ ready: readiness.ready, replica: readiness.replica, kind: readiness.store.kind, state: readiness.store.state }, { ready: true, replica: 'sky-a', kind: 'postgres', state: 'open' });
    const record = await ping(daemon.url);
    assert.equal(record.replica, 'sky-a');

    const info = await runSky(['api', 'info'], { home, endpoint: daemon.url });
    assert.equal(info.code, 0, showRun(['api', 'info'], info));
    assert.match(info.stdout, /├── Status: healthy, /);
    const host = new URL(url);
    assert.match(info.stdout, new RegExp(`├── Store: postgres postgres://${host.username}@127\\.0\\.0\\.1:5432/test \\(schema ${schema}\\)\\n`));
    assert.match(info.stdout, /├── Replica: sky-a\n/);

    const status = await runSky(['api', 'status', '-a'], { home, endpoint: daemon.url });
    assert.equal(status.code, 0, showRun(['api', 'status', '-a'], status));
    assert.doesNotMatch(status.stdout, /REPLICA/, 'one replica: the table stays as it was');
    const json = await runSky(['api', 'status', '-a', '-o', 'json'], { home, endpoint: daemon.url });
    const listed = JSON.parse(json.stdout) as RequestRecord[];
    assert.deepEqual(listed.map((r) => r.replica), listed.map(() => 'sky-a'), json.stdout);
    assert.equal(await daemon.stop(), 0, daemon.stderr());
  });
});

describe('a store that refuses the daemon for good', () => {
  it('stops a daemon whose database does not exist, with exit code 78 and the reason, password hidden', async () => {
    const base = new URL(await testDatabaseUrl());
    base.password = 'hunter2';
    base.pathname = '/sky_no_such_database';
    const home = tempHome();
    homes.push(home);
    const { code, stderr } = await runDaemonToExit(home, { SKY_DB_URL: base.toString() });
    assert.equal(code, 78, stderr);
    assert.match(stderr, /has no such database/);
    assert.doesNotMatch(stderr, /hunter2/);
  });

  it('stops (exit 78) a daemon that waited for its database once the server that appears has no such database', async () => {
    const server = ownPostgres(await freePort());
    servers.push(server);
    const home = tempHome();
    homes.push(home);
    const daemon = await startDaemon({ home, env: { SKY_DB_URL: server.url.replace(/\/postgres$/, '/sky_missing') } });
    daemons.push(daemon);
    assert.equal((await health(daemon.url)).ready, false);
    const exited = new Promise<number | null>((resolve) => daemon.child.once('exit', (code) => resolve(code)));
    await server.start();
    assert.equal(await exited, 78, daemon.stderr());
    assert.match(daemon.stderr(), /has no such database/);
    assert.equal(existsSync(join(home, '.sky/api_server/daemon.json')), false, 'it stopped cleanly');
  });

  it('refuses a second daemon on the same LevelDB directory and points to PostgreSQL', async () => {
    const home = tempHome();
    homes.push(home);
    const first = await startDaemon({ home });
    daemons.push(first);
    const second = await runDaemonToExit(home, {});
    assert.equal(second.code, 78, second.stderr);
    assert.match(second.stderr, /LevelDB is one daemon per state directory/);
    assert.match(second.stderr, /several replicas .*PostgreSQL/);
    assert.equal((await health(first.url)).ready, true, 'the first daemon goes on serving');
    assert.equal(await first.stop(), 0, first.stderr());
  });
});
