// A workflow that trains on a fresh cluster and always tears it down (a sketch: runs in
// Temporal's workflow sandbox, which may import only types from the activities package).
import { CancellationScope, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { JobOutcome, SkyActivities } from 'sky-temporal-activities';

// Waits heartbeat every poll: a heartbeat timeout a few polls long notices a dead worker quickly.
const sky = proxyActivities<SkyActivities>({ startToCloseTimeout: '24 hours', heartbeatTimeout: '1 minute', retry: { maximumAttempts: 3 } });

export async function train(run: string): Promise<JobOutcome> {
  const id = workflowInfo().workflowId;
  const cluster = `train-${id}`.replace(/[^a-zA-Z0-9-]/g, '-').slice(0, 63);
  await sky.launchCluster({ cluster, task: { resources: { cpus: 4 } }, idempotencyKey: `${id}/launch` });
  try {
    const { jobId } = await sky.execJob({ cluster, task: { run }, idempotencyKey: `${id}/exec` });
    return await sky.waitForJob({ cluster, jobId });
  } finally {
    // Runs even when the workflow is cancelled: the cluster never outlives it.
    await CancellationScope.nonCancellable(() => sky.downCluster({ cluster, idempotencyKey: `${id}/down` }));
  }
}
