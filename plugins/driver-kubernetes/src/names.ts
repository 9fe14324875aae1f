import { createHash } from 'node:crypto';

/** Labels the driver puts on everything it creates. */
export const LABEL_CLUSTER_ID = 'sky.dev/cluster-id';
export const LABEL_CLUSTER = 'sky.dev/cluster';
export const LABEL_RANK = 'sky.dev/rank';
export const LABEL_OWNER = 'sky.dev/owner';
export const LABEL_WORKSPACE = 'sky.dev/workspace';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'sky';
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

/** Annotations holding the real (unsanitised) values. */
export const ANNOTATION_CLUSTER_NAME = 'sky.dev/cluster-name';
export const ANNOTATION_CLUSTER_ID = 'sky.dev/cluster-id';
export const ANNOTATION_OWNER = 'sky.dev/owner';
export const ANNOTATION_OWNER_NAME = 'sky.dev/owner-name';
export const ANNOTATION_WORKSPACE = 'sky.dev/workspace';

/** The longest base name: pod `<base>-<rank>` and secret `<base>-<rank>-ssh` then stay ≤ 63. */
export const MAX_BASE_LENGTH = 48;

function hash8(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** `text` lower-cased with every run of characters outside [a-z0-9] turned into one '-', trimmed of '-'. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The base name of everything of a cluster: `sky-<name prefix>-<hash8 of the cluster id>`, a
 * DNS-1123 label of at most {@link MAX_BASE_LENGTH} characters.
 */
export function clusterBaseName(clusterName: string, clusterId: string): string {
  const room = MAX_BASE_LENGTH - 'sky-'.length - 1 - 8;
  const prefix = slug(clusterName).slice(0, room).replace(/-+$/, '');
  return prefix === '' ? `sky-${hash8(clusterId)}` : `sky-${prefix}-${hash8(clusterId)}`;
}

export function podName(base: string, rank: number): string {
  return `${base}-${rank}`;
}

export function secretName(base: string, rank: number): string {
  return `${base}-${rank}-ssh`;
}

export function serviceName(base: string): string {
  return `${base}-ports`;
}

/**
 * `value` as a label value (≤ 63 of [A-Za-z0-9-_.], alphanumeric at both ends): kept when valid,
 * else a readable prefix and a hash of the whole value.
 */
export function labelValue(value: string): string {
  if (value === '' || (value.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(value))) return value;
  const prefix = value
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 54)
    .replace(/[^A-Za-z0-9]+$/, '');
  return prefix === '' ? `x${hash8(value)}` : `${prefix}-${hash8(value)}`;
}

/** The node id the daemon sees: `<context>/<namespace>/<pod>`. */
export function nodeId(context: string, namespace: string, pod: string): string {
  return `${context}/${namespace}/${pod}`;
}
