import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { http, killAllDaemons, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asAdmin, asUser, runOperation, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';

// The audit log on a basic-auth team server: who did what, to which target, with which result.

let d: DaemonHandle;

interface Entry {
  id: string;
  at: number;
  user: string;
  userName: string;
  action: string;
  target?: string;
  result: string;
  requestId?: string;
  detail?: string;
}

const as = (name: string): Record<string, string> => asUser(name);
const op = (url: string, name: string, body: unknown, headers: Record<string, string>) =>
  runOperation<{ id: string; status: string; error?: { code: string } }>(url, name, body, headers);

async function audit(url: string, query = ''): Promise<{ items: Entry[]; nextCursor?: string; raw: string }> {
  const res = await http(`${url}/api/v1/audit${query}`, { headers: asAdmin() });
  assert.equal(res.status, 200, res.text);
  return { ...(res.json() as { items: Entry[]; nextCursor?: string }), raw: res.text };
}

/** Entries are written as requests finish: poll until the predicate holds. */
async function eventually(url: string, query: string, ok: (items: Entry[]) => boolean): Promise<Entry[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { items } = await audit(url, query);
    if (ok(items)) return items;
    if (Date.now() > deadline) assert.fail(`audit log never matched: ${JSON.stringify(items, null, 1)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  d = await startTeamDaemon(['alice', 'bob']);
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

describe('audit log', () => {
  let startedAt = 0;

  it('records user creation by the admin, without the password', async () => {
    const items = await eventually(d.url, '', (xs) => xs.filter((e) => e.action === 'user.create').length === 2);
    const alice = items.find((e) => e.action === 'user.create' && e.target === 'alice')!;
    assert.equal(alice.userName, 'admin');
    assert.equal(alice.result, 'SUCCEEDED');
    const { raw } = await audit(d.url);
    assert.doesNotMatch(raw, /alice-password|bob-password|admin-pass-1/);
  });

  it('records a launch and a down by alice and a refused down by bob: who, what, target, result', async () => {
    startedAt = Date.now();
    const launch = await op(d.url, 'launch', { cluster: 'alice-c', task: { run: 'echo hi' } }, as('alice'));
    assert.equal(launch.status, 'SUCCEEDED', JSON.stringify(launch));
    const refused = await op(d.url, 'down', { cluster: 'alice-c' }, as('bob'));
    assert.equal(refused.status, 'FAILED');
    assert.equal(refused.error?.code, 'FORBIDDEN');
    const down = await op(d.url, 'down', { cluster: 'alice-c' }, as('alice'));
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down));

    const items = await eventually(d.url, '', (xs) => xs.some((e) => e.requestId === down.id));
    const byRequest = (id: string): Entry => items.find((e) => e.requestId === id)!;
    assert.deepEqual(
      [launch.id, refused.id, down.id].map((id) => {
        const e = byRequest(id);
        return [e.userName, e.action, e.target, e.result, e.detail];
      }),
      [
        ['alice', 'launch', 'alice-c', 'SUCCEEDED', undefined],
        ['bob', 'down', 'alice-c', 'DENIED', 'FORBIDDEN'],
        ['alice', 'down', 'alice-c', 'SUCCEEDED', undefined],
      ],
    );
    const order = items.map((e) => e.id);
    assert.deepEqual(order, [...order].sort().reverse(), 'newest first');
    assert.ok(items.every((e) => e.action !== 'ping' && e.action !== 'status'), 'reads are not audited');
  });

  it('records a token creation without its secret', async () => {
    const res = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: as('alice'), body: JSON.stringify({ name: 'ci' }) });
    assert.equal(res.status, 201, res.text);
    const made = res.json() as { token: string; record: { id: string } };
    const items = await eventually(d.url, '', (xs) => xs.some((e) => e.action === 'token.create'));
    const entry = items.find((e) => e.action === 'token.create')!;
    assert.equal(entry.userName, 'alice');
    assert.equal(entry.target, made.record.id);
    assert.equal(entry.result, 'SUCCEEDED');
    const { raw } = await audit(d.url);
    assert.ok(!raw.includes(made.token), 'the token secret is never in the audit log');
  });

  it('records admin actions a user is refused as DENIED', async () => {
    const res = await http(`${d.url}/api/v1/users/alice/role`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ role: 'admin' }) });
    assert.equal(res.status, 403);
    const items = await eventually(d.url, '?user=bob', (xs) => xs.some((e) => e.action === 'user.role'));
    const entry = items.find((e) => e.action === 'user.role')!;
    assert.deepEqual([entry.target, entry.result, entry.detail], ['alice', 'DENIED', 'FORBIDDEN']);
  });

  it('answers 403 to a non-admin', async () => {
    const res = await http(`${d.url}/api/v1/audit`, { headers: as('alice') });
    assert.equal(res.status, 403, res.text);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'FORBIDDEN');
  });

  it('filters by user and since (ISO or unix ms), pages with a cursor, and rejects a bad since', async () => {
    const bob = (await audit(d.url, '?user=bob')).items;
    assert.ok(bob.length >= 2);
    assert.ok(bob.every((e) => e.userName === 'bob'));
    const recent = (await audit(d.url, `?since=${startedAt}`)).items;
    assert.ok(recent.length > 0 && recent.every((e) => e.at >= startedAt));
    assert.ok(!recent.some((e) => e.action === 'user.create'), 'older entries are left out');
    const iso = (await audit(d.url, `?since=${encodeURIComponent(new Date(startedAt).toISOString())}`)).items;
    assert.deepEqual(iso.map((e) => e.id), recent.map((e) => e.id));
    assert.equal((await audit(d.url, `?since=${Date.now() + 60_000}`)).items.length, 0);
    const first = await audit(d.url, '?limit=2');
    assert.equal(first.items.length, 2);
    assert.ok(first.nextCursor);
    const second = await audit(d.url, `?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`);
    assert.ok(second.items[0]!.id < first.items[1]!.id);
    const bad = await http(`${d.url}/api/v1/audit?since=yesterday`, { headers: asAdmin() });
    assert.equal(bad.status, 400, bad.text);
  });

  it('sky api audit shows the table, filtered with --user and --since; a non-admin is refused', () => {
    const run = (user: string, password: string, args: string[]) => {
      const h = tempHome();
      const env: Record<string, string | undefined> = { ...process.env, HOME: h };
      delete env.SKYPILOT_API_SERVER_ENDPOINT;
      const url = d.url.replace('http://', `http://${user}:${password}@`);
      const login = spawnSync(process.execPath, ['--', SKY_BIN, 'api', 'login', '-e', url], { env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(login.status, 0, login.stderr);
      const res = spawnSync(process.execPath, ['--', SKY_BIN, 'api', 'audit', ...args], { env, encoding: 'utf8', timeout: 30_000 });
      removeHome(h);
      return res;
    };
    const table = run(TEAM_ADMIN.name, TEAM_ADMIN.password, ['--user', 'alice', '--since', '1h']);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^TIME\s+USER\s+ACTION\s+TARGET\s+RESULT\s+REQUEST\s*$/);
    assert.ok(lines.slice(1).every((l) => /^\S+ \S+\s+alice\s/.test(l)), table.stdout);
    assert.ok(lines.some((l) => /\bdown\s+alice-c\s+SUCCEEDED\s+\w+/.test(l)), table.stdout);
    const json = run(TEAM_ADMIN.name, TEAM_ADMIN.password, ['--user', 'bob', '-o', 'json']);
    assert.equal(json.status, 0, json.stderr);
    const items = JSON.parse(json.stdout) as Entry[];
    assert.ok(items.length > 0 && items.every((e) => e.userName === 'bob'));
    const refused = run('alice', 'alice-password', []);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /admin/);
  });
});

describe('audit retention', () => {
  it('the pruner deletes entries older than audit.retention_days', async () => {
    const h = tempHome();
    // About 1.7 seconds of retention, pruned every half second.
    const short = await startDaemon({
      home: h,
      config: `auth:\n  mode: basic\naudit:\n  retention_days: 0.00002\nrequests:\n  prune_interval_seconds: 0.5\n`,
      env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
    });
    try {
      const res = await http(`${short.url}/api/v1/users`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: 'carol', password: 'carol-password' }) });
      assert.equal(res.status, 201, res.text);
      await eventually(short.url, '', (xs) => xs.some((e) => e.action === 'user.create' && e.target === 'carol'));
      await eventually(short.url, '', (xs) => xs.length === 0);
    } finally {
      await short.stop();
      removeHome(h);
    }
  });
});
