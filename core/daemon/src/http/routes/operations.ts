import type Router from '@koa/router';
import { IDEMPOTENCY_KEY_HEADER, OPERATION_ROUTES, OPERATIONS, REQUEST_ID_HEADER, SkyError, type Lane, type OperationName, type SubmitResponse } from '@sky/protocol';
import type { Scheduler } from '../../scheduler/scheduler.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { DEFAULT_WORKSPACE, WORKSPACE_HEADER, WorkspaceNameSchema } from '@sky/protocol';
import { policyOf } from '../access.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

function laneOf(name: OperationName, body: unknown): Lane {
  const chosen = typeof body === 'object' && body !== null ? (body as { lane?: unknown }).lane : undefined;
  return chosen === 'short' || chosen === 'long' ? chosen : OPERATIONS[name].defaultLane;
}

/**
 * POST /api/v1/<op>: persist the request, then answer 202 with its id. Who may submit it is the
 * route table's (bindRoute), and whether the caller may use the workspace the access policy's.
 */
export function operationRoutes(router: Router, scheduler: Scheduler, maxBodyBytes: number): void {
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
      const policy = policyOf(ctx);
      const target = typeof (body as { cluster?: unknown }).cluster === 'string' ? (body as { cluster: string }).cluster : workspace;
      await policy.assertWorkspace(caller, workspace, { action: name, target });
      const { record, created } = await scheduler.submit({
        name,
        body,
        lane: laneOf(name, body),
        user: caller.id,
        userName: caller.name,
        workspace,
        via: caller.via,
        privileged: policy.isAdmin(caller),
        ...(key !== '' ? { idempotencyKey: key } : {}),
      });
      const answer: SubmitResponse = { requestId: record.id, status: record.status, created };
      ctx.set(REQUEST_ID_HEADER, record.id);
      ctx.status = 202;
      ctx.body = answer;
    });
  }
}
