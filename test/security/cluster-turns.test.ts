import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, killAllDaemons, removeHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { startTeamDaemon, TEAM_ADMIN } from '../helpers/team.js';
import { TeamClient, type Account } from '../helpers/authz-client.js';

// Requests on one cluster take turns inside the daemon. A hostile member floods another's
// cluster with stop, start, down, launch, autostop and job cancels while its owner runs a burst
// of execs: every one of the intruder's requests must be refused (and audited) without waiting
// for a turn, none may change the cluster, and the owner's execs must all end with their jobs.

let d: DaemonHandle;
let api: TeamClient;
let alice: Account;
let bob: Account;

before(async () => {
  d = await startTeamDaemon([]);
  api = new TeamClient(d.url, TEAM_ADMIN);
  alice = await api.createUser('ct-alice');
  bob = await api.createUser('ct-bob');
});

after(async () => {
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

interface Rec {
  id: string;
  name: string;
  status: string;
  result?: { jobId?: number };
  error?: { code: string; message: string };
}

/** Every request of `who` by id, once none of `ids` is PENDING or RUNNING any more. */
async function ended(who: Account, ids: readonly string[]): Promise<Map<string, Rec>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const page = await api.json<{ items: Rec[] }>(who, '/api/v1/requests?limit=1000');
    assert.equal(page.status, 200, page.text);
    const byId = new Map(page.body.items.map((r) => [r.id, r]));
    const open = ids.filter((id) => !byId.has(id) || ['PENDING', 'RUNNING'].includes(byId.get(id)!.status));
    if (open.length === 0) return byId;
    if (Date.now() > deadline) throw new Error(`${open.length} requests of ${who.name} have not ended`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('turns on a cluster', () => {
  it("another member's flood of operations on a cluster is refused and audited, changes nothing, and the owner's execs all queue their jobs", { timeout: 120_000 }, async () => {
    await api.must(alice, 'launch', { cluster: 'ct-c', task: { run: 'true' } });
    const since = Date.now() - 5;
    const hostile: Array<[string, unknown]> = [
      ['stop', { cluster: 'ct-c' }],
      ['start', { cluster: 'ct-c' }],
      ['down', { cluster: 'ct-c' }],
      ['launch', { cluster: 'ct-c', task: { run: 'true' } }],
      ['autostop', { cluster: 'ct-c', idle_minutes: 1, down: true }],
      ['cancel', { cluster: 'ct-c', job_ids: [1] }],
    ];
    const mine: string[] = [];
    const theirs: string[] = [];
    const refusedAtSubmit: string[] = [];
    const execs = (async () => {
      for (let i = 0; i < 200; i++) {
        const res = await api.json<{ requestId: string }>(alice, '/api/v1/exec', { method: 'POST', body: { cluster: 'ct-c', task: { run: 'true' } } });
        assert.equal(res.status, 202, res.text);
        mine.push(res.body.requestId);
      }
    })();
    const flood = (async () => {
      for (let i = 0; i < 120; i++) {
        const [op, body] = hostile[i % hostile.length]!;
        const res = await api.json<{ requestId: string }>(bob, `/api/v1/${op}`, { method: 'POST', body });
        if (res.status === 202) theirs.push(res.body.requestId);
        else {
          assert.equal(res.status, 403, `${op}: ${res.text}`);
          refusedAtSubmit.push(op);
        }
      }
    })();
    await Promise.all([execs, flood]);

    const own = await ended(alice, mine);
    const jobIds = mine.map((id) => {
      const r = own.get(id)!;
      assert.equal(r.status, 'SUCCEEDED', `alice's exec ${id}: ${JSON.stringify(r.error)}`);
      return r.result!.jobId!;
    });
    assert.equal(new Set(jobIds).size, 200, 'each exec has a job of its own');

    const intruder = await ended(bob, theirs);
    const outcomes = theirs.map((id) => intruder.get(id)!);
    const wrong = outcomes.filter((r) => r.status !== 'FAILED' || !['FORBIDDEN', 'CLUSTER_NAME_TAKEN'].includes(r.error?.code ?? ''));
    assert.deepEqual(wrong.map((r) => `${r.name}: ${r.status} ${r.error?.code}`), [], "an intruder's request was not refused");
    const forbidden = outcomes.filter((r) => r.error?.code === 'FORBIDDEN').length + refusedAtSubmit.length;
    const denied = (await api.auditOf(bob.name, since)).filter((e) => e.result === 'DENIED');
    assert.ok(denied.length >= forbidden, `${forbidden} refusals, ${denied.length} audited`);

    const cluster = await api.json<{ status: string; owner: string; autostop?: unknown }>(alice, '/api/v1/clusters/ct-c');
    assert.equal(cluster.body.status, 'UP');
    assert.equal(cluster.body.autostop, undefined, 'autostop was not set by the intruder');
    const jobs = await api.json<{ items: Array<{ id: number; status: string }> }>(alice, '/api/v1/clusters/ct-c/jobs');
    assert.notEqual(jobs.body.items.find((j) => j.id === 1)?.status, 'CANCELLED', "the intruder did not cancel alice's job");
  });

  it('is still healthy', async () => {
    assert.equal((await http(`${d.url}/api/health`)).status, 200);
    assert.equal(d.child.exitCode, null);
  });
});
