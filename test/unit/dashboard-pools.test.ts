import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { poolsFromHosts } from '../../dashboard-static/src/logic/pools.js';
import type { HostCheck } from '../../dashboard-static/src/types.js';

function host(pool: string, label: string, extra: Partial<HostCheck> = {}): HostCheck {
  return { pool, label, host: `10.0.0.${label}`, port: 22, user: 'sky', reachable: true, authOk: true, cpus: 8, memoryGb: 31.3, accelerators: [], ...extra };
}

describe('dashboard infra: pool capacity from host reports', () => {
  it('counts hosts, ready ones (reachable and logged in), free ones (held by no cluster), and sums the ready ones', () => {
    const pools = poolsFromHosts([
      host('gpu', '1', { accelerators: [{ name: 'A100', count: 8 }] }),
      host('gpu', '2', { accelerators: [{ name: 'A100', count: 4 }, { name: 'T4', count: 1 }], heldBy: { owner: 'alice', clusterName: 'train' } }),
      host('gpu', '3', { reachable: false, error: 'connect ECONNREFUSED', accelerators: [{ name: 'A100', count: 8 }] }),
      host('cpu', '4', { authOk: false }),
    ]);
    assert.deepEqual(pools, [
      { pool: 'gpu', hosts: 3, ready: 2, free: 1, cpus: 16, memoryGb: 62.6, accelerators: [{ name: 'A100', count: 12 }, { name: 'T4', count: 1 }] },
      { pool: 'cpu', hosts: 1, ready: 0, free: 0, cpus: 0, memoryGb: 0, accelerators: [] },
    ]);
  });

  it('has no pools without hosts', () => {
    assert.deepEqual(poolsFromHosts([]), []);
  });
});
