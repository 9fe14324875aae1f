import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { http, killAllDaemons, removeHome } from '../helpers/daemon-process.js';
import { EventReader, labelOf, type StreamedEvent } from '../helpers/event-stream.js';
import { asAdmin, asUser, runOperation, startTeamDaemon, type TeamDaemonHandle } from '../helpers/team.js';

interface Rec {
  id: string;
  status: string;
  user?: string;
  body?: unknown;
  result?: unknown;
}

const WS = 'ev-private';
let d: TeamDaemonHandle;
/** Alice's things: in the default workspace, and in a private one Bob is not in. */
const alice = { cluster: 'ev-alice', privateCluster: 'ev-alice-private', requests: [] as string[], managedJob: 0 };

const stream = (who: Record<string, string>, options: { query?: string; lastEventId?: string } = {}): Promise<EventReader> => EventReader.open(d.url, { headers: who, ...options });

/** Every change so far, from the start of the feed, as `who` sees it (backlog up to ready). */
async function backlog(who: Record<string, string>, allUsers: boolean): Promise<StreamedEvent[]> {
  const reader = await stream(who, { lastEventId: '0', ...(allUsers ? { query: 'all_users=true' } : {}) });
  try {
    await reader.waitFor((e) => e.event === 'ready', 'ready');
    return reader.changes;
  } finally {
    reader.close();
  }
}

async function must(who: Record<string, string>, name: string, body: unknown): Promise<Rec> {
  const rec = await runOperation<Rec>(d.url, name, body, who);
  assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec));
  return rec;
}

async function refusedWith(promise: Promise<EventReader>, status: number): Promise<string> {
  const err = (await promise.then(
    (r) => {
      r.close();
      return undefined;
    },
    (e: unknown) => e,
  )) as { status?: number; body?: string } | undefined;
  assert.equal(err?.status, status, `the stream was refused with ${status}`);
  return err?.body ?? '';
}

before(async () => {
  d = await startTeamDaemon(['alice', 'bob', 'carol']);
  const ws = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: WS, private: true, allowed_users: ['alice'] }) });
  assert.equal(ws.status, 201, ws.text);
  const secret = 'SECRET_ALICE_COMMAND_7731';
  alice.requests.push((await must(asUser('alice'), 'launch', { cluster: alice.cluster, task: { run: `echo ${secret}` } })).id);
  alice.requests.push((await must(asUser('alice', WS), 'launch', { cluster: alice.privateCluster, task: { run: 'true' } })).id);
  const mj = await must(asUser('alice'), 'jobs_launch', { tasks: [{ task: { run: 'true' } }] });
  alice.managedJob = (mj.result as { jobId: number }).jobId;
  alice.requests.push(mj.id);
});

after(async () => {
  if (d && d.child.exitCode === null) await runOperation(d.url, 'jobs_cancel', { all: true, all_users: true }, asAdmin()).catch(() => undefined);
  await d?.stop();
  await killAllDaemons();
  if (d) removeHome(d.home);
});

describe('event stream: who sees what', () => {
  it('refuses outsiders and wrong credentials with 401', async () => {
    assert.match(await refusedWith(EventReader.open(d.url, {}), 401), /UNAUTHENTICATED/);
    await refusedWith(stream({ authorization: `Basic ${Buffer.from('alice:wrong-password').toString('base64')}` }), 401);
    await refusedWith(stream({ authorization: 'Bearer sky_not_a_real_token_at_all_000000000000000000' }), 401);
  });

  it("shows Bob nothing of Alice's without all_users", async () => {
    const seen = await backlog(asUser('bob'), false);
    assert.deepEqual(seen.map(labelOf), [], 'Bob has done nothing yet, so his own stream is empty');
    const own = await backlog(asUser('alice'), false);
    const keys = new Set(own.map((e) => e.data.key));
    for (const key of [alice.cluster, alice.privateCluster, `${alice.cluster}/1`, String(alice.managedJob), ...alice.requests]) assert.ok(keys.has(key), `Alice sees her own ${key}`);
  });

  it("shows Bob with all_users what the -u listings show: no private workspace's things, no command lines, no request bodies of others", async () => {
    const seen = await backlog(asUser('bob'), true);
    const keys = new Set(seen.map((e) => e.data.key));
    assert.ok(keys.has(alice.cluster), 'a cluster in a shared workspace is in the -u view');
    assert.ok(!keys.has(alice.privateCluster), "a private workspace's cluster is not");
    assert.ok(!keys.has(`${alice.privateCluster}/1`), "nor its jobs");
    assert.ok(!keys.has(alice.requests[1]!), "nor the request that launched it");
    const listed = await http(`${d.url}/api/v1/clusters?all_users=true`, { headers: asUser('bob') });
    const listedNames = new Set((listed.json() as { items: Array<{ name: string }> }).items.map((c) => c.name));
    // A cluster torn down since (a managed job's, once its job ended) is in the backlog up to its deletion, and no longer listed.
    // The deletion may land between the backlog above and the listing, so deletions are read from a backlog taken after it.
    const later = await backlog(asUser('bob'), true);
    const gone = new Set(later.filter((x) => x.data.kind === 'cluster' && x.data.record === null).map((x) => x.data.key));
    for (const e of seen.filter((x) => x.data.kind === 'cluster')) {
      assert.ok(listedNames.has(e.data.key!) || gone.has(e.data.key), `every cluster event is of a listed cluster, or of one whose deletion followed (${e.data.key})`);
    }
    const text = JSON.stringify(seen);
    assert.ok(!text.includes('SECRET_ALICE_COMMAND_7731'), "Alice's command line reaches Bob through no event");
    for (const e of seen.filter((x) => x.data.kind === 'request')) {
      const record = e.data.record as Rec;
      assert.notEqual(record.user, undefined);
      if (record.user !== 'bob') {
        assert.equal(record.body, null, `the body of ${e.data.key} is hidden`);
        assert.equal(record.result, undefined, `the result of ${e.data.key} is hidden`);
      }
    }
    for (const e of seen.filter((x) => x.data.kind === 'job')) assert.equal((e.data.record as { command?: string } | null)?.command, undefined, `the command of job ${e.data.key} is hidden`);
    // Alice herself sees her command line and her request bodies.
    const hers = await backlog(asUser('alice'), false);
    assert.ok(JSON.stringify(hers).includes('SECRET_ALICE_COMMAND_7731'));
    assert.ok(hers.filter((e) => e.data.kind === 'request').every((e) => (e.data.record as Rec).body !== null));
  });

  it("streams Bob none of Alice's private changes live, while he sees the shared ones", async () => {
    const bob = await stream(asUser('bob'), { query: 'all_users=true' });
    const carolStream = await stream(asUser('carol'));
    try {
      await bob.waitFor((e) => e.event === 'ready', 'ready');
      await carolStream.waitFor((e) => e.event === 'ready', 'ready');
      await must(asUser('alice', WS), 'exec', { cluster: alice.privateCluster, task: { run: 'true' } });
      const shared = await must(asUser('alice'), 'exec', { cluster: alice.cluster, task: { run: 'echo SECRET_ALICE_COMMAND_7731' } });
      await bob.waitFor((e) => e.data.key === shared.id && (e.data.record as Rec).status === 'SUCCEEDED', "Alice's shared exec");
      assert.ok(!bob.changes.some((e) => e.data.key?.startsWith(`${alice.privateCluster}`)), `nothing of the private cluster: ${bob.summary()}`);
      assert.ok(!bob.raw.includes('SECRET_ALICE_COMMAND_7731'));
      assert.ok(!bob.raw.includes(WS), 'not even the private workspace name');
      assert.deepEqual(carolStream.changes, [], "Carol's own stream stays empty");
    } finally {
      bob.close();
      carolStream.close();
    }
  });
});

describe('event stream: one user cannot hold unbounded streams', () => {
  it('refuses the stream past events.max_streams_per_user (503 TOO_MANY_CONNECTIONS), for that user only, until one closes', async () => {
    const max = 32; // the default
    const open: EventReader[] = [];
    try {
      for (let i = 0; i < max; i += 1) {
        const reader = await stream(asUser('carol'));
        await reader.waitFor((e) => e.event === 'ready', 'ready');
        open.push(reader);
      }
      const body = await refusedWith(stream(asUser('carol')), 503);
      assert.match(body, /TOO_MANY_CONNECTIONS/);
      assert.match(body, /32 event streams open/);
      // Another user is not held back by Carol's streams.
      const bobs = await stream(asUser('bob'));
      await bobs.waitFor((e) => e.event === 'ready', 'ready');
      bobs.close();
      // Once one of hers closes, she may open one again (the daemon notices the close).
      open.pop()!.close();
      const deadline = Date.now() + 10_000;
      for (;;) {
        const again = await stream(asUser('carol')).catch((e: unknown) => e as { status?: number });
        if (again instanceof EventReader) {
          open.push(again);
          break;
        }
        assert.equal(again.status, 503, 'only the cap refuses it');
        if (Date.now() > deadline) assert.fail('the closed stream\'s slot was never given back');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      for (const reader of open) reader.close();
    }
  });
});

describe('event stream: a member removed from a private workspace', () => {
  it("stops receiving the workspace's changes on a stream that stays open", async () => {
    const team = 'ev-team';
    const made = await http(`${d.url}/api/v1/workspaces`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: team, private: true, allowed_users: ['alice', 'carol'] }) });
    assert.equal(made.status, 201, made.text);
    const carol = await stream(asUser('carol'), { query: 'all_users=true' });
    try {
      await carol.waitFor((e) => e.event === 'ready', 'ready');
      /** One round: a ping of Alice's in the team workspace, then one in default as a marker; whether Carol got the first. */
      const round = async (): Promise<boolean> => {
        const inTeam = await must(asUser('alice', team), 'ping', {});
        const marker = await must(asUser('alice'), 'ping', {});
        await carol.waitFor((e) => e.data.key === marker.id && (e.data.record as Rec).status === 'SUCCEEDED', 'the marker ping');
        return carol.changes.some((e) => e.data.key === inTeam.id);
      };
      assert.equal(await round(), true, 'a member sees the private workspace with all_users');
      const update = await http(`${d.url}/api/v1/workspaces/${team}`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ allowed_users: ['alice'] }) });
      assert.equal(update.status, 200, update.text);
      // The open stream takes the change at its next check: rounds until one is left out, then none may get through.
      const deadline = Date.now() + 30_000;
      while (await round()) {
        assert.ok(Date.now() < deadline, 'the removed member kept receiving the workspace');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      for (let i = 0; i < 3; i++) assert.equal(await round(), false, 'once left out, the workspace stays out');
    } finally {
      carol.close();
    }
  });
});

describe('event stream: credentials that end', () => {
  it("ends a revoked token's stream", async () => {
    const created = await http(`${d.url}/api/v1/tokens`, { method: 'POST', headers: asUser('carol'), body: JSON.stringify({ name: 'events' }) });
    assert.equal(created.status, 201, created.text);
    const { token, record } = created.json() as { token: string; record: { id: string } };
    const bearer = { authorization: `Bearer ${token}` };
    const reader = await stream(bearer);
    try {
      await reader.waitFor((e) => e.event === 'ready', 'ready');
      const revoked = await http(`${d.url}/api/v1/tokens/${record.id}/revoke`, { method: 'POST', headers: asUser('carol') });
      assert.equal(revoked.status, 200, revoked.text);
      await reader.waitEnd(20_000);
      await must(asUser('carol'), 'ping', {});
      assert.deepEqual(reader.changes, [], 'nothing came after the revocation');
      await refusedWith(stream(bearer), 401);
    } finally {
      reader.close();
    }
  });

  it("ends a deleted user's stream", async () => {
    const created = await http(`${d.url}/api/v1/users`, { method: 'POST', headers: asAdmin(), body: JSON.stringify({ name: 'dora', password: 'dora-password' }) });
    assert.equal(created.status, 201, created.text);
    const reader = await stream(asUser('dora'), { query: 'all_users=true' });
    try {
      await reader.waitFor((e) => e.event === 'ready', 'ready');
      const gone = await http(`${d.url}/api/v1/users/dora`, { method: 'DELETE', headers: asAdmin() });
      assert.equal(gone.status, 200, gone.text);
      await reader.waitEnd(20_000);
      await refusedWith(stream(asUser('dora')), 401);
    } finally {
      reader.close();
    }
  });
});
