import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseTaskYaml, taskToConfig, parseTask, type JobRecovery } from '@sky/protocol';
import { decideEnd, failingExitCode, type TaskEnd } from '../../core/daemon/src/managed-jobs/recovery.js';
import { LaunchSlots } from '../../core/daemon/src/managed-jobs/launch-slots.js';
import { attemptTag, managedClusterName, managedJobOfCluster } from '../../core/daemon/src/managed-jobs/cluster-names.js';

const failover = (maxRestartsOnErrors = 0, recoverOnExitCodes: number[] = []): JobRecovery => ({ strategy: 'FAILOVER', maxRestartsOnErrors, recoverOnExitCodes });
const failed = (exitCodes: Array<number | null>, extra: Partial<TaskEnd> = {}): TaskEnd => ({ status: 'FAILED', exitCodes, nodeLost: false, ...extra });

describe('managed jobs: what follows the end of a task', () => {
  const cases: Array<{ name: string; end: TaskEnd; recovery?: JobRecovery; restarts?: number; ceiling?: number; want: string }> = [
    { name: 'success', end: { status: 'SUCCEEDED', exitCodes: [0], nodeLost: false }, want: 'succeeded' },
    { name: 'own failure, no job_recovery', end: failed([1]), want: 'end FAILED' },
    { name: 'own failure, restarts left', end: failed([1]), recovery: failover(2), restarts: 1, want: 'relaunch restart' },
    { name: 'own failure, restarts used up', end: failed([1]), recovery: failover(2), restarts: 2, want: 'end FAILED' },
    { name: 'listed exit code, no restarts asked', end: failed([0, 29]), recovery: failover(0, [29]), restarts: 7, want: 'relaunch restart' },
    { name: 'listed exit code under the ceiling only', end: failed([29]), recovery: failover(0, [29]), restarts: 3, ceiling: 3, want: 'end FAILED' },
    { name: 'unlisted exit code', end: failed([30]), recovery: failover(0, [29]), want: 'end FAILED' },
    { name: 'killed by a signal is its own failure', end: failed([137]), recovery: failover(0), want: 'end FAILED' },
    { name: 'killed by a signal, restarts left', end: failed([137]), recovery: failover(1), want: 'relaunch restart' },
    { name: 'lost node, no job_recovery: still recovered', end: failed([null], { nodeLost: true, reason: 'node 10.0.0.2 unreachable' }), want: 'relaunch recovery' },
    { name: 'lost node never counts as a restart', end: failed([null], { nodeLost: true }), recovery: failover(0), restarts: 5, want: 'relaunch recovery' },
    { name: 'failed setup is never retried', end: { status: 'FAILED_SETUP', exitCodes: [2], nodeLost: false }, recovery: failover(5, [2]), want: 'end FAILED_SETUP' },
    { name: 'lost node during setup is recovered', end: { status: 'FAILED_SETUP', nodeLost: true }, want: 'relaunch recovery' },
    { name: 'cancelled on its cluster', end: { status: 'CANCELLED', nodeLost: true }, want: 'end CANCELLED' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideEnd(c.end, c.recovery, { restarts: c.restarts ?? 0 }, c.ceiling ?? 100);
      const got = d.kind === 'succeeded' ? 'succeeded' : d.kind === 'relaunch' ? `relaunch ${d.counts}` : `end ${d.status}`;
      assert.equal(got, c.want);
      if (d.kind === 'end' && d.status === 'FAILED') assert.match(d.reason, /exit code \d+/);
    });
  }

  it('names the failing exit code: the first non-zero one of the ranks', () => {
    assert.equal(failingExitCode([0, null, 3, 4]), 3);
    assert.equal(failingExitCode([0, 0]), undefined);
    assert.equal(failingExitCode(undefined), undefined);
  });
});

describe('resources.job_recovery in a task', () => {
  it('reads a strategy name, case-insensitive, and none', () => {
    const task = parseTaskYaml('resources:\n  job_recovery: failover\nrun: x\n', 't.yaml');
    assert.deepStrictEqual(task.resources.job_recovery, failover());
    assert.equal(parseTaskYaml('resources:\n  job_recovery: none\nrun: x\n', 't.yaml').resources.job_recovery?.strategy, null);
  });

  it('reads the mapping form and keeps it through the JSON the CLI sends', () => {
    const yaml = 'resources:\n  job_recovery:\n    strategy: EAGER_NEXT_REGION\n    max_restarts_on_errors: 3\n    recover_on_exit_codes: 29\nrun: x\n';
    const task = parseTaskYaml(yaml, 't.yaml');
    const want: JobRecovery = { strategy: 'EAGER_NEXT_REGION', maxRestartsOnErrors: 3, recoverOnExitCodes: [29] };
    assert.deepStrictEqual(task.resources.job_recovery, want);
    assert.deepStrictEqual(parseTask(JSON.parse(JSON.stringify(taskToConfig(task)))).resources.job_recovery, want);
  });
});

describe('managed job names and launch slots', () => {
  it('names clusters after the job and its owner, and reads the id back', () => {
    assert.equal(managedClusterName(12, 'Alice.Smith'), 'sky-jobs-12-alicesmith');
    assert.equal(managedClusterName(3, '@@'), 'sky-jobs-3-user');
    assert.equal(managedJobOfCluster('sky-jobs-12-alicesmith'), 12);
    assert.equal(managedJobOfCluster('sky-jobsx-12-a'), undefined);
    assert.equal(attemptTag(4, 2), 'mj-4-2');
  });

  it('admits at most N launches, in arrival order, and lets an aborted waiter leave the line', async () => {
    const slots = new LaunchSlots(1);
    const order: string[] = [];
    await slots.acquire(new AbortController().signal);
    const gone = new AbortController();
    const b = slots.acquire(gone.signal).then(() => order.push('b'), () => order.push('b aborted'));
    const c = slots.acquire(new AbortController().signal).then(() => order.push('c'));
    gone.abort();
    await b;
    slots.release();
    await c;
    assert.deepStrictEqual(order, ['b aborted', 'c']);
  });
});
