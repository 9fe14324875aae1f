// sky-driver-kubernetes: pod → node status, pod conditions while provisioning → SkyError
// (NO_CAPACITY, image pulls, ended pods), API failures → SkyError, node capacity and feasibility.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { SkyError } from '@sky/protocol/wire';
import { apiError, capacityOf, infeasibility, nodeStatus, nodeViews, podProgress, requiredPermissions, targetNode } from 'sky-driver-kubernetes';

function pod(status: V1Pod['status'], extra: Partial<V1Pod> = {}): V1Pod {
  return { metadata: { name: 'p-0' }, spec: { containers: [{ name: 'sky', image: 'img:1' }] }, status, ...extra };
}

describe('pod → node status', () => {
  const table: Array<[string, V1Pod | undefined, string, RegExp | undefined]> = [
    ['gone', undefined, 'TERMINATED', /pod deleted/],
    ['running', pod({ phase: 'Running', podIP: '10.0.0.5' }), 'UP', undefined],
    ['running and ready', pod({ phase: 'Running', podIP: '10.0.0.5', conditions: [{ type: 'Ready', status: 'True' }] }), 'UP', undefined],
    ['running not ready', pod({ phase: 'Running', podIP: '10.0.0.5', conditions: [{ type: 'Ready', status: 'False', message: 'sshd down' }] }), 'UNREACHABLE', /not ready: sshd down/],
    ['pending', pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] }), 'UNREACHABLE', /pending: 0\/1 nodes/],
    ['evicted', pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }), 'TERMINATED', /^evicted: The node was low on resource: memory\.$/],
    [
      'failed container',
      pod({ phase: 'Failed', containerStatuses: [{ name: 'sky', image: 'i', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] }),
      'TERMINATED',
      /container sky OOMKilled \(exit code 137\)/,
    ],
    ['succeeded', pod({ phase: 'Succeeded' }), 'TERMINATED', /exited/],
    ['ip changed', pod({ phase: 'Running', podIP: '10.0.0.9' }), 'TERMINATED', /pod IP changed from 10\.0\.0\.5 to 10\.0\.0\.9/],
    ['being deleted', pod({ phase: 'Running', podIP: '10.0.0.5' }, { metadata: { name: 'p-0', deletionTimestamp: new Date() } }), 'TERMINATED', /being deleted/],
  ];
  for (const [name, p, status, reason] of table) {
    it(name, () => {
      const r = nodeStatus('ctx/ns/p-0', p, '10.0.0.5');
      assert.equal(r.nodeId, 'ctx/ns/p-0');
      assert.equal(r.status, status);
      if (reason === undefined) assert.equal(r.reason, undefined);
      else assert.match(r.reason ?? '', reason);
    });
  }
});

describe('pod conditions while provisioning', () => {
  const unschedulable = pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient cpu.' }] });

  it('waits on an unschedulable pod until the timeout, then NO_CAPACITY with the scheduler message and context', () => {
    const early = podProgress(unschedulable, 'prod', 1000, 5000);
    assert.equal(early.kind, 'waiting');
    const late = podProgress(unschedulable, 'prod', 5000, 5000);
    assert.equal(late.kind, 'failed');
    if (late.kind !== 'failed') return;
    assert.equal(late.error.code, 'NO_CAPACITY');
    assert.match(late.error.message, /context prod/);
    assert.match(late.error.message, /2 Insufficient cpu/);
  });

  for (const reason of ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName']) {
    it(`${reason} → DRIVER_FAILED naming the image`, () => {
      const p = pod({
        phase: 'Pending',
        containerStatuses: [{ name: 'sky', image: 'no/such:img', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message: 'not found' } } }],
      });
      const r = podProgress(p, 'prod', 0, 5000);
      assert.equal(r.kind, 'failed');
      if (r.kind !== 'failed') return;
      assert.equal(r.error.code, 'DRIVER_FAILED');
      assert.match(r.error.message, /cannot pull image no\/such:img/);
      assert.match(r.error.message, new RegExp(reason));
    });
  }

  it('a pod that ended while provisioning is DRIVER_FAILED', () => {
    const r = podProgress(pod({ phase: 'Failed', reason: 'Evicted', message: 'gone' }), 'prod', 0, 5000);
    assert.ok(r.kind === 'failed' && r.error.code === 'DRIVER_FAILED' && /evicted: gone/.test(r.error.message));
  });

  it('Running with an IP is ready; without, waiting', () => {
    assert.deepEqual(podProgress(pod({ phase: 'Running', podIP: '10.1.2.3' }), 'c', 0, 1), { kind: 'ready', podIP: '10.1.2.3' });
    assert.equal(podProgress(pod({ phase: 'Running' }), 'c', 0, 1).kind, 'waiting');
  });
});

describe('API failures', () => {
  const exception = (code: number, body: unknown): Error => Object.assign(new Error(`HTTP-Code: ${code}`), { code, body });

  it('Forbidden names verb, resource, namespace, context and the RBAC fix', () => {
    const e = apiError(exception(403, JSON.stringify({ kind: 'Status', message: 'pods is forbidden: User "bob" cannot create resource "pods"', reason: 'Forbidden' })), {
      verb: 'create',
      resource: 'pods',
      namespace: 'team',
      context: 'prod',
    });
    assert.ok(e instanceof SkyError);
    assert.equal(e.code, 'DRIVER_FAILED');
    assert.match(e.message, /may not create pods in namespace team of Kubernetes context prod: pods is forbidden/);
    assert.match(e.hint ?? '', /Role and RoleBinding in namespace team/);
  });

  it('an unreachable server names the context and the server', () => {
    const e = apiError(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6443') }), { verb: 'list', resource: 'pods', context: 'prod', server: 'https://127.0.0.1:6443' });
    assert.match(e.message, /cannot reach the Kubernetes API server of context prod \(https:\/\/127\.0\.0\.1:6443\).*ECONNREFUSED/);
  });

  it('other refusals carry the API message', () => {
    const e = apiError(exception(422, { message: 'Pod "x" is invalid', reason: 'Invalid' }), { verb: 'create', resource: 'pods', namespace: 'n', context: 'c' });
    assert.match(e.message, /HTTP 422 Invalid\): Pod "x" is invalid/);
  });

  it('needs the documented permissions, port-forward only with that reach', () => {
    const perms = requiredPermissions('pod-ip').map((p) => `${p.verb} ${p.resource}${p.subresource === undefined ? '' : `/${p.subresource}`}`);
    for (const p of ['create pods', 'watch pods', 'delete configmaps', 'create secrets', 'create services', 'list nodes']) assert.ok(perms.includes(p), p);
    assert.ok(!perms.includes('create pods/portforward'));
    assert.ok(requiredPermissions('port-forward').some((p) => p.subresource === 'portforward'));
  });
});

describe('nodes, capacity and feasibility', () => {
  const node = (name: string, cpu: string, mem: string, gpus?: string, gpuLabel?: Record<string, string>): V1Node => ({
    metadata: { name, labels: gpuLabel ?? {} },
    status: { allocatable: { cpu, memory: mem, ...(gpus === undefined ? {} : { 'nvidia.com/gpu': gpus }) }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  const nodes = [node('cpu-1', '8', '32Gi'), node('gpu-1', '16', '64Gi', '4', { 'nvidia.com/gpu.product': 'H100' })];
  const pods: V1Pod[] = [
    { spec: { nodeName: 'gpu-1', containers: [{ name: 'a', resources: { requests: { cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' } } }] }, status: { phase: 'Running' } },
    { spec: { nodeName: 'cpu-1', containers: [{ name: 'b', resources: { requests: { cpu: '500m' } } }] }, status: { phase: 'Succeeded' } },
  ];
  const views = nodeViews(nodes, pods, ['nvidia.com/gpu.product', 'skypilot.co/accelerator']);

  it('computes free capacity from allocatable minus non-terminated requests', () => {
    const { total, free } = capacityOf(views);
    assert.deepEqual(total, { cpus: 24, memoryGb: 96, accelerators: [{ name: 'H100', count: 4 }] });
    assert.deepEqual(free, { cpus: 22, memoryGb: 88, accelerators: [{ name: 'H100', count: 3 }] });
    assert.deepEqual(targetNode(views[1] as (typeof views)[number]).gpus, [{ name: 'H100', total: 4, free: 3 }]);
  });

  it('says why no node could ever hold a request', () => {
    assert.deepEqual(infeasibility(views, { numNodes: 2, resources: { cpus: { min: 4, orMore: false } } }, 'c'), []);
    assert.match(infeasibility(views, { numNodes: 1, resources: { cpus: { min: 64, orMore: false } } }, 'c').join(), /64 CPUs per node requested; the largest node of context c has 16/);
    assert.match(infeasibility(views, { numNodes: 1, resources: { accelerators: [{ name: 'A100', count: 1 }] } }, 'c').join(), /no node of context c has A100:1 \(its nodes have H100:4\)/);
    assert.match(infeasibility(views, { numNodes: 1, resources: { accelerators: [{ name: 'h100', count: 8 }] } }, 'c').join(), /H100:4/);
    assert.deepEqual(infeasibility(views, { numNodes: 1, resources: { accelerators: [{ name: 'h100', count: 4 }] } }, 'c'), []);
  });
});
