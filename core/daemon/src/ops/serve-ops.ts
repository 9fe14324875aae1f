import type { ServeDownBody, ServeUpBody, ServeUpdateBody } from '@sky/protocol';
import type { ServeService } from '../serve/serve-service.js';
import type { OperationHandler } from './registry.js';

/** The sky serve operations: thin adapters from a request to the serve service. */
export function serveOperations(service: ServeService): OperationHandler[] {
  return [
    // Run again after a restart, it finds the service it made by its request id.
    { name: 'serve_up', resumable: true, validate: (body, caller) => service.validateTask(body as ServeUpBody, caller), run: (ctx, body) => service.up(ctx, body as ServeUpBody) },
    // Another version is harmless to record twice only if nothing changed since: an update is not resumed.
    { name: 'serve_update', resumable: false, validate: (body, caller) => service.validateTask(body as ServeUpdateBody, caller), run: (ctx, body) => service.update(ctx, body as ServeUpdateBody) },
    // Tearing down again is harmless: SHUTTING_DOWN is recorded once, and a service gone is reported as such.
    { name: 'serve_down', resumable: true, run: (ctx, body) => service.down(ctx, body as ServeDownBody) },
  ];
}
