import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import type { ConfigResult, ConfigSchema } from '@sky/plugin-api';

/** How the daemon reaches a pod's sshd. */
export type ReachMode = 'pod-ip' | 'port-forward';
export const REACH_MODES: readonly ReachMode[] = ['pod-ip', 'port-forward'];

export type PortsServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export const PORTS_SERVICE_TYPES: readonly PortsServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer'];

/** Where the contexts come from: a kubeconfig file, or the pod's own service account. */
export type KubeconfigSource = { kind: 'file'; path: string; explicit: boolean } | { kind: 'in-cluster' };

/** The validated `drivers.k8s` block. */
export interface KubeDriverConfig {
  kubeconfig: KubeconfigSource;
  /** Contexts the driver may use, in failover order; undefined: the kubeconfig's current context only. */
  allowedContexts: string[] | undefined;
  namespace: string;
  contextNamespaces: Record<string, string>;
  workspaceNamespaces: Record<string, string>;
  image: string;
  runtimeImage: string;
  gpuLabelKeys: string[];
  provisionTimeoutMs: number;
  sshPort: number;
  reach: ReachMode;
  portsServiceType: PortsServiceType;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Run the node's container (and its sshd) as this uid rather than root. */
  runAsUser: number | undefined;
}

export const CONFIG_KEYS = [
  'kubeconfig',
  'allowed_contexts',
  'namespace',
  'context_namespaces',
  'workspace_namespaces',
  'image',
  'runtime_image',
  'gpu_label_keys',
  'provision_timeout_seconds',
  'ssh_port',
  'reach',
  'ports_service_type',
  'labels',
  'annotations',
  'run_as_user',
] as const;

export const DEFAULT_NAMESPACE = 'default';
/** Node image when the task names none: any image with a POSIX sh and coreutils will do. */
export const DEFAULT_IMAGE = 'debian:bookworm-slim';
/** Image of the init container that copies a static sshd (at /sky/sshd) into the pod's shared volume. */
export const DEFAULT_RUNTIME_IMAGE = 'ghcr.io/sky-dev/sky-node-sshd:1';
export const DEFAULT_GPU_LABEL_KEYS = ['nvidia.com/gpu.product', 'cloud.google.com/gke-accelerator', 'skypilot.co/accelerator'];
export const DEFAULT_PROVISION_TIMEOUT_SECONDS = 600;
export const DEFAULT_SSH_PORT = 22;
export const IN_CLUSTER_CONTEXT = 'in-cluster';
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

type Issue = { message: string; path: PropertyKey[] };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether `ns` is a valid namespace name (DNS-1123 label, ≤ 63). */
export function validNamespace(ns: string): boolean {
  return ns.length <= 63 && DNS_LABEL.test(ns);
}

/** Whether `key` is a valid label or annotation key (`[prefix/]name`). */
export function validMetadataKey(key: string): boolean {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && LABEL_NAME.test(name);
}

/** Whether `value` is a valid label value (≤ 63, empty allowed). */
export function validLabelValue(value: string): boolean {
  return value === '' || (value.length <= 63 && LABEL_NAME.test(value));
}

export interface ConfigEnv {
  home: string;
  env: Record<string, string | undefined>;
  exists(path: string): boolean;
}

const realEnv = (): ConfigEnv => ({ home: homedir(), env: process.env, exists: existsSync });

function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

/** The default kubeconfig: $KUBECONFIG's first file, ~/.kube/config, or the pod's service account. */
export function defaultKubeconfig(e: ConfigEnv): KubeconfigSource {
  const fromEnv = (e.env['KUBECONFIG'] ?? '').split(delimiter).find((p) => p.trim() !== '');
  if (fromEnv !== undefined) return { kind: 'file', path: expandHome(fromEnv, e.home), explicit: false };
  const home = join(e.home, '.kube', 'config');
  if (!e.exists(home) && e.env['KUBERNETES_SERVICE_HOST'] !== undefined && e.exists(SERVICE_ACCOUNT_TOKEN)) return { kind: 'in-cluster' };
  return { kind: 'file', path: home, explicit: false };
}

function str(block: Record<string, unknown>, key: string, fallback: string, issues: Issue[], check?: (v: string) => string | undefined): string {
  const raw = block[key];
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw !== 'string' || raw.trim() === '') {
    issues.push({ message: `expected a non-empty string, got ${JSON.stringify(raw)}`, path: [key] });
    return fallback;
  }
  const problem = check?.(raw);
  if (problem !== undefined) issues.push({ message: problem, path: [key] });
  return raw;
}

function oneOf<T extends string>(block: Record<string, unknown>, key: string, choices: readonly T[], fallback: T, issues: Issue[]): T {
  const raw = block[key];
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === 'string' && (choices as readonly string[]).includes(raw)) return raw as T;
  issues.push({ message: `expected one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`, path: [key] });
  return fallback;
}

function integer(block: Record<string, unknown>, key: string, min: number, max: number, issues: Issue[]): number | undefined {
  const raw = block[key];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
    issues.push({ message: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`, path: [key] });
    return undefined;
  }
  return raw;
}

function stringList(block: Record<string, unknown>, key: string, issues: Issue[], check: (v: string) => string | undefined): string[] | undefined {
  const raw = block[key];
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) {
    issues.push({ message: `expected a non-empty list of strings, got ${JSON.stringify(raw)}`, path: [key] });
    return undefined;
  }
  const out: string[] = [];
  raw.forEach((item: unknown, i) => {
    if (typeof item !== 'string' || item.trim() === '') {
      issues.push({ message: `expected a non-empty string, got ${JSON.stringify(item)}`, path: [key, i] });
      return;
    }
    const problem = check(item);
    if (problem !== undefined) issues.push({ message: problem, path: [key, i] });
    else if (out.includes(item)) issues.push({ message: `${JSON.stringify(item)} is listed twice`, path: [key, i] });
    else out.push(item);
  });
  return out;
}

function stringMap(
  block: Record<string, unknown>,
  key: string,
  issues: Issue[],
  checkKey: (k: string) => string | undefined,
  checkValue: (v: string) => string | undefined,
): Record<string, string> {
  const raw = block[key];
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ message: `expected a mapping of strings, got ${JSON.stringify(raw)}`, path: [key] });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const keyProblem = checkKey(k);
    if (keyProblem !== undefined) {
      issues.push({ message: keyProblem, path: [key, k] });
      continue;
    }
    if (typeof v !== 'string') {
      issues.push({ message: `expected a string, got ${JSON.stringify(v)}`, path: [key, k] });
      continue;
    }
    const valueProblem = checkValue(v);
    if (valueProblem !== undefined) issues.push({ message: valueProblem, path: [key, k] });
    else out[k] = v;
  }
  return out;
}

const namespaceProblem = (v: string): string | undefined =>
  validNamespace(v) ? undefined : `${JSON.stringify(v)} is not a namespace name (lower-case letters, digits and '-', at most 63)`;
const anything = (): undefined => undefined;
const imageProblem = (v: string): string | undefined => (/\s/.test(v) ? `${JSON.stringify(v)} is not an image reference (it contains white space)` : undefined);
const userKeyProblem = (v: string): string | undefined => {
  if (!validMetadataKey(v)) return `${JSON.stringify(v)} is not a label or annotation key ([prefix/]name, name at most 63 characters)`;
  if (v.startsWith('sky.dev/') || v === 'app.kubernetes.io/managed-by') return `${JSON.stringify(v)} is set by the driver itself`;
  return undefined;
};

/** Validate a raw `drivers.k8s` block (loader keys already removed). */
export function validateKubeConfig(raw: unknown, e: ConfigEnv = realEnv()): ConfigResult<KubeDriverConfig> {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    return { issues: [{ message: `expected a mapping with ${CONFIG_KEYS.join(', ')}` }] };
  }
  const block = (raw ?? {}) as Record<string, unknown>;
  const issues: Issue[] = [];
  for (const key of Object.keys(block)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) issues.push({ message: `unknown key; the Kubernetes driver takes ${CONFIG_KEYS.join(', ')}`, path: [key] });
  }
  let kubeconfig = defaultKubeconfig(e);
  const kubeconfigPath = str(block, 'kubeconfig', '', issues, (v) => {
    const p = expandHome(v, e.home);
    return isAbsolute(p) ? undefined : `expected an absolute path or one starting with ~/, got ${JSON.stringify(v)}`;
  });
  if (kubeconfigPath !== '') kubeconfig = { kind: 'file', path: expandHome(kubeconfigPath, e.home), explicit: true };

  const allowedContexts = stringList(block, 'allowed_contexts', issues, anything);
  const namespace = str(block, 'namespace', DEFAULT_NAMESPACE, issues, namespaceProblem);
  const contextNamespaces = stringMap(block, 'context_namespaces', issues, anything, namespaceProblem);
  const workspaceNamespaces = stringMap(block, 'workspace_namespaces', issues, anything, namespaceProblem);
  const image = str(block, 'image', DEFAULT_IMAGE, issues, imageProblem);
  const runtimeImage = str(block, 'runtime_image', DEFAULT_RUNTIME_IMAGE, issues, imageProblem);
  const gpuLabelKeys =
    stringList(block, 'gpu_label_keys', issues, (v) => (validMetadataKey(v) ? undefined : `${JSON.stringify(v)} is not a node label key`)) ?? DEFAULT_GPU_LABEL_KEYS;
  const timeout = block['provision_timeout_seconds'];
  let provisionTimeoutMs = DEFAULT_PROVISION_TIMEOUT_SECONDS * 1000;
  if (timeout !== undefined && timeout !== null) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > 86400) {
      issues.push({ message: `expected a number of seconds (0-86400], got ${JSON.stringify(timeout)}`, path: ['provision_timeout_seconds'] });
    } else provisionTimeoutMs = Math.round(timeout * 1000);
  }
  const sshPort = integer(block, 'ssh_port', 1, 65535, issues) ?? DEFAULT_SSH_PORT;
  const reach = oneOf(block, 'reach', REACH_MODES, 'pod-ip', issues);
  const portsServiceType = oneOf(block, 'ports_service_type', PORTS_SERVICE_TYPES, 'ClusterIP', issues);
  const labels = stringMap(block, 'labels', issues, userKeyProblem, (v) => (validLabelValue(v) ? undefined : `${JSON.stringify(v)} is not a label value (at most 63 of letters, digits, '-', '_', '.')`));
  const annotations = stringMap(block, 'annotations', issues, userKeyProblem, anything);
  const runAsUser = integer(block, 'run_as_user', 1, 2147483647, issues);
  if (issues.length > 0) return { issues };
  return {
    value: {
      kubeconfig,
      allowedContexts,
      namespace,
      contextNamespaces,
      workspaceNamespaces,
      image,
      runtimeImage,
      gpuLabelKeys,
      provisionTimeoutMs,
      sshPort,
      reach,
      portsServiceType,
      labels,
      annotations,
      runAsUser,
    },
  };
}

/** The Standard Schema the plugin loader runs over `drivers.k8s`. */
export const kubeConfigSchema: ConfigSchema<KubeDriverConfig> = {
  '~standard': { version: 1, vendor: 'sky-driver-kubernetes', validate: (value) => validateKubeConfig(value) },
};

/** The namespace a cluster goes to: the workspace's, else the context's, else the default. */
export function namespaceFor(config: Pick<KubeDriverConfig, 'namespace' | 'contextNamespaces' | 'workspaceNamespaces'>, context: string, workspace: string | undefined): string {
  if (workspace !== undefined && config.workspaceNamespaces[workspace] !== undefined) return config.workspaceNamespaces[workspace];
  return config.contextNamespaces[context] ?? config.namespace;
}
