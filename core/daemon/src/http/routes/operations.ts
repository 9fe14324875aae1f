import type Router from '@koa/router';
import { IDEMPOTENCY_KEY_HEADER, OPERATION_ROUTES, OPERATIONS, PREFER_HEADER, PREFERENCE_APPLIED_HEADER, REQUEST_ID_HEADER, SkyError, isTerminal, type Lane, type OperationName, type RequestRecord, type SubmitResponse } from '@sky/protocol';
import type { Scheduler } from '../../scheduler/scheduler.js';
import type { RequestService } from '../../services/requests.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';
import { DEFAULT_WORKSPACE, WORKSPACE_HEADER, WorkspaceNameSchema } from '@sky/protocol';
import { policyOf } from '../access.js';

const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** The seconds of a `Prefer: wait=N` preference (RFC 7240), or undefined; anything else in the header is ignored. */
export function preferredWait(header: string): number | undefined {
  const match = /(?:^|[,;])\s*wait\s*=\s*"?(\d{1,6})"?\s*(?:[,;]|$)/i.exec(header);
  if (match === null) return undefined;
  const seconds = Number(match[1]);
  return seconds > 0 ? seconds : undefined;
}

/** What a submit answers: the request's id and status, and how it ended when it already has. */
function answerOf(record: RequestRecord, created: boolean): SubmitResponse {
  const answer: SubmitResponse = { requestId: record.id, status: record.status, created };
  if (record.job !== undefined) answer.job = record.job;
  if (isTerminal(record.status) && record.error !== undefined) answer.error = record.error;
  return answer;
}

function laneOf(name: OperationName, body: unknown): Lane {
  const chosen = typeof body === 'object' && body !== null ? (body as { lane?: unknown }).lane : undefined;
  return chosen === 'short' || chosen === 'long' ? chosen : OPERATIONS[name].defaultLane;
}

/**
 * POST /api/v1/<op>: persist the request, then answer 202 with its id (with `Prefer: wait=N`,
 * once it has ended or N seconds passed). Who may submit it is the route table's (bindRoute),
 * and whether the caller may use the workspace the access policy's.
 */
export function operationRoutes(router: Router, scheduler: Scheduler, requests: RequestService, maxBodyBytes: number): void {
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
      const cluster = typeof (body as { cluster?: unknown }).cluster === 'string' ? (body as { cluster: string }).cluster : undefined;
      const target = cluster ?? workspace;
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
        ...(cluster !== undefined ? { cluster } : {}),
        ...(key !== '' ? { idempotencyKey: key } : {}),
      });
      let latest = record;
      const wait = preferredWait(ctx.get(PREFER_HEADER));
      if (wait !== undefined && !isTerminal(record.status)) {
        latest = await requests.wait(record.id, wait);
        ctx.set(PREFERENCE_APPLIED_HEADER, `wait=${Math.min(wait, requests.maxWaitSeconds)}`);
      }
      const answer = answerOf(latest, created);
      ctx.set(REQUEST_ID_HEADER, record.id);
      ctx.status = 202;
      ctx.body = answer;
    });
  }
}
