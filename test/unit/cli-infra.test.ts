import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckResult, HostCheckReport, PoolHostsResult, RequestRecord, ShowGpusResult } from '@sky/protocol';
import { main } from '../../cli/src/index.js';
import {
  checkInfra,
  checkLines,
  gpuInfra,
  gpuLines,
  gpuStatus,
  hostFindings,
  hostName,
  memory,
  normalizeInfra,
  poolHostLines,
  poolInfra,
} from '../../cli/src/infra-format.js';
import { redirectOutput } from '../../cli/src/output.js';
import { SSH, commandNamed } from '../../cli/src/spec.js';
import { UsageError, validate, validateCommand } from '../../cli/src/usage.js';

function host(label: string, over: Partial<HostCheckReport> = {}): HostCheckReport {
  const [name, port] = label.split(':');
  return {
    pool: 'pool-a',
    label,
    host: name!,
    port: Number(port ?? 22),
    user: 'ubuntu',
    reachable: true,
    authOk: true,
    cpus: 8,
    memoryGb: 31.4,
    accelerators: [],
    ...over,
  };
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err;
  }
  return assert.fail('expected a UsageError');
}

describe('infra names on the command line', () => {
  it('sky check INFRA...: driver part lower-cased (kubernetes is k8s), pool names kept, duplicates dropped', () => {
    assert.deepEqual(checkInfra(['SSH', 'ssh/GPU-a', 'k8s', 'ssh', 'Local']), ['ssh', 'ssh/GPU-a', 'k8s', 'local']);
    assert.equal(normalizeInfra(' ssh/gpu-a ', 'h'), 'ssh/gpu-a');
    for (const bad of ['ssh/a/b', '/a', 'ssh/', 'a b', '-x']) {
      const err = usageError(() => checkInfra([bad]));
      assert.match(err.message, /is not a driver or driver\/pool \(e\.g\. ssh or ssh\/gpu-a\)/);
      assert.equal(err.helpCommand, 'sky check --help');
    }
  });

  it('sky ssh up|down --infra: POOL and ssh/POOL both mean ssh/POOL; ssh alone (or nothing) means every pool', () => {
    const help = 'sky ssh up --help';
    assert.equal(poolInfra('gpu-a', help), 'ssh/gpu-a');
    assert.equal(poolInfra('ssh/gpu-a', help), 'ssh/gpu-a');
    assert.equal(poolInfra('SSH/gpu-a', help), 'ssh/gpu-a');
    assert.equal(poolInfra('ssh', help), undefined);
    assert.equal(poolInfra(undefined, help), undefined);
    assert.match(usageError(() => poolInfra('kubernetes/ctx', help)).message, /^--infra 'kubernetes\/ctx' is not an SSH node pool; give POOL or ssh\/POOL$/);
    assert.match(usageError(() => poolInfra('bad pool', help)).message, /is not a pool name/);
    assert.equal(usageError(() => poolInfra('ssh/a/b', help)).helpCommand, help);
  });

  it('sky show-gpus --infra: passed on as a driver or driver/pool', () => {
    assert.equal(gpuInfra('SSH/pool-a'), 'ssh/pool-a');
    assert.equal(gpuInfra('ssh'), 'ssh');
    assert.equal(gpuInfra(undefined), undefined);
    assert.equal(usageError(() => gpuInfra('ssh//x')).helpCommand, 'sky show-gpus --help');
  });

  it('the commands exist in the spec: ssh up|down with --infra and --async; check takes infra names; show-gpus takes none', () => {
    const up = validate(SSH, 'up', [], { infra: 'gpu-a', async: true });
    assert.deepEqual(up.options, { infra: 'gpu-a', async: true });
    assert.match(usageError(() => validate(SSH, undefined, [], {})).message, /^missing action: sky ssh <action>, one of up, down$/);
    assert.match(usageError(() => validate(SSH, 'up', ['x'], {})).message, /takes no arguments/);
    const check = commandNamed('check') ?? assert.fail();
    assert.deepEqual(validateCommand(check, ['ssh', 'local'], {}).args, ['ssh', 'local']);
    assert.match(usageError(() => validateCommand(check, [], { infra: 'ssh' })).message, /option --infra is not valid for 'sky check'/);
    const gpus = commandNamed('show-gpus') ?? assert.fail();
    assert.match(usageError(() => validateCommand(gpus, ['ssh'], {})).message, /^sky show-gpus takes no arguments/);
  });
});

describe('sky check output', () => {
  const local = { id: 'local', ok: true, infra: ['local'], detail: '0 nodes up' };

  it('a line per driver, a tree per pool and host, and the enabled infra last; ok when everything is', () => {
    const result: CheckResult = {
      drivers: [
        local,
        {
          id: 'ssh',
          ok: true,
          infra: ['ssh/gpu-a', 'ssh/cpu'],
          hosts: [
            host('10.0.0.1', { pool: 'gpu-a', accelerators: [{ name: 'H100', count: 8 }] }),
            host('gpu2', { pool: 'gpu-a', host: '10.0.0.2', port: 2222, cpus: 1, memoryGb: 16 }),
            host('10.0.1.1:2201', { pool: 'cpu', user: 'root' }),
          ],
        },
      ],
    };
    const report = checkLines(result);
    assert.deepEqual(report.lines, [
      'Checking which infra sky can use.',
      '  local: enabled',
      '    0 nodes up',
      '  ssh: enabled [ssh/gpu-a, ssh/cpu]',
      '    SSH Node Pools:',
      '    ├── gpu-a: 2 of 2 hosts ready',
      '    │   ├── 10.0.0.1: reachable, auth ok (ubuntu), 8 CPUs, 31.4 GB memory, GPUs: H100:8',
      '    │   └── gpu2 (10.0.0.2:2222): reachable, auth ok (ubuntu), 1 CPU, 16 GB memory, no GPUs',
      '    └── cpu: 1 of 1 host ready',
      '        └── 10.0.1.1:2201: reachable, auth ok (root), 8 CPUs, 31.4 GB memory, no GPUs',
      '',
      'Enabled infra: local, ssh/gpu-a, ssh/cpu',
    ]);
    assert.equal(report.ok, true);
  });

  it('a host down: not ok (exit 1), but its pool stays enabled while another host is ready', () => {
    const report = checkLines({
      drivers: [
        {
          id: 'ssh',
          ok: false,
          infra: ['ssh/pool-a', 'ssh/lonely'],
          hosts: [
            host('a'),
            host('b', { reachable: false, authOk: false, cpus: 0, memoryGb: 0, error: 'no answer within 5 s' }),
            host('c', { pool: 'lonely', authOk: false, cpus: 0, memoryGb: 0, error: 'All configured authentication methods failed' }),
          ],
        },
      ],
    });
    assert.equal(report.ok, false);
    assert.deepEqual(report.enabled, ['ssh/pool-a']);
    assert.ok(report.lines.includes('  ssh: enabled [ssh/pool-a, ssh/lonely]'));
    assert.ok(report.lines.includes('    ├── pool-a: 1 of 2 hosts ready'));
    assert.ok(report.lines.includes('    │   └── b: unreachable: no answer within 5 s'));
    assert.ok(report.lines.includes('    └── lonely: 0 of 1 host ready'));
    assert.ok(report.lines.includes('        └── c: reachable, auth failed as ubuntu: All configured authentication methods failed'));
    assert.equal(report.lines.at(-1), 'Enabled infra: ssh/pool-a');
  });

  it('a driver that failed is disabled with its reason; infra asked for that the server lacks is named; none enabled', () => {
    const report = checkLines({ drivers: [{ id: 'ssh', ok: false, infra: ['ssh'], error: 'ssh_node_pools.yaml: line 3: bad' }] }, ['ssh', 'slurm']);
    assert.deepEqual(report.lines, [
      'Checking which infra sky can use.',
      '  ssh: disabled',
      '    Reason: ssh_node_pools.yaml: line 3: bad',
      '  slurm: not enabled on the API server',
      '',
      'Enabled infra: (none)',
    ]);
    assert.equal(report.ok, false);
    assert.equal(checkLines({ drivers: [] }).lines[1], '  No drivers are enabled on the API server.');
  });

  it('a host with a problem after login, and one held by a cluster', () => {
    assert.equal(hostFindings(host('h', { error: 'no POSIX shell' })), 'reachable, auth ok (ubuntu), 8 CPUs, 31.4 GB memory, no GPUs, error: no POSIX shell');
    assert.equal(
      hostFindings(host('h', { heldBy: { owner: 'alice', clusterName: 'dev' } })),
      'reachable, auth ok (ubuntu), 8 CPUs, 31.4 GB memory, no GPUs, held by alice (cluster dev)',
    );
    const held = checkLines({ drivers: [{ id: 'ssh', ok: true, infra: ['ssh/pool-a'], hosts: [host('h', { heldBy: { owner: 'alice', clusterName: 'dev' } })] }] });
    assert.equal(held.ok, true, 'a held host is in use, not broken');
  });

  it('a host is named as the pool names it, with its address when that label does not show it', () => {
    assert.equal(hostName(host('10.0.0.1')), '10.0.0.1');
    assert.equal(hostName(host('10.0.0.1:2201')), '10.0.0.1:2201');
    assert.equal(hostName(host('gpu1', { host: '10.0.0.5', port: 22 })), 'gpu1 (10.0.0.5:22)');
    assert.equal(memory(16), '16 GB');
    assert.equal(memory(15.56), '15.6 GB');
  });
});

describe('sky ssh up|down output', () => {
  it('one ✓/✗ line per host with its message, the address when the label hides it, and how many failed', () => {
    const result: PoolHostsResult = {
      hosts: [
        { pool: 'pool-a', label: '10.0.0.1:2201', host: '10.0.0.1', ok: true, message: 'ready: 4 CPUs, 16 GB' },
        { pool: 'pool-a', label: 'gpu1', host: '10.0.0.5', ok: false, message: 'no answer within 5 s' },
        { pool: 'b', label: '10.0.0.9', host: '10.0.0.9', ok: true, message: 'removed what sky put there' },
      ],
    };
    assert.deepEqual(poolHostLines(result), {
      lines: ['✓ pool-a/10.0.0.1:2201: ready: 4 CPUs, 16 GB', '✗ pool-a/gpu1 10.0.0.5: no answer within 5 s', '✓ b/10.0.0.9: removed what sky put there'],
      failed: 1,
    });
  });
});

describe('sky show-gpus output', () => {
  it('a table per pool: a row per host and GPU type, STATUS free / held by / unreachable, and No GPUs where a pool has none', () => {
    const result: ShowGpusResult = {
      hosts: [
        host('gpu1', { pool: 'gpu-a', host: '10.0.0.5', accelerators: [{ name: 'H100', count: 8 }] }),
        host('10.0.0.6', { pool: 'gpu-a', accelerators: [{ name: 'A10G', count: 1 }, { name: 'T4', count: 2 }], heldBy: { owner: 'bob', clusterName: 'train' } }),
        host('10.0.1.1:2201', { pool: 'cpu', cpus: 2, memoryGb: 7.8 }),
        host('10.0.1.2:2202', { pool: 'cpu', reachable: false, authOk: false, cpus: 0, memoryGb: 0, error: 'no answer within 5 s' }),
      ],
    };
    assert.deepEqual(gpuLines(result), [
      'SSH Node Pool: gpu-a',
      'HOST                GPU   QTY  CPUS  MEMORY   STATUS',
      'gpu1 (10.0.0.5:22)  H100  8    8     31.4 GB  free',
      '10.0.0.6            A10G  1    8     31.4 GB  held by bob (train)',
      '10.0.0.6            T4    2    8     31.4 GB  held by bob (train)',
      '',
      'SSH Node Pool: cpu',
      'HOST           GPU  QTY  CPUS  MEMORY  STATUS',
      '10.0.1.1:2201  -    0    2     7.8 GB  free',
      '10.0.1.2:2202  -    -    -     -       unreachable: no answer within 5 s',
      'No GPUs found in SSH Node Pool cpu (1 host could not be checked).',
    ]);
    assert.deepEqual(gpuLines({ hosts: [] }), ['No hosts found in the SSH node pools.']);
  });

  it('STATUS of a host that cannot be used says why, and who holds it', () => {
    assert.equal(gpuStatus(host('h', { authOk: false, error: 'permission denied' })), 'auth failed: permission denied');
    assert.equal(gpuStatus(host('h', { error: 'disk full' })), 'unusable: disk full');
    assert.equal(gpuStatus(host('h', { reachable: false, authOk: false, heldBy: { owner: 'a', clusterName: 'c' } })), 'held by a (c), unreachable: no answer');
  });
});

// The commands themselves, in-process against a fake API server: what they submit, what they print, how they exit.

interface Fake {
  status: RequestRecord['status'];
  result?: unknown;
  error?: { code: string; message: string; hint?: string };
  log?: string[];
}

let server: Server;
let fake: Fake;
const submitted: Array<{ op: string; body: unknown }> = [];
let home: string;
const saved: Record<string, string | undefined> = {};

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function record(id: string): RequestRecord {
  const rec: RequestRecord = { id, name: 'op', user: 'u1', userName: 'tester', workspace: 'default', lane: 'short', status: fake.status, createdAt: 1, body: {}, attempts: 1 };
  if (fake.result !== undefined) rec.result = fake.result;
  if (fake.error !== undefined) rec.error = fake.error as RequestRecord['error'];
  return rec;
}

function serve(req: IncomingMessage, res: ServerResponse, body: string): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const op = /^\/api\/v1\/(check|ssh_up|ssh_down|show_gpus)$/.exec(url.pathname);
  if (req.method === 'POST' && op) {
    submitted.push({ op: op[1]!, body: JSON.parse(body) });
    return json(res, 202, { requestId: `r${submitted.length}`, status: 'PENDING', created: true });
  }
  const wait = /^\/api\/v1\/requests\/([^/]+)\/wait$/.exec(url.pathname);
  if (wait) return json(res, 200, record(wait[1]!));
  const logs = /^\/api\/v1\/requests\/([^/]+)\/logs$/.exec(url.pathname);
  if (logs) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    (fake.log ?? []).forEach((text, seq) => res.write(`event: log\ndata: ${JSON.stringify({ seq, at: 1, text })}\n\n`));
    res.end(`event: end\ndata: ${JSON.stringify({ status: fake.status })}\n\n`);
    return;
  }
  const get = /^\/api\/v1\/requests\/([^/]+)$/.exec(url.pathname);
  if (get) return json(res, 200, record(get[1]!));
  json(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${url.pathname}` } });
}

async function sky(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const restore = redirectOutput({ out: (t) => (stdout += t), err: (t) => (stderr += t) });
  try {
    const code = await main(['node', 'sky', ...args]);
    return { code, stdout, stderr };
  } finally {
    restore();
  }
}

describe('the commands against a fake API server', () => {
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => serve(req, res, body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    home = mkdtempSync(join(tmpdir(), 'sky-cli-infra-'));
    for (const key of ['HOME', 'SKYPILOT_API_SERVER_ENDPOINT', 'SKY_DEBUG']) saved[key] = process.env[key];
    process.env.HOME = home;
    process.env.SKYPILOT_API_SERVER_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    delete process.env.SKY_DEBUG;
  });

  after(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(home, { recursive: true, force: true });
  });

  it('sky check ssh: submits the infra, streams the log to stderr, prints the report and exits 0 when all is ready', async () => {
    submitted.length = 0;
    fake = { status: 'SUCCEEDED', log: ['pool-a/a: ok'], result: { drivers: [{ id: 'ssh', ok: true, infra: ['ssh/pool-a'], hosts: [host('a')] }] } };
    const r = await sky('check', 'SSH');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(submitted, [{ op: 'check', body: { infra: ['ssh'] } }]);
    assert.match(r.stderr, /^pool-a\/a: ok$/m);
    assert.match(r.stdout, /^ {2}ssh: enabled \[ssh\/pool-a\]$/m);
    assert.match(r.stdout, /Enabled infra: ssh\/pool-a\n$/);
  });

  it('sky check exits 1 when a host is not ready, and says so on stderr', async () => {
    fake = { status: 'SUCCEEDED', result: { drivers: [{ id: 'ssh', ok: false, infra: ['ssh/pool-a'], hosts: [host('a'), host('b', { reachable: false, authOk: false, error: 'timeout' })] }] } };
    const r = await sky('check');
    assert.equal(r.code, 1);
    assert.deepEqual(submitted.at(-1), { op: 'check', body: {} });
    assert.match(r.stdout, /└── b: unreachable: timeout/);
    assert.match(r.stderr, /Some infra is not ready: see the reasons above, fix them and rerun: sky check\n/);
  });

  it('sky check -o json prints the result as the server gave it', async () => {
    const result = { drivers: [{ id: 'local', ok: true, infra: ['local'] }] };
    fake = { status: 'SUCCEEDED', result };
    const r = await sky('check', '-o', 'json');
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), result);
  });

  it('a FAILED request: its error and hint on stderr, exit 1, nothing on stdout', async () => {
    fake = { status: 'FAILED', error: { code: 'VALIDATION_FAILED', message: 'ssh driver: no SSH node pool named "nope"; the pools are pool-a', hint: 'Use --infra ssh/pool-a.' } };
    for (const args of [['show-gpus', '--infra', 'ssh/nope'], ['ssh', 'up', '--infra', 'nope'], ['check', 'ssh/nope']]) {
      const r = await sky(...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^sky: ssh driver: no SSH node pool named "nope"; the pools are pool-a\n {2}hint: Use --infra ssh\/pool-a\.\n$/m);
    }
    assert.deepEqual(submitted.at(-2), { op: 'ssh_up', body: { infra: 'ssh/nope' } });
  });

  it('sky ssh up|down: a line per host; exit 1 when any host failed, 0 when none did', async () => {
    fake = {
      status: 'SUCCEEDED',
      result: { hosts: [{ pool: 'pool-a', label: 'a', host: 'a', ok: true, message: 'ready: 2 CPUs, 4 GB' }, { pool: 'pool-a', label: 'b', host: 'b', ok: false, message: 'no answer' }] },
    };
    const up = await sky('ssh', 'up');
    assert.equal(up.code, 1);
    assert.deepEqual(submitted.at(-1), { op: 'ssh_up', body: {} });
    assert.equal(up.stdout, '✓ pool-a/a: ready: 2 CPUs, 4 GB\n✗ pool-a/b: no answer\n1 of 2 hosts ready.\n');
    fake = { status: 'SUCCEEDED', result: { hosts: [{ pool: 'pool-a', label: 'a', host: 'a', ok: true, message: 'removed what sky put there' }] } };
    const down = await sky('ssh', 'down', '--infra', 'ssh/pool-a');
    assert.equal(down.code, 0);
    assert.deepEqual(submitted.at(-1), { op: 'ssh_down', body: { infra: 'ssh/pool-a' } });
    assert.equal(down.stdout, '✓ pool-a/a: removed what sky put there\n1 of 1 host cleaned up.\n');
    fake = { status: 'SUCCEEDED', result: { hosts: [] } };
    const none = await sky('ssh', 'up');
    assert.equal(none.code, 1);
    assert.match(none.stderr, /sky: no hosts in every SSH node pool/);
  });

  it('sky ssh up --async prints the request ID and does not wait', async () => {
    fake = { status: 'RUNNING' };
    const r = await sky('ssh', 'up', '--async', '--infra', 'gpu-a');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `r${submitted.length}\n`);
    assert.deepEqual(submitted.at(-1), { op: 'ssh_up', body: { infra: 'ssh/gpu-a' } });
  });

  it('sky show-gpus prints the tables; a bad --infra is a usage error (exit 2) and nothing is submitted', async () => {
    fake = { status: 'SUCCEEDED', result: { hosts: [host('a', { accelerators: [{ name: 'L4', count: 1 }] })] } };
    const r = await sky('show-gpus', '--infra', 'ssh/pool-a');
    assert.equal(r.code, 0);
    assert.deepEqual(submitted.at(-1), { op: 'show_gpus', body: { infra: 'ssh/pool-a' } });
    assert.equal(r.stdout, 'SSH Node Pool: pool-a\nHOST  GPU  QTY  CPUS  MEMORY   STATUS\na     L4   1    8     31.4 GB  free\n');
    const count = submitted.length;
    const bad = await sky('ssh', 'down', '--infra', 'kubernetes/x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^sky: --infra 'kubernetes\/x' is not an SSH node pool; give POOL or ssh\/POOL\. Run 'sky ssh down --help'\.\n$/);
    assert.equal(submitted.length, count);
  });
});
