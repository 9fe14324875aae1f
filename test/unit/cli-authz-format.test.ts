import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { CheckResult, DeletedUser, ShowGpusResult } from '@sky/protocol';
import { checkLines, gpuLines, poolSummaryLine } from '../../cli/src/infra-format.js';
import { deletedLines } from '../../cli/src/users-format.js';

// What the CLI prints for the parts of the API that depend on who asks: capacity summaries for
// non-admins (check, show-gpus) and the outcome of deleting a user.

const pools = [
  { pool: 'gpu-a', hosts: 3, ready: 2, free: 1, cpus: 16, memoryGb: 64, accelerators: [{ name: 'H100', count: 8 }] },
  { pool: 'cpu-b', hosts: 1, ready: 0, free: 0, cpus: 0, memoryGb: 0, accelerators: [] },
];

describe('capacity summaries for users who do not see the hosts', () => {
  it('sky check: a line per pool, enabled while any pool has a ready host', () => {
    const result: CheckResult = { drivers: [{ id: 'ssh', ok: false, infra: ['ssh/gpu-a', 'ssh/cpu-b'], detail: 'free: 8 of 16 CPUs, 32 of 64 GB memory', pools }] };
    const report = checkLines(result);
    assert.deepEqual(report.lines, [
      'Checking which infra sky can use.',
      '  ssh: enabled [ssh/gpu-a, ssh/cpu-b]',
      '    free: 8 of 16 CPUs, 32 of 64 GB memory',
      '    SSH Node Pools:',
      '    ├── gpu-a: 2 of 3 hosts ready, 1 free, 16 CPUs, 64 GB, GPUs: H100:8',
      '    └── cpu-b: 0 of 1 host ready, 0 free',
      '',
      'Enabled infra: ssh/gpu-a',
    ]);
    assert.equal(report.ok, false);
    assert.deepEqual(report.enabled, ['ssh/gpu-a']);
  });

  it('sky show-gpus: a row per pool and GPU type, and a note that hosts are for admins', () => {
    const result: ShowGpusResult = { hosts: [], pools };
    const lines = gpuLines(result);
    assert.match(lines[0]!, /^POOL\s+GPU\s+QTY\s+HOSTS READY\s+HOSTS FREE$/);
    assert.match(lines[1]!, /^gpu-a\s+H100\s+8\s+2 of 3\s+1$/);
    assert.match(lines[2]!, /^cpu-b\s+-\s+0\s+0 of 1\s+0$/);
    assert.equal(lines.at(-1), '(Per-host details are shown to admins.)');
    assert.deepEqual(gpuLines({ hosts: [], pools: [] }), ['No hosts found in the SSH node pools.']);
  });

  it('one pool', () => {
    assert.equal(poolSummaryLine({ pool: 'p', hosts: 0, ready: 0, free: 0, cpus: 0, memoryGb: 0, accelerators: [] }), 'p: no hosts');
  });
});

describe('sky users delete', () => {
  const base: DeletedUser = { id: 'u-1', name: 'alice', role: 'user', createdAt: 1, revokedTokens: 1, cancelledRequests: [], transferred: [], downRequests: [] };

  it('says what became of the tokens, requests and clusters', () => {
    assert.deepEqual(deletedLines({ ...base, cancelledRequests: ['r1', 'r2'], transferredTo: 'bob', transferred: ['c1', 'c2'] }), [
      'Deleted user alice (u-1): 1 token revoked, 2 requests cancelled.',
      'Their clusters now belong to bob: c1, c2.',
    ]);
    assert.deepEqual(deletedLines({ ...base, revokedTokens: 0, downRequests: [{ cluster: 'c1', requestId: 'r9' }] }), [
      'Deleted user alice (u-1): 0 tokens revoked, 0 requests cancelled.',
      'Tearing down their clusters: c1.',
      '  c1: request r9 (sky api logs r9)',
    ]);
  });
});
