// sky-driver-kubernetes: the drivers.k8s config block — defaults, the kubeconfig fallbacks
// (KUBECONFIG, ~/.kube/config, in-cluster), and one precise message with its path per bad value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_GPU_LABEL_KEYS,
  DEFAULT_IMAGE,
  DEFAULT_RUNTIME_IMAGE,
  namespaceFor,
  validateKubeConfig,
  type ConfigEnv,
  type KubeDriverConfig,
} from 'sky-driver-kubernetes';

const env = (over: Partial<ConfigEnv> = {}): ConfigEnv => ({ home: '/home/u', env: {}, exists: () => false, ...over });

function ok(raw: unknown, e: ConfigEnv = env()): KubeDriverConfig {
  const r = validateKubeConfig(raw, e);
  if (r.issues !== undefined) assert.fail(`unexpected issues: ${r.issues.map((i) => i.message).join('; ')}`);
  return r.value;
}

function issues(raw: unknown): Array<{ path: string; message: string }> {
  const r = validateKubeConfig(raw, env());
  assert.ok(r.issues !== undefined, `expected issues for ${JSON.stringify(raw)}`);
  return r.issues.map((i) => ({ path: (i.path ?? []).map(String).join('.'), message: i.message }));
}

describe('drivers.k8s config', () => {
  it('has documented defaults', () => {
    const c = ok(undefined);
    assert.deepEqual(c.kubeconfig, { kind: 'file', path: '/home/u/.kube/config', explicit: false });
    assert.equal(c.allowedContexts, undefined);
    assert.equal(c.namespace, 'default');
    assert.equal(c.image, DEFAULT_IMAGE);
    assert.equal(c.image, 'debian:bookworm-slim');
    assert.equal(c.runtimeImage, DEFAULT_RUNTIME_IMAGE);
    assert.deepEqual(c.gpuLabelKeys, DEFAULT_GPU_LABEL_KEYS);
    assert.equal(c.provisionTimeoutMs, 600_000);
    assert.equal(c.sshPort, 22);
    assert.equal(c.reach, 'pod-ip');
    assert.equal(c.portsServiceType, 'ClusterIP');
    assert.deepEqual(c.labels, {});
    assert.equal(c.runAsUser, undefined);
  });

  it('takes the kubeconfig from KUBECONFIG, then ~/.kube/config, then the pod service account', () => {
    assert.deepEqual(ok({}, env({ env: { KUBECONFIG: '/a/kc:/b/kc' } })).kubeconfig, { kind: 'file', path: '/a/kc', explicit: false });
    const inPod = env({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, exists: (p) => p.startsWith('/var/run/secrets/') });
    assert.deepEqual(ok({}, inPod).kubeconfig, { kind: 'in-cluster' });
    const both = env({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, exists: () => true });
    assert.deepEqual(ok({}, both).kubeconfig, { kind: 'file', path: '/home/u/.kube/config', explicit: false });
    assert.deepEqual(ok({ kubeconfig: '~/kc.yaml' }, inPod).kubeconfig, { kind: 'file', path: '/home/u/kc.yaml', explicit: true });
  });

  it('accepts every key', () => {
    const c = ok({
      kubeconfig: '/etc/kc',
      allowed_contexts: ['a', 'b'],
      namespace: 'team',
      context_namespaces: { a: 'ns-a' },
      workspace_namespaces: { ml: 'ns-ml' },
      image: 'ubuntu:24.04',
      runtime_image: 'registry.local/sshd:2',
      gpu_label_keys: ['example.com/gpu'],
      provision_timeout_seconds: 30,
      ssh_port: 2222,
      reach: 'pod-ip',
      ports_service_type: 'NodePort',
      labels: { team: 'ml' },
      annotations: { 'example.com/cost-center': '42 x' },
      run_as_user: 1000,
    });
    assert.deepEqual(c.allowedContexts, ['a', 'b']);
    assert.equal(c.provisionTimeoutMs, 30_000);
    assert.equal(c.sshPort, 2222);
    assert.equal(c.runAsUser, 1000);
    assert.equal(c.portsServiceType, 'NodePort');
    assert.equal(namespaceFor(c, 'a', undefined), 'ns-a');
    assert.equal(namespaceFor(c, 'a', 'ml'), 'ns-ml');
    assert.equal(namespaceFor(c, 'b', 'other'), 'team');
  });

  it('takes reach: port-forward', () => {
    assert.equal(ok({ reach: 'port-forward' }).reach, 'port-forward');
  });

  const table: Array<[string, unknown, string, RegExp]> = [
    ['unknown key', { nope: 1 }, 'nope', /unknown key; the Kubernetes driver takes kubeconfig/],
    ['relative kubeconfig', { kubeconfig: 'kc' }, 'kubeconfig', /absolute path/],
    ['kubeconfig not a string', { kubeconfig: 3 }, 'kubeconfig', /non-empty string/],
    ['allowed_contexts not a list', { allowed_contexts: 'a' }, 'allowed_contexts', /non-empty list/],
    ['allowed_contexts empty', { allowed_contexts: [] }, 'allowed_contexts', /non-empty list/],
    ['allowed_contexts item', { allowed_contexts: ['a', 2] }, 'allowed_contexts.1', /non-empty string/],
    ['allowed_contexts twice', { allowed_contexts: ['a', 'a'] }, 'allowed_contexts.1', /listed twice/],
    ['namespace invalid', { namespace: 'Team_A' }, 'namespace', /not a namespace name/],
    ['context_namespaces value', { context_namespaces: { a: 'x y' } }, 'context_namespaces.a', /not a namespace name/],
    ['context_namespaces list', { context_namespaces: ['a'] }, 'context_namespaces', /mapping of strings/],
    ['workspace_namespaces value', { workspace_namespaces: { w: 7 } }, 'workspace_namespaces.w', /expected a string/],
    ['image blank', { image: ' ' }, 'image', /non-empty string/],
    ['image with space', { image: 'a b' }, 'image', /white space/],
    ['runtime_image number', { runtime_image: 1 }, 'runtime_image', /non-empty string/],
    ['gpu_label_keys bad key', { gpu_label_keys: ['bad key!'] }, 'gpu_label_keys.0', /not a node label key/],
    ['timeout zero', { provision_timeout_seconds: 0 }, 'provision_timeout_seconds', /seconds \(0-86400\]/],
    ['timeout string', { provision_timeout_seconds: '5' }, 'provision_timeout_seconds', /seconds/],
    ['ssh_port range', { ssh_port: 70000 }, 'ssh_port', /whole number from 1 to 65535/],
    ['ssh_port fraction', { ssh_port: 22.5 }, 'ssh_port', /whole number/],
    ['reach unknown', { reach: 'vpn' }, 'reach', /one of pod-ip, port-forward/],
    ['service type', { ports_service_type: 'Ingress' }, 'ports_service_type', /one of ClusterIP, NodePort, LoadBalancer/],
    ['label key', { labels: { 'a b': 'x' } }, 'labels.a b', /not a label or annotation key/],
    ['label value', { labels: { team: 'x y' } }, 'labels.team', /not a label value/],
    ['reserved label', { labels: { 'sky.dev/rank': '1' } }, 'labels.sky.dev/rank', /set by the driver/],
    ['reserved annotation', { annotations: { 'app.kubernetes.io/managed-by': 'me' } }, 'annotations.app.kubernetes.io/managed-by', /set by the driver/],
    ['annotation value', { annotations: { a: 1 } }, 'annotations.a', /expected a string/],
    ['run_as_user zero', { run_as_user: 0 }, 'run_as_user', /whole number from 1/],
  ];
  for (const [name, raw, path, message] of table) {
    it(`refuses ${name} naming ${path}`, () => {
      const found = issues(raw);
      assert.ok(
        found.some((i) => i.path === path && message.test(i.message)),
        `expected ${path}: ${message}, got ${JSON.stringify(found)}`,
      );
    });
  }

  it('refuses a block that is not a mapping', () => {
    const r = validateKubeConfig(['x'], env());
    assert.ok(r.issues !== undefined && /expected a mapping/.test(r.issues[0]?.message ?? ''));
  });
});
