import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ServiceRecord, ServiceReplica } from '@sky/protocol';
import { globalHelp, nounHelp } from '../../cli/src/help.js';
import { main } from '../../cli/src/index.js';
import { redirectOutput } from '../../cli/src/output.js';
import { downSelection, endpointQuery, logTarget, serviceNameProblem } from '../../cli/src/serve-args.js';
import { replicaCounts, replicaTable, serveStatusLines, serviceTable } from '../../cli/src/serve-format.js';
import { SERVE } from '../../cli/src/spec.js';
import { UsageError, type CliOptions } from '../../cli/src/usage.js';

/*
 * sky serve: the status tables for fixed records, the checks of the arguments of each action,
 * and the exit code and message of bad invocations through the real entry point (all of which
 * fail before any API server is contacted).
 */

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const MIN = 60_000;

function replica(over: Partial<ServiceReplica> = {}): ServiceReplica {
  return { id: 1, version: 1, status: 'READY', cluster: 'llm-1', endpoint: 'http://10.0.0.5:8080', resources: '1x local(cpus=1)', launchedAt: NOW - 3 * MIN, failedProbes: 0, ...over };
}

function service(over: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    name: 'llm',
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    status: 'READY',
    version: 1,
    activeVersion: 1,
    updateMode: 'rolling',
    endpoint: 'http://127.0.0.1:30001',
    protected: false,
    replicaPolicy: { minReplicas: 2, maxReplicas: 2, upscaleDelaySeconds: 300, downscaleDelaySeconds: 1200 },
    targetReplicas: 2,
    replicas: [replica(), replica({ id: 2, cluster: 'llm-2', endpoint: 'http://10.0.0.6:8080', launchedAt: NOW - 2 * MIN })],
    nextReplicaId: 3,
    createdAt: NOW - (62 * MIN + 5000),
    updatedAt: NOW,
    requestId: 'r-1',
    revision: 4,
    ...over,
  };
}

function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a UsageError');
}

describe('sky serve status tables', () => {
  it('the service table: NAME, VERSION, UPTIME, STATUS, REPLICAS (ready/total), ENDPOINT, sorted by name', () => {
    const starting = service({
      name: 'api',
      status: 'REPLICA_INIT',
      version: 2,
      endpoint: undefined,
      createdAt: NOW - 45_000,
      replicas: [replica({ id: 1, cluster: 'api-1', status: 'PROVISIONING', endpoint: undefined, resources: undefined })],
    });
    assert.deepStrictEqual(serviceTable([service(), starting], { now: NOW }), [
      'NAME  VERSION  UPTIME  STATUS        REPLICAS  ENDPOINT',
      'api   2        45s     REPLICA_INIT  0/1       -',
      'llm   1        1h 2m   READY         2/2       http://127.0.0.1:30001',
    ]);
  });

  it('-u adds a USER column after NAME', () => {
    assert.deepStrictEqual(serviceTable([service()], { now: NOW, showUser: true }), [
      'NAME  USER   VERSION  UPTIME  STATUS  REPLICAS  ENDPOINT',
      'llm   alice  1        1h 2m   READY   2/2       http://127.0.0.1:30001',
    ]);
  });

  it('the replica table: SERVICE_NAME, ID, VERSION, ENDPOINT, LAUNCHED, RESOURCES, STATUS, by service then ID', () => {
    const updating = service({
      replicas: [replica({ id: 3, version: 2, status: 'STARTING', cluster: 'llm-3', endpoint: undefined, launchedAt: NOW - 30_000 }), replica()],
    });
    assert.deepStrictEqual(replicaTable([updating, service({ name: 'api', replicas: [replica({ cluster: 'api-1', status: 'FAILED_PROBING' })] })], NOW), [
      'SERVICE_NAME  ID  VERSION  ENDPOINT              LAUNCHED  RESOURCES         STATUS',
      'api           1   1        http://10.0.0.5:8080  3m ago    1x local(cpus=1)  FAILED_PROBING',
      'llm           1   1        http://10.0.0.5:8080  3m ago    1x local(cpus=1)  READY',
      'llm           3   2        -                     30s ago   1x local(cpus=1)  STARTING',
    ]);
  });

  it('REPLICAS counts READY ones over every replica listed', () => {
    assert.equal(replicaCounts({ replicas: [replica(), replica({ id: 2, status: 'NOT_READY' }), replica({ id: 3, status: 'SHUTTING_DOWN' })] }), '1/3');
    assert.equal(replicaCounts({ replicas: [] }), '0/0');
  });

  it('the whole status text: services, reasons, then replicas; or that there are none', () => {
    assert.deepStrictEqual(serveStatusLines([], { now: NOW }), ['No existing services.']);
    const failed = service({ name: 'bad', status: 'FAILED', reason: 'replica 1: the run command exited with 1', replicas: [], endpoint: undefined });
    assert.deepStrictEqual(serveStatusLines([failed], { now: NOW }), [
      'Services',
      'NAME  VERSION  UPTIME  STATUS  REPLICAS  ENDPOINT',
      'bad   1        1h 2m   FAILED  0/0       -',
      '',
      'bad: replica 1: the run command exited with 1',
    ]);
    assert.deepStrictEqual(serveStatusLines([service()], { now: NOW }), [
      'Services',
      'NAME  VERSION  UPTIME  STATUS  REPLICAS  ENDPOINT',
      'llm   1        1h 2m   READY   2/2       http://127.0.0.1:30001',
      '',
      'Service Replicas',
      'SERVICE_NAME  ID  VERSION  ENDPOINT              LAUNCHED  RESOURCES         STATUS',
      'llm           1   1        http://10.0.0.5:8080  3m ago    1x local(cpus=1)  READY',
      'llm           2   1        http://10.0.0.6:8080  2m ago    1x local(cpus=1)  READY',
    ]);
  });
});

describe('sky serve arguments', () => {
  const help = 'sky serve down --help';

  it('service names follow the API rule', () => {
    assert.equal(serviceNameProblem('llm-2'), undefined);
    assert.match(serviceNameProblem('LLM')!, /^invalid service name 'LLM': a lowercase letter first/);
    assert.match(serviceNameProblem('llm-')!, /not at the end/);
    assert.match(serviceNameProblem('a'.repeat(51))!, /at most 50 characters/);
  });

  it('down: names or -a, -u only with -a, --purge carried along', () => {
    assert.deepStrictEqual(downSelection(['a', 'b', 'a'], {}, help), { body: { service_names: ['a', 'b'] }, what: 'services a, b' });
    assert.deepStrictEqual(downSelection(['a'], { purge: true }, help), { body: { service_names: ['a'], purge: true }, what: 'service a' });
    assert.deepStrictEqual(downSelection([], { all: true }, help), { body: { all: true }, what: 'all your services' });
    assert.deepStrictEqual(downSelection([], { all: true, allUsers: true }, help), { body: { all: true, all_users: true }, what: "all users' services" });
    const cases: Array<[string[], CliOptions, string]> = [
      [[], {}, 'nothing to tear down: give service names or -a'],
      [[], { allUsers: true }, '-u needs -a: sky serve down -a -u'],
      [['a'], { all: true }, 'give service names or -a, not both'],
      [['a'], { allUsers: true }, '-u goes with -a, not with service names'],
      [['Bad_Name'], {}, "invalid service name 'Bad_Name': a lowercase letter first, then lowercase letters, digits and \"-\" (not at the end)"],
    ];
    for (const [names, options, message] of cases) {
      const err = usageError(() => downSelection(names, options, help));
      assert.equal(err.message, message);
      assert.equal(err.helpCommand, help);
    }
  });

  it('logs: exactly one of REPLICA_ID, --controller, --load-balancer', () => {
    assert.deepStrictEqual(logTarget('2', {}, help), { replicaId: 2 });
    assert.deepStrictEqual(logTarget(undefined, { controller: true }, help), { controller: true });
    assert.deepStrictEqual(logTarget(undefined, { loadBalancer: true }, help), { loadBalancer: true });
    assert.equal(usageError(() => logTarget(undefined, {}, help)).message, 'which log? give a REPLICA_ID, --controller or --load-balancer');
    assert.equal(usageError(() => logTarget('1', { controller: true }, help)).message, 'give one of REPLICA_ID, --controller or --load-balancer, not REPLICA_ID and --controller');
    assert.equal(usageError(() => logTarget('0', {}, help)).message, "invalid replica ID '0': IDs are positive integers (see sky serve status)");
  });

  it('status --endpoint takes exactly one name', () => {
    assert.equal(endpointQuery(['a', 'b'], {}, help), undefined);
    assert.equal(endpointQuery(['llm'], { serviceEndpoint: true }, help), 'llm');
    assert.equal(usageError(() => endpointQuery([], { serviceEndpoint: true }, help)).message, '--endpoint prints the endpoint of one service: sky serve status --endpoint NAME');
    assert.equal(usageError(() => endpointQuery(['a', 'b'], { serviceEndpoint: true }, help)).message, '--endpoint prints the endpoint of one service: sky serve status --endpoint NAME, got 2 names');
  });
});

describe('sky serve through the entry point: bad invocations exit 2 with one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sky-serve-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const plain = join(dir, 'plain.yaml');
  writeFileSync(plain, 'run: python serve.py\n');

  async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const restore = redirectOutput({ out: (t) => (stdout += t), err: (t) => (stderr += t) });
    try {
      return { code: await main(['node', 'sky', ...args]), stdout, stderr };
    } finally {
      restore();
    }
  }

  const cases: Array<[string[], string]> = [
    [['serve'], "sky: missing action: sky serve <action>, one of up, update, status, down, logs, token. Run 'sky serve --help'."],
    [['serve', 'up'], "sky: sky serve up needs TASK.yaml: sky serve up TASK.yaml. Run 'sky serve up --help'."],
    [['serve', 'up', 'a.yaml', 'b.yaml'], "sky: sky serve up takes at most 1 argument, got 'a.yaml b.yaml'. Run 'sky serve up --help'."],
    [['serve', 'up', '-n', 'My_Service', 'x.yaml'], "sky: -n: invalid service name 'My_Service': a lowercase letter first, then lowercase letters, digits and \"-\" (not at the end). Run 'sky serve up --help'."],
    [['serve', 'update', 'llm'], "sky: sky serve update needs NAME TASK.yaml: sky serve update NAME TASK.yaml. Run 'sky serve update --help'."],
    [['serve', 'update', 'llm', 'x.yaml', '--mode', 'canary'], "sky: --mode must be one of rolling, blue_green, got 'canary'. Run 'sky serve update --help'."],
    [['serve', 'status', '--endpoint'], "sky: --endpoint prints the endpoint of one service: sky serve status --endpoint NAME. Run 'sky serve status --help'."],
    [['serve', 'status', '--endpoint=llm'], "sky: option --endpoint takes no value (got --endpoint=llm). Run 'sky serve --help'."],
    [['serve', 'down'], "sky: nothing to tear down: give service names or -a. Run 'sky serve down --help'."],
    [['serve', 'down', 'llm', '--mode', 'rolling'], "sky: option --mode is not valid for 'sky serve down'. Run 'sky serve down --help'."],
    [['serve', 'logs', 'llm'], "sky: which log? give a REPLICA_ID, --controller or --load-balancer. Run 'sky serve logs --help'."],
    [['serve', 'logs', 'llm', '1', '--load-balancer'], "sky: give one of REPLICA_ID, --controller or --load-balancer, not REPLICA_ID and --load-balancer. Run 'sky serve logs --help'."],
  ];
  for (const [args, message] of cases) {
    it(args.join(' '), async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim(), message);
      assert.equal(r.stdout, '');
    });
  }

  it('a task without a service section is refused naming the file, before any server is asked', async () => {
    const r = await run(['serve', 'up', '-y', plain]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^sky: ${plain.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no service section: sky serve runs a task that has one$`, 'm'));
    assert.match(r.stderr, /hint: Add service: with readiness_probe/);
  });

  it('a command instead of a task YAML is a usage error', async () => {
    const r = await run(['serve', 'up', '-y', 'python serve.py']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim(), "sky: a service is described by a task YAML with a service section, not a command: got 'python serve.py'. Run 'sky serve up --help'.");
  });

  it('sky api login --endpoint=URL still takes a value (a switch of sky serve status is not one everywhere)', async () => {
    const r = await run(['api', 'login', '--endpoint=http://127.0.0.1:1', '--bogus']);
    assert.doesNotMatch(r.stderr, /takes no value/);
  });
});

describe('sky serve help', () => {
  it('sky --help and sky serve --help list the serve actions', () => {
    const text = (sections: ReturnType<typeof globalHelp>): string => sections.map((s) => `${s.title ?? ''}\n${s.body}`).join('\n');
    const all = text(globalHelp('9.9.9'));
    for (const action of SERVE.actions) assert.match(all, new RegExp(`^ {2}serve ${action.name}\\b`, 'm'));
    const noun = text(nounHelp(SERVE));
    assert.match(noun, /Options of serve status[\s\S]*--endpoint\s+Print only the endpoint/);
    assert.match(noun, /Options of serve update[\s\S]*--mode <mode>/);
  });
});
