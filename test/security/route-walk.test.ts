import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ROUTE_LIST } from '@sky/protocol';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { CALLER_KINDS, walkRoutes } from '../helpers/route-walk.js';

// Every route of the table as an outsider, a plain user, another user, a member removed from a
// private workspace and an admin, against real resources; refusals audited; nothing crashes.

let d: DaemonHandle;

before(async () => {
  d = await startTeamDaemon([]);
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

describe('route-table walk (five kinds of caller, real resources)', () => {
  it('refuses, allows, hides and audits exactly as the route table and the access policy say', async (t) => {
    const prefix = `w${randomBytes(3).toString('hex')}`;
    const result = await walkRoutes({ url: d.url, admin: TEAM_ADMIN, prefix });
    t.diagnostic(`${result.checks} calls, ${result.denials} refusals (each found in the audit log), ${ROUTE_LIST.length} routes × ${CALLER_KINDS.length} kinds of caller`);
    assert.deepEqual(result.problems, []);
    const health = await http(`${d.url}/api/health`);
    assert.equal(health.status, 200, 'the daemon is still healthy');
    assert.equal(d.child.exitCode, null);
  });
});
