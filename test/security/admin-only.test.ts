import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { http, killAllDaemons, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { basicAuth, errorOf, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Findings (medium): the server log (with a password typed into the user-name field) was readable
// by every user; plain users could `sky ssh up/down` the team's hosts and see host details
// (addresses, login users, per-host reports) through check and show-gpus; refresh of every
// user's clusters was open to all.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
const HOST = '127.0.0.1';
const LOGIN = 'pool-login-user';

before(async () => {
  const home = tempHome();
  d = await startDaemon({
    home,
    config: [
      'auth:',
      '  mode: basic',
      'ssh:',
      '  connect_timeout_seconds: 1',
      // The SSH driver alone: a team server has no local driver without OS accounts.
      'drivers:',
      '  ssh:',
      '    probe_timeout_seconds: 2',
      '    pools:',
      '      gpu-a:',
      `        user: ${LOGIN}`,
      `        identity_file: ${join(home, 'no-such-key')}`,
      `        hosts: [{ip: ${HOST}, port: 1}]`,
      '',
    ].join('\n'),
    env: { SKY_ADMIN_USERNAME: TEAM_ADMIN.name, SKY_ADMIN_PASSWORD: TEAM_ADMIN.password },
  });
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('ao-alice');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

async function refused(who: Account, path: string, init: { method?: string; body?: unknown }, action: string): Promise<void> {
  const since = Date.now() - 5;
  const res = await api.json(who, path, init);
  assert.equal(res.status, 403, `${path}: ${res.text}`);
  assert.equal(errorOf(res.text).code, 'FORBIDDEN');
  assert.match(errorOf(res.text).message, /needs the admin role/);
  const entries = await api.auditOf(who.name, since);
  assert.ok(entries.some((e) => e.result === 'DENIED' && e.action === action), `${path}: not audited as ${action}: ${JSON.stringify(entries)}`);
}

describe('admin-only: server log, SSH pools, host details, refresh of all users', () => {
  it('the server log is for admins: a user is refused (audited), an admin reads it', async () => {
    // A password typed into the user-name field: what the server log says about failed logins is for admins.
    await http(`${d.url}/api/v1/users/me`, { headers: basicAuth('typed-my-Secret-by-mistake', 'x') });
    await refused(alice, '/api/v1/server/logs?follow=false', {}, 'server.logs');
    const admin = await http(`${d.url}/api/v1/server/logs?follow=false`, { headers: basicAuth(TEAM_ADMIN.name, TEAM_ADMIN.password) });
    assert.equal(admin.status, 200);
    assert.match(admin.text, /event: log/);
  });

  it('sky ssh up and down are refused to users (audited) and accepted from admins', async () => {
    for (const name of ['ssh_up', 'ssh_down']) {
      await refused(alice, `/api/v1/${name}`, { method: 'POST', body: { infra: 'ssh/gpu-a' } }, name);
      const byAdmin = await api.op(api.admin, name, { infra: 'ssh/gpu-a' });
      assert.equal(byAdmin.submit.status, 202, byAdmin.submit.text);
      assert.equal(byAdmin.record?.status, 'SUCCEEDED', JSON.stringify(byAdmin.record?.error));
    }
  });

  it('check and show-gpus give users capacity per pool, never hosts, login users or per-host errors; admins get the hosts', async () => {
    for (const name of ['check', 'show_gpus']) {
      const mine = await api.op(alice, name, name === 'check' ? { infra: ['ssh'] } : { infra: 'ssh/gpu-a' });
      assert.equal(mine.record?.status, 'SUCCEEDED', JSON.stringify(mine.record?.error));
      const text = JSON.stringify(mine.record?.result);
      assert.ok(!text.includes(HOST) && !text.includes(LOGIN) && !text.includes('no-such-key'), `${name} shows host details to a user: ${text}`);
      assert.match(text, /"pool":"gpu-a","hosts":1,"ready":0/);
      const log = await http(`${d.url}/api/v1/requests/${mine.record!.id}/logs?follow=false`, { headers: basicAuth(alice.name, alice.password) });
      assert.ok(!log.text.includes(HOST) && !log.text.includes(LOGIN), `${name}'s log shows host details to a user: ${log.text}`);
      const theirs = await api.op(api.admin, name, name === 'check' ? { infra: ['ssh'] } : { infra: 'ssh/gpu-a' });
      const full = JSON.stringify(theirs.record?.result);
      assert.ok(full.includes(HOST) && full.includes(LOGIN), `an admin gets the hosts: ${full}`);
    }
  });

  it("refresh of every user's clusters is for admins; sky status -u -r by a user refreshes their own", async () => {
    await refused(alice, '/api/v1/refresh', { method: 'POST', body: { all_users: true } }, 'refresh');
    assert.equal((await api.op(alice, 'refresh', {})).record?.status, 'SUCCEEDED');
    assert.equal((await api.op(api.admin, 'refresh', { all_users: true })).record?.status, 'SUCCEEDED');
    const home = tempHome();
    try {
      const out = spawnSync(process.execPath, ['--', SKY_BIN, 'status', '-u', '-r'], {
        env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', `http://${alice.name}:${alice.password}@`) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(out.status, 0, out.stderr);
      assert.match(out.stderr, /Refreshed only your own clusters: refreshing every user's needs the admin role/);
      assert.match(out.stdout, /Clusters/);
    } finally {
      removeHome(home);
    }
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
    assert.equal(d.child.exitCode, null);
  });
});
