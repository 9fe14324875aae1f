import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { http, killAllDaemons, removeHome, SKY_BIN, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { basicAuth, errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Offboarding: a deleted user's tokens (and sessions) stop working, their pending and running
// requests are cancelled, and their clusters go to a named user or are torn down — the admin must
// say which — all audited.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;
let carol: Account;
let aliceToken = '';

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('ob-alice');
  bob = await api.createUser('ob-bob');
  carol = await api.createUser('ob-carol');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

describe('sky users delete', () => {
  it('needs --transfer-to or --down when the user owns clusters, and changes nothing without', async () => {
    await api.must(alice, 'launch', { cluster: 'ob-a1', task: { run: 'true' } });
    await api.must(alice, 'launch', { cluster: 'ob-a2', task: { run: 'true' } });
    const token = await api.json<{ token: string }>(alice, '/api/v1/tokens', { method: 'POST', body: { name: 'ci' } });
    aliceToken = token.body.token;
    const res = await api.json(api.admin, '/api/v1/users/ob-alice', { method: 'DELETE' });
    assert.equal(res.status, 409, res.text);
    assert.equal(errorOf(res.text).code, 'USER_OWNS_CLUSTERS');
    assert.match(errorOf(res.text).message, /owns 2 clusters \(ob-a1, ob-a2\)/);
    assert.equal((await api.json(alice, '/api/v1/users/me')).status, 200, 'alice can still log in');
  });

  it('refuses a non-admin (audited)', async () => {
    const since = Date.now() - 5;
    const res = await api.json(bob, '/api/v1/users/ob-alice?down=true', { method: 'DELETE' });
    assert.equal(res.status, 403, res.text);
    assert.ok((await api.auditOf(bob.name, since)).some((e) => e.action === 'user.delete' && e.result === 'DENIED'));
  });

  it('--transfer-to: revokes tokens, cancels requests, gives the clusters to the heir; all audited', async () => {
    const ping = await api.json<{ requestId: string }>(alice, '/api/v1/ping', { method: 'POST', body: { sleep: 5 } });
    const since = Date.now() - 5;
    const res = await api.json<{ revokedTokens: number; cancelledRequests: string[]; transferredTo: string; transferred: string[] }>(api.admin, `/api/v1/users/ob-alice?transfer_to=${bob.name}`, { method: 'DELETE' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual([res.body.revokedTokens, res.body.cancelledRequests, res.body.transferredTo, res.body.transferred], [1, [ping.body.requestId], bob.name, ['ob-a1', 'ob-a2']]);
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: { authorization: `Bearer ${aliceToken}` } })).status, 401, 'the token is dead');
    assert.equal((await http(`${d.url}/api/v1/users/me`, { headers: basicAuth(alice.name, alice.password) })).status, 401, 'the password is dead');
    assert.equal((await api.json<{ status: string }>(api.admin, `/api/v1/requests/${ping.body.requestId}`)).body.status, 'CANCELLED');
    const cluster = await api.json<{ ownerName: string }>(bob, '/api/v1/clusters/ob-a1');
    assert.equal(cluster.body.ownerName, bob.name);
    assert.equal((await api.op(bob, 'down', { cluster: 'ob-a1' })).record?.status, 'SUCCEEDED', 'the heir may change them');
    const audit = await api.auditOf(TEAM_ADMIN.name, since);
    assert.deepEqual(
      audit.filter((e) => e.action === 'cluster.transfer').map((e) => [e.target, e.detail]).sort(),
      [
        ['ob-a1', `from ob-alice to ${bob.name}`],
        ['ob-a2', `from ob-alice to ${bob.name}`],
      ],
    );
    const deleted = audit.find((e) => e.action === 'user.delete');
    assert.equal(deleted?.target, 'ob-alice');
    assert.match(deleted?.detail ?? '', /1 token revoked; 1 request cancelled; clusters to ob-bob: ob-a1, ob-a2/);
    assert.ok(audit.some((e) => e.action === 'request.cancel' && e.target === ping.body.requestId));
  });

  it('sky users delete NAME --down tears the clusters down', async () => {
    await api.must(carol, 'launch', { cluster: 'ob-c1', task: { run: 'true' } });
    const home = tempHome();
    try {
      const out = spawnSync(process.execPath, ['--', SKY_BIN, 'users', 'delete', carol.name, '--down', '-y'], {
        env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', `http://${TEAM_ADMIN.name}:${TEAM_ADMIN.password}@`) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(out.status, 0, out.stderr);
      assert.match(out.stdout, /Deleted user ob-carol \(u-[0-9a-f]+\): 0 tokens revoked, 0 requests cancelled\./);
      assert.match(out.stdout, /Tearing down their clusters: ob-c1\./);
      const id = /ob-c1: request (\S+)/.exec(out.stdout)?.[1];
      assert.ok(id, out.stdout);
      const done = await http(`${d.url}/api/v1/requests/${id}/wait?timeout=30`, { headers: basicAuth(TEAM_ADMIN.name, TEAM_ADMIN.password) });
      assert.equal((done.json() as { status: string }).status, 'SUCCEEDED', done.text);
      assert.equal((await api.json(api.admin, '/api/v1/clusters/ob-c1')).status, 404);
      const both = spawnSync(process.execPath, ['--', SKY_BIN, 'users', 'delete', bob.name, '--down', '--transfer-to', 'admin', '-y'], {
        env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', `http://${TEAM_ADMIN.name}:${TEAM_ADMIN.password}@`) },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.notEqual(both.status, 0);
      assert.match(both.stderr, /either --transfer-to USER or --down, not both/);
    } finally {
      removeHome(home);
    }
  });

  it('will not give clusters to a user barred from their private workspace', async () => {
    const ws = await api.json(api.admin, '/api/v1/workspaces', { method: 'POST', body: { name: 'ob-lab', private: true, allowed_users: [bob.name] } });
    assert.equal(ws.status, 201, ws.text);
    await api.must(bob, 'launch', { cluster: 'ob-lab-c', task: { run: 'true' } }, 'ob-lab');
    const dave = await api.createUser('ob-dave');
    const res = await api.json(api.admin, `/api/v1/users/${bob.name}`, { method: 'DELETE', body: { transfer_to: dave.name } });
    assert.equal(res.status, 400, res.text);
    assert.match(errorOf(res.text).message, /ob-dave may not use private workspace ob-lab, where cluster ob-lab-c is/);
    assert.equal((await api.json(bob, '/api/v1/users/me')).status, 200, 'nothing happened');
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
  });
});
