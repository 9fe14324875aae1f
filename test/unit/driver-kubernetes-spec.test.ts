// sky-driver-kubernetes: names (DNS-1123 ≤ 63, fuzzed), the objects of a cluster (owner ConfigMap,
// per-pod Secret, pod spec per the harness contract, ports Service), quantities.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import {
  clusterBaseName,
  ed25519,
  keyWithoutComment,
  cpuQuantity,
  labelValue,
  memoryQuantity,
  nodePod,
  ownerConfigMap,
  ownerReference,
  parseQuantity,
  podName,
  podSecret,
  portsService,
  secretName,
  validateKubeConfig,
  type ClusterIdentity,
  type KubeDriverConfig,
} from 'sky-driver-kubernetes';
import ssh2 from 'ssh2';
import { Rng } from '../helpers/fuzz.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function config(raw: unknown = {}): KubeDriverConfig {
  const r = validateKubeConfig(raw, { home: '/h', env: {}, exists: () => false });
  if (r.issues !== undefined) throw new Error(r.issues.map((i) => i.message).join('; '));
  return r.value;
}

const id: ClusterIdentity = {
  clusterId: 'c-7f3a',
  clusterName: 'My Cluster!',
  owner: 'u-1',
  ownerName: 'alice',
  workspace: 'ml team',
  base: clusterBaseName('My Cluster!', 'c-7f3a'),
  namespace: 'team',
};
const ref = ownerReference({ name: id.base, uid: 'uid-1' });

describe('names', () => {
  it('makes readable, hashed base names', () => {
    assert.match(id.base, /^sky-my-cluster-[0-9a-f]{8}$/);
    assert.notEqual(clusterBaseName('x', 'id-1'), clusterBaseName('x', 'id-2'));
    assert.match(clusterBaseName('---', 'id'), /^sky-[0-9a-f]{8}$/);
  });

  it('keeps every generated name a DNS-1123 label of at most 63 characters (fuzz)', () => {
    const rng = new Rng(1312);
    const alphabet = 'abcXYZ019-_.!/ é漢\u0000';
    for (let i = 0; i < 2000; i++) {
      const len = rng.int(0, 120);
      let name = '';
      for (let j = 0; j < len; j++) name += alphabet[rng.int(0, alphabet.length - 1)] ?? 'a';
      const base = clusterBaseName(name, `id-${i}`);
      for (const n of [base, podName(base, 999), secretName(base, 999)]) {
        assert.ok(n.length <= 63 && DNS_LABEL.test(n), `${JSON.stringify(name)} → ${n}`);
      }
      const v = labelValue(name);
      assert.ok(v.length <= 63 && LABEL_VALUE.test(v), `label value ${JSON.stringify(name)} → ${v}`);
    }
  });

  it('keeps valid label values as they are', () => {
    assert.equal(labelValue('u-1'), 'u-1');
    assert.equal(labelValue(''), '');
    assert.match(labelValue('ml team'), /^ml-team-[0-9a-f]{8}$/);
  });
});

describe('cluster objects', () => {
  it('owner ConfigMap holds the identity, labelled and annotated', () => {
    const cm = ownerConfigMap(id);
    assert.equal(cm.metadata?.name, id.base);
    assert.equal(cm.metadata?.labels?.['app.kubernetes.io/managed-by'], 'sky');
    assert.equal(cm.metadata?.labels?.['sky.dev/cluster-id'], 'c-7f3a');
    assert.equal(cm.metadata?.annotations?.['sky.dev/cluster-name'], 'My Cluster!');
    assert.equal(cm.metadata?.annotations?.['sky.dev/workspace'], 'ml team');
    assert.equal(cm.data?.['clusterId'], 'c-7f3a');
  });

  it('Secret holds the host key pair and authorized_keys, owned by the ConfigMap', () => {
    const s = podSecret(id, 1, ref, { hostPrivate: 'PRIV', hostPublic: 'ssh-ed25519 AAAA host', authorizedKeys: 'ssh-ed25519 BBBB client' });
    assert.equal(s.metadata?.name, `${id.base}-1-ssh`);
    assert.deepEqual(s.metadata?.ownerReferences, [ref]);
    const data = s.data ?? {};
    assert.deepEqual(Object.keys(data).sort(), ['authorized_keys', 'ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub']);
    assert.equal(Buffer.from(data['authorized_keys'] ?? '', 'base64').toString(), 'ssh-ed25519 BBBB client\n');
    assert.equal(s.metadata?.labels?.['sky.dev/rank'], '1');
  });

  it('pod spec follows the contract: volumes, init container, sky container, hardening, resources == limits', () => {
    const c = config({ labels: { team: 'ml' }, annotations: { 'example.com/a': 'b' } });
    const pod: V1Pod = nodePod(id, 0, ref, { cpus: { min: 2, orMore: false }, memoryGb: { min: 4.5, orMore: false }, ports: [8888, 22] }, c, 'nvidia.com/gpu.product');
    const spec = pod.spec;
    assert.ok(spec !== undefined);
    assert.equal(pod.metadata?.name, `${id.base}-0`);
    assert.equal(spec.hostname, pod.metadata?.name);
    assert.deepEqual(pod.metadata?.ownerReferences, [ref]);
    const labels = pod.metadata?.labels ?? {};
    for (const key of ['sky.dev/cluster-id', 'sky.dev/cluster', 'sky.dev/rank', 'sky.dev/owner', 'sky.dev/workspace', 'app.kubernetes.io/managed-by']) assert.ok(labels[key] !== undefined, key);
    assert.equal(labels['team'], 'ml');
    assert.equal(labels['sky.dev/rank'], '0');
    assert.equal(pod.metadata?.annotations?.['example.com/a'], 'b');
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(spec.enableServiceLinks, false);
    assert.equal(spec.restartPolicy, 'Never');
    assert.equal(spec.nodeSelector, undefined);
    assert.deepEqual(spec.volumes, [
      { name: 'sky-ssh', secret: { secretName: `${id.base}-0-ssh`, defaultMode: 0o400 } },
      { name: 'sky-bin', emptyDir: {} },
    ]);
    assert.equal(spec.initContainers?.[0]?.name, 'sky-sshd-install');
    assert.equal(spec.initContainers?.[0]?.image, c.runtimeImage);
    const main = spec.containers[0];
    assert.ok(main !== undefined);
    assert.equal(main.name, 'sky');
    assert.equal(main.image, 'debian:bookworm-slim');
    assert.deepEqual(main.command?.slice(0, 2), ['/bin/sh', '-c']);
    assert.match(main.command?.[2] ?? '', /\/sky-bin\/sshd -D -e -p 22 -h \/etc\/sky-ssh\/ssh_host_ed25519_key -o AuthorizedKeysFile=\/etc\/sky-ssh\/authorized_keys/);
    assert.deepEqual(main.ports, [
      { name: 'ssh', containerPort: 22, protocol: 'TCP' },
      { name: 'p-8888', containerPort: 8888, protocol: 'TCP' },
    ]);
    assert.deepEqual(main.resources?.requests, { cpu: '2', memory: '4608Mi' });
    assert.deepEqual(main.resources?.limits, main.resources?.requests);
    assert.equal(main.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(main.securityContext?.capabilities?.drop, ['ALL']);
    assert.ok(main.securityContext?.capabilities?.add?.includes('SETUID'));
    assert.ok(main.securityContext?.capabilities?.add?.includes('NET_BIND_SERVICE'), 'port 22 needs NET_BIND_SERVICE');
    assert.deepEqual(main.volumeMounts?.map((m) => m.name), ['sky-ssh', 'sky-bin']);
  });

  it('defaults to 1 CPU and 2 GiB, and uses the task image', () => {
    const pod = nodePod(id, 1, ref, { image: 'nvcr.io/nvidia/pytorch:24.01' }, config(), 'k');
    assert.deepEqual(pod.spec?.containers[0]?.resources?.limits, { cpu: '1', memory: '2Gi' });
    assert.equal(pod.spec?.containers[0]?.image, 'nvcr.io/nvidia/pytorch:24.01');
  });

  it('asks for GPUs with the type as a node selector on the given label key', () => {
    const pod = nodePod(id, 0, ref, { accelerators: [{ name: 'H100', count: 8 }] }, config(), 'cloud.google.com/gke-accelerator');
    assert.equal(pod.spec?.containers[0]?.resources?.requests?.['nvidia.com/gpu'], '8');
    assert.equal(pod.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu'], '8');
    assert.deepEqual(pod.spec?.nodeSelector, { 'cloud.google.com/gke-accelerator': 'H100' });
  });

  it('runs as non-root with no added capabilities when run_as_user is set', () => {
    const pod = nodePod(id, 0, ref, {}, config({ run_as_user: 1000, ssh_port: 2222 }), 'k');
    assert.equal(pod.spec?.securityContext?.runAsNonRoot, true);
    assert.equal(pod.spec?.securityContext?.runAsUser, 1000);
    assert.equal(pod.spec?.containers[0]?.securityContext?.capabilities?.add, undefined);
    assert.match(pod.spec?.containers[0]?.command?.[2] ?? '', /-p 2222 /);
  });

  it('ports Service selects the head pod', () => {
    const svc = portsService(id, ref, [8888, 6006], 'NodePort');
    assert.equal(svc.spec?.type, 'NodePort');
    assert.equal(svc.spec?.selector?.['sky.dev/rank'], '0');
    assert.deepEqual(svc.spec?.ports?.map((p) => p.port), [8888, 6006]);
    assert.deepEqual(svc.metadata?.ownerReferences, [ref]);
  });
});

describe('quantities', () => {
  it('parses and formats', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('4Gi'), 4 * 2 ** 30);
    assert.equal(parseQuantity('1k'), 1000);
    assert.equal(parseQuantity('128974848'), 128974848);
    assert.ok(Number.isNaN(parseQuantity('x')));
    assert.equal(cpuQuantity(0.5), '500m');
    assert.equal(memoryQuantity(0.5), '512Mi');
  });
});

describe('ssh keys', () => {
  it('makes OpenSSH ed25519 key pairs that sign and verify', () => {
    const pair = ed25519('pod-0');
    assert.match(pair.public, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+ pod-0$/);
    assert.match(pair.private, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const priv = ssh2.utils.parseKey(pair.private);
    const pub = ssh2.utils.parseKey(pair.public);
    assert.ok(!(priv instanceof Error) && !(pub instanceof Error));
    assert.equal(priv.type, 'ssh-ed25519');
    assert.equal(priv.getPublicSSH().toString('base64'), keyWithoutComment(pair.public).split(' ')[1]);
    const data = Buffer.from('challenge');
    assert.equal(pub.verify(data, priv.sign(data)), true);
    assert.notEqual(ed25519('x').public, ed25519('x').public);
  });
});
