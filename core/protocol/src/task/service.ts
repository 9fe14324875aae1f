// The `service:` section of a task (SkyPilot's service YAML): how `sky serve up` probes, scales
// and balances the replicas. Read here into a ServiceSpec with SkyPilot's defaults; the replica
// port may come from resources.ports, so it is settled once the whole task is read (resolveServicePort).
import type { LoadBalancingPolicy, ReadinessProbe, ReplicaPolicy, ServiceSpec } from '../services.js';
import type { FieldCheck } from './fields.js';
import { describeValue, isPlainObject, type FieldPath, type Report, type TaskProblem } from './problems.js';
import { formatPort } from './ports.js';
import type { PortRange } from './types.js';

/** SkyPilot's defaults. */
export const SERVICE_DEFAULTS = {
  initialDelaySeconds: 1200,
  timeoutSeconds: 15,
  upscaleDelaySeconds: 300,
  downscaleDelaySeconds: 1200,
  loadBalancingPolicy: 'round_robin' as LoadBalancingPolicy,
} as const;

/** Bounds that catch typos (a replica count of 1e6) without limiting real services. */
export const MAX_SERVICE_REPLICAS = 1000;
const MAX_SECONDS = 7 * 24 * 3600;

const SERVICE_KEYS = ['readiness_probe', 'replicas', 'replica_policy', 'ports', 'load_balancing_policy'];
const PROBE_KEYS = ['path', 'post_data', 'initial_delay_seconds', 'timeout_seconds', 'headers'];
const POLICY_KEYS = ['min_replicas', 'max_replicas', 'target_qps_per_replica', 'upscale_delay_seconds', 'downscale_delay_seconds'];
const POLICIES: readonly LoadBalancingPolicy[] = ['round_robin', 'least_load'];

/** SkyPilot service fields sky does not implement: refused as TASK_UNSUPPORTED, never "unknown". */
const UNSUPPORTED_SERVICE_KEYS = { tls: 'service.tls', pool: 'service.pool', workers: 'service.pool' } as const;
const UNSUPPORTED_POLICY_KEYS = {
  num_overprovision: 'service.replica_policy.num_overprovision',
  base_ondemand_fallback_replicas: 'service.replica_policy.spot_fallback',
  dynamic_ondemand_fallback: 'service.replica_policy.spot_fallback',
  spot_placer: 'service.replica_policy.spot_fallback',
} as const;

/** The section as read on its own: the port is absent when it must come from resources.ports. */
export interface ServiceDraft extends Omit<ServiceSpec, 'port'> {
  port?: number;
  /** Settings accepted and without effect, one warning each. */
  warnings: string[];
}

function wholeNumber(value: unknown, min: number, max: number, what: string, report: Report, path: FieldPath): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  report(`expected ${what} (a whole number from ${min} to ${max}), got ${describeValue(value)}`, path);
  return undefined;
}

/** Unknown keys (with a suggestion) and SkyPilot keys sky lacks; false when any was found. */
function checkKeys(value: Record<string, unknown>, known: readonly string[], unsupported: Readonly<Record<string, UnsupportedServiceField>>, report: Report, prefix: FieldPath): boolean {
  let ok = true;
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    ok = false;
    const field = Object.hasOwn(unsupported, key) ? unsupported[key] : undefined;
    if (field !== undefined) report(key, [...prefix, key], { unsupported: field, at: 'key' });
    else report('unknown field', [...prefix, key], { unknownAmong: known, at: 'key' });
  }
  return ok;
}

type UnsupportedServiceField = (typeof UNSUPPORTED_SERVICE_KEYS)[keyof typeof UNSUPPORTED_SERVICE_KEYS] | (typeof UNSUPPORTED_POLICY_KEYS)[keyof typeof UNSUPPORTED_POLICY_KEYS];

function probePath(value: unknown, report: Report, path: FieldPath): string | undefined {
  if (typeof value !== 'string' || value.trim().length === 0) {
    report(`expected a URL path like /health, got ${describeValue(value)}`, path);
    return undefined;
  }
  if (!value.startsWith('/')) {
    report(`${JSON.stringify(value)} must start with "/" (a path on the replica, like /health)`, path);
    return undefined;
  }
  if (/[\s\x00-\x1f\x7f]/.test(value)) {
    report(`${JSON.stringify(value)} must not contain spaces or control characters`, path);
    return undefined;
  }
  return value;
}

function probeHeaders(value: unknown, report: Report): Record<string, string> | undefined {
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    report(`expected a mapping of header: value, got ${describeValue(value)}`, ['headers']);
    return undefined;
  }
  const out: Record<string, string> = {};
  let ok = true;
  for (const [name, v] of Object.entries(value)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      report(`${JSON.stringify(name)} is not an HTTP header name`, ['headers', name], { at: 'key' });
      ok = false;
    } else if (typeof v === 'string' || typeof v === 'number') {
      const text = String(v);
      if (/[\r\n\x00]/.test(text)) {
        report('a header value must be on one line', ['headers', name]);
        ok = false;
      } else out[name] = text;
    } else {
      report(`expected a header value (a string), got ${describeValue(v)}`, ['headers', name]);
      ok = false;
    }
  }
  return ok ? out : undefined;
}

/** readiness_probe: a path, or {path, post_data, initial_delay_seconds, timeout_seconds, headers}. */
export const checkReadinessProbe: FieldCheck<ReadinessProbe> = (value, report) => {
  const defaults = { initialDelaySeconds: SERVICE_DEFAULTS.initialDelaySeconds, timeoutSeconds: SERVICE_DEFAULTS.timeoutSeconds, headers: {} };
  if (!isPlainObject(value)) {
    if (typeof value !== 'string') {
      report(`expected a path like /health, or a mapping with path (and post_data, initial_delay_seconds, timeout_seconds, headers), got ${describeValue(value)}`);
      return undefined;
    }
    const path = probePath(value, report, []);
    return path === undefined ? undefined : { path, ...defaults };
  }
  let ok = checkKeys(value, PROBE_KEYS, {}, report, []);
  if (!Object.hasOwn(value, 'path')) {
    report('missing path: the URL path the probe asks, like /health');
    ok = false;
  }
  const path = Object.hasOwn(value, 'path') ? probePath(value.path, report, ['path']) : undefined;
  const initial = value.initial_delay_seconds === undefined ? defaults.initialDelaySeconds : wholeNumber(value.initial_delay_seconds, 0, MAX_SECONDS, 'seconds', report, ['initial_delay_seconds']);
  const timeout = value.timeout_seconds === undefined ? defaults.timeoutSeconds : wholeNumber(value.timeout_seconds, 1, 3600, 'seconds', report, ['timeout_seconds']);
  const headers = probeHeaders(value.headers, report);
  const post = value.post_data;
  if (post !== undefined && post !== null && typeof post !== 'string' && !isPlainObject(post) && !Array.isArray(post)) {
    report(`expected a JSON body (a mapping, or its text), got ${describeValue(post)}`, ['post_data']);
    ok = false;
  }
  if (!ok || path === undefined || initial === undefined || timeout === undefined || headers === undefined) return undefined;
  const probe: ReadinessProbe = { path, initialDelaySeconds: initial, timeoutSeconds: timeout, headers };
  if (post !== undefined && post !== null) probe.postData = post;
  return probe;
};

function checkReplicaPolicy(value: unknown, report: Report, warnings: string[]): ReplicaPolicy | undefined {
  const at: FieldPath = ['replica_policy'];
  if (!isPlainObject(value)) {
    report(`expected a mapping with min_replicas (and max_replicas, target_qps_per_replica, …), got ${describeValue(value)}`, at);
    return undefined;
  }
  let ok = checkKeys(value, POLICY_KEYS, UNSUPPORTED_POLICY_KEYS, report, at);
  if (!Object.hasOwn(value, 'min_replicas')) {
    report('missing min_replicas: the number of replicas the service keeps at least', at);
    ok = false;
  }
  const min = Object.hasOwn(value, 'min_replicas') ? wholeNumber(value.min_replicas, 0, MAX_SERVICE_REPLICAS, 'a replica count', report, [...at, 'min_replicas']) : undefined;
  const max = value.max_replicas === undefined ? undefined : wholeNumber(value.max_replicas, 1, MAX_SERVICE_REPLICAS, 'a replica count', report, [...at, 'max_replicas']);
  let qps: number | undefined;
  const rawQps = value.target_qps_per_replica;
  if (rawQps !== undefined) {
    if (typeof rawQps === 'number' && Number.isFinite(rawQps) && rawQps > 0) qps = rawQps;
    else {
      report(`expected queries per second (a number above 0), got ${describeValue(rawQps)}`, [...at, 'target_qps_per_replica']);
      ok = false;
    }
  }
  const up = value.upscale_delay_seconds === undefined ? SERVICE_DEFAULTS.upscaleDelaySeconds : wholeNumber(value.upscale_delay_seconds, 0, MAX_SECONDS, 'seconds', report, [...at, 'upscale_delay_seconds']);
  const down = value.downscale_delay_seconds === undefined ? SERVICE_DEFAULTS.downscaleDelaySeconds : wholeNumber(value.downscale_delay_seconds, 0, MAX_SECONDS, 'seconds', report, [...at, 'downscale_delay_seconds']);
  if (min !== undefined && max !== undefined && min > max) {
    report(`min_replicas (${min}) is above max_replicas (${max})`, [...at, 'max_replicas']);
    ok = false;
  }
  if (min !== undefined && max !== undefined && max > min && rawQps === undefined) {
    report(`max_replicas above min_replicas autoscales on load: set target_qps_per_replica, or max_replicas: ${min} for a fixed count`, [...at, 'max_replicas']);
    ok = false;
  }
  if (min === 0 && (max === undefined || max === 0)) {
    report('min_replicas: 0 needs max_replicas (at least 1) and target_qps_per_replica to scale up from zero', [...at, 'min_replicas']);
    ok = false;
  }
  if (!ok || min === undefined || up === undefined || down === undefined) return undefined;
  const policy: ReplicaPolicy = { minReplicas: min, maxReplicas: max ?? min, upscaleDelaySeconds: up, downscaleDelaySeconds: down };
  // As in SkyPilot: without max_replicas the count is fixed and the QPS target has no use.
  if (qps !== undefined && max === undefined) warnings.push('service.replica_policy.target_qps_per_replica: ignored without max_replicas; the service keeps min_replicas replicas');
  else if (qps !== undefined && max !== undefined && max > min) policy.targetQpsPerReplica = qps;
  return policy;
}

function checkServicePort(value: unknown, report: Report): number | undefined {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) return n;
  report(`expected the one port the replicas serve on (a whole number from 1 to 65535), got ${describeValue(value)}`, ['ports']);
  return undefined;
}

/** The `service:` section on its own (the port is settled with the task's resources by resolveServicePort). */
export const checkService: FieldCheck<ServiceDraft> = (value, report) => {
  if (!isPlainObject(value)) {
    report(`expected a mapping with readiness_probe and replicas or replica_policy, got ${describeValue(value)}`);
    return undefined;
  }
  let ok = checkKeys(value, SERVICE_KEYS, UNSUPPORTED_SERVICE_KEYS, report, []);
  const warnings: string[] = [];
  let probe: ReadinessProbe | undefined;
  if (!Object.hasOwn(value, 'readiness_probe')) {
    report('missing readiness_probe: the path (like /health) that answers 200 once a replica is ready');
    ok = false;
  } else probe = checkReadinessProbe(value.readiness_probe, (message, path = [], options) => report(message, ['readiness_probe', ...path], options));
  let policy: ReplicaPolicy | undefined;
  const hasReplicas = Object.hasOwn(value, 'replicas');
  if (hasReplicas && Object.hasOwn(value, 'replica_policy')) {
    report('give replicas (a fixed count) or replica_policy (autoscaling), not both', ['replicas'], { at: 'key' });
    ok = false;
  } else if (hasReplicas) {
    const n = wholeNumber(value.replicas, 1, MAX_SERVICE_REPLICAS, 'a replica count', report, ['replicas']);
    if (n !== undefined) policy = { minReplicas: n, maxReplicas: n, upscaleDelaySeconds: SERVICE_DEFAULTS.upscaleDelaySeconds, downscaleDelaySeconds: SERVICE_DEFAULTS.downscaleDelaySeconds };
  } else if (Object.hasOwn(value, 'replica_policy')) {
    policy = checkReplicaPolicy(value.replica_policy, report, warnings);
  } else {
    // SkyPilot's default: one replica.
    policy = { minReplicas: 1, maxReplicas: 1, upscaleDelaySeconds: SERVICE_DEFAULTS.upscaleDelaySeconds, downscaleDelaySeconds: SERVICE_DEFAULTS.downscaleDelaySeconds };
  }
  const port = value.ports === undefined ? undefined : checkServicePort(value.ports, report);
  let balancing: LoadBalancingPolicy | undefined = SERVICE_DEFAULTS.loadBalancingPolicy;
  const rawPolicy = value.load_balancing_policy;
  if (rawPolicy !== undefined && rawPolicy !== null) {
    balancing = POLICIES.find((p) => p === rawPolicy);
    if (balancing === undefined) report(`expected ${POLICIES.join(' or ')}, got ${describeValue(rawPolicy)}`, ['load_balancing_policy']);
  }
  if (!ok || probe === undefined || policy === undefined || balancing === undefined || (value.ports !== undefined && port === undefined)) return undefined;
  const draft: ServiceDraft = { readinessProbe: probe, replicaPolicy: policy, loadBalancingPolicy: balancing, warnings };
  if (port !== undefined) draft.port = port;
  return draft;
};

/** The replica port: service.ports, else the task's only resources.ports entry; a problem at `service` otherwise. */
export function resolveServicePort(draft: ServiceDraft, ports: readonly PortRange[] | undefined, problems: TaskProblem[]): ServiceSpec | undefined {
  const { warnings: _warnings, port, ...rest } = draft;
  if (port !== undefined) return { ...rest, port };
  const only = ports?.length === 1 && ports[0]!.from === ports[0]!.to ? ports[0]!.from : undefined;
  if (only !== undefined) return { ...rest, port: only };
  const message =
    ports === undefined || ports.length === 0
      ? 'no replica port: set service.ports to the port the replicas serve on (or resources.ports to that one port)'
      : `resources.ports has more than one port (${ports.map(formatPort).join(', ')}); set service.ports to the one the replicas serve on`;
  problems.push({ path: ['service'], message, at: 'key' });
  return undefined;
}
