import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStateStore, makeCluster, makeJob, makeManagedJob, makeRequest, makeService, makeWorkspace } from '@sky/plugin-api/testing';
import type { StoredEvent } from '@sky/plugin-api';
import type { ClusterRecord, JobRecord, ManagedJobRecord, RequestRecord, ServiceRecord } from '@sky/protocol';
import { DaemonConfigSchema } from '../../core/daemon/src/config/schema.js';
import { AccessPolicy } from '../../core/daemon/src/auth/policy.js';
import type { AuditLog } from '../../core/daemon/src/audit/audit-log.js';
import { EventView, type ClusterOwner, type ServiceOwner } from '../../core/daemon/src/events/event-view.js';

const alice = { id: 'u-alice', name: 'alice', role: 'user' as const };
const bob = { id: 'u-bob', name: 'bob', role: 'user' as const };
const root = { id: 'u-root', name: 'root', role: 'admin' as const };

async function fixture(): Promise<{
  view: (allUsers: boolean, who: typeof alice | typeof root) => Promise<EventView>;
  owners: Map<string, ClusterOwner>;
  serviceOwners: Map<string, ServiceOwner>;
}> {
  const store = new MemoryStateStore();
  await store.open();
  await store.workspaces.create(makeWorkspace('default'));
  await store.workspaces.create(makeWorkspace('lab', { private: true, allowedUsers: [alice.id] }));
  // The listing rules read no audit log: a refusal would, and none happens here.
  const policy = new AccessPolicy(DaemonConfigSchema.parse({ auth: { mode: 'basic' } }), store, {} as AuditLog);
  const owners = new Map<string, ClusterOwner>();
  const serviceOwners = new Map<string, ServiceOwner>();
  const showRequest = (viewer: { id: string }, record: RequestRecord): RequestRecord => (record.user === viewer.id ? record : { ...record, body: null });
  return {
    owners,
    serviceOwners,
    view: async (allUsers, who) => {
      const view = new EventView({ policy, clusterOwner: (name) => owners.get(name), serviceOwner: (name) => serviceOwners.get(name), showRequest }, allUsers);
      await view.refresh(who);
      return view;
    },
  };
}

let seq = 0;
const event = (change: StoredEvent['change']): StoredEvent => ({ seq: (seq += 1), at: seq, change });
const cluster = (name: string, owner: string, workspace: string): ClusterRecord =>
  ({ ...makeCluster({ name, owner, ownerName: owner, workspace, lastCommand: 'python secret.py' }), version: 1 }) as ClusterRecord;

describe('what one caller sees of the event stream', () => {
  it("leaves another user's things out without all_users, and private workspaces out with it", async () => {
    const { view, owners } = await fixture();
    const shared = cluster('shared', alice.id, 'default');
    const hidden = cluster('hidden', alice.id, 'lab');
    owners.set('shared', shared).set('hidden', hidden);
    const bobOwn = await view(false, bob);
    const bobAll = await view(true, bob);
    assert.equal(bobOwn.show(event({ kind: 'cluster', name: 'shared', record: shared })), undefined);
    const seen = bobAll.show(event({ kind: 'cluster', name: 'shared', record: shared }));
    assert.equal(seen?.key, 'shared');
    assert.equal((seen?.record as ClusterRecord).lastCommand, undefined, "another user's command line is left out");
    assert.equal(bobAll.show(event({ kind: 'cluster', name: 'hidden', record: hidden })), undefined);
    assert.equal(bobAll.show(event({ kind: 'cluster', name: 'hidden', record: undefined })), undefined, 'nor its deletion');
    const aliceOwn = await view(false, alice);
    assert.equal((aliceOwn.show(event({ kind: 'cluster', name: 'hidden', record: hidden }))?.record as ClusterRecord).lastCommand, 'python secret.py');
  });

  it('shows a deletion to whoever could list the cluster, from whose it was, though this daemon never knew it (a restart)', async () => {
    const { view } = await fixture();
    const deleted = { owner: alice.id, workspace: 'default' };
    const gone = event({ kind: 'cluster', name: 'before-restart', record: undefined, deleted });
    assert.equal((await view(false, alice)).show(gone)?.record, null, 'its owner hears of it');
    assert.equal((await view(true, bob)).show(gone)?.key, 'before-restart', 'so does anyone who lists every cluster');
    assert.equal((await view(false, bob)).show(gone), undefined, 'nobody else without all_users');
    const hidden = event({ kind: 'cluster', name: 'lab-gone', record: undefined, deleted: { owner: alice.id, workspace: 'lab' } });
    assert.equal((await view(true, bob)).show(hidden), undefined, "nor a private workspace's, to a non-member");
    const job = event({ kind: 'job', cluster: 'before-restart', id: 3, record: undefined, deleted });
    assert.equal((await view(false, alice)).show(job)?.key, 'before-restart/3');
    assert.equal((await view(false, bob)).show(job), undefined);
  });

  it('shows jobs as listJobs would: by cluster visibility, their user, and without others\' commands', async () => {
    const { view, owners } = await fixture();
    const shared = cluster('shared', alice.id, 'default');
    owners.set('shared', shared);
    const job = { ...makeJob(shared, { user: alice.id, userName: 'alice', command: 'python secret.py' }), id: 1 } as JobRecord;
    const bobAll = await view(true, bob);
    const shown = bobAll.show(event({ kind: 'job', cluster: 'shared', id: 1, record: job }));
    assert.equal(shown?.key, 'shared/1');
    assert.equal((shown?.record as JobRecord).command, undefined);
    assert.equal((await view(false, bob)).show(event({ kind: 'job', cluster: 'shared', id: 1, record: job })), undefined);
    assert.equal(bobAll.show(event({ kind: 'job', cluster: 'unknown', id: 1, record: { ...job, cluster: 'unknown' } })), undefined, 'a job of a cluster nobody knows is shown to nobody');
  });

  it("hides managed jobs and requests of a private workspace, and others' request bodies", async () => {
    const { view } = await fixture();
    const mj = { ...makeManagedJob({ user: alice.id, userName: 'alice', workspace: 'lab' }), id: 7, version: 1 } as ManagedJobRecord;
    const req = makeRequest({ user: alice.id, userName: 'alice', workspace: 'default', body: { task: { run: 'secret' } } });
    const labReq = makeRequest({ user: alice.id, userName: 'alice', workspace: 'lab' });
    const bobAll = await view(true, bob);
    assert.equal(bobAll.show(event({ kind: 'managedJob', id: 7, record: mj })), undefined);
    assert.equal(bobAll.show(event({ kind: 'request', id: labReq.id, record: labReq })), undefined);
    assert.equal((bobAll.show(event({ kind: 'request', id: req.id, record: req }))?.record as RequestRecord).body, null);
    assert.equal(bobAll.show(event({ kind: 'request', id: req.id, record: undefined })), undefined, 'a pruned request shows nothing');
    const admin = await view(true, root);
    assert.equal(admin.show(event({ kind: 'managedJob', id: 7, record: mj }))?.key, '7');
    assert.equal(admin.show(event({ kind: 'cluster', name: 'never-known', record: undefined }))?.record, null, 'an admin hears of a deletion of a cluster nobody knew');
  });
});

describe('services in the event stream', () => {
  const service = (name: string, user: string, workspace: string): ServiceRecord => ({ ...makeService({ name, user, userName: user, workspace, protected: true }), revision: 1 });

  it('shows a service to its owner and admins always, to others only with all_users and outside private workspaces they are not in', async () => {
    const { view } = await fixture();
    const open = service('open-svc', alice.id, 'default');
    const lab = service('lab-svc', alice.id, 'lab');
    for (const record of [open, lab]) {
      for (const allUsers of [false, true]) assert.deepEqual((await view(allUsers, alice)).show(event({ kind: 'service', name: record.name, record }))?.record, record, `owner, all_users ${allUsers}`);
      assert.deepEqual((await view(true, root)).show(event({ kind: 'service', name: record.name, record }))?.record, record, 'admin');
      assert.equal((await view(false, bob)).show(event({ kind: 'service', name: record.name, record })), undefined, 'another user without all_users');
    }
    const seen = (await view(true, bob)).show(event({ kind: 'service', name: 'open-svc', record: open }));
    assert.equal(seen?.kind, 'service');
    assert.equal(seen?.key, 'open-svc');
    assert.equal((await view(true, bob)).show(event({ kind: 'service', name: 'lab-svc', record: lab })), undefined, "a private workspace's service, to a non-member");
  });

  it('shows a deletion (null) by whose the service was, and one nobody knew only to admins with all_users', async () => {
    const { view, serviceOwners } = await fixture();
    serviceOwners.set('gone', { user: alice.id, workspace: 'default' }).set('lab-gone', { user: alice.id, workspace: 'lab' });
    const gone = event({ kind: 'service', name: 'gone', record: null });
    assert.equal((await view(false, alice)).show(gone)?.record, null);
    assert.equal((await view(true, bob)).show(gone)?.record, null);
    assert.equal((await view(false, bob)).show(gone), undefined);
    assert.equal((await view(true, bob)).show(event({ kind: 'service', name: 'lab-gone', record: null })), undefined);
    const unknown = event({ kind: 'service', name: 'never-known', record: null });
    assert.equal((await view(true, root)).show(unknown)?.record, null);
    assert.equal((await view(false, root)).show(unknown), undefined);
    assert.equal((await view(true, bob)).show(unknown), undefined);
  });

  it('never shows more than the record: no spec or token a store might have put beside it', async () => {
    const { view } = await fixture();
    const plain = service('svc', alice.id, 'default');
    const record = { ...plain, token: 'sky-svc-t0k3n', spec: { secrets: { K: 'v' } } } as ServiceRecord;
    const shown = (await view(true, root)).show(event({ kind: 'service', name: 'svc', record }));
    assert.ok(shown !== undefined);
    assert.ok(!JSON.stringify(shown).includes('t0k3n') && !JSON.stringify(shown).includes('secrets'), JSON.stringify(shown));
    assert.deepEqual(shown.record, plain);
  });
});

describe('events config', () => {
  it('defaults to 24 hours of retention and refuses values out of bounds', () => {
    assert.deepEqual(DaemonConfigSchema.parse({}).events, { retention_hours: 24, prune_interval_seconds: 300, max_streams_per_user: 32 });
    assert.equal(DaemonConfigSchema.parse({ events: { max_streams_per_user: 4 } }).events.max_streams_per_user, 4);
    const bad = [
      { retention_hours: 0 },
      { retention_hours: -1 },
      { retention_hours: 24 * 366 },
      { retention_hours: '24' },
      { prune_interval_seconds: 0 },
      { max_streams_per_user: 0 },
      { max_streams_per_user: 1.5 },
      { other: 1 },
    ];
    for (const events of bad) {
      assert.equal(DaemonConfigSchema.safeParse({ events }).success, false, JSON.stringify(events));
    }
  });
});
