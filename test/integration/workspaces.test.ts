import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { asAdmin, asUser, errorOf, runOperation, startTeamDaemon } from '../helpers/team.js';

// Workspaces on a basic-auth team server: private ones, infra restrictions, who may manage them.

let d: DaemonHandle;
const as = asUser;

interface Rec {
  id: string;
  status: string;
  workspace: string;
  error?: { code: string; message: string };
}
interface Ws {
  name: string;
  private: boolean;
  allowedUserNames: string[];
  allowedInfra?: string[];
}

const op = (name: string, body: unknown, headers: Record<string, string>): Promise<Rec> => runOperation<Rec>(d.url, name, body, headers);

async function names(headers: Record<string, string>): Promise<string[]> {
  const res = await http(`${d.url}/api/v1/workspaces`, { headers });
  assert.equal(res.status, 200, res.text);
  return (res.json() as { items: Ws[] }).items.map((w) => w.name);
}

before(async () => {
  d = await startTeamDaemon(['alice', 'bob']);
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

describe('workspaces', () => {
  it('the default workspace exists and requests run in it without the header', async () => {
    assert.deepEqual(await names(as('bob')), ['default']);
    const rec = await op('ping', {}, as('bob'));
    assert.equal(rec.status, 'SUCCEEDED');
    assert.equal(rec.workspace, 'default');
  });

  it('only admins create, change or delete workspaces', async () => {
    const res = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ name: 'mine' }) });
    assert.equal(res.status, 403, res.text);
    assert.equal(errorOf(res.text).code, 'FORBIDDEN');
    const upd = await http(`${d.url}/api/v1/workspaces/default`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ private: true }) });
    assert.equal(upd.status, 403, upd.text);
    const del = await http(`${d.url}/api/v1/workspaces/default`, { method: 'DELETE', headers: as('bob') });
    assert.equal(del.status, 403, del.text);
  });

  it('a private workspace: listed and usable only by its users and admins', async () => {
    const res = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: 'research', private: true, allowed_users: ['alice'] }) });
    assert.equal(res.status, 201, res.text);
    assert.deepEqual((res.json() as Ws).allowedUserNames, ['alice']);
    const again = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: 'research' }) });
    assert.equal(again.status, 409);
    assert.equal(errorOf(again.text).code, 'WORKSPACE_EXISTS');

    assert.deepEqual(await names(as('bob')), ['default']);
    assert.deepEqual(await names(as('alice')), ['default', 'research']);
    assert.deepEqual(await names(asAdmin()), ['default', 'research']);

    const refused = await http(`${d.url}/api/v1/launch`, { method: 'POST', headers: as('bob', 'research'), body: JSON.stringify({ cluster: 'bob-r', task: { run: 'echo hi' } }) });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(errorOf(refused.text).code, 'FORBIDDEN');
    assert.match(errorOf(refused.text).message, /workspace research/);

    const rec = await op('launch', { cluster: 'alice-r', task: { run: 'echo hi' } }, as('alice', 'research'));
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    assert.equal(rec.workspace, 'research');
    const cluster = (await http(`${d.url}/api/v1/clusters/alice-r`, { headers: as('alice') })).json() as { workspace: string };
    assert.equal(cluster.workspace, 'research');
  });

  it('an unknown workspace is 404 and a malformed one 400', async () => {
    const unknown = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: as('alice', 'nowhere'), body: '{}' });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(errorOf(unknown.text).code, 'WORKSPACE_NOT_FOUND');
    const bad = await http(`${d.url}/api/v1/ping`, { method: 'POST', headers: as('alice', 'Not A Name'), body: '{}' });
    assert.equal(bad.status, 400, bad.text);
  });

  it('a workspace restricted to ssh refuses a local launch, naming what is allowed', async () => {
    const res = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: 'sshonly', allowed_infra: ['ssh'] }) });
    assert.equal(res.status, 201, res.text);
    const rec = await op('launch', { cluster: 'alice-s', task: { run: 'echo hi' } }, as('alice', 'sshonly'));
    assert.equal(rec.status, 'FAILED');
    assert.equal(rec.error?.code, 'FORBIDDEN');
    assert.match(rec.error!.message, /workspace sshonly may only use ssh/);
    const local = await op('launch', { cluster: 'alice-s', task: { run: 'echo hi', resources: { infra: 'local' } } }, as('alice', 'sshonly'));
    assert.equal(local.error?.code, 'FORBIDDEN');
    assert.equal((await http(`${d.url}/api/v1/clusters/alice-s`, { headers: as('alice') })).status, 404, 'nothing was provisioned');
    const lifted = await http(`${d.url}/api/v1/workspaces/sshonly`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ allowed_infra: null }) });
    assert.equal(lifted.status, 200, lifted.text);
    assert.equal((lifted.json() as Ws).allowedInfra, undefined);
  });

  it('a workspace with clusters, or the default one, cannot be deleted', async () => {
    const busy = await http(`${d.url}/api/v1/workspaces/research`, { method: 'DELETE', headers: asAdmin() });
    assert.equal(busy.status, 409, busy.text);
    assert.equal(errorOf(busy.text).code, 'WORKSPACE_IN_USE');
    assert.match(errorOf(busy.text).message, /alice-r/);
    const def = await http(`${d.url}/api/v1/workspaces/default`, { method: 'DELETE', headers: asAdmin() });
    assert.equal(def.status, 409, def.text);
    assert.equal((await op('down', { cluster: 'alice-r' }, as('alice'))).status, 'SUCCEEDED');
    const gone = await http(`${d.url}/api/v1/workspaces/research`, { method: 'DELETE', headers: asAdmin() });
    assert.equal(gone.status, 200, gone.text);
    assert.deepEqual(await names(asAdmin()), ['default', 'sshonly']);
  });
});
