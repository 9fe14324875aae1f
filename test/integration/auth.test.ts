import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { DAEMON_MAIN, http, killAllDaemons, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asAdmin, asUser, basicAuth, errorOf, runOperation, startTeamDaemon } from '../helpers/team.js';

// The team server with basic auth: the seed scenario, the route-table walk, tokens, rate limits.

let d: DaemonHandle;
const basic = basicAuth;
const as = (name: string): Record<string, string> => asUser(name);

interface Rec {
  id: string;
  status: string;
  user: string;
  body: unknown;
  error?: { code: string; message: string };
}

const op = (name: string, body: unknown, headers: Record<string, string>): Promise<Rec> => runOperation<Rec>(d.url, name, body, headers);

before(async () => {
  d = await startTeamDaemon(['alice', 'bob', 'carol'], '  max_failed_logins: 5\n');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

describe('authentication (basic)', () => {
  it('refuses to start in an auth mode with no way to log in', () => {
    const h = tempHome();
    const res = spawnSync(process.execPath, [DAEMON_MAIN, '--port', '0', '--auth', 'basic'], { env: { ...process.env, HOME: h }, encoding: 'utf8', timeout: 20_000 });
    removeHome(h);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /no admin to log in with/);
    assert.match(res.stderr, /SKY_ADMIN_USERNAME/);
  });

  // Every route as an outsider, a plain user, another user, a removed workspace member and an
  // admin (admin-only routes from the route table's metadata): test/security/route-walk.test.ts.

  it('a wrong password says whose, and repeated failures are rate-limited with Retry-After', async () => {
    const bad = await http(`${d.url}/api/v1/users/me`, { headers: basic('bob', 'nope-nope') });
    assert.equal(bad.status, 401);
    assert.match(errorOf(bad.text).message, /authentication failed for bob/);
    let last = bad;
    for (let i = 0; i < 6; i++) last = await http(`${d.url}/api/v1/users/me`, { headers: basic('mallory', 'wrong-pass') });
    assert.equal(last.status, 429);
    assert.equal(errorOf(last.text).code, 'TOO_MANY_ATTEMPTS');
    assert.ok(Number(last.headers['retry-after']) > 0);
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: as('bob') })).status, 200, 'others are not locked out');
  });

  it('three users each launch a cluster: each sees their own, -u shows all with owners', async () => {
    for (const name of ['alice', 'bob', 'carol']) {
      const rec = await op('launch', { cluster: `${name}-c`, task: { run: 'echo hi' } }, as(name));
      assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    }
    const mine = (await http(`${d.url}/api/v1/clusters`, { headers: as('bob') })).json() as { items: Array<{ name: string; ownerName: string }> };
    assert.deepEqual(mine.items.map((c) => c.name), ['bob-c']);
    const all = (await http(`${d.url}/api/v1/clusters?all_users=true`, { headers: as('bob') })).json() as { items: Array<{ name: string; ownerName: string }> };
    assert.deepEqual(all.items.map((c) => `${c.name}:${c.ownerName}`).sort(), ['alice-c:alice', 'bob-c:bob', 'carol-c:carol']);
  });

  it('through the sky binary: sky status shows your own, sky status -u everyone with USER, sky down of another user refused', () => {
    const h = tempHome();
    const cli = (user: string, args: string[]) =>
      spawnSync(process.execPath, ['--', SKY_BIN, ...args], {
        env: { ...process.env, HOME: h, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', `http://${user}:${user}-password@`) },
        encoding: 'utf8',
        timeout: 30_000,
      });
    try {
      const own = cli('bob', ['status']);
      assert.equal(own.status, 0, own.stderr);
      assert.match(own.stdout, /bob-c/);
      assert.doesNotMatch(own.stdout, /alice-c|carol-c/);
      const all = cli('bob', ['status', '-u']);
      assert.match(all.stdout, /NAME\s+USER\s+LAUNCHED\s+RESOURCES\s+STATUS\s+AUTOSTOP\s+COMMAND/);
      for (const name of ['alice', 'bob', 'carol']) assert.match(all.stdout, new RegExp(`${name}-c\\s+${name}\\s`));
      const down = cli('bob', ['down', '-y', 'alice-c']);
      assert.notEqual(down.status, 0);
      assert.match(down.stderr, /belongs to alice/);
    } finally {
      removeHome(h);
    }
  });

  it("a user cannot take down another's cluster or read their request bodies and logs; an admin can", async () => {
    const refused = await op('down', { cluster: 'alice-c' }, as('bob'));
    assert.equal(refused.status, 'FAILED');
    assert.equal(refused.error?.code, 'FORBIDDEN');
    assert.match(refused.error!.message, /belongs to alice/);
    const list = (await http(`${d.url}/api/v1/requests?all_users=true&limit=100`, { headers: as('bob') })).json() as { items: Rec[] };
    const alices = list.items.find((r) => r.user !== list.items.find((x) => x.status === 'FAILED')?.user && r.body === null);
    assert.ok(alices, "another user's request is listed with its body masked");
    const logs = await http(`${d.url}/api/v1/requests/${alices.id}/logs?follow=false`, { headers: as('bob') });
    assert.equal(logs.status, 403);
    assert.equal(errorOf(logs.text).code, 'FORBIDDEN');
    const byAdmin = await op('down', { cluster: 'alice-c' }, asAdmin());
    assert.equal(byAdmin.status, 'SUCCEEDED', JSON.stringify(byAdmin.error));
    for (const name of ['bob', 'carol']) assert.equal((await op('down', { cluster: `${name}-c` }, as(name))).status, 'SUCCEEDED');
  });

  it('only admins manage users; a user may change their own password', async () => {
    const res = await http(`${d.url}/api/v1/users`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ name: 'eve', password: 'eve-password' }) });
    assert.equal(res.status, 403);
    const own = await http(`${d.url}/api/v1/users/bob/password`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ password: 'bob-password', current_password: 'bob-password' }) });
    assert.equal(own.status, 200, own.text);
    const other = await http(`${d.url}/api/v1/users/alice/password`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ password: 'hijacked-1' }) });
    assert.equal(other.status, 403);
  });

  it('a token is shown once, works as a bearer, and is rejected once revoked; expired tokens say so', async () => {
    const created = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: as('carol'), body: JSON.stringify({ name: 'ci' }) });
    assert.equal(created.status, 201, created.text);
    const { token, record } = created.json() as { token: string; record: { id: string } };
    const bearer = { authorization: `Bearer ${token}` };
    const me = (await http(`${d.url}/api/v1/users/me`, { headers: bearer })).json() as { name: string; via: string };
    assert.deepEqual([me.name, me.via], ['carol', 'token']);
    const listed = await http(`${d.url}/api/v1/tokens`, { headers: as('carol') });
    assert.doesNotMatch(listed.text, new RegExp(token), 'the secret is never listed');
    assert.equal((await http(`${d.url}/api/v1/tokens/${record.id}/revoke`, { method: 'POST', headers: as('carol'), body: '{}' })).status, 200);
    const after = await http(`${d.url}/api/v1/users/me`, { headers: bearer });
    assert.equal(after.status, 401);
    assert.match(errorOf(after.text).message, /revoked/);
    const short = (await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: as('carol'), body: JSON.stringify({ name: 'short', expires_in_days: 0.00001 }) })).json() as { token: string };
    await new Promise((r) => setTimeout(r, 1200));
    const expired = await http(`${d.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${short.token}` } });
    assert.equal(expired.status, 401);
    assert.match(errorOf(expired.text).message, /expired/);
  });

  it('sky api login with credentials in the URL checks them, saves the endpoint 0600, and sky api info shows the user', () => {
    const h = tempHome();
    const env = { ...process.env, HOME: h, SKYPILOT_API_SERVER_ENDPOINT: '' };
    delete (env as Record<string, string | undefined>).SKYPILOT_API_SERVER_ENDPOINT;
    const url = d.url.replace('http://', 'http://alice:alice-password@');
    const login = spawnSync(process.execPath, ['--', SKY_BIN, 'api', 'login', '-e', url], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(login.status, 0, login.stderr);
    assert.doesNotMatch(login.stdout + login.stderr, /alice-password/, 'the password is never printed');
    const info = spawnSync(process.execPath, ['--', SKY_BIN, 'api', 'info'], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /└── User: alice \(u-[0-9a-f]+\)/);
    const wrong = spawnSync(process.execPath, ['--', SKY_BIN, 'api', 'login', '-e', d.url.replace('http://', 'http://alice:bad-password@')], { env, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /authentication failed for alice/);
    removeHome(h);
  });

  it('proxy mode: the trusted header names the user (created on first sight); untrusted addresses are ignored', async () => {
    const h = tempHome();
    const secret = 'proxy-secret-0123456789';
    const trusted = await startDaemon({
      home: h,
      config: `auth:\n  mode: proxy\n  proxy:\n    trusted_addresses: [127.0.0.1, '::1']\n    secret: ${secret}\n`,
      env: { SKY_ADMIN_USERNAME: 'root-admin' },
    });
    try {
      const me = await http(`${trusted.url}/api/v1/users/me`, { headers: { 'x-forwarded-user': 'dana@example.com', 'x-sky-proxy-secret': secret } });
      assert.equal(me.status, 200, me.text);
      assert.deepEqual((({ name, role, via }) => ({ name, role, via }))(me.json() as { name: string; role: string; via: string }), { name: 'dana@example.com', role: 'user', via: 'proxy' });
      assert.equal((await http(`${trusted.url}/api/v1/users/me`)).status, 401);
    } finally {
      await trusted.stop();
      removeHome(h);
    }
    const h2 = tempHome();
    const untrusted = await startDaemon({
      home: h2,
      config: `auth:\n  mode: proxy\n  proxy:\n    trusted_addresses: [10.9.9.9]\n    secret: ${secret}\n`,
      env: { SKY_ADMIN_USERNAME: 'root-admin' },
    });
    try {
      const spoofed = await http(`${untrusted.url}/api/v1/users/me`, { headers: { 'x-forwarded-user': 'root-admin', 'x-sky-proxy-secret': secret } });
      assert.equal(spoofed.status, 401, 'a header from an address that is not the proxy is not believed');
    } finally {
      await untrusted.stop();
      removeHome(h2);
    }
  });
});
