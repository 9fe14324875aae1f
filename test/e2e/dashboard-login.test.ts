import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { http, killAllDaemons, removeHome, startDaemon, type DaemonHandle, type HttpAnswer } from '../helpers/daemon-process.js';
import { asAdmin, asUser, errorOf, TEAM_ADMIN } from '../helpers/team.js';
import { hasOpenssl, makeTestPki, type TestPki } from '../helpers/test-pki.js';

/*
 * The dashboard's login, over HTTP against real daemon processes: which methods a server
 * offers, the password login (cookie flags, one answer for an unknown name and a wrong
 * password, the login limiter, audited successes and failures, no login from another site),
 * CSRF on cookie-authenticated changes, logout, and the whole-log text download's permission
 * checks. The browser tests (dashboard-app.test.ts) drive the same flows through the page.
 */

const JSON_TYPE = { 'content-type': 'application/json' };

interface AuditEntry {
  action: string;
  result: string;
  userName: string;
  target?: string;
  detail?: string;
}

function sessionCookieOf(res: HttpAnswer): { cookie: string; line: string } {
  const raw = res.headers['set-cookie'];
  const line = (Array.isArray(raw) ? raw : [raw ?? '']).find((c) => c.startsWith('sky_session='));
  assert.ok(line, `no session cookie in ${JSON.stringify(raw)}`);
  return { cookie: line.split(';')[0]!, line };
}

async function audit(url: string, since: number, user?: string): Promise<AuditEntry[]> {
  const res = await http(`${url}/api/v1/audit?since=${since}&limit=1000${user === undefined ? '' : `&user=${encodeURIComponent(user)}`}`, { headers: asAdmin() });
  assert.equal(res.status, 200, res.text);
  return (res.json() as { items: AuditEntry[] }).items;
}

/** Audit entries are written in the background: look again for a moment. */
async function audited(url: string, since: number, match: (e: AuditEntry) => boolean, user?: string): Promise<AuditEntry> {
  for (let i = 0; i < 50; i++) {
    const found = (await audit(url, since, user)).find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no matching audit entry since ${since}: ${JSON.stringify(await audit(url, since, user))}`);
}

function login(d: DaemonHandle, name: string, password: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return http(`${d.url}/api/v1/auth/password-session`, { method: 'POST', headers: { ...JSON_TYPE, origin: `http://127.0.0.1:${d.port}`, ...headers }, body: JSON.stringify({ name, password }) });
}

describe('dashboard login on a basic-auth server', () => {
  let d: DaemonHandle;

  before(async () => {
    d = await startDaemon({
      config: 'auth:\n  mode: basic\n  max_failed_logins: 3\n  max_login_delay_seconds: 1\n',
      env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
    });
    for (const name of ['alice', 'bob', 'carol']) {
      const res = await http(`${d.url}/api/v1/users`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name, password: `${name}-password` }) });
      assert.equal(res.status, 201, res.text);
    }
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (d) removeHome(d.home);
  });

  it('says how to sign in, to anyone', async () => {
    const res = await http(`${d.url}/api/v1/auth/methods`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json(), { mode: 'basic', passwordLogin: true });
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it("a page script's 401 carries no Basic challenge (the browser would prompt over the login page); other clients get it", async () => {
    const script = await http(`${d.url}/api/v1/users/me`, { headers: { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' } });
    assert.equal(script.status, 401, script.text);
    assert.doesNotMatch(String(script.headers['www-authenticate'] ?? ''), /Basic/);
    const cli = await http(`${d.url}/api/v1/users/me`);
    assert.equal(cli.status, 401, cli.text);
    assert.match(String(cli.headers['www-authenticate']), /^Basic realm="sky"/);
    const navigation = await http(`${d.url}/api/v1/users/me`, { headers: { 'sec-fetch-mode': 'navigate' } });
    assert.match(String(navigation.headers['www-authenticate']), /^Basic realm="sky"/);
  });

  it('a password login sets an HttpOnly, SameSite=Strict session cookie that authenticates; it is audited', async () => {
    const since = Date.now() - 1;
    const res = await login(d, 'Alice', 'alice-password');
    assert.equal(res.status, 200, res.text);
    const me = res.json() as { name: string; role: string; via: string; expiresAt: number };
    assert.equal(me.name, 'alice');
    assert.equal(me.role, 'user');
    assert.equal(me.via, 'session');
    assert.ok(me.expiresAt > Date.now());
    const { cookie, line } = sessionCookieOf(res);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Strict/);
    assert.match(line, /; Path=\//);
    assert.doesNotMatch(line, /Secure/, 'plain HTTP: no Secure flag');
    assert.equal(res.headers['cache-control'], 'no-store');
    const who = await http(`${d.url}/api/v1/users/me`, { headers: { cookie } });
    assert.equal(who.status, 200, who.text);
    assert.equal((who.json() as { name: string; via: string }).via, 'session');
    await audited(d.url, since, (e) => e.action === 'session.password' && e.result === 'SUCCEEDED' && e.userName === 'alice');
  });

  it('an unknown name and a wrong password get the same answer; both are audited as refused', async () => {
    const since = Date.now() - 1;
    const wrong = await login(d, 'bob', 'not-bobs-password');
    const nobody = await login(d, 'nobody-here', 'not-bobs-password');
    assert.equal(wrong.status, 401, wrong.text);
    assert.equal(nobody.status, 401, nobody.text);
    assert.equal(errorOf(wrong.text).code, 'UNAUTHENTICATED');
    assert.equal(errorOf(nobody.text).code, 'UNAUTHENTICATED');
    // The same message, but for the name typed.
    assert.equal(errorOf(wrong.text).message.replace('bob', 'NAME'), errorOf(nobody.text).message.replace('nobody-here', 'NAME'));
    assert.equal(wrong.headers['set-cookie'], undefined);
    assert.equal(nobody.headers['set-cookie'], undefined);
    await audited(d.url, since, (e) => e.action === 'session.password' && e.result === 'DENIED' && e.userName === 'bob');
    const anonymous = await audited(d.url, since, (e) => e.action === 'session.password' && e.result === 'DENIED' && e.userName === 'anonymous');
    assert.doesNotMatch(JSON.stringify(anonymous), /nobody-here|not-bobs-password/, 'the audit log never holds what was typed');
  });

  it('repeated failures are slowed down by the login limiter (429 with Retry-After), and the right password still gets in', async () => {
    const answers: HttpAnswer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await login(d, 'carol', `guess-${i}-wrong`));
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.includes(429), `no 429 among ${statuses.join(', ')}`);
    const limited = answers.find((a) => a.status === 429)!;
    assert.equal(errorOf(limited.text).code, 'TOO_MANY_ATTEMPTS');
    assert.match(String(limited.headers['retry-after']), /^[0-9]+$/);
    // Two attempts at once on a locked name: one is held, the other answered 429 at once.
    const both = await Promise.all([login(d, 'carol', 'guess-a-wrong'), login(d, 'carol', 'guess-b-wrong')]);
    const busy = both.find((a) => a.status === 429);
    assert.ok(busy, `no 429 among ${both.map((a) => a.status).join(', ')}`);
    assert.match(String(busy.headers['retry-after']), /^[0-9]+$/);
    // The limiter holds a locked name's attempt back rather than shutting it out.
    const ok = await login(d, 'carol', 'carol-password');
    assert.equal(ok.status, 200, ok.text);
  });

  it('a login posted by a page of another site is refused and audited (login forgery)', async () => {
    const since = Date.now() - 1;
    const res = await login(d, 'alice', 'alice-password', { origin: 'https://evil.example' });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'ORIGIN_NOT_ALLOWED');
    assert.equal(res.headers['set-cookie'], undefined);
    await audited(d.url, since, (e) => e.action === 'session.password' && e.result === 'DENIED' && e.detail === 'ORIGIN_NOT_ALLOWED');
  });

  it('a cross-origin change carrying the cookie is refused and audited; from the same origin it works', async () => {
    const { cookie } = sessionCookieOf(await login(d, 'alice', 'alice-password'));
    const since = Date.now() - 1;
    const body = JSON.stringify({ name: 'from-evil' });
    for (const origin of ['https://evil.example', `http://127.0.0.1:${d.port + 1}`]) {
      const res = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: { ...JSON_TYPE, cookie, origin }, body });
      assert.equal(res.status, 403, res.text);
      assert.equal(errorOf(res.text).code, 'ORIGIN_NOT_ALLOWED');
    }
    const noOrigin = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: { ...JSON_TYPE, cookie }, body });
    assert.equal(noOrigin.status, 403, noOrigin.text);
    await audited(d.url, since, (e) => e.action === 'auth.csrf' && e.result === 'DENIED' && e.userName === 'alice');
    const tokens = (await http(`${d.url}/api/v1/tokens`, { headers: asUser('alice') })).json() as { items: Array<{ name: string }> };
    assert.ok(!tokens.items.some((t) => t.name === 'from-evil'), 'a refused change took effect');
    const same = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: { ...JSON_TYPE, cookie, origin: `http://127.0.0.1:${d.port}` }, body: JSON.stringify({ name: 'from-dashboard', expires_in_days: 0.25 }) });
    assert.equal(same.status, 201, same.text);
  });

  it('logout revokes the session and clears the cookie: the API answers 401 after', async () => {
    const { cookie } = sessionCookieOf(await login(d, 'bob', 'bob-password'));
    const out = await http(`${d.url}/api/v1/auth/session`, { method: 'DELETE', headers: { cookie, origin: `http://127.0.0.1:${d.port}` } });
    assert.equal(out.status, 200, out.text);
    assert.deepEqual(out.json(), { closed: true });
    assert.match(String(out.headers['set-cookie']), /^sky_session=; .*Max-Age=0/);
    const after = await http(`${d.url}/api/v1/users/me`, { headers: { cookie } });
    assert.equal(after.status, 401, after.text);
  });

  it('bad bodies are clear 400s, never a 500', async () => {
    for (const body of ['{}', '{"name":"alice"}', '{"name":"","password":"x"}', '{"name":"alice","password":"alice-password","extra":1}', '[1]']) {
      const res = await http(`${d.url}/api/v1/auth/password-session`, { method: 'POST', headers: JSON_TYPE, body });
      assert.equal(res.status, 400, `${body}: ${res.text}`);
      assert.equal(errorOf(res.text).code, 'VALIDATION_FAILED');
    }
    const notJson = await http(`${d.url}/api/v1/auth/password-session`, { method: 'POST', headers: JSON_TYPE, body: 'name=alice' });
    assert.equal(notJson.status, 400, notJson.text);
  });

  it("the whole-log text download keeps the log route's permission checks: another user is refused (audited), the owner and admins get text", async () => {
    const sub = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: asUser('alice'), body: JSON.stringify({ sleep: 0.01 }) });
    assert.equal(sub.status, 202, sub.text);
    const id = (sub.json() as { requestId: string }).requestId;
    await http(`${d.url}/api/v1/requests/${id}/wait?timeout=20`, { headers: asUser('alice') });
    const own = await http(`${d.url}/api/v1/requests/${id}/logs?format=text`, { headers: asUser('alice') });
    assert.equal(own.status, 200, own.text);
    assert.match(String(own.headers['content-type']), /^text\/plain; charset=utf-8/);
    assert.equal(own.headers['content-disposition'], `attachment; filename="request-${id}.log"`);
    const admin = await http(`${d.url}/api/v1/requests/${id}/logs?format=text`, { headers: asAdmin() });
    assert.equal(admin.status, 200, admin.text);
    assert.equal(admin.text, own.text);
    const since = Date.now() - 1;
    const other = await http(`${d.url}/api/v1/requests/${id}/logs?format=text`, { headers: asUser('bob') });
    assert.ok(other.status === 403 || other.status === 404, `another user's download answered ${other.status}`);
    assert.doesNotMatch(String(other.headers['content-type']), /text\/plain/);
    await audited(d.url, since, (e) => e.result === 'DENIED', 'bob');
    const outsider = await http(`${d.url}/api/v1/requests/${id}/logs?format=text`);
    assert.equal(outsider.status, 401, outsider.text);
  });
});

describe('dashboard login on token and proxy servers', () => {
  const daemons: DaemonHandle[] = [];

  after(async () => {
    for (const d of daemons) {
      await d.stop();
      removeHome(d.home);
    }
    await killAllDaemons();
  });

  it('a token-only server offers no password login (a clear 400), and says so', async () => {
    const d = await startDaemon({ config: 'auth:\n  mode: token\n', env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password, SKY_DASHBOARD_DIR: join(tmpdir(), 'sky-no-such-dashboard-build') } });
    daemons.push(d);
    // No build to serve: a page says how to make one, and names no server path.
    const page = await http(`${d.url}/dashboard/clusters`);
    assert.equal(page.status, 404, page.text);
    assert.equal(errorOf(page.text).code, 'ROUTE_NOT_FOUND');
    assert.match(page.text, /not built.*npm run build/);
    assert.doesNotMatch(page.text, /sky-no-such-dashboard-build/);
    assert.deepEqual((await http(`${d.url}/api/v1/auth/methods`)).json(), { mode: 'token', passwordLogin: false });
    const res = await login(d, TEAM_ADMIN.name, TEAM_ADMIN.password);
    assert.equal(res.status, 400, res.text);
    const error = JSON.parse(res.text) as { error: { code: string; message: string; hint: string } };
    assert.equal(error.error.code, 'LOGIN_METHOD_DISABLED');
    assert.match(error.error.message, /auth mode token/);
    assert.match(error.error.hint, /sky dashboard/);
    assert.equal(res.headers['set-cookie'], undefined);
  });

  it('behind a trusted auth proxy, methods says proxy: the dashboard needs no login page', async () => {
    const secret = 'the-proxy-secret-0123456789';
    const d = await startDaemon({
      config: `listen:\n  trusted_proxies: [127.0.0.2]\nauth:\n  mode: proxy\n  proxy:\n    trusted_addresses: [127.0.0.2]\n    secret: ${secret}\n`,
      env: { SKY_ADMIN_USERNAME: 'root-admin' },
    });
    daemons.push(d);
    assert.deepEqual((await http(`${d.url}/api/v1/auth/methods`)).json(), { mode: 'proxy', passwordLogin: false });
    const res = await login(d, 'root-admin', 'whatever-password');
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /auth proxy/);
    const me = await http(`${d.url}/api/v1/users/me`, { headers: { 'x-forwarded-user': 'root-admin', 'x-sky-proxy-secret': secret }, localAddress: '127.0.0.2' });
    assert.equal(me.status, 200, me.text);
  });
});

describe('dashboard login over HTTPS', () => {
  let pki: TestPki | undefined;
  let d: DaemonHandle | undefined;

  before(async () => {
    if (!(await hasOpenssl())) assert.fail('openssl is needed for the TLS tests (scripts/ci-setup.sh installs it)');
    pki = await makeTestPki();
    d = await startDaemon({
      config: `listen:\n  tls:\n    cert: ${pki.server.cert}\n    key: ${pki.server.key}\nauth:\n  mode: basic\n`,
      env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
      tlsCa: pki.ca,
    });
  });

  after(async () => {
    await d?.stop();
    await killAllDaemons();
    if (d) removeHome(d.home);
    await pki?.destroy();
  });

  it('the password login sets a Secure session cookie', async () => {
    const res = await http(`${d!.url}/api/v1/auth/password-session`, {
      method: 'POST',
      headers: { ...JSON_TYPE, origin: d!.url },
      body: JSON.stringify({ name: TEAM_ADMIN.name, password: TEAM_ADMIN.password }),
      ca: readFileSync(pki!.ca),
    });
    assert.equal(res.status, 200, res.text);
    const { line } = sessionCookieOf(res);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Strict/);
    assert.match(line, /; Secure/);
  });
});
