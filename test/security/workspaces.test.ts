import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { http, killAllDaemons, removeHome, SKY_BIN, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Findings (medium): a private workspace's clusters (with their command lines) showed in others'
// `sky status -u`; a user removed from a workspace kept using its clusters; workspace changes and
// refusals were not audited.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;
let carol: Account;
const WS = 'sw-lab';

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('sw-alice');
  bob = await api.createUser('sw-bob');
  carol = await api.createUser('sw-carol');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

function cli(who: Account, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const home = tempHome();
  try {
    return spawnSync(process.execPath, ['--', SKY_BIN, ...args], {
      env: { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: d.url.replace('http://', `http://${who.name}:${who.password}@`) },
      encoding: 'utf8',
      timeout: 30_000,
    });
  } finally {
    removeHome(home);
  }
}

async function denied(who: Account, since: number, action: string): Promise<void> {
  const entries = await api.auditOf(who.name, since);
  assert.ok(entries.some((e) => e.result === 'DENIED' && e.action === action), `no DENIED ${action} for ${who.name}: ${JSON.stringify(entries)}`);
}

describe('private workspaces', () => {
  it('workspace changes are audited', async () => {
    const since = Date.now() - 5;
    const made = await api.json(api.admin, '/api/v1/workspaces', { method: 'POST', body: { name: WS, private: true, allowed_users: [alice.name, carol.name] } });
    assert.equal(made.status, 201, made.text);
    const entries = await api.auditOf(TEAM_ADMIN.name, since);
    const entry = entries.find((e) => e.action === 'workspace.create');
    assert.deepEqual([entry?.target, entry?.result, entry?.detail], [WS, 'SUCCEEDED', 'private, users: sw-alice, sw-carol; infra: any']);
  });

  it("hides a private workspace's clusters and their command lines from non-members' sky status -u", async () => {
    await api.must(alice, 'launch', { cluster: 'sw-secret', task: { run: 'echo sw-classified-plan' } }, WS);
    const listing = await api.json<{ items: Array<{ name: string }> }>(bob, '/api/v1/clusters?all_users=true');
    assert.deepEqual(listing.body.items.map((c) => c.name), []);
    const status = cli(bob, ['status', '-u']);
    assert.equal(status.status, 0, status.stderr);
    assert.doesNotMatch(status.stdout, /sw-secret|sw-classified-plan/);
    const member = cli(alice, ['status', '-u']);
    assert.match(member.stdout, /sw-secret/);
  });

  it("refuses a non-member the workspace's clusters by name and the workspace itself, audited", async () => {
    let since = Date.now() - 5;
    const byName = await api.json(bob, '/api/v1/clusters/sw-secret');
    assert.equal(byName.status, 403, byName.text);
    assert.equal(errorOf(byName.text).code, 'FORBIDDEN');
    await denied(bob, since, 'cluster.read');
    since = Date.now() - 5;
    const launch = await api.json(bob, '/api/v1/launch', { method: 'POST', body: { cluster: 'sw-bob', task: { run: 'true' } }, workspace: WS });
    assert.equal(launch.status, 403, launch.text);
    await denied(bob, since, 'launch');
  });

  it('a member removed from the workspace can no longer operate its clusters, even their own; an admin can', async () => {
    await api.must(carol, 'launch', { cluster: 'sw-carol-c', task: { run: 'true' } }, WS);
    const removal = await api.json(api.admin, `/api/v1/workspaces/${WS}`, { method: 'POST', body: { allowed_users: [alice.name] } });
    assert.equal(removal.status, 200, removal.text);
    assert.ok((await api.auditOf(TEAM_ADMIN.name, Date.now() - 60_000)).some((e) => e.action === 'workspace.update' && e.target === WS));
    for (const [name, body] of [
      ['exec', { cluster: 'sw-carol-c', task: { run: 'true' } }],
      ['stop', { cluster: 'sw-carol-c' }],
      ['down', { cluster: 'sw-carol-c' }],
    ] as const) {
      const since = Date.now() - 5;
      const out = await api.op(carol, name, body);
      assert.equal(out.record?.status, 'FAILED', `${name}: ${out.submit.text}`);
      assert.equal(out.record?.error?.code, 'FORBIDDEN');
      assert.match(out.record!.error!.message, /private workspace sw-lab/);
      await denied(carol, since, name);
    }
    const listing = await api.json<{ items: Array<{ name: string }> }>(carol, '/api/v1/clusters?all_users=true');
    assert.deepEqual(listing.body.items.map((c) => c.name), ['sw-carol-c'], 'her own cluster is still listed to her, the others of the workspace are not');
    const down = await api.op(api.admin, 'down', { cluster: 'sw-carol-c' });
    assert.equal(down.record?.status, 'SUCCEEDED', JSON.stringify(down.record?.error));
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
    assert.equal(d.child.exitCode, null);
  });
});
