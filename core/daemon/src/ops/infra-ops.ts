import type { CheckBody, PoolBody } from '@sky/protocol';
import type { InfraService } from '../clusters/infra-service.js';
import type { OperationHandler } from './registry.js';

/** Operations on the infrastructure itself: check, SSH pools up/down, GPUs per host. */
export function infraOperations(service: InfraService): OperationHandler[] {
  return [
    { name: 'check', resumable: true, run: (ctx, body) => service.check(ctx, body as CheckBody) },
    { name: 'ssh_up', resumable: false, run: (ctx, body) => service.sshUp(ctx, body as PoolBody) },
    { name: 'ssh_down', resumable: false, run: (ctx, body) => service.sshDown(ctx, body as PoolBody) },
    { name: 'show_gpus', resumable: true, run: (ctx, body) => service.showGpus(ctx, body as PoolBody) },
  ];
}
