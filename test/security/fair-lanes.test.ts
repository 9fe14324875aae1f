import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Finding (medium): one user's 68 sleeping pings stalled everyone's launch, exec and down (no
// per-user fairness in the lanes); a ping could sleep for an hour.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('fl-alice');
  bob = await api.createUser('fl-bob');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

async function active(who: Account): Promise<{ pending: number; running: number }> {
  const page = await api.json<{ items: Array<{ status: string }> }>(who, '/api/v1/requests?status=PENDING,RUNNING&limit=1000');
  return { pending: page.body.items.filter((r) => r.status === 'PENDING').length, running: page.body.items.filter((r) => r.status === 'RUNNING').length };
}

describe('fair lanes', () => {
  it("another user's launch, exec and down go through while one user's 68 sleeping pings fill the long lane", async () => {
    for (let i = 0; i < 68; i++) {
      const res = await api.json(alice, '/api/v1/ping', { method: 'POST', body: { sleep: 5, lane: 'long' } });
      assert.equal(res.status, 202, res.text);
    }
    const flood = await active(alice);
    assert.ok(flood.running <= 2, `alice runs ${flood.running} requests in the long lane, more than her cap`);
    for (const [name, body] of [
      ['launch', { cluster: 'fl-c', task: { run: 'echo hi' } }],
      ['exec', { cluster: 'fl-c', task: { run: 'echo again' } }],
      ['down', { cluster: 'fl-c' }],
    ] as const) {
      const out = await api.op(bob, name, body);
      assert.equal(out.record?.status, 'SUCCEEDED', `${name}: ${JSON.stringify(out.record?.error)}`);
    }
    const still = await active(alice);
    assert.ok(still.pending >= 60, `bob was served while alice's flood still waits (${still.pending} pending)`);
    const cancelled = await api.json<{ cancelled: string[] }>(alice, '/api/v1/requests/cancel', { method: 'POST', body: { all: true } });
    assert.equal(cancelled.status, 200, cancelled.text);
  });

  it('refuses pings longer than a few seconds to non-admins (audited), and takes them from admins', async () => {
    const since = Date.now() - 5;
    const res = await api.json(alice, '/api/v1/ping', { method: 'POST', body: { sleep: 60, lane: 'long' } });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'FORBIDDEN');
    assert.match(errorOf(res.text).message, /ping sleeping more than 5 s needs the admin role/);
    assert.ok((await api.auditOf(alice.name, since)).some((e) => e.result === 'DENIED' && e.action === 'ping'));
    const admin = await api.json<{ requestId: string }>(api.admin, '/api/v1/ping', { method: 'POST', body: { sleep: 60 } });
    assert.equal(admin.status, 202, admin.text);
    await api.json(api.admin, '/api/v1/requests/cancel', { method: 'POST', body: { ids: [admin.body.requestId] } });
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
    assert.equal(d.child.exitCode, null);
  });
});
