import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicaStatus, ServiceRecord, ServiceReplica } from '@sky/protocol';
import { planService } from '../../core/daemon/src/serve/service-plan.js';
import { Autoscaler } from '../../core/daemon/src/serve/autoscaler.js';

function replica(id: number, version: number, status: ReplicaStatus): ServiceReplica {
  return { id, version, status, cluster: `svc-${id}`, launchedAt: 0, failedProbes: 0, endpoint: `http://127.0.0.1:${9000 + id}` };
}

function service(over: Partial<ServiceRecord>): ServiceRecord {
  return {
    name: 'svc',
    user: 'u',
    userName: 'alice',
    workspace: 'default',
    status: 'REPLICA_INIT',
    version: 1,
    activeVersion: 0,
    updateMode: 'rolling',
    protected: false,
    replicaPolicy: { minReplicas: 2, maxReplicas: 2, upscaleDelaySeconds: 0, downscaleDelaySeconds: 0 },
    targetReplicas: 2,
    replicas: [],
    nextReplicaId: 1,
    createdAt: 0,
    updatedAt: 0,
    requestId: 'r',
    revision: 1,
    ...over,
  };
}

describe('service plan', () => {
  it('launches up to the target, and counts failed and leaving replicas as gone', () => {
    assert.equal(planService(service({})).launch, 2);
    const plan = planService(service({ replicas: [replica(1, 1, 'READY'), replica(2, 1, 'FAILED_PROBING'), replica(3, 1, 'SHUTTING_DOWN')] }));
    assert.equal(plan.launch, 1);
    assert.deepEqual(plan.pool.map((r) => r.id), [1]);
    assert.equal(plan.status, 'READY');
  });

  it('scales down the replicas not READY first, then the newest', () => {
    const plan = planService(service({ targetReplicas: 1, replicas: [replica(1, 1, 'READY'), replica(2, 1, 'READY'), replica(3, 1, 'STARTING')] }));
    assert.deepEqual(plan.shutdown, [3, 2]);
    assert.deepEqual(plan.pool.map((r) => r.id), [1]);
  });

  it('rolling: an old READY replica goes only when a new one is READY in its place', () => {
    const start = service({ version: 2, activeVersion: 1, replicas: [replica(1, 1, 'READY'), replica(2, 1, 'READY')] });
    let plan = planService(start);
    assert.equal(plan.launch, 2);
    assert.deepEqual(plan.shutdown, []);
    plan = planService({ ...start, replicas: [...start.replicas, replica(3, 2, 'READY'), replica(4, 2, 'STARTING')] });
    assert.deepEqual(plan.shutdown, [1], 'one new READY: the oldest old one goes');
    assert.equal(plan.pool.length, 2, 'two READY replicas serve throughout');
    assert.equal(plan.activeVersion, 1);
    plan = planService({ ...start, replicas: [replica(1, 1, 'READY'), replica(3, 2, 'READY'), replica(4, 2, 'READY')] });
    assert.deepEqual(plan.shutdown, [1]);
    assert.equal(plan.activeVersion, 2);
  });

  it('rolling: old replicas that are not READY go at once', () => {
    const plan = planService(service({ version: 2, replicas: [replica(1, 1, 'STARTING'), replica(2, 1, 'NOT_READY')] }));
    assert.deepEqual(plan.shutdown.sort(), [1, 2]);
  });

  it('blue-green: the old version keeps all traffic until every new replica is READY, then the switch is at once', () => {
    const base = service({ version: 2, activeVersion: 1, updateMode: 'blue_green' });
    let plan = planService({ ...base, replicas: [replica(1, 1, 'READY'), replica(2, 1, 'READY'), replica(3, 2, 'READY'), replica(4, 2, 'STARTING')] });
    assert.deepEqual(plan.shutdown, []);
    assert.deepEqual(plan.pool.map((r) => r.id), [1, 2], 'only the old version serves');
    assert.equal(plan.activeVersion, 1);
    plan = planService({ ...base, replicas: [replica(1, 1, 'READY'), replica(2, 1, 'READY'), replica(3, 2, 'READY'), replica(4, 2, 'READY')] });
    assert.deepEqual(plan.shutdown, [1, 2]);
    assert.deepEqual(plan.pool.map((r) => r.id), [3, 4]);
    assert.equal(plan.activeVersion, 2);
  });

  it('a FAILED or departing service launches nothing; no replica wanted is NO_REPLICA', () => {
    assert.equal(planService(service({ status: 'FAILED' })).launch, 0);
    assert.equal(planService(service({ status: 'SHUTTING_DOWN' })).launch, 0);
    assert.equal(planService(service({ targetReplicas: 0 })).status, 'NO_REPLICA');
  });
});

describe('QPS autoscaler', () => {
  const policy = { minReplicas: 1, maxReplicas: 4, targetQpsPerReplica: 10, upscaleDelaySeconds: 5, downscaleDelaySeconds: 20 };

  it('scales up only after the wish held for the upscale delay, bounded by max', () => {
    const a = new Autoscaler();
    assert.equal(a.decide(policy, 1, 35, 0), 1);
    assert.equal(a.decide(policy, 1, 35, 4_000), 1);
    assert.equal(a.decide(policy, 1, 35, 5_000), 4);
    assert.equal(new Autoscaler().decide({ ...policy, upscaleDelaySeconds: 0 }, 1, 1000, 0), 4);
  });

  it('a lull shorter than the downscale delay changes nothing; a break in the wish restarts the wait', () => {
    const a = new Autoscaler();
    assert.equal(a.decide(policy, 3, 0, 0), 3);
    assert.equal(a.decide(policy, 3, 0, 15_000), 3);
    assert.equal(a.decide(policy, 3, 30, 16_000), 3, 'the load came back');
    assert.equal(a.decide(policy, 3, 0, 17_000), 3);
    assert.equal(a.decide(policy, 3, 0, 36_000), 3);
    assert.equal(a.decide(policy, 3, 0, 37_000), 1);
  });

  it('a fixed count ignores the load', () => {
    assert.equal(new Autoscaler().decide({ minReplicas: 2, maxReplicas: 2, upscaleDelaySeconds: 0, downscaleDelaySeconds: 0 }, 2, 500, 0), 2);
  });
});
