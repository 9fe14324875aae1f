import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IDEMPOTENCY_KEY_HEADER } from '@sky/protocol';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { basicAuth, errorOf, startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Finding (low): an Idempotency-Key reused with another body returned the first request.

let d: DaemonHandle;
let alice: Account;
let bob: Account;

before(async () => {
  d = await startTeamDaemon([]);
  const api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('ik-alice');
  bob = await api.createUser('ik-bob');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

function submit(who: Account, op: string, body: unknown, key: string): Promise<{ status: number; text: string }> {
  return http(`${d.url}/api/v1/${op}`, { method: 'POST', headers: { ...basicAuth(who.name, who.password), [IDEMPOTENCY_KEY_HEADER]: key }, body: JSON.stringify(body) });
}

describe('idempotency keys', () => {
  it('a retry with the same body gets the first request; the key with another body or operation is 409 IDEMPOTENCY_CONFLICT', async () => {
    const first = await submit(alice, 'ping', { sleep: 0, fail: 'x' }, 'retry-1');
    assert.equal(first.status, 202, first.text);
    const id = (JSON.parse(first.text) as { requestId: string }).requestId;
    const retry = await submit(alice, 'ping', { fail: 'x', sleep: 0 }, 'retry-1');
    const again = JSON.parse(retry.text) as { requestId: string; status: string; created: boolean; error?: { code: string } };
    assert.deepEqual({ requestId: again.requestId, created: again.created }, { requestId: id, created: false });
    // An answer for a request already over carries its outcome (the owner's own, the same key is per user).
    if (again.status === 'FAILED') assert.equal(again.error?.code, 'OPERATION_FAILED');
    else assert.equal(again.error, undefined);
    const other = await submit(alice, 'ping', { sleep: 1 }, 'retry-1');
    assert.equal(other.status, 409, other.text);
    assert.equal(errorOf(other.text).code, 'IDEMPOTENCY_CONFLICT');
    assert.ok(!other.text.includes('"fail"'), 'the first body is not echoed');
    const otherOp = await submit(alice, 'check', {}, 'retry-1');
    assert.equal(otherOp.status, 409, otherOp.text);
  });

  it("keys are per user: another user's key never returns their request", async () => {
    const mine = await submit(alice, 'ping', {}, 'shared-key');
    const theirs = await submit(bob, 'ping', {}, 'shared-key');
    assert.equal(theirs.status, 202, theirs.text);
    assert.notEqual((JSON.parse(theirs.text) as { requestId: string }).requestId, (JSON.parse(mine.text) as { requestId: string }).requestId);
    assert.equal((JSON.parse(theirs.text) as { created: boolean }).created, true);
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
  });
});
