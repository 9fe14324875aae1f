import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Finding (high): POST /requests/cancel {"ids": [someone else's id], "all": true} skipped the
// owner check, and out-of-band cancels were not audited.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('cx-alice');
  bob = await api.createUser('cx-bob');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

async function submitPing(who: Account): Promise<string> {
  const res = await api.json<{ requestId: string }>(who, '/api/v1/ping', { method: 'POST', body: { sleep: 5 } });
  assert.equal(res.status, 202, res.text);
  return res.body.requestId;
}

async function statusOf(id: string): Promise<string> {
  return (await api.json<{ status: string }>(api.admin, `/api/v1/requests/${id}`)).body.status;
}

describe('cancel: every id checked, every cancel audited', () => {
  it("refuses another user's id even with all: true, cancels nothing, and audits the refusal", async () => {
    const victim = await submitPing(alice);
    const mine = await submitPing(bob);
    const since = Date.now() - 5;
    const res = await api.json(bob, '/api/v1/requests/cancel', { method: 'POST', body: { ids: [victim], all: true } });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'FORBIDDEN');
    assert.match(res.text, /belongs to cx-alice/);
    assert.notEqual(await statusOf(victim), 'CANCELLED', "alice's request is untouched");
    assert.notEqual(await statusOf(mine), 'CANCELLED', 'nothing was cancelled, not even the caller\'s own');
    const denied = (await api.auditOf(bob.name, since)).filter((e) => e.result === 'DENIED');
    assert.deepEqual(denied.map((e) => [e.action, e.target]), [['request.cancel', victim]]);
    await api.json(api.admin, '/api/v1/requests/cancel', { method: 'POST', body: { ids: [victim, mine] } });
  });

  it("refuses all_users to a non-admin, audited", async () => {
    const since = Date.now() - 5;
    const res = await api.json(bob, '/api/v1/requests/cancel', { method: 'POST', body: { all: true, all_users: true } });
    assert.equal(res.status, 403, res.text);
    assert.ok((await api.auditOf(bob.name, since)).some((e) => e.result === 'DENIED' && e.action === 'request.cancel' && e.target === 'all_users'));
  });

  it('records who cancelled which request: the owner, and an admin cancelling for someone', async () => {
    const own = await submitPing(bob);
    const theirs = await submitPing(alice);
    const since = Date.now() - 5;
    const mine = await api.json<{ cancelled: string[] }>(bob, '/api/v1/requests/cancel', { method: 'POST', body: { ids: [own] } });
    assert.deepEqual(mine.body.cancelled, [own]);
    const byAdmin = await api.json<{ cancelled: string[] }>(api.admin, '/api/v1/requests/cancel', { method: 'POST', body: { ids: [theirs] } });
    assert.deepEqual(byAdmin.body.cancelled, [theirs]);
    // Entries of this test only: the previous one's refusal may share the millisecond `since` starts at.
    const ofThisTest = (e: { action: string; target?: string }): boolean => e.action === 'request.cancel' && (e.target === own || e.target === theirs);
    const bobs = await api.auditOf(bob.name, since);
    assert.deepEqual(bobs.filter(ofThisTest).map((e) => [e.target, e.result, e.detail]), [[own, 'SUCCEEDED', 'ping of cx-bob']]);
    const admins = await api.auditOf(TEAM_ADMIN.name, since);
    assert.deepEqual(admins.filter(ofThisTest).map((e) => [e.target, e.result, e.detail]), [[theirs, 'SUCCEEDED', 'ping of cx-alice']]);
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
    assert.equal(d.child.exitCode, null);
  });
});
