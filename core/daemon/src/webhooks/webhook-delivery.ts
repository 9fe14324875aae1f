import { inject, injectable, type InjectionToken } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore, StoredEvent } from '@sky/plugin-api';
import { WEBHOOK_HEADERS, webhookDeliveryId, type FeedEvent, type WebhookDelivery as DeliveryEntry, type WebhookRecord, type WebhookState } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { EventHub } from '../events/event-hub.js';
import { WebhookAllowList } from './allow-list.js';
import { backoffDelay, retryable, type BackoffPolicy } from './backoff.js';
import { sendOnce, type AttemptResult, type Resolver } from './sender.js';
import { signBody } from './signing.js';
import { ownerlessRequest, wants, workspaceEvent, type WebhookViewDeps } from './webhook-view.js';

/** How webhook hosts are resolved (the system resolver; tests may play DNS). */
export const WEBHOOK_RESOLVER: InjectionToken<Resolver> = Symbol('WebhookResolver');

/** Feed events read per page while a webhook catches up. */
const PAGE = 200;
/** The context a webhook's secret is sealed with. */
export function secretContext(id: string): string {
  return `webhook:${id}`;
}

interface Worker {
  readonly hook: WebhookRecord;
  readonly workspace: string;
  readonly abort: AbortController;
  done: Promise<void>;
}

/**
 * Delivers the feed to every workspace's webhooks: on the leader replica only (a leader duty),
 * one worker per webhook, in feed order. A worker resumes from its cursor (the last feed seq it
 * handled, kept in the workspace record), so after a restart or a change of leader it goes on
 * where the last leader stopped: nothing is lost, and nothing delivered and recorded is sent again.
 * An event is retried with exponential backoff on no answer, a 5xx, 408 or 429, up to
 * webhooks.max_attempts, then given up (logged) so one dead receiver does not hold its webhook
 * forever. The leader is the only writer of webhookState, one write at a time per workspace.
 */
@injectable()
export class WebhookDelivery {
  readonly #workers = new Map<string, Worker>();
  /** Per workspace: the delivery state this leader keeps and writes (loaded from the store when first seen). */
  readonly #states = new Map<string, Record<string, WebhookState>>();
  readonly #writes = new Map<string, Promise<void>>();
  readonly #wakers = new Set<() => void>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  readonly allow: WebhookAllowList;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(EventHub) private readonly hub: EventHub,
    @inject(WEBHOOK_RESOLVER) private readonly resolve: Resolver,
  ) {
    this.allow = new WebhookAllowList(config.webhooks.allow);
  }

  get running(): boolean {
    return this.#running;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#unsubscribe = this.hub.subscribe(() => this.wakeAll());
    this.#timer = setInterval(() => void this.reconcile(), this.config.webhooks.poll_seconds * 1000);
    this.#timer.unref();
    await this.reconcile();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const workers = [...this.#workers.values()];
    for (const worker of workers) worker.abort.abort();
    this.wakeAll();
    await Promise.all(workers.map((w) => w.done));
    await Promise.all([...this.#writes.values()]);
    this.#workers.clear();
    this.#states.clear();
    this.#writes.clear();
  }

  /** Start workers for new webhooks and stop those of removed ones (called on a timer, and after a change on this replica). */
  async reconcile(): Promise<void> {
    if (!this.#running) return;
    let workspaces;
    try {
      workspaces = await this.store.workspaces.list();
    } catch (err) {
      this.logger.warn({ err }, 'webhooks: could not list workspaces');
      return;
    }
    const present = new Set<string>();
    for (const ws of workspaces) {
      for (const hook of ws.webhooks ?? []) {
        present.add(hook.id);
        if (this.#workers.has(hook.id)) continue;
        if (!this.#states.has(ws.name)) this.#states.set(ws.name, structuredClone(ws.webhookState ?? {}));
        this.startWorker(ws.name, hook);
      }
    }
    for (const [id, worker] of this.#workers) {
      if (present.has(id)) continue;
      worker.abort.abort();
      this.wakeAll();
      this.#workers.delete(id);
    }
  }

  private startWorker(workspace: string, hook: WebhookRecord): void {
    const worker: Worker = { hook, workspace, abort: new AbortController(), done: Promise.resolve() };
    this.#workers.set(hook.id, worker);
    worker.done = this.run(worker).catch((err: unknown) => {
      this.logger.error({ err, webhook: hook.id }, 'webhook delivery stopped on an error; it resumes at the next reconcile');
      if (this.#workers.get(hook.id) === worker) this.#workers.delete(hook.id);
    });
  }

  private wakeAll(): void {
    const wakers = [...this.#wakers];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }

  /** Resolves at the next feed event, after a poll period, or when the worker is stopped. */
  private idle(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.config.webhooks.poll_seconds * 1000);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private state(workspace: string, id: string, from: number): WebhookState {
    let states = this.#states.get(workspace);
    if (states === undefined) this.#states.set(workspace, (states = {}));
    return (states[id] ??= { cursor: from, log: [] });
  }

  private async run(worker: Worker): Promise<void> {
    const { hook, workspace, abort } = worker;
    const { signal } = abort;
    const state = this.state(workspace, hook.id, hook.from);
    const secret = this.secrets.open(hook.secret, secretContext(hook.id));
    const deps: WebhookViewDeps = {
      clusterOwner: (name) => this.hub.clusterOwner(name),
      serviceOwner: (name) => this.hub.serviceOwner(name),
      showRequest: ownerlessRequest,
    };
    let dirty = false;
    while (!signal.aborted) {
      const bounds = await this.store.events.bounds();
      if (bounds.first !== undefined && state.cursor < bounds.first - 1) {
        this.logger.warn({ webhook: hook.id, cursor: state.cursor, first: bounds.first }, 'webhook: changes it had not handled were pruned from the feed (events.retention_hours); going on from the oldest kept');
        state.cursor = bounds.first - 1;
        dirty = true;
      }
      const page: StoredEvent[] = await this.store.events.read(state.cursor, PAGE);
      if (page.length === 0) {
        if (dirty) await this.persist(workspace);
        dirty = false;
        await this.idle(signal);
        continue;
      }
      for (const event of page) {
        if (signal.aborted) break;
        const shown = workspaceEvent(deps, workspace, event);
        if (shown === undefined || !wants(hook, shown)) {
          state.cursor = event.seq;
          dirty = true;
          continue;
        }
        const delivery = await this.deliver(hook, secret, shown, signal);
        // Stopped mid-delivery: the cursor stays, the next leader sends it again.
        if (delivery === undefined) break;
        state.cursor = event.seq;
        state.log.unshift(delivery);
        state.log.length = Math.min(state.log.length, this.config.webhooks.log_size);
        await this.persist(workspace);
        dirty = false;
      }
    }
  }

  /** One event to one webhook, with retries; undefined when stopped before it ended. */
  private async deliver(hook: WebhookRecord, secret: string, event: FeedEvent, signal: AbortSignal): Promise<DeliveryEntry | undefined> {
    const id = webhookDeliveryId(hook.id, event.seq);
    const body = JSON.stringify({ seq: event.seq, at: event.at, kind: event.kind, key: event.key, record: event.record });
    const headers = { [WEBHOOK_HEADERS.event]: event.kind, [WEBHOOK_HEADERS.delivery]: id, [WEBHOOK_HEADERS.signature]: signBody(secret, body) };
    const policy: BackoffPolicy = { maxAttempts: this.config.webhooks.max_attempts, baseMs: this.config.webhooks.backoff_ms, maxMs: this.config.webhooks.max_backoff_ms };
    const options = { allow: this.allow, resolve: this.resolve, timeoutMs: this.config.webhooks.timeout_seconds * 1000 };
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) return undefined;
      const result: AttemptResult = await sendOnce(hook.url, body, headers, options);
      const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
      const wait = ok || !retryable(result.status) ? undefined : backoffDelay(policy, attempt);
      if (wait === undefined) {
        if (!ok) this.logger.warn({ webhook: hook.id, seq: event.seq, attempts: attempt, status: result.status, error: result.error }, 'webhook delivery failed; going on with the next change');
        return {
          id,
          seq: event.seq,
          kind: event.kind,
          key: event.key,
          url: hook.url,
          at: this.clock.now(),
          attempts: attempt,
          ok,
          ...(result.status === undefined ? {} : { status: result.status }),
          ...(result.error === undefined ? {} : { error: result.error.slice(0, 500) }),
          ...(result.excerpt === undefined ? {} : { excerpt: result.excerpt }),
        };
      }
      await sleep(wait, signal);
    }
  }

  /** Write the workspace's delivery state (of the webhooks it still has), one write at a time per workspace. */
  private persist(workspace: string): Promise<void> {
    const previous = this.#writes.get(workspace) ?? Promise.resolve();
    const next = previous.then(async () => {
      const states = this.#states.get(workspace) ?? {};
      const live = new Set([...this.#workers.values()].filter((w) => w.workspace === workspace).map((w) => w.hook.id));
      const kept = Object.fromEntries(Object.entries(states).filter(([id]) => live.has(id)));
      try {
        await this.store.workspaces.update(workspace, { webhookState: kept });
      } catch (err) {
        this.logger.warn({ err, workspace }, 'webhooks: could not save the delivery cursor; it is saved again with the next delivery');
      }
    });
    this.#writes.set(workspace, next);
    return next;
  }

  /** The delivery log of one webhook as this replica knows it (the leader's is the newest), else the stored one. */
  deliveries(workspace: string, id: string, stored: WebhookState | undefined): DeliveryEntry[] {
    const mine = this.#running ? this.#states.get(workspace)?.[id] : undefined;
    return [...(mine ?? stored)?.log ?? []];
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
