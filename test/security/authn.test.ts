import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStateStore } from '@sky/store-level';
import { DAEMON_MAIN, SKY_BIN, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle, type HttpAnswer } from '../helpers/daemon-process.js';
import { asAdmin, asUser, basicAuth, errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';

// Authentication, replayed as its hostile users: another OS account and a DNS-rebinding page
// against the personal daemon, a local process posing as the SSO proxy, a password sprayer, a
// token guesser, a timing prober, a holder of a short-lived token, and a cross-site page.

const JSON_TYPE = { 'content-type': 'application/json' };

interface AuditEntry {
  user: string;
  userName: string;
  action: string;
  result: string;
  target?: string;
  detail?: string;
}

/** The audit entries of `action`, waiting a little for the asynchronous write. */
async function audited(url: string, headers: Record<string, string>, action: string, want: (e: AuditEntry) => boolean): Promise<AuditEntry> {
  for (let i = 0; i < 50; i++) {
    const res = await http(`${url}/api/v1/audit?limit=500`, { headers });
    assert.equal(res.status, 200, res.text);
    const found = (res.json() as { items: AuditEntry[] }).items.find((e) => e.action === action && want(e));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no audit entry ${action}`);
}

/** The daemon is still up and answering, with the same pid. */
async function healthy(d: DaemonHandle): Promise<void> {
  assert.equal(d.child.exitCode, null, `the daemon exited: ${d.stderr()}`);
  const res = await http(`${d.url}/api/health`);
  assert.equal(res.status, 200, res.text);
  assert.equal((res.json() as { pid: number }).pid, d.pid);
}

function refused(res: HttpAnswer, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(errorOf(res.text).code, code, res.text);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = process.hrtime.bigint();
  const value = await run();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, value };
}

/** `sky_session=…` from a Set-Cookie header. */
function sessionCookieOf(res: HttpAnswer): string {
  const raw = res.headers['set-cookie'];
  const line = (Array.isArray(raw) ? raw : [raw ?? '']).find((c) => c.startsWith('sky_session='));
  assert.ok(line, `no session cookie in ${JSON.stringify(raw)}`);
  return line.split(';')[0]!;
}

/** Ask for a login link as `headers`, open it, and return the session cookie. */
async function browserSession(url: string, headers: Record<string, string>): Promise<{ cookie: string; path: string; setCookie: string }> {
  const link = await http(`${url}/api/v1/auth/login-links`, { method: 'POST', headers });
  assert.equal(link.status, 200, link.text);
  const { path } = link.json() as { path: string };
  const opened = await http(`${url}${path}`, { anonymous: true });
  assert.equal(opened.status, 303, opened.text);
  assert.equal(new URL(String(opened.headers.location), `${url}${path}`).pathname, '/dashboard/');
  const raw = opened.headers['set-cookie'];
  return { cookie: sessionCookieOf(opened), path, setCookie: (Array.isArray(raw) ? raw : [raw ?? '']).join('\n') };
}

// ------------------------------------------------------------------ the personal daemon

/** A throwaway OS account (the tests run as root); removed in after(). */
interface Account {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function createAccount(): Account {
  const name = `skyauthn${randomBytes(3).toString('hex')}`;
  const home = mkdtempSync(join(tmpdir(), 'sky-other-'));
  const add = spawnSync('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/usr/sbin/nologin', '--user-group', name], { encoding: 'utf8' });
  assert.equal(add.status, 0, `useradd: ${add.stderr}`);
  const uid = Number(spawnSync('id', ['-u', name], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  chownSync(home, uid, gid);
  return { name, uid, gid, home };
}

function removeAccount(account: Account | undefined): void {
  if (account === undefined) return;
  spawnSync('userdel', [account.name], { encoding: 'utf8' });
  removeHome(account.home);
}

/** Run node as the other account, in its own HOME. */
function asAccount(account: Account, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, args, {
    uid: account.uid,
    gid: account.gid,
    cwd: account.home,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: account.home, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('authn: the personal daemon (auth none) belongs to its OS account', () => {
  let d: DaemonHandle;
  let other: Account | undefined;

  before(async () => {
    d = await startDaemon();
    // Open the way to the state directory: what keeps others out must be its 0700 and the token's 0600.
    chmodSync(d.home, 0o755);
    chmodSync(join(d.home, '.sky'), 0o755);
    other = createAccount();
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    removeAccount(other);
    if (d) removeHome(d.home);
  });

  it('keeps its local token in a 0600 file in a 0700 directory', () => {
    assert.equal(statSync(join(d.home, '.sky/api_server')).mode & 0o777, 0o700);
    assert.equal(statSync(join(d.home, '.sky/api_server/local_token')).mode & 0o777, 0o600);
  });

  it('another OS account gets 401 from the CLI and from a raw call, cannot read the token, and is audited; the daemon stays up', async () => {
    const account = other!;
    const tokenFile = join(d.home, '.sky/api_server/local_token');
    const read = asAccount(account, ['-e', `require('fs').readFileSync(${JSON.stringify(tokenFile)})`]);
    assert.notEqual(read.status, 0);
    assert.match(read.stderr, /EACCES/);

    const cli = asAccount(account, ['--', SKY_BIN, 'status'], { SKYPILOT_API_SERVER_ENDPOINT: d.url });
    assert.notEqual(cli.status, 0, cli.stdout);
    assert.match(cli.stderr, /personal API server: requests must carry its local token/);
    assert.match(cli.stderr, /OS account that started the server/);

    const launch = asAccount(account, ['--', SKY_BIN, 'launch', '-y', '-c', 'intruder', 'id'], { SKYPILOT_API_SERVER_ENDPOINT: d.url });
    assert.notEqual(launch.status, 0);

    const raw = asAccount(account, [
      '-e',
      `require('http').request(${JSON.stringify(`${d.url}/api/v1/launch`)}, { method: 'POST', headers: { 'content-type': 'application/json', 'x-sky-user-id': 'owner', 'x-sky-user-name': 'owner', 'x-sky-local-token': 'skl_guessed' } }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => console.log(res.statusCode + ' ' + b)); }).end(JSON.stringify({ cluster: 'x', task: { run: 'id' } }))`,
    ]);
    assert.equal(raw.status, 0, raw.stderr);
    assert.match(raw.stdout, /^401 /);
    assert.equal((JSON.parse(raw.stdout.slice(4)) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');

    // Nothing was submitted, and the refusals are in the audit log.
    const requests = await http(`${d.url}/api/v1/requests?all_users=true&limit=100`);
    assert.equal((requests.json() as { items: Array<{ name: string }> }).items.filter((r) => r.name === 'launch').length, 0);
    await audited(d.url, {}, 'auth.local', (e) => e.result === 'DENIED' && /no local token/.test(e.detail ?? ''));
    await audited(d.url, {}, 'auth.local', (e) => e.result === 'DENIED' && /wrong local token/.test(e.detail ?? ''));
    await healthy(d);
  });

  it('the health check needs no token and then tells nothing of anyone', async () => {
    const res = await http(`${d.url}/api/health`, { anonymous: true, headers: { 'x-sky-user-id': 'owner1', 'x-sky-user-name': 'owner' } });
    assert.equal(res.status, 200);
    assert.deepEqual((res.json() as { user: unknown }).user, { id: 'anonymous', name: 'anonymous' });
    refused(await http(`${d.url}/api/v1/requests`, { anonymous: true }), 401, 'UNAUTHENTICATED');
  });

  it('DNS rebinding: a foreign Host or Origin is refused even with the token, and audited', async () => {
    refused(await http(`${d.url}/api/v1/users/me`, { headers: { host: `rebound.example:${d.port}` } }), 421, 'HOST_NOT_ALLOWED');
    refused(await http(`${d.url}/api/health`, { headers: { host: 'rebound.example' } }), 421, 'HOST_NOT_ALLOWED');
    refused(await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: { ...JSON_TYPE, origin: 'http://rebound.example' }, body: '{}' }), 403, 'ORIGIN_NOT_ALLOWED');
    refused(await http(`${d.url}/api/v1/users/me`, { headers: { origin: 'null' } }), 403, 'ORIGIN_NOT_ALLOWED');
    for (const host of [`127.0.0.1:${d.port}`, `localhost:${d.port}`, `[::1]:${d.port}`, `127.9.9.9:${d.port}`]) {
      assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: { host } })).status, 200, host);
    }
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: { origin: `http://localhost:${d.port}` } })).status, 200);
    await audited(d.url, {}, 'auth.host', (e) => e.target === `rebound.example:${d.port}`);
    await audited(d.url, {}, 'auth.origin', (e) => e.target === 'http://rebound.example');
    await healthy(d);
  });

  it("the owner's CLI finds the token itself; the owner is admin", async () => {
    const res = spawnSync(process.execPath, ['--', SKY_BIN, 'api', 'info', '-o', 'json'], { env: { ...process.env, HOME: d.home, SKYPILOT_API_SERVER_ENDPOINT: d.url }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(res.status, 0, res.stderr);
    const me = await http(`${d.url}/api/v1/users/me`, { headers: { 'x-sky-user-id': 'abcd1234', 'x-sky-user-name': 'owner' } });
    assert.deepEqual(me.json(), { id: 'abcd1234', name: 'owner', role: 'admin', via: 'local' });
  });

  it('sky dashboard prints a one-time link: it opens a session once; the cookie authenticates, changes need this origin, logout ends it', async () => {
    const dash = spawnSync(process.execPath, ['--', SKY_BIN, 'dashboard'], { env: { ...process.env, HOME: d.home, SKYPILOT_API_SERVER_ENDPOINT: d.url }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(dash.status, 0, dash.stderr);
    const link = dash.stdout.trim();
    assert.match(link, new RegExp(`^${d.url}/api/v1/auth/session\\?code=skc_[A-Za-z0-9_-]+$`));
    const opened = await http(link, { anonymous: true });
    assert.equal(opened.status, 303, opened.text);
    const cookie = sessionCookieOf(opened);
    assert.match(String(opened.headers['set-cookie']), /HttpOnly/);
    assert.match(String(opened.headers['set-cookie']), /SameSite=Strict/);
    assert.match(String(opened.headers['set-cookie']), /Path=\//);
    assert.doesNotMatch(String(opened.headers['set-cookie']), /Secure/, 'plain HTTP: no Secure flag');
    refused(await http(link, { anonymous: true }), 401, 'UNAUTHENTICATED');

    const me = await http(`${d.url}/api/v1/users/me`, { anonymous: true, headers: { cookie } });
    assert.equal(me.status, 200, me.text);
    assert.equal((me.json() as { via: string; role: string }).via, 'session');
    const origin = `http://127.0.0.1:${d.port}`;
    refused(await http(`${d.url}/api/v1/ping`, { anonymous: true, method: 'POST', headers: { ...JSON_TYPE, cookie }, body: '{}' }), 403, 'ORIGIN_NOT_ALLOWED');
    refused(await http(`${d.url}/api/v1/ping`, { anonymous: true, method: 'POST', headers: { ...JSON_TYPE, cookie, origin: `http://localhost:${d.port + 1}` }, body: '{}' }), 403, 'ORIGIN_NOT_ALLOWED');
    assert.equal((await http(`${d.url}/api/v1/ping`, { anonymous: true, method: 'POST', headers: { ...JSON_TYPE, cookie, origin }, body: '{}' })).status, 202);
    await audited(d.url, {}, 'auth.csrf', (e) => e.result === 'DENIED');

    const out = await http(`${d.url}/api/v1/auth/session`, { anonymous: true, method: 'DELETE', headers: { cookie, origin } });
    assert.deepEqual(out.json(), { closed: true });
    refused(await http(`${d.url}/api/v1/users/me`, { anonymous: true, headers: { cookie } }), 401, 'UNAUTHENTICATED');
    await healthy(d);
  });
});

// ------------------------------------------------------------------ proxy mode

describe('authn: proxy mode believes only its proxy', () => {
  const secret = 'the-proxy-secret-0123456789';
  let d: DaemonHandle;
  const proxied = (user: string): Record<string, string> => ({ 'x-forwarded-user': user, 'x-sky-proxy-secret': secret });
  const fromProxy = { localAddress: '127.0.0.2' };

  before(async () => {
    d = await startDaemon({
      config: `listen:\n  trusted_proxies: [127.0.0.2]\nauth:\n  mode: proxy\n  proxy:\n    trusted_addresses: [127.0.0.2]\n    secret: ${secret}\n`,
      env: { SKY_ADMIN_USERNAME: 'root-admin' },
    });
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (d) removeHome(d.home);
  });

  it('refuses to start without trusted addresses, and without a shared secret', () => {
    for (const [config, reason] of [
      ['auth:\n  mode: proxy\n  proxy:\n    secret: a-secret-of-many-chars\n', /trusted_addresses/],
      ['auth:\n  mode: proxy\n  proxy:\n    trusted_addresses: [127.0.0.1]\n', /shared secret/],
    ] as const) {
      const h = tempHome();
      writeFileSync(join(h, 'd.yaml'), config);
      const res = spawnSync(process.execPath, [DAEMON_MAIN, '--port', '0', '--config', join(h, 'd.yaml')], { env: { ...process.env, HOME: h, SKY_ADMIN_USERNAME: 'x' }, encoding: 'utf8', timeout: 20_000 });
      removeHome(h);
      assert.equal(res.status, 1, res.stderr);
      assert.match(res.stderr, reason);
    }
  });

  it('a local process (a job) claiming to be admin without the secret, or from an untrusted address, is ignored and audited', async () => {
    refused(await http(`${d.url}/api/v1/users/me`, { headers: { 'x-forwarded-user': 'root-admin' }, ...fromProxy }), 401, 'UNAUTHENTICATED');
    refused(await http(`${d.url}/api/v1/users/me`, { headers: { 'x-forwarded-user': 'root-admin', 'x-sky-proxy-secret': 'a-guess' }, ...fromProxy }), 401, 'UNAUTHENTICATED');
    refused(await http(`${d.url}/api/v1/users/me`, { headers: proxied('root-admin') }), 401, 'UNAUTHENTICATED');
    const admin = await http(`${d.url}/api/v1/users/me`, { headers: proxied('root-admin'), ...fromProxy });
    assert.equal(admin.status, 200, admin.text);
    assert.equal((admin.json() as { role: string }).role, 'admin');
    const asAdminProxy = { headers: proxied('root-admin'), ...fromProxy };
    const audit = async (detail: RegExp): Promise<void> => {
      for (let i = 0; i < 50; i++) {
        const res = await http(`${d.url}/api/v1/audit?limit=200`, asAdminProxy);
        if ((res.json() as { items: AuditEntry[] }).items.some((e) => e.action === 'auth.proxy' && e.result === 'DENIED' && detail.test(e.detail ?? ''))) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`no auth.proxy refusal matching ${detail}`);
    };
    await audit(/missing or wrong proxy secret \(from 127\.0\.0\.2\)/);
    await audit(/untrusted address \(from 127\.0\.0\.1\)/);
    const users = (await http(`${d.url}/api/v1/users`, asAdminProxy)).json() as { items: Array<{ name: string }> };
    assert.deepEqual(users.items.map((u) => u.name), ['root-admin']);
    await healthy(d);
  });

  it('the proxy is the peer that sends the request, whatever client X-Forwarded-For names', async () => {
    const viaProxy = await http(`${d.url}/api/v1/users/me`, { headers: { ...proxied('root-admin'), 'x-forwarded-for': '203.0.113.9' }, ...fromProxy });
    assert.equal(viaProxy.status, 200, viaProxy.text);
    const spoofed = await http(`${d.url}/api/v1/users/me`, { headers: { ...proxied('root-admin'), 'x-forwarded-for': '127.0.0.2' } });
    refused(spoofed, 401, 'UNAUTHENTICATED');
  });

  it('names from the proxy are normalised: case differences are one user, look-alikes are refused', async () => {
    const first = await http(`${d.url}/api/v1/users/me`, { headers: proxied('Dana@Example.com'), ...fromProxy });
    assert.equal(first.status, 200, first.text);
    const again = await http(`${d.url}/api/v1/users/me`, { headers: proxied('DANA@EXAMPLE.COM'), ...fromProxy });
    assert.deepEqual(again.json(), first.json());
    assert.equal((first.json() as { name: string }).name, 'dana@example.com');
    // A proxy sends the UTF-8 bytes of a Cyrillic look-alike of the admin's name.
    const lookAlike = Buffer.from('root-\u0430dmin', 'utf8').toString('latin1');
    refused(await http(`${d.url}/api/v1/users/me`, { headers: proxied(lookAlike), ...fromProxy }), 401, 'UNAUTHENTICATED');
    await healthy(d);
  });
});

// ------------------------------------------------------------------ the team server

describe('authn: failed logins on a team server', () => {
  let d: DaemonHandle;

  before(async () => {
    d = await startTeamDaemon(['alice'], '  max_failed_logins: 3\n  max_failed_logins_per_address: 20\n  max_login_delay_seconds: 2\n');
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (d) removeHome(d.home);
  });

  it('10,000 sprayed names do not unlock a locked key; the right password still gets in', async () => {
    const wrong = basicAuth('alice', 'not-her-password');
    let last: HttpAnswer | undefined;
    for (let i = 0; i < 3; i++) last = await http(`${d.url}/api/v1/users/me`, { headers: wrong });
    refused(last!, 429, 'TOO_MANY_ATTEMPTS');
    assert.ok(Number(last!.headers['retry-after']) > 0);

    const counts = new Map<number, number>();
    let next = 0;
    const sprayer = async (): Promise<void> => {
      for (let i = next++; i < 10_000; i = next++) {
        const res = await http(`${d.url}/api/v1/users/me`, { headers: basicAuth(`ghost-${i}`, 'guess-guess'), localAddress: '127.0.0.3' });
        counts.set(res.status, (counts.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, sprayer));
    assert.deepEqual([...counts.keys()].filter((s) => s !== 401 && s !== 429), [], `statuses ${JSON.stringify([...counts])}`);
    assert.ok((counts.get(429) ?? 0) > 9_000, `the sprayer is slowed down: ${JSON.stringify([...counts])}`);

    refused(await http(`${d.url}/api/v1/users/me`, { headers: wrong }), 429, 'TOO_MANY_ATTEMPTS');
    const right = await http(`${d.url}/api/v1/users/me`, { headers: asUser('alice') });
    assert.equal(right.status, 200, `correct credentials are slowed, never shut out: ${right.text}`);
    await healthy(d);
  });

  it('bad tokens lock neither the address nor other tokens: failures count per token prefix', async () => {
    const created = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ name: 'good' }) });
    assert.equal(created.status, 201, created.text);
    const good = { authorization: `Bearer ${(created.json() as { token: string }).token}` };
    for (let i = 0; i < 12; i++) refused(await http(`${d.url}/api/v1/users/me`, { headers: { authorization: `Bearer sky_${randomBytes(32).toString('base64url')}` } }), 401, 'UNAUTHENTICATED');
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await http(`${d.url}/api/v1/users/me`, { headers: { authorization: `Bearer sky_AAAAAAAA${randomBytes(24).toString('base64url')}` } })).status);
    assert.deepEqual(statuses.slice(0, 2), [401, 401]);
    assert.equal(statuses[2], 429, 'one prefix is locked after the limit');
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: good })).status, 200, 'the good token still works');
    await healthy(d);
  });
});

describe('authn: credentials on a team server', () => {
  let d: DaemonHandle;
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'];

  before(async () => {
    d = await startTeamDaemon(users);
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (d) removeHome(d.home);
  });

  it('a login takes as long for an unknown name as for a known one (dummy hash)', async (t) => {
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 12; i++) {
      // A fresh client address each time: the limiter must not get in the way of the measurement.
      const from = `127.0.1.${i + 1}`;
      known.push((await timed(() => http(`${d.url}/api/v1/users/me`, { headers: basicAuth(users[i % users.length]!, 'wrong-password'), localAddress: from }))).ms);
      unknown.push((await timed(() => http(`${d.url}/api/v1/users/me`, { headers: basicAuth(`nobody-${i}`, 'wrong-password'), localAddress: from }))).ms);
    }
    const ratio = median(known) / median(unknown);
    t.diagnostic(`login with a wrong password: median ${median(known).toFixed(1)} ms for known names, ${median(unknown).toFixed(1)} ms for unknown ones`);
    assert.ok(ratio > 1 / 3 && ratio < 3, `median known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms`);
  });

  it('never logs a name that is no user (it may be a password typed in the wrong field)', async () => {
    const typed = `pw-typed-here-${randomBytes(4).toString('hex')}`;
    refused(await http(`${d.url}/api/v1/users/me`, { headers: basicAuth(typed, 'x'), localAddress: '127.0.2.1' }), 401, 'UNAUTHENTICATED');
    const log = join(d.home, '.sky/api_server/server.log');
    let text = '';
    for (let i = 0; i < 30 && !text.includes('failed login'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = readFileSync(log, 'utf8');
    }
    assert.match(text, /failed login/);
    assert.ok(!text.includes(typed), 'the typed name is not in the server log');
  });

  it('a short-lived token cannot mint a longer-lived or permanent one, nor rotate one into it; refusals are audited', async () => {
    const short = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ name: 'short', expires_in_days: 1 }) });
    assert.equal(short.status, 201, short.text);
    const permanent = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ name: 'permanent' }) });
    const bearer = { ...JSON_TYPE, authorization: `Bearer ${(short.json() as { token: string }).token}` };
    refused(await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: bearer, body: JSON.stringify({ name: 'forever' }) }), 403, 'FORBIDDEN');
    refused(await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: bearer, body: JSON.stringify({ name: 'longer', expires_in_days: 2 }) }), 403, 'FORBIDDEN');
    const permanentId = (permanent.json() as { record: { id: string } }).record.id;
    refused(await http(`${d.url}/api/v1/tokens/${permanentId}/rotate`, { method: 'POST', headers: bearer }), 403, 'FORBIDDEN');
    const shorter = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: bearer, body: JSON.stringify({ name: 'shorter', expires_in_days: 0.5 }) });
    assert.equal(shorter.status, 201, shorter.text);
    const entry = await audited(d.url, asAdmin(), 'token.create', (e) => e.userName === 'alice' && e.result === 'DENIED');
    assert.equal(entry.detail, 'FORBIDDEN');
    await audited(d.url, asAdmin(), 'token.rotate', (e) => e.userName === 'alice' && e.result === 'DENIED');

    // A browser session opened with the short token ends with it.
    const me = (await http(`${d.url}/api/v1/users/me`, { headers: bearer })).json() as { expiresAt: number };
    const { cookie } = await browserSession(d.url, bearer);
    const viaCookie = (await http(`${d.url}/api/v1/users/me`, { headers: { cookie } })).json() as { via: string; expiresAt: number };
    assert.equal(viaCookie.via, 'session');
    assert.ok(viaCookie.expiresAt <= me.expiresAt, 'the session does not outlive the token that asked for it');
    await healthy(d);
  });

  it("changing one's own password needs the current one (a token is not enough), is rate-limited, and is audited; an admin resets others' without it", async () => {
    const token = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: asUser('bob'), body: JSON.stringify({ name: 'stolen', expires_in_days: 1 }) });
    const stolen = { ...JSON_TYPE, authorization: `Bearer ${(token.json() as { token: string }).token}` };
    const change = (body: unknown, headers = stolen): Promise<HttpAnswer> => http(`${d.url}/api/v1/users/bob/password`, { method: 'POST', headers, body: JSON.stringify(body) });
    refused(await change({ password: 'taken-over-1' }), 403, 'FORBIDDEN');
    refused(await change({ password: 'taken-over-1', current_password: 'a-guess-123' }), 403, 'FORBIDDEN');
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: asUser('bob') })).status, 200, 'the password is unchanged');
    await audited(d.url, asAdmin(), 'user.password', (e) => e.userName === 'bob' && e.result === 'DENIED');
    const ok = await change({ password: 'bob-password-2', current_password: 'bob-password' });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: basicAuth('bob', 'bob-password-2') })).status, 200);
    let limited: HttpAnswer | undefined;
    for (let i = 0; i < 5 && limited === undefined; i++) {
      const res = await change({ password: 'bob-password-3', current_password: 'wrong-guess' });
      if (res.status === 429) limited = res;
    }
    assert.ok(limited, 'password changes are rate-limited per user');
    refused(limited, 429, 'TOO_MANY_ATTEMPTS');
    const reset = await http(`${d.url}/api/v1/users/bob/password`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ password: 'bob-password' }) });
    assert.equal(reset.status, 200, reset.text);
    await healthy(d);
  });

  it('64 password changes at once do not stall other API calls (scrypt runs on its own threads)', async (t) => {
    const probe = (): Promise<{ ms: number; value: HttpAnswer }> => timed(() => http(`${d.url}/api/v1/requests?all_users=true&limit=20`, { headers: asAdmin() }));
    assert.equal((await probe()).value.status, 200);
    const baseline: number[] = [];
    for (let i = 0; i < 10; i++) baseline.push((await probe()).ms);
    const started = process.hrtime.bigint();
    let done = false;
    const storm = Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        http(`${d.url}/api/v1/users/${users[i % users.length]}/password`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ password: `${users[i % users.length]}-password` }) }),
      ),
    ).finally(() => (done = true));
    const during: number[] = [];
    while (!done || during.length < 3) during.push((await probe()).ms);
    const answers = await storm;
    const stormMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
    // Stalled behind the hashing, a call would wait about half the storm; it must not.
    const limit = Math.max(stormMs / 5, median(baseline) * 3);
    t.diagnostic(`listing requests: median ${median(baseline).toFixed(1)} ms idle, ${median(during).toFixed(1)} ms during 64 password changes (${stormMs.toFixed(0)} ms)`);
    assert.ok(median(during) < limit, `median call ${median(during).toFixed(1)} ms during a ${stormMs.toFixed(0)} ms storm (baseline ${median(baseline).toFixed(1)} ms)`);
    await healthy(d);
  });

  it('Admin, ADMIN, full-width Ａｄｍｉｎ and Cyrillic аdmin cannot be created; names are case-insensitive', async () => {
    const create = (name: string): Promise<HttpAnswer> => http(`${d.url}/api/v1/users`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name, password: 'some-password' }) });
    for (const name of ['Admin', 'ADMIN', 'Ａｄｍｉｎ']) refused(await create(name), 409, 'USER_EXISTS');
    refused(await create('\u0430dmin'), 400, 'VALIDATION_FAILED');
    const imported = await http(`${d.url}/api/v1/users/import`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ users: [{ name: 'ALICE', password: 'whatever-1' }] }) });
    assert.deepEqual((imported.json() as { created: string[] }).created, []);
    const me = await http(`${d.url}/api/v1/users/me`, { headers: basicAuth('ADMIN', TEAM_ADMIN.password) });
    assert.equal((me.json() as { name: string }).name, 'admin');
    const made = await create('Zoe.Q');
    assert.equal((made.json() as { name: string }).name, 'zoe.q');
  });

  it("a browser session: code → cookie → calls; the code works once; changes need this server's Origin; deleting the user ends it", async () => {
    const { cookie, setCookie, path } = await browserSession(d.url, asUser('carol'));
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    refused(await http(`${d.url}${path}`), 401, 'UNAUTHENTICATED');
    const me = await http(`${d.url}/api/v1/users/me`, { headers: { cookie } });
    assert.deepEqual((({ name, via }) => ({ name, via }))(me.json() as { name: string; via: string }), { name: 'carol', via: 'session' });
    refused(await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: { ...JSON_TYPE, cookie, origin: 'https://evil.example' }, body: '{}' }), 403, 'ORIGIN_NOT_ALLOWED');
    assert.equal((await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: { ...JSON_TYPE, cookie, origin: d.url }, body: '{}' })).status, 202);
    await audited(d.url, asAdmin(), 'auth.csrf', (e) => e.userName === 'carol');
    assert.equal((await http(`${d.url}/api/v1/users/carol`, { method: 'DELETE', headers: asAdmin() })).status, 200);
    refused(await http(`${d.url}/api/v1/users/me`, { headers: { cookie } }), 401, 'UNAUTHENTICATED');
    await healthy(d);
  });
});

describe('authn: user names an older release stored', () => {
  it('are renamed to their canonical form at start and keep logging in', async () => {
    const home = tempHome();
    const state = join(home, '.sky/api_server/state');
    mkdirSync(state, { recursive: true });
    const store = new LevelStateStore({ path: state });
    await store.open();
    const salt = randomBytes(16);
    const hash = ['scrypt', 16384, 8, 1, salt.toString('base64url'), scryptSync('carol-password', salt, 64, { N: 16384, r: 8, p: 1 }).toString('base64url')].join('$');
    const now = Date.now();
    await store.users.create({ id: 'u-legacy', name: 'Carol', role: 'admin', passwordHash: hash, createdAt: now, updatedAt: now });
    await store.close();
    const d = await startDaemon({ home, config: 'auth:\n  mode: basic\n' });
    try {
      const me = await http(`${d.url}/api/v1/users/me`, { headers: basicAuth('Carol', 'carol-password') });
      assert.equal(me.status, 200, me.text);
      assert.deepEqual((({ id, name }) => ({ id, name }))(me.json() as { id: string; name: string }), { id: 'u-legacy', name: 'carol' });
      const create = await http(`${d.url}/api/v1/users`, { method: 'POST', headers: basicAuth('carol', 'carol-password'), body: JSON.stringify({ name: 'CAROL', password: 'some-password' }) });
      refused(create, 409, 'USER_EXISTS');
    } finally {
      await d.stop();
      removeHome(home);
    }
  });
});
