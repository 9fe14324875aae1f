import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseTaskYaml, type NodeRecord } from '@sky/protocol';
import { fieldsForNodes, jobDemand } from '../../core/daemon/src/clusters/resources.js';

function node(cpus: number, memoryGb: number, accelerators: Array<{ name: string; count: number }> = []): NodeRecord {
  return { id: 'n0', rank: 0, address: '127.0.0.1', reach: { kind: 'local', root: '/tmp/n0' }, resources: { cpus, memoryGb, accelerators } };
}

describe('the resources a job asks of the nodes it runs on', () => {
  it('an any_of task placed by its second candidate asks for that candidate, not the first', () => {
    const task = parseTaskYaml('resources:\n  any_of:\n    - cpus: 64+\n    - cpus: 1\n      memory: 1+\nrun: ls\n', 't.yaml');
    assert.deepStrictEqual(jobDemand(fieldsForNodes(task, [node(1, 1)])), { cpus: 1, memoryGb: 1, accelerators: [] });
    // A node that covers the first candidate takes it, as before.
    assert.equal(jobDemand(fieldsForNodes(task, [node(64, 256)])).cpus, 64);
  });

  it('ordered GPU candidates: the one the node has', () => {
    const task = parseTaskYaml('resources:\n  ordered:\n    - accelerators: H100:1\n    - accelerators: A100:1\nrun: ls\n', 't.yaml');
    assert.deepStrictEqual(jobDemand(fieldsForNodes(task, [node(8, 32, [{ name: 'A100', count: 1 }])])).accelerators, [{ name: 'A100', count: 1 }]);
  });

  it('when no candidate fits, the first is asked for (and the cluster check says what is missing)', () => {
    const task = parseTaskYaml('resources:\n  any_of:\n    - cpus: 8\n    - cpus: 4\nrun: ls\n', 't.yaml');
    assert.equal(jobDemand(fieldsForNodes(task, [node(2, 4)])).cpus, 8);
    assert.equal(jobDemand(fieldsForNodes(task, [])).cpus, 8);
  });
});
