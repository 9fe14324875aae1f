import type Router from '@koa/router';
import { IDEMPOTENCY_KEY_HEADER, OPERATION_ROUTES, OPERATIONS, REQUEST_ID_HEADER, SkyError, type Lane, type OperationName, type SubmitResponse } from '@sky/protocol';
import type { Scheduler } from '../../scheduler/scheduler.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import type { WorkspaceService } from '../../auth/workspace-service.js';
import { DEFAULT_WORKSPACE, WORKSPACE_HEADER, WorkspaceNameSchema } from '@sky/protocol';

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

function laneOf(name: OperationName, body: unknown): Lane {
  const chosen = typeof body === 'object' && body !== null ? (body as { lane?: unknown }).lane : undefined;
  return chosen === 'short' || chosen === 'long' ? chosen : OPERATIONS[name].defaultLane;
}

/** POST /api/v1/<op>: persist the request, then answer 202 with its id. */
export function operationRoutes(router: Router, scheduler: Scheduler, maxBodyBytes: number, workspaces: WorkspaceService): void {
  for (const route of OPERATION_ROUTES) {
    const name = route.operation!;
    bindRoute(router, route, maxBodyBytes, async (ctx, { body }) => {
      const key = ctx.get(IDEMPOTENCY_KEY_HEADER);
      if (key !== '' && !KEY_PATTERN.test(key)) {
        throw new SkyError('VALIDATION_FAILED', `header ${IDEMPOTENCY_KEY_HEADER} must be 1-200 printable ASCII characters`);
      }
      const caller = callerOf(ctx);
      const named = ctx.get(WORKSPACE_HEADER);
      const workspace = named === '' ? DEFAULT_WORKSPACE : named;
      if (!WorkspaceNameSchema.safeParse(workspace).success) {
        throw new SkyError('VALIDATION_FAILED', `header ${WORKSPACE_HEADER}: "${workspace.slice(0, 80)}" is not a workspace name (lowercase letters, digits, "-" or "_")`, {
          hint: 'List workspaces with: sky workspace list',
        });
      }
      await workspaces.access(caller, workspace);
      const { record, created } = await scheduler.submit({
        name,
        body,
        lane: laneOf(name, body),
        user: caller.id,
        userName: caller.name,
        workspace,
        via: caller.via,
        ...(key !== '' ? { idempotencyKey: key } : {}),
      });
      const answer: SubmitResponse = { requestId: record.id, status: record.status, created };
      ctx.set(REQUEST_ID_HEADER, record.id);
      ctx.status = 202;
      ctx.body = answer;
    });
  }
}
