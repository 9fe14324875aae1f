/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, http, killAllDaemons, removeHome, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { runSky, showRun } from '../helpers/sky-cli.js';
import { asUser, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';
import { browserSkipReason, launchBrowser, openPage, screenshot, type TestBrowser } from '../helpers/browser.js';

/*
 * The dashboard in Debian's Chromium against a real team daemon (basic auth, an admin and two
 * users, clusters on the local driver run as each user's OS account). Every page is opened
 * through its deep link and must show real data; a screenshot of each goes to
 * test-output/screenshots/. The page is driven the way a person would: the login form, the
 * navigation, action buttons and their confirmation dialogs, the keyboard, a phone-sized window.
 */

const skip = browserSkipReason();

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;
let tb: TestBrowser;
let keyDir: string | undefined;
const admin: Account = TEAM_ADMIN;
const contexts: BrowserContext[] = [];
/** A request, a managed job and a cluster job made in the setup, for the detail pages. */
const made = { request: '', managedJob: 0 };

async function newContext(width?: number): Promise<BrowserContext> {
  const ctx = await tb.context(d.url, width === undefined ? {} : { width, height: 740 });
  contexts.push(ctx);
  return ctx;
}

/** Log in through the login page, as a person would; returns the page, on the clusters page. */
async function logIn(who: Account, ctx?: BrowserContext): Promise<Page> {
  const page = await (ctx ?? (await newContext())).newPage();
  await page.goto('/dashboard/clusters');
  // Not signed in: the app sends the browser to its login page.
  await page.waitForURL(/\/dashboard\/login/);
  await page.waitForSelector('main[data-page="login"][data-ready="true"]');
  await page.getByLabel('User name').fill(who.name);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('main[data-page="clusters"][data-ready="true"]');
  await page.waitForSelector(`[data-role="whoami"]:text-is("${who.name}")`);
  return page;
}

async function sessionCookie(ctx: BrowserContext): Promise<string | undefined> {
  const cookie = (await ctx.cookies()).find((c) => c.name === 'sky_session');
  return cookie === undefined ? undefined : `${cookie.name}=${cookie.value}`;
}

async function clusterStatus(who: Account, name: string): Promise<string> {
  const res = await api.json<{ status: string }>(who, `/api/v1/clusters/${name}`);
  assert.equal(res.status, 200, res.text);
  return res.body.status;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function allUsers(page: Page): Promise<void> {
  const box = page.getByLabel('All users');
  if (!(await box.isChecked())) await box.check();
}

describe('dashboard in Chromium (team daemon, basic auth)', { skip }, () => {
  before(async () => {
    // An SSH pool whose one host answers on no port: the Infra page's check must show it unreachable.
    keyDir = mkdtempSync(join(tmpdir(), 'sky-dash-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id'), '-C', 'sky-dashboard-test']);
    const closedPort = await freePort();
    const lbPort = await freePort();
    d = await startTeamDaemon(
      [],
      '',
      `  ssh:\n    pools:\n      lab:\n        user: sky\n        identity_file: ${join(keyDir, 'id')}\n        hosts:\n          - ip: 127.0.0.1\n            port: ${closedPort}\n`,
      `serve:\n  ports: "${lbPort}-${lbPort + 3}"\n  probe_interval_seconds: 1\n`,
    );
    api = new TeamClient(d.url, TEAM_ADMIN);
    alice = await api.createUser('dash-alice');
    bob = await api.createUser('dash-bob');
    made.request = (await api.must(alice, 'launch', { cluster: 'dash-a1', task: { run: 'for i in 1 2 3; do echo dash-line-$i; done' } })).id;
    await api.must(bob, 'launch', { cluster: 'dash-b1', task: { run: 'echo bob was here' } });
    const job = await api.must(alice, 'jobs_launch', { tasks: [{ task: { name: 'dash-mj', run: 'echo managed' } }] });
    made.managedJob = (job.result as { jobId: number }).jobId;
    tb = await launchBrowser();
  });

  after(async () => {
    try {
      for (const ctx of contexts) await ctx.close().catch(() => undefined);
      await tb?.close();
    } finally {
      await d?.stop();
      await killAllDaemons();
      if (d) removeHome(d.home);
      if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    }
  });

  it('logs in with a password; every page, opened by its deep link, shows real data (screenshots saved)', { timeout: 180_000 }, async () => {
    const page = await logIn(admin);
    await allUsers(page);
    await page.waitForSelector('table[aria-label="Clusters"] tr[data-key="dash-b1"]');
    assert.ok(await page.locator('nav[aria-label="Main"] a', { hasText: 'Audit' }).count(), 'an admin has the Audit link');
    // The filter box and the selects narrow the table in place.
    await page.getByLabel('Filter', { exact: true }).fill('dash-b');
    await page.locator('table[aria-label="Clusters"] tr[data-key="dash-a1"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('table[aria-label="Clusters"] tr[data-key="dash-b1"]').count(), 1);
    await page.getByLabel('Filter', { exact: true }).fill('');
    await page.getByLabel('User', { exact: true }).selectOption('dash-alice');
    await page.locator('table[aria-label="Clusters"] tr[data-key="dash-b1"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('table[aria-label="Clusters"] tr[data-key="dash-a1"]').count(), 1);
    await page.getByLabel('User', { exact: true }).selectOption('');
    for (const name of ['Status', 'Workspace', 'Infra']) assert.equal(await page.getByLabel(name, { exact: true }).count(), 1, `a select labelled ${name}`);
    const pages: Array<{ path: string; name: string; row?: string; screenshot: string }> = [
      { path: '/dashboard/', name: 'clusters', row: 'table[aria-label="Clusters"] tr[data-key="dash-a1"]', screenshot: 'clusters' },
      { path: '/dashboard/clusters', name: 'clusters', row: 'table[aria-label="Clusters"] tr[data-key="dash-a1"] [data-status="UP"]', screenshot: 'clusters-all-users' },
      { path: '/dashboard/clusters/dash-a1?job=1', name: 'cluster', row: 'table[aria-label="Jobs"] tr[data-key="dash-a1/1"]', screenshot: 'cluster' },
      { path: '/dashboard/jobs', name: 'jobs', row: `table[aria-label="Managed jobs"] tr[data-key="${made.managedJob}"]`, screenshot: 'managed-jobs' },
      { path: `/dashboard/jobs/${made.managedJob}`, name: 'job', screenshot: 'managed-job' },
      { path: '/dashboard/requests', name: 'requests', row: `table[aria-label="Requests"] tr[data-key="${made.request}"]`, screenshot: 'requests' },
      { path: `/dashboard/requests/${made.request}`, name: 'request', screenshot: 'request' },
      { path: '/dashboard/infra', name: 'infra', row: 'table[aria-label="Drivers"] tr[data-key]', screenshot: 'infra' },
      { path: '/dashboard/users', name: 'users', row: 'table[aria-label="Users"] tr[data-key="dash-alice"]', screenshot: 'users' },
      { path: '/dashboard/workspaces', name: 'workspaces', row: 'table[aria-label="Workspaces"] tr[data-key="default"]', screenshot: 'workspaces' },
      { path: '/dashboard/audit', name: 'audit', row: 'table[aria-label="Audit"] tr[data-key]', screenshot: 'audit' },
    ];
    for (const p of pages) {
      await openPage(page, p.path, p.name);
      if (p.row !== undefined) await page.waitForSelector(p.row, { timeout: 20_000 });
      await screenshot(page, p.screenshot);
    }
    // The job's log, in the log viewer.
    await openPage(page, '/dashboard/clusters/dash-a1?job=1', 'cluster');
    await page.waitForSelector('[role="log"][aria-label="Log"]:has-text("dash-line-3")');
    const download = await page.getByRole('link', { name: 'Download' }).getAttribute('href');
    assert.ok(download !== null && download.includes('format=text'), `Download points at ${download}`);
    const text = await page.evaluate(async (url) => (await fetch(url)).text(), download);
    assert.equal(text, 'dash-line-1\ndash-line-2\ndash-line-3\n');
    // A deep link reloads fine.
    await page.reload();
    await page.waitForSelector('main[data-page="cluster"][data-ready="true"]');
    const unknown = await page.goto('/dashboard/no/such/page');
    assert.equal(unknown?.status(), 200);
    await screenshot(await logIn(admin, await newContext()), 'login-landing');
  });

  it('Infra: Run check shows each driver, the SSH pool with its capacity and, to admins only, its unreachable host', { timeout: 180_000 }, async () => {
    const page = await logIn(admin);
    await openPage(page, '/dashboard/infra', 'infra');
    await page.waitForSelector('table[aria-label="Drivers"] tr[data-key="driver/ssh"]');
    await page.getByRole('button', { name: 'Run check' }).click();
    await page.waitForSelector('table[aria-label="Checks"] tr[data-key="local"]', { timeout: 60_000 });
    await page.waitForSelector('table[aria-label="Checks"] tr[data-key="ssh"]');
    const pool = page.locator('table[aria-label="Pools"] tr[data-key="lab"]');
    await pool.waitFor();
    const host = page.locator('table[aria-label="Hosts"] tr[data-key^="lab/"]');
    await host.waitFor();
    assert.match((await host.innerText()).toLowerCase(), /unreachable/, await host.innerText());
    await screenshot(page, 'infra-checked');
    // A member sees the pools and their capacity, not the hosts (addresses, login users, errors).
    const member = await logIn(alice);
    await openPage(member, '/dashboard/infra', 'infra');
    await member.getByRole('button', { name: 'Run check' }).click();
    await member.locator('table[aria-label="Pools"] tr[data-key="lab"]').waitFor({ timeout: 60_000 });
    assert.equal(await member.locator('table[aria-label="Hosts"]').count(), 0, 'no host table for a member');
  });

  it("whole-log downloads (format=text) of a job and a managed job: their owner gets the text, another user is refused (audited)", { timeout: 180_000 }, async () => {
    const job = await http(`${d.url}/api/v1/clusters/dash-a1/jobs/1/logs?format=text`, { headers: asUser(alice.name) });
    assert.equal(job.status, 200, job.text);
    assert.match(String(job.headers['content-type']), /^text\/plain; charset=utf-8/);
    assert.equal(job.headers['content-disposition'], 'attachment; filename="dash-a1-1.log"');
    assert.equal(job.text, 'dash-line-1\ndash-line-2\ndash-line-3\n');
    await waitFor('the managed job to end', async () => {
      const res = await api.json<{ job: { status: string } }>(alice, `/api/v1/managed-jobs/${made.managedJob}`);
      return ['SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED'].includes(res.body.job.status) ? res.body.job.status : undefined;
    }, 120_000);
    const managed = await http(`${d.url}/api/v1/managed-jobs/${made.managedJob}/logs?format=text`, { headers: asUser(alice.name) });
    assert.equal(managed.status, 200, managed.text);
    assert.equal(managed.headers['content-disposition'], `attachment; filename="managed-job-${made.managedJob}.log"`);
    assert.match(managed.text, /^managed$/m);
    const since = Date.now() - 5;
    const bobAuth = asUser(bob.name);
    for (const path of [`/api/v1/clusters/dash-a1/jobs/1/logs?format=text`, `/api/v1/managed-jobs/${made.managedJob}/logs?format=text`]) {
      const refused = await http(`${d.url}${path}`, { headers: bobAuth });
      assert.ok(refused.status === 403 || refused.status === 404, `${path} to another user answered ${refused.status} ${refused.text.slice(0, 200)}`);
      assert.doesNotMatch(refused.text, /dash-line|^managed$/m);
    }
    await waitFor("bob's refusals in the audit log", async () => {
      const denied = (await api.auditOf(bob.name, since)).filter((e) => e.result === 'DENIED');
      return denied.length >= 2 ? denied : undefined;
    }, 20_000);
  });

  it('a cluster launched from the CLI appears on the Clusters page live, without a reload', { timeout: 180_000 }, async () => {
    const page = await logIn(admin);
    await allUsers(page);
    await page.waitForSelector('table[aria-label="Clusters"] tr[data-key="dash-a1"]');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const listCalls: string[] = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname === '/api/v1/clusters') listCalls.push(req.url());
    });
    // From alice's terminal: the CLI with her credentials in the endpoint.
    const home = tempHome();
    try {
      const args = ['launch', '-c', 'dash-live', '-y', 'echo launched from the CLI'];
      const run = await runSky(args, { home, endpoint: d.url.replace('http://', `http://${alice.name}:${alice.password}@`), timeoutMs: 120_000 });
      assert.equal(run.code, 0, showRun(args, run));
    } finally {
      removeHome(home);
    }
    await page.waitForSelector('table[aria-label="Clusters"] tr[data-key="dash-live"] [data-status="UP"]', { timeout: 30_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was reloaded');
    // It came from the event stream, not from fetching the list again.
    assert.deepEqual(listCalls, []);
  });

  it("Stop from the UI asks first, shows the request it made, and the cluster becomes STOPPED", { timeout: 180_000 }, async () => {
    const page = await logIn(alice);
    await openPage(page, '/dashboard/clusters/dash-live', 'cluster');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    await screenshot(page, 'stop-dialog');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    const outcome = page.locator('[role="status"] a[href^="/dashboard/requests/"]').first();
    await outcome.waitFor({ timeout: 20_000 });
    const requestId = (await outcome.textContent())?.trim() ?? '';
    assert.match(requestId, /\S/);
    assert.equal(await outcome.getAttribute('href'), `/dashboard/requests/${requestId}`);
    await page.waitForSelector(`[role="status"]:has-text("${requestId}: SUCCEEDED")`, { timeout: 90_000 });
    assert.equal(await clusterStatus(alice, 'dash-live'), 'STOPPED');
    // The page follows: Stop is disabled on a stopped cluster, and the Clusters table says STOPPED.
    await page.waitForSelector('[role="group"][aria-label="Cluster actions"] button:text-is("Stop"):disabled', { timeout: 30_000 });
    await openPage(page, '/dashboard/clusters', 'clusters');
    await page.waitForSelector('table[aria-label="Clusters"] tr[data-key="dash-live"] [data-status="STOPPED"]', { timeout: 30_000 });
    const record = await api.json<{ name: string; user: string }>(alice, `/api/v1/requests/${requestId}`);
    assert.equal(record.body.name, 'stop');
  });

  it("a non-admin has no Audit link, sees 'Admins only' without any audit call, and cannot stop another user's cluster (refused, audited)", { timeout: 180_000 }, async () => {
    const page = await logIn(alice);
    assert.equal(await page.locator('nav[aria-label="Main"] a', { hasText: 'Audit' }).count(), 0);
    for (const name of ['Clusters', 'Managed jobs', 'Requests', 'Infra', 'Users', 'Workspaces']) {
      assert.equal(await page.locator('nav[aria-label="Main"]').getByRole('link', { name, exact: true }).count(), 1, `nav link ${name}`);
    }
    const auditCalls: string[] = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname.startsWith('/api/v1/audit')) auditCalls.push(req.url());
    });
    await page.goto('/dashboard/audit');
    await page.waitForSelector('main[data-page="audit"]:has-text("Admins only")');
    await screenshot(page, 'audit-non-admin');
    assert.deepEqual(auditCalls, []);

    await openPage(page, '/dashboard/clusters', 'clusters');
    await allUsers(page);
    await page.waitForSelector('table[aria-label="Clusters"] tr[data-key="dash-b1"]');
    const since = Date.now() - 5;
    await openPage(page, '/dashboard/clusters/dash-b1', 'cluster');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Confirm' }).click();
    // Refused by the API: either at once (an alert) or as the request's outcome.
    await page.waitForSelector('[role="alert"]:has-text("not allowed"), [role="alert"]:has-text("FORBIDDEN"), [role="status"]:has-text("FAILED")', { timeout: 60_000 });
    await screenshot(page, 'refused-stop');
    // The API's own words reach the page.
    assert.match((await page.locator('[role="status"], [role="alert"]').allTextContents()).join(' '), /dash-b1 belongs to dash-bob, not to you/);
    assert.equal(await clusterStatus(bob, 'dash-b1'), 'UP');
    const entries = await waitFor('the refusal in the audit log', async () => {
      const found = (await api.auditOf(alice.name, since)).filter((e) => e.result === 'DENIED');
      return found.length > 0 ? found : undefined;
    }, 20_000);
    assert.ok(entries.length > 0);
  });

  it('logout drops the cookie and the API answers 401 to it after; a one-time link logs in too', { timeout: 120_000 }, async () => {
    const ctx = await newContext();
    const page = await logIn(bob, ctx);
    const cookie = await sessionCookie(ctx);
    assert.ok(cookie, 'no session cookie after the password login');
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'sky_session')!;
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(await page.evaluate(() => document.cookie.includes('sky_session')), false, 'page scripts cannot read the session cookie');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForSelector('main[data-page="login"][data-ready="true"]');
    assert.equal(await sessionCookie(ctx), undefined, 'the cookie is still there after logout');
    const after = await http(`${d.url}/api/v1/users/me`, { headers: { cookie } });
    assert.equal(after.status, 401, after.text);

    // The one-time link sky dashboard prints.
    const link = await api.json<{ path: string }>(bob, '/api/v1/auth/login-links', { method: 'POST', body: {} });
    assert.equal(link.status, 200, link.text);
    const linked = await (await newContext()).newPage();
    await linked.goto(link.body.path.startsWith('/') ? link.body.path : `/${link.body.path}`);
    await linked.waitForSelector('main[data-page="clusters"][data-ready="true"]');
    await linked.waitForSelector(`[data-role="whoami"]:text-is("${bob.name}")`);
    // The link works once.
    const again = await (await newContext()).newPage();
    const second = await again.goto(link.body.path.startsWith('/') ? link.body.path : `/${link.body.path}`);
    assert.equal(second?.status(), 401);
  });

  it('a change carrying the browser session from another origin is refused and audited; nothing changes', { timeout: 120_000 }, async () => {
    const ctx = await newContext();
    await logIn(alice, ctx);
    const cookie = (await sessionCookie(ctx))!;
    const before = await api.json<{ items: Array<{ name: string }> }>(alice, '/api/v1/tokens');
    const since = Date.now() - 5;
    // A page of another origin (localhost is not 127.0.0.1) makes the browser post to the API.
    const evil = await ctx.newPage();
    await evil.goto(`http://localhost:${d.port}/dashboard/login`);
    const answer = await evil.evaluate(async (url) => {
      try {
        const res = await fetch(url, { method: 'POST', credentials: 'include', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"name":"evil-token"}' });
        return res.type;
      } catch (err) {
        return String(err);
      }
    }, `${d.url}/api/v1/tokens`);
    assert.ok(answer.length > 0);
    // The same call with the cookie and a foreign Origin, as any client could send it.
    const forged = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/json' }, body: '{"name":"evil-token"}' });
    assert.equal(forged.status, 403, forged.text);
    assert.equal((JSON.parse(forged.text) as { error: { code: string } }).error.code, 'ORIGIN_NOT_ALLOWED');
    const afterList = await api.json<{ items: Array<{ name: string }> }>(alice, '/api/v1/tokens');
    assert.equal(afterList.body.items.filter((t) => t.name === 'evil-token').length, 0);
    assert.equal(afterList.body.items.length, before.body.items.length);
    await waitFor('auth.csrf in the audit log', async () => ((await api.auditOf(alice.name, since)).some((e) => e.action === 'auth.csrf' && e.result === 'DENIED') ? true : undefined), 20_000);
  });

  it('a user creates a token and revokes it from the Users page; an admin creates a user, then deletes them (their session ends); a non-admin has no user actions', { timeout: 120_000 }, async () => {
    const page = await logIn(alice);
    await openPage(page, '/dashboard/users', 'users');
    assert.equal(await page.getByRole('button', { name: 'Create user', exact: true }).count(), 0, 'a non-admin is offered Create user');
    assert.equal(await page.getByRole('button', { name: 'Delete user', exact: true }).count(), 0);
    await page.getByRole('button', { name: 'Create token', exact: true }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.getByLabel('Name', { exact: true }).fill('dash-ci');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    const secret = await page.getByLabel('Token secret').inputValue();
    assert.match(secret, /\S{20,}/);
    const me = await http(`${d.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(me.status, 200, me.text);
    assert.equal((me.json() as { name: string }).name, alice.name);
    const tokens = await api.json<{ items: Array<{ id: string; name: string; expiresAt?: number }> }>(alice, '/api/v1/tokens');
    const made = tokens.body.items.find((t) => t.name === 'dash-ci');
    assert.ok(made, 'the token is not listed');
    assert.ok(made.expiresAt !== undefined, 'a token made from a browser session must expire');
    const row = page.locator(`table[aria-label="Tokens"] tr[data-key="${made.id}"]`);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('dialog[open]').getByRole('button', { name: 'Confirm' }).click();
    await row.locator('[data-status="revoked"]').waitFor({ timeout: 20_000 });
    const after = await http(`${d.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(after.status, 401, after.text);

    const adminPage = await logIn(admin);
    await openPage(adminPage, '/dashboard/users', 'users');
    await adminPage.getByRole('button', { name: 'Create user', exact: true }).click();
    const create = adminPage.locator('dialog[open]');
    await create.getByLabel('User name').fill('dash-carol');
    await create.getByLabel('Password').fill('dash-carol-password');
    await create.getByRole('button', { name: 'Confirm' }).click();
    await adminPage.locator('table[aria-label="Users"] tr[data-key="dash-carol"]').waitFor({ timeout: 20_000 });
    const carol = await http(`${d.url}/api/v1/users/me`, { headers: asUser('dash-carol') });
    assert.equal(carol.status, 200, carol.text);
    await screenshot(adminPage, 'users-after-create');

    // The new member signs in; an admin deletes them from the page: their session ends with them.
    const carolCtx = await newContext();
    const carolPage = await logIn({ name: 'dash-carol', password: 'dash-carol-password' }, carolCtx);
    const carolCookie = (await sessionCookie(carolCtx))!;
    await openPage(adminPage, '/dashboard/users', 'users');
    await adminPage.locator('table[aria-label="Users"] tr[data-key="dash-carol"]').getByRole('button', { name: 'Delete user' }).click();
    await adminPage.locator('dialog[open]').getByRole('button', { name: 'Confirm' }).click();
    await adminPage.locator('table[aria-label="Users"] tr[data-key="dash-carol"]').waitFor({ state: 'detached', timeout: 20_000 });
    const gone = await http(`${d.url}/api/v1/users/me`, { headers: { cookie: carolCookie } });
    assert.equal(gone.status, 401, gone.text);
    await carolPage.goto('/dashboard/requests');
    await carolPage.waitForURL(/\/dashboard\/login/);
  });

  it('keyboard: Tab reaches the navigation, Enter follows a link, Escape closes a dialog', { timeout: 120_000 }, async () => {
    const page = await logIn(admin);
    await page.goto('/dashboard/clusters');
    await page.waitForSelector('main[data-page="clusters"][data-ready="true"]');
    let onNav = false;
    for (let i = 0; i < 30 && !onNav; i++) {
      await page.keyboard.press('Tab');
      onNav = await page.evaluate(() => document.activeElement?.closest('nav[aria-label="Main"]') !== null && document.activeElement?.textContent === 'Requests');
    }
    assert.ok(onNav, 'Tab never reached the Requests link of the main navigation');
    await page.keyboard.press('Enter');
    await page.waitForSelector('main[data-page="requests"][data-ready="true"]');
    assert.match(page.url(), /\/dashboard\/requests$/);

    await openPage(page, '/dashboard/clusters/dash-a1', 'cluster');
    let onStop = false;
    for (let i = 0; i < 80 && !onStop; i++) {
      await page.keyboard.press('Tab');
      onStop = await page.evaluate(() => document.activeElement?.tagName === 'BUTTON' && document.activeElement.textContent?.trim() === 'Stop');
    }
    assert.ok(onStop, 'Tab never reached the Stop button');
    await page.keyboard.press('Enter');
    await page.locator('dialog[open]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached', timeout: 5_000 });
    assert.equal(await clusterStatus(alice, 'dash-a1'), 'UP', 'Escape must not confirm');
  });

  it("Services: the list (-u), a service's replicas and logs, and Down for its owner only", { timeout: 180_000 }, async () => {
    const task = (marker: string): unknown => ({
      run: `exec python3 -m http.server "$SKY_SERVE_PORT" --bind 127.0.0.1 # ${marker}`,
      service: { readiness_probe: { path: '/', initial_delay_seconds: 120 }, replicas: 1, ports: 8080 },
    });
    await api.must(alice, 'serve_up', { task: task('dash-a'), service_name: 'dash-svc' });
    await api.must(bob, 'serve_up', { task: task('dash-b'), service_name: 'dash-bob-svc' });
    const page = await logIn(alice);
    await page.locator('nav[aria-label="Main"]').getByRole('link', { name: 'Services', exact: true }).click();
    await page.waitForSelector('main[data-page="services"][data-ready="true"]');
    // READY arrives through the change feed, without a reload.
    await page.waitForSelector('table[aria-label="Services"] tr[data-key="dash-svc"] [data-status="READY"]', { timeout: 60_000 });
    assert.equal(await page.locator('table[aria-label="Services"] tr[data-key="dash-bob-svc"]').count(), 0, "bob's service only with All users");
    await allUsers(page);
    await page.waitForSelector('table[aria-label="Services"] tr[data-key="dash-bob-svc"]');
    await screenshot(page, 'services');
    await openPage(page, '/dashboard/services/dash-svc', 'service');
    await page.waitForSelector('table[aria-label="Replicas"] tr[data-key="1"] [data-status="READY"]', { timeout: 30_000 });
    assert.equal(await page.locator('table[aria-label="Replicas"] tr[data-key="1"] a[href="/dashboard/clusters/dash-svc-1"]').count(), 1);
    await page.waitForSelector('[role="log"][aria-label="Log"]:has-text("replica 1: READY")', { timeout: 30_000 });
    await page.locator('table[aria-label="Replicas"] tr[data-key="1"] button:text-is("Log")').click();
    await page.waitForURL(/log=replica-1/);
    await page.waitForSelector('[role="log"][aria-label="Log"]:has-text("GET / HTTP/1.1")', { timeout: 30_000 });
    await screenshot(page, 'service');

    const bobs = await logIn(bob);
    await openPage(bobs, '/dashboard/services/dash-svc', 'service');
    assert.ok(await bobs.locator('[role="group"][aria-label="Service actions"] button:text-is("Down")').isDisabled(), "Down is not bob's to press");

    await page.locator('[role="group"][aria-label="Service actions"] button:text-is("Down")').click();
    const dialog = page.locator('dialog[open]');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForSelector('[role="status"]:has-text("SUCCEEDED")', { timeout: 90_000 });
    assert.equal((await api.json(alice, '/api/v1/services/dash-svc')).status, 404);
    await openPage(page, '/dashboard/services', 'services');
    await page.waitForSelector('table[aria-label="Services"] tr[data-key="dash-bob-svc"]');
    assert.equal(await page.locator('table[aria-label="Services"] tr[data-key="dash-svc"]').count(), 0);
    await api.must(bob, 'serve_down', { service_names: ['dash-bob-svc'] });
  });

  it('a 375 px wide window shows the clusters table', { timeout: 120_000 }, async () => {
    const page = await logIn(admin, await newContext(375));
    await allUsers(page);
    const row = page.locator('table[aria-label="Clusters"] tr[data-key="dash-a1"]');
    await row.waitFor();
    assert.ok(await row.isVisible(), 'the row is not visible at 375 px');
    const box = await row.boundingBox();
    assert.ok(box !== null && box.x >= 0 && box.x < 375, `the row starts off screen: ${JSON.stringify(box)}`);
    await screenshot(page, 'clusters-375px');
    // The navigation folds behind Menu on a narrow screen, and opens from it.
    const requests = page.locator('nav[aria-label="Main"]').getByRole('link', { name: 'Requests', exact: true });
    if (!(await requests.isVisible())) await page.getByRole('button', { name: 'Menu' }).click();
    await requests.click();
    await page.waitForSelector('main[data-page="requests"][data-ready="true"]');
    const table = await page.locator('table[aria-label="Requests"]').boundingBox();
    assert.ok(table !== null && table.x >= 0 && table.x < 375, `the Requests table starts off screen: ${JSON.stringify(table)}`);
    await screenshot(page, 'requests-375px');
  });
});
