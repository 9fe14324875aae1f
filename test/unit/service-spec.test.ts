import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseTask, parseTaskYaml, SkyError, taskToConfig, type ServiceSpec } from '@sky/protocol';

/** The `service:` section of a task: SkyPilot's fields, defaults and errors. */

const DEFAULT_PROBE = { initialDelaySeconds: 1200, timeoutSeconds: 15, headers: {} };
const DELAYS = { upscaleDelaySeconds: 300, downscaleDelaySeconds: 1200 };

function serviceOf(yaml: string): ServiceSpec | undefined {
  return parseTaskYaml(yaml, 's.yaml').service;
}

function errorOf(yaml: string): SkyError {
  try {
    parseTaskYaml(yaml, 's.yaml');
  } catch (err) {
    if (err instanceof SkyError) return err;
    throw err;
  }
  assert.fail(`expected an error for:\n${yaml}`);
}

const task = (service: string, rest = 'resources:\n  ports: 8080\nrun: python serve.py\n'): string => `service:\n${service.replace(/^/gm, '  ')}\n${rest}`;

interface Good {
  name: string;
  yaml: string;
  service: ServiceSpec;
}

const GOOD: Good[] = [
  {
    name: 'a probe path and a fixed count; the port from resources.ports',
    yaml: task('readiness_probe: /health\nreplicas: 2'),
    service: { readinessProbe: { path: '/health', ...DEFAULT_PROBE }, replicaPolicy: { minReplicas: 2, maxReplicas: 2, ...DELAYS }, port: 8080, loadBalancingPolicy: 'round_robin' },
  },
  {
    name: 'neither replicas nor replica_policy: one replica',
    yaml: task('readiness_probe: /'),
    service: { readinessProbe: { path: '/', ...DEFAULT_PROBE }, replicaPolicy: { minReplicas: 1, maxReplicas: 1, ...DELAYS }, port: 8080, loadBalancingPolicy: 'round_robin' },
  },
  {
    name: 'the probe as a mapping, with a POST body and headers',
    yaml: task('readiness_probe:\n  path: /v1/models\n  post_data: {model: m}\n  initial_delay_seconds: 30\n  timeout_seconds: 5\n  headers:\n    Authorization: Bearer x\n    X-Count: 3\nreplicas: 1'),
    service: {
      readinessProbe: { path: '/v1/models', postData: { model: 'm' }, initialDelaySeconds: 30, timeoutSeconds: 5, headers: { Authorization: 'Bearer x', 'X-Count': '3' } },
      replicaPolicy: { minReplicas: 1, maxReplicas: 1, ...DELAYS },
      port: 8080,
      loadBalancingPolicy: 'round_robin',
    },
  },
  {
    name: 'autoscaling with its delays, least_load, and service.ports over resources.ports',
    yaml: task('readiness_probe: /ready\nreplica_policy:\n  min_replicas: 0\n  max_replicas: 4\n  target_qps_per_replica: 2.5\n  upscale_delay_seconds: 10\n  downscale_delay_seconds: 60\nports: 9000\nload_balancing_policy: least_load'),
    service: {
      readinessProbe: { path: '/ready', ...DEFAULT_PROBE },
      replicaPolicy: { minReplicas: 0, maxReplicas: 4, targetQpsPerReplica: 2.5, upscaleDelaySeconds: 10, downscaleDelaySeconds: 60 },
      port: 9000,
      loadBalancingPolicy: 'least_load',
    },
  },
  {
    name: 'min_replicas alone is a fixed count',
    yaml: task('readiness_probe: /\nreplica_policy:\n  min_replicas: 3'),
    service: { readinessProbe: { path: '/', ...DEFAULT_PROBE }, replicaPolicy: { minReplicas: 3, maxReplicas: 3, ...DELAYS }, port: 8080, loadBalancingPolicy: 'round_robin' },
  },
  {
    name: 'service.ports as a string, and no resources.ports',
    yaml: task('readiness_probe: /\nports: "8081"', 'run: serve\n'),
    service: { readinessProbe: { path: '/', ...DEFAULT_PROBE }, replicaPolicy: { minReplicas: 1, maxReplicas: 1, ...DELAYS }, port: 8081, loadBalancingPolicy: 'round_robin' },
  },
];

interface Bad {
  name: string;
  yaml: string;
  code?: 'TASK_INVALID' | 'TASK_UNSUPPORTED';
  /** Every line of the error message, in order. */
  lines: string[];
}

const BAD: Bad[] = [
  { name: 'not a mapping', yaml: 'service: 3\nrun: x\n', lines: ['s.yaml:1:10: service: expected a mapping with readiness_probe and replicas or replica_policy, got 3'] },
  { name: 'no readiness_probe', yaml: task('replicas: 1'), lines: ['s.yaml:2:3: service: missing readiness_probe: the path (like /health) that answers 200 once a replica is ready'] },
  { name: 'a path not starting with /', yaml: task('readiness_probe: health'), lines: ['s.yaml:2:20: service.readiness_probe: "health" must start with "/" (a path on the replica, like /health)'] },
  {
    name: 'a probe mapping without path, with an unknown key and a bad timeout',
    yaml: task('readiness_probe:\n  initial_delay: 5\n  timeout_seconds: 0'),
    lines: [
      's.yaml:3:5: service.readiness_probe.initial_delay: unknown field; did you mean initial_delay_seconds?',
      's.yaml:3:5: service.readiness_probe: missing path: the URL path the probe asks, like /health',
      's.yaml:4:22: service.readiness_probe.timeout_seconds: expected seconds (a whole number from 1 to 3600), got 0',
    ],
  },
  { name: 'unknown service key with a suggestion', yaml: task('readiness_probe: /\nreplica: 2'), lines: ['s.yaml:3:3: service.replica: unknown field; did you mean replicas?'] },
  {
    name: 'replicas and replica_policy together',
    yaml: task('readiness_probe: /\nreplicas: 2\nreplica_policy:\n  min_replicas: 1'),
    lines: ['s.yaml:3:3: service.replicas: give replicas (a fixed count) or replica_policy (autoscaling), not both'],
  },
  { name: 'replicas: 0', yaml: task('readiness_probe: /\nreplicas: 0'), lines: ['s.yaml:3:13: service.replicas: expected a replica count (a whole number from 1 to 1000), got 0'] },
  {
    name: 'min above max',
    yaml: task('readiness_probe: /\nreplica_policy:\n  min_replicas: 3\n  max_replicas: 2'),
    lines: ['s.yaml:5:19: service.replica_policy.max_replicas: min_replicas (3) is above max_replicas (2)'],
  },
  {
    name: 'max above min without target_qps_per_replica',
    yaml: task('readiness_probe: /\nreplica_policy:\n  min_replicas: 1\n  max_replicas: 3'),
    lines: ['s.yaml:5:19: service.replica_policy.max_replicas: max_replicas above min_replicas autoscales on load: set target_qps_per_replica, or max_replicas: 1 for a fixed count'],
  },
  { name: 'replica_policy without min_replicas', yaml: task('readiness_probe: /\nreplica_policy:\n  max_replicas: 3\n  target_qps_per_replica: 1'), lines: ['s.yaml:4:5: service.replica_policy: missing min_replicas: the number of replicas the service keeps at least'] },
  {
    name: 'a bad QPS target and an unknown policy key',
    yaml: task('readiness_probe: /\nreplica_policy:\n  min_replicas: 1\n  max_replicas: 2\n  target_qps_per_replica: -1\n  upscale_delay: 5'),
    lines: [
      's.yaml:6:29: service.replica_policy.target_qps_per_replica: expected queries per second (a number above 0), got -1',
      's.yaml:7:5: service.replica_policy.upscale_delay: unknown field; did you mean upscale_delay_seconds?',
    ],
  },
  { name: 'an unknown load balancing policy', yaml: task('readiness_probe: /\nload_balancing_policy: random'), lines: ['s.yaml:3:26: service.load_balancing_policy: expected round_robin or least_load, got "random"'] },
  { name: 'service.ports out of range', yaml: task('readiness_probe: /\nports: 70000'), lines: ['s.yaml:3:10: service.ports: expected the one port the replicas serve on (a whole number from 1 to 65535), got 70000'] },
  { name: 'no port anywhere', yaml: task('readiness_probe: /', 'run: serve\n'), lines: ['s.yaml:1:1: service: no replica port: set service.ports to the port the replicas serve on (or resources.ports to that one port)'] },
  {
    name: 'several resources.ports and no service.ports',
    yaml: task('readiness_probe: /', 'resources:\n  ports: [8080, 9000-9010]\nrun: serve\n'),
    lines: ['s.yaml:1:1: service: resources.ports has more than one port (8080, 9000-9010); set service.ports to the one the replicas serve on'],
  },
  {
    name: 'SkyPilot fields sky lacks are unsupported, not unknown',
    yaml: task('readiness_probe: /\ntls:\n  keyfile: k\nreplica_policy:\n  min_replicas: 1\n  base_ondemand_fallback_replicas: 1'),
    code: 'TASK_UNSUPPORTED',
    lines: [
      's.yaml:3:3: not supported yet: service.tls (TLS on the load balancer; put a TLS-terminating proxy in front of the endpoint)',
      's.yaml:7:5: not supported yet: service.replica_policy.base_ondemand_fallback_replicas (spot replicas with on-demand fallback)',
    ],
  },
];

describe('the service section', () => {
  for (const c of GOOD) {
    it(`reads ${c.name}`, () => {
      assert.deepStrictEqual(serviceOf(c.yaml), c.service);
    });
  }

  for (const c of BAD) {
    it(`refuses ${c.name}`, () => {
      const err = errorOf(c.yaml);
      assert.equal(err.code, c.code ?? 'TASK_INVALID', err.message);
      assert.deepStrictEqual(err.message.split('\n'), c.lines);
    });
  }

  it('prints back in SkyPilot shape and parses to the same task (JSON body)', () => {
    for (const c of GOOD) {
      const t = parseTaskYaml(c.yaml, 's.yaml');
      const { ignored: _ignored, ...rest } = t;
      const again = parseTask(JSON.parse(JSON.stringify(taskToConfig(t))));
      const { ignored: _again, ...restAgain } = again;
      assert.deepStrictEqual(restAgain, rest, c.name);
    }
  });

  it('a JSON body names problems by path', () => {
    assert.throws(
      () => parseTask({ run: 'x', service: { readiness_probe: { path: 'x' }, replicas: 1, ports: 80 } }, 'body'),
      (err: SkyError) => err.message === 'body: service.readiness_probe.path: "x" must start with "/" (a path on the replica, like /health)',
    );
  });

  it('sky launch still takes the task, and says once that the section is for sky serve up', () => {
    const t = parseTaskYaml(task('readiness_probe: /\nreplicas: 2'), 's.yaml');
    assert.deepStrictEqual(t.ignored, ['service: ignored by sky launch; a service is started with sky serve up']);
  });

  it('a QPS target without max_replicas is accepted with a warning, as SkyPilot ignores it', () => {
    const t = parseTaskYaml(task('readiness_probe: /\nreplica_policy:\n  min_replicas: 2\n  target_qps_per_replica: 5'), 's.yaml');
    assert.deepStrictEqual(t.service?.replicaPolicy, { minReplicas: 2, maxReplicas: 2, ...DELAYS });
    assert.deepStrictEqual(t.ignored, [
      'service: ignored by sky launch; a service is started with sky serve up',
      'service.replica_policy.target_qps_per_replica: ignored without max_replicas; the service keeps min_replicas replicas',
    ]);
  });
});
