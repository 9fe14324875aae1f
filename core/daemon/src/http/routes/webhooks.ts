import type Router from '@koa/router';
import { ROUTES, toSkyError } from '@sky/protocol';
import type { WebhookService } from '../../webhooks/webhook-service.js';
import type { AuditLog } from '../../audit/audit-log.js';
import type { Caller } from '../../auth/caller.js';
import { bindRoute } from '../bind.js';
import { callerOf } from '../identity.js';

/** Refusals of a webhook's URL (webhooks off, an address not allowed) are audited like other refusals. */
const REFUSALS = new Set(['WEBHOOKS_DISABLED', 'WEBHOOK_URL_NOT_ALLOWED']);

async function auditRefusal<T>(audit: AuditLog, caller: Caller, target: string, url: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const code = toSkyError(err)?.code;
    if (code !== undefined && REFUSALS.has(code)) {
      await audit.record({ user: caller.id, userName: caller.name, action: 'webhook.create', target, result: 'DENIED', detail: `${code}: ${url}`.slice(0, 500) });
    }
    throw err;
  }
}

/** Webhooks of a workspace (admins, by the route table): list, add, remove, and the delivery log; changes audited. */
export function webhookRoutes(router: Router, webhooks: WebhookService, maxBodyBytes: number, audit: AuditLog): void {
  bindRoute(router, ROUTES.listWebhooks, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await webhooks.list(params.name);
  });
  bindRoute(router, ROUTES.createWebhook, maxBodyBytes, async (ctx, { params, body }) => {
    const caller = callerOf(ctx);
    ctx.body = await auditRefusal(audit, caller, params.name, body.url, () =>
      audit.guard(caller, 'webhook.create', params.name, () => webhooks.create(caller, params.name, body), (hook) => ({ target: `${params.name}/${hook.id}`, detail: hook.url.slice(0, 500) })),
    );
    ctx.status = 201;
  });
  bindRoute(router, ROUTES.deleteWebhook, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await audit.guard(callerOf(ctx), 'webhook.delete', `${params.name}/${params.id}`, () => webhooks.remove(params.name, params.id), (hook) => ({ detail: hook.url.slice(0, 500) }));
  });
  bindRoute(router, ROUTES.webhookDeliveries, maxBodyBytes, async (ctx, { params }) => {
    ctx.body = await webhooks.deliveries(params.name, params.id);
  });
}
