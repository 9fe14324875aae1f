import type { JobsCancelBody, JobsLaunchBody } from '@sky/protocol';
import { checkCancelSelection, type ManagedJobService } from '../managed-jobs/managed-job-service.js';
import type { OperationHandler } from './registry.js';

/** The managed-job operations: thin adapters from a request to the managed-job service. */
export function managedJobOperations(service: ManagedJobService): OperationHandler[] {
  return [
    {
      name: 'jobs_launch',
      // Run again after a restart, it finds the managed job it made by its request id.
      resumable: true,
      validate: (body, caller) => service.validateLaunch(body as JobsLaunchBody, caller),
      run: (ctx, body) => service.launch(ctx, body as JobsLaunchBody),
    },
    // Cancelling again is harmless: CANCELLING is recorded once, and ended jobs are reported as such.
    { name: 'jobs_cancel', resumable: true, validate: (body) => checkCancelSelection(body as JobsCancelBody), run: (ctx, body) => service.cancel(ctx, body as JobsCancelBody) },
  ];
}
