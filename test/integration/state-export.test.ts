import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { http, killAllDaemons, removeHome, startDaemon, type DaemonHandle } from '../helpers/daemon-process.js';
import { EventReader, labelOf } from '../helpers/event-stream.js';
import { runSky } from '../helpers/sky-cli.js';
import { TEAM_ADMIN, asAdmin, asUser, errorOf, runOperation, startTeamDaemon, teamDriverConfig, type TeamDaemonHandle } from '../helpers/team.js';
import { adminQuery, dropSchema, testDatabaseUrl, testSchemaName } from './store-postgres-fixture.js';

interface Rec {
  status: string;
  result?: { jobId?: number };
  error?: { code: string; message: string };
}

interface ManagedJob {
  id: number;
  status: string;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'FAILED_NO_RESOURCE', 'CANCELLED']);

/** Poll `check` until it gives a value, at most `tries` times `everyMs` apart. */
async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 600, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The change events of the feed from `after` up to where the stream said the backlog ends. */
async function backlog(url: string, afterSeq: number): Promise<{ labels: string[]; seqs: number[]; ready: number }> {
  const reader = await EventReader.open(url, { headers: asAdmin(), query: `after=${afterSeq}&all_users=true` });
  try {
    const ready = await reader.waitFor((e) => e.event === 'ready', 'the end of the backlog');
    const changes = reader.events.filter((e) => e.event === 'change' && e.data.seq <= ready.data.seq);
    return { labels: changes.map(labelOf), seqs: changes.map((e) => e.data.seq), ready: ready.data.seq };
  } finally {
    reader.close();
  }
}

/** What the team sees of the clusters and jobs, without times (which move on). */
async function teamView(url: string): Promise<unknown> {
  const clusters = (await http(`${url}/api/v1/clusters?all_users=true`, { headers: asAdmin() })).json() as { items: Array<Record<string, unknown>> };
  const names = clusters.items.map((c) => String(c.name)).sort();
  const jobs: Record<string, unknown> = {};
  for (const name of names) {
    const res = (await http(`${url}/api/v1/clusters/${name}/jobs?all_users=true`, { headers: asAdmin() })).json() as { items: Array<Record<string, unknown>> };
    jobs[name] = res.items.map((j) => [j.id, j.userName, j.status, j.command]);
  }
  const managed = (await http(`${url}/api/v1/managed-jobs?all_users=true`, { headers: asAdmin() })).json() as { items: Array<Record<string, unknown>> };
  return {
    clusters: clusters.items.map((c) => [c.name, c.ownerName, c.status, c.resources]).sort(),
    jobs,
    managed: managed.items.map((m) => [m.id, m.userName, m.status, m.name]),
  };
}

describe('sky api export → sky-daemon --import: moving a team from LevelDB to PostgreSQL', { timeout: 600_000 }, () => {
  let level: TeamDaemonHandle;
  let target: DaemonHandle | undefined;
  let dbUrl: string;
  const schemas: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), 'sky-export-'));
  const file = join(scratch, 'team.jsonl.gz');
  let aliceToken = '';
  let before_: { view: unknown; status: string; events: { labels: string[]; seqs: number[]; ready: number } };

  const pgConfig = (schema: string): string =>
    `auth:\n  mode: basic\n${teamDriverConfig(level.home, level.helper)}store:\n  kind: postgres\n  url: ${dbUrl}\n  schema: ${schema}\n`;
  const sky = (args: string[], who = `${TEAM_ADMIN.name}:${TEAM_ADMIN.password}`, url = level.url): ReturnType<typeof runSky> =>
    runSky(args, { home: scratch, endpoint: url.replace('http://', `http://${who}@`), timeoutMs: 120_000 });

  before(async () => {
    dbUrl = await testDatabaseUrl();
    level = await startTeamDaemon(['alice', 'bob']);
    const launched = await runOperation<Rec>(level.url, 'launch', { cluster: 'alpha', task: { run: 'echo one' } }, asUser('alice'));
    assert.equal(launched.status, 'SUCCEEDED', JSON.stringify(launched.error));
    const exec = await runOperation<Rec>(level.url, 'exec', { cluster: 'alpha', task: { name: 'second', run: 'echo two' } }, asUser('alice'));
    assert.equal(exec.status, 'SUCCEEDED', JSON.stringify(exec.error));
    const bobs = await runOperation<Rec>(level.url, 'launch', { cluster: 'beta', task: { run: 'true' } }, asUser('bob'));
    assert.equal(bobs.status, 'SUCCEEDED', JSON.stringify(bobs.error));
    const managed = await runOperation<Rec>(level.url, 'jobs_launch', { tasks: [{ task: { name: 'managed', run: 'echo managed' } }] }, asUser('alice'));
    assert.equal(managed.status, 'SUCCEEDED', JSON.stringify(managed.error));
    const managedId = managed.result?.jobId;
    await until('the managed job to end', async () => {
      const res = (await http(`${level.url}/api/v1/managed-jobs/${managedId}`, { headers: asUser('alice') })).json() as { job: ManagedJob };
      return TERMINAL.has(res.job.status) ? res.job : undefined;
    });
    await until('the managed job\'s cluster to be torn down', async () => {
      const res = (await http(`${level.url}/api/v1/clusters?all_users=true`, { headers: asAdmin() })).json() as { items: Array<{ name: string }> };
      return res.items.map((c) => c.name).sort().join() === 'alpha,beta' ? true : undefined;
    });
    await until('alice\'s jobs to end', async () => {
      const res = (await http(`${level.url}/api/v1/clusters/alpha/jobs`, { headers: asUser('alice') })).json() as { items: Array<{ status: string }> };
      return res.items.length === 2 && res.items.every((j) => TERMINAL.has(j.status)) ? true : undefined;
    });
    const token = await http(`${level.url}/api/v1/tokens`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ name: 'ci' }) });
    assert.equal(token.status, 201, token.text);
    aliceToken = (token.json() as { token: string }).token;
  });

  after(async () => {
    await target?.stop().catch(() => null);
    await level.stop().catch(() => null);
    await killAllDaemons();
    for (const schema of schemas) await dropSchema(schema);
    removeHome(level.home);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('refuses the export to a member who is not an admin, and audits the refusal', async () => {
    const res = await http(`${level.url}/api/v1/admin/export`, { headers: asUser('bob') });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'FORBIDDEN');
    const cli = await sky(['api', 'export', join(scratch, 'bob.jsonl')], 'bob:bob-password');
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /admin/i);
    assert.throws(() => readFileSync(join(scratch, 'bob.jsonl')), 'no file is left behind');
    const audit = (await http(`${level.url}/api/v1/audit?limit=50`, { headers: asAdmin() })).json() as { items: Array<{ action: string; result: string; userName: string }> };
    assert.ok(audit.items.some((a) => a.action === 'state.export' && a.result === 'DENIED' && a.userName === 'bob'), JSON.stringify(audit.items.slice(0, 5)));
  });

  it('exports the whole state while the daemon serves (sky api export FILE.gz), audited', async () => {
    const cli = await sky(['api', 'export', file]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /Exported the level store's state \(\d+ records\)/);
    const lines = gunzipSync(readFileSync(file)).toString('utf8').trimEnd().split('\n');
    const header = JSON.parse(lines[0]!) as { format: string; version: number; storeKind: string };
    assert.deepEqual([header.format, header.version, header.storeKind], ['sky-state', 1, 'level']);
    assert.equal((JSON.parse(lines[lines.length - 1]!) as { type: string }).type, 'end');
    assert.doesNotMatch(lines.join('\n'), new RegExp(aliceToken), 'a token travels as its hash only');
    assert.doesNotMatch(lines.join('\n'), /alice-password/, 'passwords travel as hashes only');
    await until('the export audit entry', async () => {
      const now = (await http(`${level.url}/api/v1/audit?limit=50`, { headers: asAdmin() })).json() as { items: Array<{ action: string; result: string; userName: string }> };
      return now.items.some((a) => a.action === 'state.export' && a.result === 'SUCCEEDED' && a.userName === TEAM_ADMIN.name) ? true : undefined;
    }, 50);
    const plain = await http(`${level.url}/api/v1/admin/export`, { headers: asAdmin() });
    assert.equal(plain.status, 200);
    assert.match(plain.text.split('\n')[0]!, /"format":"sky-state"/);
  });

  it('imports into an empty PostgreSQL daemon: the same status, queue, users, tokens and event feed', async () => {
    const status = await sky(['status', '-u']);
    assert.equal(status.code, 0, status.stderr);
    before_ = { view: await teamView(level.url), status: status.stdout, events: await backlog(level.url, 0) };
    // The LevelDB daemon stops (its node helper and node directories stay for the next one).
    level.child.kill('SIGTERM');
    await until('the LevelDB daemon to exit', async () => (level.child.exitCode !== null || level.child.signalCode !== null ? true : undefined));

    const schema = testSchemaName();
    schemas.push(schema);
    target = await startDaemon({ home: level.home, config: pgConfig(schema), args: ['--import', file] });
    assert.deepEqual(await teamView(target.url), before_.view);
    const after = await sky(['status', '-u'], undefined, target.url);
    assert.equal(after.code, 0, after.stderr);
    const rows = (text: string): string[] => text.split('\n').filter((l) => /^(alpha|beta)\s/.test(l)).map((l) => l.split(/\s{2,}/).filter((_c, i) => i !== 2).join(' '));
    assert.deepEqual(rows(after.stdout), rows(before_.status), `${before_.status}\n---\n${after.stdout}`);
    const queue = await sky(['queue', 'alpha'], 'alice:alice-password', target.url);
    assert.equal(queue.code, 0, queue.stderr);
    assert.match(queue.stdout, /second/);

    const me = (await http(`${target.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${aliceToken}` } })).json() as { name: string; via: string };
    assert.deepEqual([me.name, me.via], ['alice', 'token'], 'a token made before the move still logs in');
    assert.equal((await http(`${target.url}/api/v1/users/me`, { headers: asUser('bob') })).status, 200, 'passwords still work');
    const login = await sky(['api', 'info'], 'bob:bob-password', target.url);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /User: bob/);

    // The feed as exported (requests made after the export, by sky status for one, are not in the file).
    const lines = gunzipSync(readFileSync(file)).toString('utf8').split('\n');
    const exported = (JSON.parse(lines[1]!) as { type: string; last: number }).last;
    assert.ok(exported > 0 && exported <= before_.events.ready);
    // A job change of a cluster deleted before the daemon started is shown only by a daemon that
    // knew the cluster (whose it was decides who sees it): a restarted LevelDB daemon leaves them
    // out too. Everything else of the exported feed comes back with the same seq.
    const shown = (feed: { labels: string[]; seqs: number[] }): string[] =>
      feed.labels.flatMap((label, i) => (feed.seqs[i]! <= exported && !/^job sky-jobs-/.test(label) ? [`${feed.seqs[i]} ${label}`] : []));
    const events = await backlog(target.url, 0);
    assert.deepEqual(shown(events), shown(before_.events), 'the feed keeps its seqs and changes');
    assert.ok(shown(events).length > 10);
    const mid = before_.events.seqs[Math.floor(shown(before_.events).length / 2)]!;
    const resumed = await backlog(target.url, mid);
    assert.equal(resumed.seqs[0], mid + 1, 'a client resuming after a seq it had gets the next one');

    const more = await runOperation<Rec>(target.url, 'exec', { cluster: 'alpha', task: { run: 'echo three' } }, asUser('alice'));
    assert.equal(more.status, 'SUCCEEDED', JSON.stringify(more.error));
    assert.equal(more.result?.jobId, 3, 'job ids go on from where they were');
    const audit = (await http(`${target.url}/api/v1/audit?limit=200`, { headers: asAdmin() })).json() as { items: Array<{ action: string; result: string }> };
    assert.ok(audit.items.some((a) => a.action === 'state.import' && a.result === 'SUCCEEDED'), 'the import is audited');
    assert.ok(audit.items.some((a) => a.action === 'launch'), 'the audit log came along');
  });

  it('refuses an import into a store that is not empty, a file that is not a whole sky-state file, and a newer format', async () => {
    const schema = schemas[0];
    assert.ok(schema !== undefined, 'runs after the import');
    await target?.stop();
    target = undefined;
    const refused = async (config: string, importFile: string, message: RegExp): Promise<void> => {
      await assert.rejects(startDaemon({ home: level.home, config, args: ['--import', importFile] }), (err: Error) => {
        assert.match(err.message, message);
        return true;
      });
    };
    await refused(pgConfig(schema), file, /already holds/);
    const levelConfig = `auth:\n  mode: basic\n${teamDriverConfig(level.home, level.helper)}`;
    await refused(levelConfig, file, /already holds/);

    const empty = testSchemaName();
    schemas.push(empty);
    const junk = join(scratch, 'junk.txt');
    writeFileSync(junk, 'hello\n');
    await refused(pgConfig(empty), junk, /not a sky state file/);
    const text = gunzipSync(readFileSync(file)).toString('utf8').trimEnd().split('\n');
    const newer = join(scratch, 'newer.jsonl');
    writeFileSync(newer, [JSON.stringify({ ...(JSON.parse(text[0]!) as object), version: 99 }), ...text.slice(1)].join('\n') + '\n');
    await refused(pgConfig(empty), newer, /format version 99, newer than this sky reads/);
    const cut = join(scratch, 'cut.jsonl');
    writeFileSync(cut, text.slice(0, -1).join('\n') + '\n');
    await refused(pgConfig(empty), cut, /truncated/);
    const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${empty}".users`);
    assert.equal(rows[0]?.n, 0, 'a refused import wrote nothing');
  });
});
