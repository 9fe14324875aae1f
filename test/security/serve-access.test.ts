// Services on a team server, as the other members would use them: the list shows others'
// services only with -u and never a private workspace's; nobody but the owner or an admin
// updates, tears down or reads the logs of a service (refusals audited); a private workspace's
// service is answered as if it did not exist; a member removed from the workspace can no longer
// change their service there; a taken name does not tell who holds it; and no services route
// answers a caller without credentials.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTE_LIST } from '@sky/protocol';
import { freePort, http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { route, TeamClient, type Account } from '../helpers/authz-client.js';

const WS = 'svc-lab';

interface Service {
  name: string;
  status: string;
  workspace: string;
  replicas: Array<{ status: string }>;
}

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;

const task = (marker: string): unknown => ({
  run: `exec python3 -m http.server "$SKY_SERVE_PORT" --bind 127.0.0.1 # ${marker}`,
  service: { readiness_probe: { path: '/', initial_delay_seconds: 120 }, replicas: 1, ports: 8080 },
});

before(async () => {
  const lbPort = await freePort();
  d = await startTeamDaemon([], '', '', `serve:\n  ports: "${lbPort}-${lbPort + 3}"\n  probe_interval_seconds: 1\n`);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('svc-alice');
  bob = await api.createUser('svc-bob');
  const ws = await api.json(api.admin, '/api/v1/workspaces', { method: 'POST', body: { name: WS, private: true, allowed_users: [alice.name] } });
  assert.equal(ws.status, 201, ws.text);
  await api.must(alice, 'serve_up', { task: task('svc-shared'), service_name: 'alice-web' });
  await api.must(alice, 'serve_up', { task: task('svc-private'), service_name: 'alice-lab' }, WS);
});

after(async () => {
  if (d && d.child.exitCode === null) await api.op(api.admin, 'serve_down', { all: true, all_users: true, purge: true }).catch(() => undefined);
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

async function listed(who: Account, allUsers: boolean): Promise<string[]> {
  const res = await api.json<{ items: Service[] }>(who, `/api/v1/services${allUsers ? '?all_users=true' : ''}`);
  assert.equal(res.status, 200, res.text);
  return res.body.items.map((s) => s.name);
}

async function denied(who: Account, since: number, action: string, target: string, detail: string): Promise<void> {
  const entries = await api.auditOf(who.name, since);
  assert.ok(
    entries.some((e) => e.result === 'DENIED' && e.action === action && e.target === target && e.detail === detail),
    `no DENIED ${action} ${target} (${detail}) for ${who.name}: ${JSON.stringify(entries)}`,
  );
}

describe('services on a team server', () => {
  it('no services route answers without credentials', async () => {
    for (const spec of ROUTE_LIST.filter((r) => r.path.includes('/services') || r.operation?.startsWith('serve_') === true)) {
      const path = spec.path.replace(':name', 'alice-web');
      const res = await http(`${d.url}${path}`, { method: spec.method.toUpperCase(), headers: { 'content-type': 'application/json' }, ...(spec.method === 'post' ? { body: '{}' } : {}) });
      assert.equal(res.status, 401, `${spec.method} ${path}: ${res.text}`);
    }
  });

  it("lists the caller's services; -u adds others' but never a private workspace's, not even its name", async () => {
    assert.deepEqual(await listed(bob, false), []);
    assert.deepEqual(await listed(bob, true), ['alice-web']);
    assert.doesNotMatch((await api.json(bob, '/api/v1/services?all_users=true')).text, new RegExp(WS));
    assert.deepEqual(await listed(alice, false), ['alice-lab', 'alice-web']);
    assert.deepEqual(await listed(api.admin, true), ['alice-lab', 'alice-web']);
  });

  it("answers a private workspace's service as one that does not exist (audited)", async () => {
    const since = Date.now() - 5;
    const res = await api.json(bob, '/api/v1/services/alice-lab');
    assert.equal(res.status, 404, res.text);
    assert.deepEqual([errorOf(res.text).code, errorOf(res.text).message], ['SERVICE_NOT_FOUND', 'no service alice-lab']);
    await denied(bob, since, 'serve.read', 'alice-lab', 'SERVICE_NOT_FOUND');
    const down = await api.op(bob, 'serve_down', { service_names: ['alice-lab'] });
    assert.equal(down.record?.status, 'SUCCEEDED', JSON.stringify(down.record));
    assert.deepEqual(down.record?.result, { down: [], notFound: ['alice-lab'] });
    await denied(bob, since, 'serve.down', 'alice-lab', 'SERVICE_NOT_FOUND');
    assert.equal((await api.json<{ service: Service }>(alice, '/api/v1/services/alice-lab')).body.service.workspace, WS, 'untouched');
  });

  it("shows another member a shared service, but not its controller log or logs, and lets them change nothing (audited)", async () => {
    const since = Date.now() - 5;
    const seen = await api.json<{ service: Service; events: unknown[] }>(bob, '/api/v1/services/alice-web');
    assert.equal(seen.status, 200, seen.text);
    assert.deepEqual(seen.body.events, [], 'no controller log for others');
    assert.doesNotMatch(seen.text, /svc-shared/, 'nor the command line');
    const logs = await api.call(bob, route('serviceLogs'), { params: { name: 'alice-web' }, query: 'controller=true&follow=false' });
    assert.equal(logs.status, 403, logs.text);
    await denied(bob, since, 'serve.logs', 'alice-web', 'FORBIDDEN');

    const token = await api.json(bob, '/api/v1/services/alice-web/token', { method: 'POST', body: { enable: true } });
    assert.equal(token.status, 403, token.text);
    await denied(bob, since, 'serve.token', 'alice-web', 'FORBIDDEN');
    const update = await api.op(bob, 'serve_update', { service_name: 'alice-web', task: task('bob-was-here') });
    assert.equal(update.record?.error?.code, 'FORBIDDEN', JSON.stringify(update.record));
    await denied(bob, since, 'serve.update', 'alice-web', 'FORBIDDEN');
    const down = await api.op(bob, 'serve_down', { service_names: ['alice-web'] });
    assert.equal(down.record?.error?.code, 'FORBIDDEN', JSON.stringify(down.record));
    assert.match(down.record!.error!.message, /service alice-web belongs to svc-alice/);
    await denied(bob, since, 'serve.down', 'alice-web', 'FORBIDDEN');
    const everyone = await api.op(bob, 'serve_down', { all: true, all_users: true });
    assert.equal(everyone.submit.status, 403, everyone.submit.text);
    const mine = await api.op(bob, 'serve_down', { all: true });
    assert.deepEqual(mine.record?.result, { down: [], notFound: [] }, "bob's -a is bob's services only");
    const after = await api.json<{ service: Service }>(alice, '/api/v1/services/alice-web');
    assert.notEqual(after.body.service.status, 'SHUTTING_DOWN', 'untouched');
  });

  it('a taken name is refused without saying whose it is', async () => {
    const taken = await api.op(bob, 'serve_up', { task: task('bob'), service_name: 'alice-lab' });
    assert.equal(taken.record?.error?.code, 'SERVICE_EXISTS', JSON.stringify(taken.record));
    assert.doesNotMatch(taken.record!.error!.message, /svc-alice|alice's/);
  });

  it('a member removed from the workspace can no longer change their service there; an admin can', async () => {
    const removed = await api.json(api.admin, `/api/v1/workspaces/${WS}`, { method: 'POST', body: { allowed_users: [] } });
    assert.equal(removed.status, 200, removed.text);
    const since = Date.now() - 5;
    const down = await api.op(alice, 'serve_down', { service_names: ['alice-lab'] });
    assert.equal(down.record?.error?.code, 'FORBIDDEN', JSON.stringify(down.record));
    await denied(alice, since, 'serve.down', 'alice-lab', 'FORBIDDEN');
    const admin = await api.op(api.admin, 'serve_down', { service_names: ['alice-lab'] });
    assert.equal(admin.record?.status, 'SUCCEEDED', JSON.stringify(admin.record));
    assert.deepEqual(admin.record?.result, { down: ['alice-lab'], notFound: [] });
    const clusters = await api.json<{ items: Array<{ name: string }> }>(api.admin, '/api/v1/clusters?all_users=true');
    assert.ok(!clusters.body.items.some((c) => c.name.startsWith('alice-lab-')), 'its replica cluster is gone');
  });
});
