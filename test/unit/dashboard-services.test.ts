import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REPLICA_GONE, REPLICA_STATUSES } from '@sky/protocol';
import {
  endpointHref,
  GONE_REPLICA_STATUSES,
  logChoiceValue,
  logQuery,
  mayTearDown,
  parseLogChoice,
  replicaCounts,
  replicaPolicyText,
  replicasText,
  serviceOfReplicaCluster,
  versionText,
} from '../../dashboard-static/src/logic/services.js';
import { applyChanges } from '../../dashboard-static/src/logic/changes.js';
import { hasShape, SERVICE_SHAPE } from '../../dashboard-static/src/logic/views.js';

const replicas = (...statuses: string[]) => statuses.map((status) => ({ status }));

describe('dashboard services: replicas, versions, policy', () => {
  it('counts READY replicas over those not gone, as sky serve status does', () => {
    assert.deepEqual(replicaCounts([]), { ready: 0, total: 0 });
    assert.deepEqual(replicaCounts(replicas('READY', 'READY', 'STARTING', 'NOT_READY', 'FAILED', 'PREEMPTED', 'FAILED_PROBING', 'SHUTTING_DOWN')), { ready: 2, total: 5 });
    assert.equal(replicasText(replicas('PROVISIONING', 'READY')), '1/2');
  });

  it('knows the same gone statuses as the protocol', () => {
    assert.deepEqual([...GONE_REPLICA_STATUSES].sort(), [...REPLICA_GONE].sort());
    for (const s of GONE_REPLICA_STATUSES) assert.ok((REPLICA_STATUSES as readonly string[]).includes(s), s);
  });

  it('shows the version, and the one still serving during an update', () => {
    assert.equal(versionText({ version: 1, activeVersion: 1 }), '1');
    assert.equal(versionText({ version: 3, activeVersion: 2 }), '3 (serving 2)');
    assert.equal(versionText({ version: 1, activeVersion: 0 }), '1');
  });

  it('describes fixed and autoscaled replica policies', () => {
    assert.equal(replicaPolicyText(undefined), '-');
    assert.equal(replicaPolicyText({ minReplicas: 2, maxReplicas: 2 }), '2');
    assert.equal(replicaPolicyText({ minReplicas: 1, maxReplicas: 4, targetQpsPerReplica: 5 }), '1-4, 5 QPS per replica');
    assert.equal(replicaPolicyText({ minReplicas: 1, maxReplicas: 3 }), '1-3');
  });
});

describe('dashboard services: links and rights', () => {
  it('links only http(s) endpoints', () => {
    assert.equal(endpointHref('http://10.0.0.5:30001'), 'http://10.0.0.5:30001/');
    assert.equal(endpointHref('https://svc.example.com/'), 'https://svc.example.com/');
    assert.equal(endpointHref(undefined), undefined);
    assert.equal(endpointHref(''), undefined);
    assert.equal(endpointHref('javascript:alert(1)'), undefined);
    assert.equal(endpointHref('10.0.0.5:30001'), undefined);
  });

  it('offers Down to the owner and to admins only', () => {
    const service = { user: 'u-alice' };
    assert.equal(mayTearDown(service, { id: 'u-alice', role: 'user' }), true);
    assert.equal(mayTearDown(service, { id: 'u-root', role: 'admin' }), true);
    assert.equal(mayTearDown(service, { id: 'u-bob', role: 'user' }), false);
    assert.equal(mayTearDown(service, undefined), false);
  });

  it("finds the service a replica cluster belongs to (<service>-<id>)", () => {
    const names = new Set(['web', 'web-api']);
    assert.equal(serviceOfReplicaCluster('web-3', names), 'web');
    assert.equal(serviceOfReplicaCluster('web-api-12', names), 'web-api');
    assert.equal(serviceOfReplicaCluster('web', names), undefined);
    assert.equal(serviceOfReplicaCluster('web-x', names), undefined);
    assert.equal(serviceOfReplicaCluster('other-1', names), undefined);
  });
});

describe('dashboard services: which log', () => {
  it('reads the ?log= choice, the controller by default', () => {
    assert.deepEqual(parseLogChoice(null), { kind: 'controller' });
    assert.deepEqual(parseLogChoice('nonsense'), { kind: 'controller' });
    assert.deepEqual(parseLogChoice('replica-0'), { kind: 'controller' });
    assert.deepEqual(parseLogChoice('load_balancer'), { kind: 'load_balancer' });
    assert.deepEqual(parseLogChoice('replica-7'), { kind: 'replica', id: 7 });
    for (const v of ['controller', 'load_balancer', 'replica-12']) assert.equal(logChoiceValue(parseLogChoice(v)), v);
  });

  it('asks the log route for exactly one log', () => {
    assert.deepEqual(logQuery({ kind: 'controller' }), { controller: true });
    assert.deepEqual(logQuery({ kind: 'load_balancer' }), { load_balancer: true });
    assert.deepEqual(logQuery({ kind: 'replica', id: 2 }), { replica_id: 2 });
  });
});

describe('dashboard services: change feed', () => {
  const record = (name: string, revision: number, status = 'READY') => ({ name, user: 'u', userName: 'alice', workspace: 'default', status, version: 1, replicas: [], createdAt: 1, revision });
  type Row = ReturnType<typeof record>;
  const rules = { kind: 'service' as const, accept: (_k: string, r: Record<string, unknown> | null) => hasShape(r, SERVICE_SHAPE), toRow: (r: Record<string, unknown>) => r as unknown as Row, rank: (s: Row) => s.revision };

  it('upserts by name, keeps the newer revision, deletes on null, ignores half records', () => {
    const rows = new Map<string, Row>([['web', record('web', 5)]]);
    let seq = 0;
    const ev = (key: string, r: Record<string, unknown> | null) => ({ seq: ++seq, at: 1, kind: 'service' as const, key, record: r });
    assert.equal(applyChanges(rows, [ev('web', record('web', 4, 'NO_REPLICA'))], rules), false);
    assert.equal(rows.get('web')?.status, 'READY');
    applyChanges(rows, [ev('web', record('web', 6, 'SHUTTING_DOWN')), ev('api', record('api', 1)), ev('bad', { name: 'bad' })], rules);
    assert.equal(rows.get('web')?.status, 'SHUTTING_DOWN');
    assert.deepEqual([...rows.keys()].sort(), ['api', 'web']);
    applyChanges(rows, [ev('web', null)], rules);
    assert.deepEqual([...rows.keys()], ['api']);
  });
});
