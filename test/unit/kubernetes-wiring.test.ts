// What the daemon, the task model and the CLI do for the Kubernetes driver, without a cluster:
// the k8s id and its package, which resource fields k8s takes, the image handed to the driver,
// pinned host keys, and how sky check / sky show-gpus print Kubernetes contexts.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { decideFields, type CheckResult, type ShowGpusResult } from '@sky/protocol';
import { driverPackageName } from '../../core/daemon/src/plugins/block.js';
import { toResourceRequest } from '../../core/daemon/src/clusters/resources.js';
import { pinnedKeys } from '../../core/daemon/src/nodes/ssh-known-hosts.js';
import { checkInfra, checkLines, gpuInfra, gpuLines } from '../../cli/src/infra-format.js';

const ED25519 = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

describe('the k8s driver id', () => {
  it('drivers.k8s loads sky-driver-kubernetes; other ids keep sky-driver-<id>', () => {
    assert.equal(driverPackageName('k8s'), 'sky-driver-kubernetes');
    assert.equal(driverPackageName('ssh'), 'sky-driver-ssh');
    assert.equal(driverPackageName('@acme/sky-driver-x'), '@acme/sky-driver-x');
  });

  it('the CLI reads kubernetes as k8s and keeps a context name with : and / whole', () => {
    assert.deepEqual(checkInfra(['kubernetes', 'K8S/arn:aws:eks:us-east-1:1:cluster/gpu']), ['k8s', 'k8s/arn:aws:eks:us-east-1:1:cluster/gpu']);
    assert.equal(gpuInfra('Kubernetes/kind-dev'), 'k8s/kind-dev');
  });
});

describe('resource fields on k8s', () => {
  it('a docker image is the pod image; a machine image, an instance type, spot and zones are refused', () => {
    assert.deepEqual(decideFields({ image_id: 'docker:ubuntu:22.04' }, 'k8s'), { warnings: [], refusals: [] });
    const table: Array<[Parameters<typeof decideFields>[0], RegExp]> = [
      [{ image_id: 'ami-0abc' }, /needs a container image \(image_id: ami-0abc\); write image_id: docker:<image>/],
      [{ image_id: 'docker:' }, /needs a container image/],
      [{ image_id: { 'us-east-1': 'docker:x' } }, /one container image, not one per region/],
      [{ instance_type: 'p4d.24xlarge' }, /cannot pick an instance type/],
      [{ use_spot: true }, /no spot capacity/],
    ];
    for (const [fields, pattern] of table) {
      const { refusals } = decideFields(fields, 'k8s');
      assert.equal(refusals.length, 1, JSON.stringify(fields));
      assert.match(refusals[0]!, pattern);
    }
    assert.match(decideFields({ disk_tier: 'high' }, 'k8s').warnings[0]!, /disk_tier: has no meaning on the k8s driver/);
  });

  it('the driver gets the image without its docker: prefix, and none for other images', () => {
    assert.equal(toResourceRequest({ image_id: 'docker:nvcr.io/nvidia/pytorch:24.01-py3' }).image, 'nvcr.io/nvidia/pytorch:24.01-py3');
    assert.equal(toResourceRequest({ image_id: 'ami-1' }).image, undefined);
    assert.equal(toResourceRequest({}).image, undefined);
  });
});

describe('pinned host keys', () => {
  it('keeps key lines whose type matches the blob, drops everything else', () => {
    const keys = pinnedKeys([`ssh-ed25519 ${ED25519} pod-0`, `ssh-rsa ${ED25519}`, 'garbage', '', `ssh-ed25519 ${ED25519}`]);
    assert.equal(keys.length, 2);
    assert.ok(keys.every((k) => k.type === 'ssh-ed25519' && !k.revoked && k.blob.length === 51));
  });
});

const reachable = {
  name: 'dev',
  reachable: true,
  scope: 'team-a',
  missingPermissions: [],
  nodes: [
    { name: 'gpu-1', cpus: 16, memoryGb: 64, ready: true, gpus: [{ name: 'H100', total: 4, free: 3 }] },
    { name: 'cpu-1', cpus: 8, memoryGb: 32, ready: false, gpus: [] },
  ],
};

describe('sky check with Kubernetes contexts', () => {
  it('a usable context is enabled infra; an unreachable one and one missing permissions are not', () => {
    const result: CheckResult = {
      drivers: [
        {
          id: 'k8s',
          ok: false,
          infra: ['k8s/dev', 'k8s/prod'],
          targets: [
            { ...reachable, endpoint: 'https://10.0.0.1:6443' },
            { name: 'prod', reachable: true, scope: 'default', missingPermissions: ['create pods in namespace default'], nodes: [] },
            { name: 'old', reachable: false, error: 'connect ECONNREFUSED 127.0.0.1:1', missingPermissions: [], nodes: [] },
          ],
        },
      ],
    };
    const report = checkLines(result, ['k8s']);
    assert.equal(report.ok, false);
    assert.deepEqual(report.enabled, ['k8s/dev']);
    const text = report.lines.join('\n');
    assert.match(text, /^ {2}k8s: enabled \[k8s\/dev, k8s\/prod, k8s\/old\]$/m);
    assert.match(text, /├── dev: reachable \(namespace team-a\), 1 of 2 nodes ready/);
    assert.match(text, /server https:\/\/10\.0\.0\.1:6443/);
    assert.match(text, /node gpu-1: ready, 16 CPUs, 64 GB memory, GPUs: H100 3 of 4 free/);
    assert.match(text, /prod: reachable \(namespace default\), not usable/);
    assert.match(text, /missing permissions: create pods in namespace default/);
    assert.match(text, /└── old: unreachable\n.*reason: connect ECONNREFUSED/);
    assert.match(text, /Enabled infra: k8s\/dev$/);
  });

  it('no context usable: the driver is disabled', () => {
    const report = checkLines({ drivers: [{ id: 'k8s', ok: false, infra: [], targets: [{ name: 'x', reachable: false, missingPermissions: [], nodes: [] }] }] });
    assert.match(report.lines.join('\n'), /k8s: disabled \[k8s\/x\]/);
    assert.deepEqual(report.enabled, []);
  });
});

describe('sky show-gpus --infra k8s', () => {
  it('a row per context, node and GPU type, then totals; a node not ready has none free', () => {
    const result: ShowGpusResult = {
      hosts: [],
      targets: [
        { driver: 'k8s', ...reachable, nodes: [...reachable.nodes, { name: 'gpu-2', cpus: 8, memoryGb: 32, ready: false, gpus: [{ name: 'H100', total: 2, free: 2 }] }] },
        { driver: 'k8s', name: 'old', reachable: false, missingPermissions: [], nodes: [] },
      ],
    };
    const text = gpuLines(result).join('\n');
    assert.match(text, /^Kubernetes GPUs:\nCONTEXT +NODE +GPU +TOTAL +FREE$/m);
    assert.match(text, /^dev +gpu-1 +H100 +4 +3$/m);
    assert.match(text, /^dev +gpu-2 +H100 +2 +0$/m);
    assert.match(text, /^old +- +- +- +unreachable$/m);
    assert.match(text, /Total:\nGPU +TOTAL +FREE\nH100 +6 +3$/m);
  });

  it('contexts without GPUs say so', () => {
    assert.deepEqual(gpuLines({ hosts: [], targets: [{ driver: 'k8s', ...reachable, nodes: [reachable.nodes[1]!] }] }), ['Kubernetes GPUs:', 'No GPUs found on the nodes of k8s/dev.']);
  });
});
