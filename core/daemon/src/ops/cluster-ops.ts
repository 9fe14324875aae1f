import { validateClusterName, type AutostopBody, type CancelJobsBody, type ClusterBody, type ExecBody, type LaunchBody } from '@sky/protocol';
import type { ClusterService } from '../clusters/cluster-service.js';
import { submittedTask, submittedUploads } from '../clusters/submitted-task.js';
import type { TaskFilesResolver } from '../uploads/task-files.js';
import type { OperationHandler } from './registry.js';
import { assertNotReserved } from '../clusters/reserved-names.js';

/** The cluster operations, each a thin adapter from a request to the cluster service. */
export function clusterOperations(service: ClusterService, taskFiles: TaskFilesResolver): OperationHandler[] {
  return [
    {
      name: 'launch',
      resumable: false,
      validate: async (body, caller) => {
        const { task, cluster, uploads, dryrun } = body as LaunchBody;
        const parsed = submittedTask(task);
        if (cluster !== undefined) {
          validateClusterName(cluster);
          assertNotReserved(cluster);
        }
        await taskFiles.forSubmit(parsed, submittedUploads(uploads, parsed), caller, dryrun === true);
      },
      afterRestart: (request) => service.launchAfterRestart(request),
      resultWithJob: (request) => service.launchResultWithJob(request),
      run: (ctx, body) => service.launch(ctx, body as LaunchBody),
    },
    {
      name: 'exec',
      // Without its job yet it simply runs again (the job is queued in the same write that records it on the request).
      resumable: true,
      validate: async (body, caller) => {
        const { task, uploads } = body as ExecBody;
        const parsed = submittedTask(task);
        await taskFiles.forSubmit(parsed, submittedUploads(uploads, parsed), caller, false);
      },
      resultWithJob: async (request) => ({ cluster: request.job!.cluster, jobId: request.job!.id }),
      run: (ctx, body) => service.exec(ctx, body as ExecBody),
    },
    // Drivers make stop, start and terminate idempotent, so these run again after a restart.
    { name: 'stop', resumable: true, run: (ctx, body) => service.stop(ctx, (body as ClusterBody).cluster) },
    { name: 'start', resumable: true, run: (ctx, body) => service.start(ctx, (body as ClusterBody).cluster) },
    { name: 'down', resumable: true, run: (ctx, body) => service.down(ctx, (body as ClusterBody).cluster) },
    { name: 'autostop', resumable: true, run: (ctx, body) => service.autostop(ctx, body as AutostopBody) },
    { name: 'cancel', resumable: true, run: (ctx, body) => service.cancelJobs(ctx, body as CancelJobsBody) },
    { name: 'refresh', resumable: true, run: (ctx, body) => service.refresh(ctx, body as { clusters?: string[]; all_users?: boolean }) },
  ];
}
