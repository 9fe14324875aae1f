import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { SkyError, type CreateWebhookBody, type NewWebhook, type WebhookDelivery as DeliveryEntry, type WebhookRecord, type WebhookView, type WorkspaceRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import type { Caller } from '../auth/caller.js';
import { vetAddress } from './sender.js';
import { newWebhookId, newWebhookSecret } from './signing.js';
import { secretContext, WebhookDelivery, WEBHOOK_RESOLVER } from './webhook-delivery.js';
import type { Resolver } from './sender.js';

/**
 * Webhooks of workspaces (the route table makes them admin-only): add one (its URL checked
 * against webhooks.allow, its host resolved and its addresses checked too), list them, remove
 * one, read its delivery log. A webhook lives in its workspace's record, its secret sealed.
 */
@injectable()
export class WebhookService {
  /** Changes of one workspace's webhook list, one at a time on this replica (the list is read, changed and written back). */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(WebhookDelivery) private readonly delivery: WebhookDelivery,
    @inject(WEBHOOK_RESOLVER) private readonly resolve: Resolver,
  ) {}

  private async workspace(name: string): Promise<WorkspaceRecord> {
    const ws = await this.store.workspaces.get(name);
    if (!ws) throw new SkyError('WORKSPACE_NOT_FOUND', `no workspace named ${name}`, { hint: 'List workspaces with: sky workspace list' });
    return ws;
  }

  private hook(ws: WorkspaceRecord, id: string): WebhookRecord {
    const hook = ws.webhooks?.find((h) => h.id === id);
    if (!hook) throw new SkyError('WEBHOOK_NOT_FOUND', `workspace ${ws.name} has no webhook ${id}`, { hint: `List its webhooks with: sky workspace webhook list ${ws.name}` });
    return hook;
  }

  private locked<T>(name: string, run: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(run);
    this.#locks.set(name, next);
    void next.finally(() => {
      if (this.#locks.get(name) === next) this.#locks.delete(name);
    }).catch(() => undefined);
    return next;
  }

  async list(name: string): Promise<{ items: WebhookView[] }> {
    const ws = await this.workspace(name);
    return { items: (ws.webhooks ?? []).map((hook) => view(ws, hook)) };
  }

  /** Refuses (WEBHOOKS_DISABLED, WEBHOOK_URL_NOT_ALLOWED) before anything is stored; the route audits those refusals. */
  async create(caller: Caller, name: string, body: CreateWebhookBody): Promise<NewWebhook> {
    const allow = this.delivery.allow;
    if (!allow.enabled) {
      throw new SkyError('WEBHOOKS_DISABLED', 'webhooks are off on this API server: its config key webhooks.allow lists no address', {
        hint: 'An admin of the API server adds the receivers to webhooks.allow in its config (URL prefixes, host[:port], or CIDR ranges) and restarts it.',
      });
    }
    const vetted = await vetAddress(body.url, { allow, resolve: this.resolve });
    if ('refused' in vetted) {
      throw new SkyError('WEBHOOK_URL_NOT_ALLOWED', `webhook URL ${body.url} is not allowed: ${vetted.refused}`, {
        hint: 'Use a URL that the config key webhooks.allow admits, or ask an admin of the API server to add it there.',
        details: { field: 'url' },
      });
    }
    const created = await this.locked(name, async () => {
      const ws = await this.workspace(name);
      const hooks = ws.webhooks ?? [];
      if (hooks.length >= this.config.webhooks.max_per_workspace) {
        throw new SkyError('VALIDATION_FAILED', `workspace ${name} already has ${hooks.length} webhooks (webhooks.max_per_workspace)`, { hint: 'Remove one first: sky workspace webhook rm' });
      }
      const id = newWebhookId();
      const secret = body.secret ?? newWebhookSecret();
      const hook: WebhookRecord = {
        id,
        url: body.url,
        ...(body.kinds === undefined ? {} : { kinds: [...new Set(body.kinds)] }),
        ...(body.statuses === undefined ? {} : { statuses: [...new Set(body.statuses)] }),
        secret: this.secrets.seal(secret, secretContext(id)),
        from: (await this.store.events.bounds()).last,
        createdAt: this.clock.now(),
        createdBy: caller.id,
        createdByName: caller.name,
      };
      const updated = await this.store.workspaces.update(name, { webhooks: [...hooks, hook] });
      if (updated === undefined) throw new SkyError('WORKSPACE_NOT_FOUND', `no workspace named ${name}`);
      return { ...view(updated, hook), secret };
    });
    await this.delivery.reconcile();
    return created;
  }

  async remove(name: string, id: string): Promise<WebhookView> {
    const removed = await this.locked(name, async () => {
      const ws = await this.workspace(name);
      const hook = this.hook(ws, id);
      const rest = (ws.webhooks ?? []).filter((h) => h.id !== id);
      await this.store.workspaces.update(name, { webhooks: rest.length === 0 ? undefined : rest });
      return view(ws, hook);
    });
    await this.delivery.reconcile();
    return removed;
  }

  async deliveries(name: string, id: string): Promise<{ items: DeliveryEntry[] }> {
    const ws = await this.workspace(name);
    this.hook(ws, id);
    return { items: this.delivery.deliveries(name, id, ws.webhookState?.[id]) };
  }
}

function view(ws: WorkspaceRecord, hook: WebhookRecord): WebhookView {
  const cursor = ws.webhookState?.[hook.id]?.cursor;
  return {
    id: hook.id,
    workspace: ws.name,
    url: hook.url,
    ...(hook.kinds === undefined ? {} : { kinds: [...hook.kinds] }),
    ...(hook.statuses === undefined ? {} : { statuses: [...hook.statuses] }),
    createdAt: hook.createdAt,
    createdByName: hook.createdByName,
    ...(cursor === undefined ? {} : { cursor }),
  };
}
