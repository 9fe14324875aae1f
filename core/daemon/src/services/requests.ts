import { inject, injectable } from 'tsyringe';
import { sharedFeed, type StateStore } from '@sky/plugin-api';
import {
  isTerminal,
  SkyError,
  type CancelBody,
  type CancelResult,
  type ListRequestsQuery,
  type LogChunk,
  type RequestPage,
  type RequestRecord,
  type RequestStatus,
} from '@sky/protocol';
import { TOKENS, type ShutdownSignal } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { LogBus } from '../scheduler/log-bus.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { AccessPolicy, type Actor } from '../auth/policy.js';
import { AuditLog } from '../audit/audit-log.js';

export type LogEvent = { type: 'log'; chunk: LogChunk } | { type: 'end'; status: RequestStatus };

const DEFAULT_PAGE = 50;

/** How often the log of a request running on another replica is read from the store while it runs. */
const REMOTE_LOG_POLL_MS = 250;

/** Who is looking: the owner or an admin sees a request whole; others see it without body, result and job (they may carry secrets, or say what the result says). */
export interface Viewer {
  id: string;
  name?: string;
  role?: 'admin' | 'user';
}

function actor(viewer: Viewer): Actor {
  return { id: viewer.id, name: viewer.name ?? viewer.id, role: viewer.role ?? 'user' };
}

/** Listings read store pages until they have a page of records the caller may see, or this many pages. */
const MAX_PAGES_PER_LISTING = 20;

const SECRET_KEYS = new Set(['password', 'token']);

/** A body with every secret value replaced: `secrets` maps (task secrets) and password/token fields. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (key === 'secrets' && typeof item === 'object' && item !== null && !Array.isArray(item)) {
      out[key] = Object.fromEntries(Object.keys(item).map((k) => [k, '***']));
    } else if (SECRET_KEYS.has(key) && typeof item === 'string') out[key] = '***';
    else out[key] = maskSecrets(item);
  }
  return out;
}

/** What a viewer sees of a request: secrets always masked; body, result and job only when the policy says they may read it. */
function masked(whole: boolean, record: RequestRecord): RequestRecord {
  const { idempotencyHash: _hash, ...served } = record;
  if (whole) return { ...served, body: maskSecrets(record.body) };
  const { result: _result, job: _job, ...rest } = served;
  return { ...rest, body: null };
}

/** Use cases on requests: read, wait, stream, cancel. */
@injectable()
export class RequestService {
  /** Wake-ups for long-polls and streams when the daemon shuts down: one signal listener for all of them. */
  private readonly onShutdown = new Set<() => void>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Shutdown) private readonly shutdown: ShutdownSignal,
    @inject(LogBus) private readonly bus: LogBus,
    @inject(Scheduler) private readonly scheduler: Scheduler,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(AuditLog) private readonly audit: AuditLog,
  ) {
    shutdown.signal.addEventListener('abort', () => this.onShutdown.forEach((wake) => wake()), { once: true });
  }

  async get(id: string): Promise<RequestRecord> {
    const record = await this.store.requests.get(id);
    if (!record) {
      throw new SkyError('REQUEST_NOT_FOUND', `no request with id ${id}`, {
        hint: 'List requests with `sky api status -a`; finished requests are pruned after the retention period.',
      });
    }
    return record;
  }

  /** One request as the viewer may see it (403 when it is in a private workspace they are not in). */
  async view(viewer: Viewer, id: string): Promise<RequestRecord> {
    const record = await this.get(id);
    await this.policy.assertRequestVisible(actor(viewer), record, { action: 'request.read', target: id });
    return this.visibleTo(viewer, record);
  }

  /** Before waiting on a request: it exists and the viewer may look at it. */
  async assertVisible(viewer: Viewer, id: string): Promise<void> {
    await this.view(viewer, id);
  }

  visibleTo(viewer: Viewer, record: RequestRecord): RequestRecord {
    return masked(this.policy.mayReadRequest(actor(viewer), record), record);
  }

  /** Logs carry what the operation printed: only its owner or an admin may read them. */
  async assertMayReadLogs(viewer: Viewer, id: string): Promise<void> {
    const record = await this.get(id);
    const where = { action: 'request.logs', target: id };
    await this.policy.assertRequestVisible(actor(viewer), record, where);
    await this.policy.assertRequestLog(actor(viewer), record, where);
  }

  /** A page of requests, leaving out those in private workspaces the caller is not in (their own excepted). */
  async list(caller: Viewer, query: ListRequestsQuery): Promise<RequestPage> {
    const user = query.all_users ? query.user : (query.user ?? caller.id);
    const limit = query.limit ?? DEFAULT_PAGE;
    const hidden = await this.policy.hiddenWorkspaces(actor(caller));
    const items: RequestRecord[] = [];
    let cursor = query.cursor;
    for (let pages = 0; pages < MAX_PAGES_PER_LISTING; pages++) {
      const page = await this.store.requests.list({
        ...(user !== undefined ? { user } : {}),
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.name !== undefined ? { name: query.name } : {}),
        ...(query.cluster !== undefined ? { cluster: query.cluster } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
        limit: limit - items.length,
      });
      for (const r of page.items) if (r.user === caller.id || !hidden.has(r.workspace)) items.push(this.visibleTo(caller, r));
      cursor = page.nextCursor;
      if (cursor === undefined || items.length >= limit || hidden.size === 0) break;
    }
    return cursor === undefined ? { items } : { items, nextCursor: cursor };
  }

  /** The longest a long-poll (or a submit's `Prefer: wait`) is held. */
  get maxWaitSeconds(): number {
    return this.config.requests.max_wait_seconds;
  }

  /** Long-poll: resolve with the record once it is finished, or at the timeout with its current state. */
  async wait(id: string, timeoutSeconds: number | undefined): Promise<RequestRecord> {
    const limit = Math.min(timeoutSeconds ?? this.config.requests.max_wait_seconds, this.config.requests.max_wait_seconds);
    let wake!: () => void;
    let finished: RequestRecord | undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const unsubscribe = this.bus.subscribe(id, {
      end: (record) => {
        finished = record;
        wake();
      },
    });
    this.onShutdown.add(wake);
    const timer = setTimeout(wake, limit * 1000);
    try {
      const first = await this.get(id);
      if (isTerminal(first.status) || limit === 0) return first;
      await woken;
      return finished ?? (await this.get(id));
    } finally {
      clearTimeout(timer);
      unsubscribe();
      this.onShutdown.delete(wake);
    }
  }

  /**
   * The request's log: stored chunks, then (with follow) live ones until it ends. Subscribes
   * before reading the store so nothing written in between is lost or sent twice.
   */
  async *logs(id: string, follow: boolean, signal: AbortSignal): AsyncGenerator<LogEvent> {
    const live: LogEvent[] = [];
    let notify: (() => void) | undefined;
    const push = (event: LogEvent): void => {
      live.push(event);
      notify?.();
    };
    const unsubscribe = follow
      ? this.bus.subscribe(id, { log: (chunk) => push({ type: 'log', chunk }), end: (record) => push({ type: 'end', status: record.status }) })
      : () => undefined;
    let detach = (): void => undefined;
    try {
      await this.get(id);
      let lastSeq = -1;
      for (const chunk of await this.store.requests.readLog(id)) {
        lastSeq = chunk.seq;
        yield { type: 'log', chunk };
      }
      const now = await this.get(id);
      if (!follow || isTerminal(now.status)) {
        // Chunks appended between the read and the status check.
        for (const chunk of await this.store.requests.readLog(id, lastSeq)) yield { type: 'log', chunk };
        yield { type: 'end', status: now.status };
        return;
      }
      // Its lines are published on the replica that runs it: read them from the store instead.
      const remote = sharedFeed(this.store) !== undefined && !this.scheduler.runsHere(id) && now.replica !== this.scheduler.replicaId;
      const stop = (): void => notify?.();
      signal.addEventListener('abort', stop);
      this.onShutdown.add(stop);
      detach = () => {
        signal.removeEventListener('abort', stop);
        this.onShutdown.delete(stop);
      };
      while (!signal.aborted && !this.shutdown.signal.aborted) {
        const event = live.shift();
        if (event === undefined && remote) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((resolve) => {
            notify = resolve;
            timer = setTimeout(resolve, REMOTE_LOG_POLL_MS);
          });
          clearTimeout(timer);
          notify = undefined;
          if (live.length > 0 || signal.aborted) continue;
          for (const chunk of await this.store.requests.readLog(id, lastSeq)) {
            lastSeq = chunk.seq;
            yield { type: 'log', chunk };
          }
          const record = await this.store.requests.get(id);
          if (record !== undefined && !isTerminal(record.status)) continue;
          for (const chunk of await this.store.requests.readLog(id, lastSeq)) yield { type: 'log', chunk };
          if (record !== undefined) yield { type: 'end', status: record.status };
          return;
        }
        if (event === undefined) {
          await new Promise<void>((resolve) => (notify = resolve));
          notify = undefined;
          continue;
        }
        if (event.type === 'log') {
          if (event.chunk.seq <= lastSeq) continue;
          lastSeq = event.chunk.seq;
          yield event;
        } else {
          for (const chunk of await this.store.requests.readLog(id, lastSeq)) yield { type: 'log', chunk };
          yield event;
          return;
        }
      }
    } finally {
      unsubscribe();
      detach();
    }
  }

  /**
   * Cancel by ids, or every active request of the caller (or, for admins, of everyone). Never
   * queued. Every id is checked before anything is cancelled (one refused id refuses the
   * call), and every cancel is audited with who cancelled which request.
   */
  async cancel(caller: Viewer, body: CancelBody): Promise<CancelResult> {
    if (!body.all && (body.ids ?? []).length === 0) {
      throw new SkyError('VALIDATION_FAILED', 'cancel needs request ids, or all: true', {
        hint: 'Pass ids, or all (with all_users for every user).',
      });
    }
    const who = actor(caller);
    const targets = new Map<string, RequestRecord>();
    const ids = new Set(body.ids ?? []);
    for (const id of ids) {
      const record = await this.store.requests.get(id);
      if (record) targets.set(id, record);
    }
    if (body.all) {
      for (const status of ['PENDING', 'RUNNING'] as const) {
        for (const record of await this.store.requests.listByStatus(status)) {
          if (body.all_users || record.user === caller.id) {
            targets.set(record.id, record);
            ids.add(record.id);
          }
        }
      }
    }
    await this.policy.assertCancel(who, [...targets.values()], body.all_users === true);
    const outcomes = await Promise.all([...ids].map(async (id) => [id, await this.scheduler.cancel(id)] as const));
    for (const [id, outcome] of outcomes) {
      const record = targets.get(id);
      if (outcome !== 'cancelled' || !record) continue;
      await this.audit.record({ user: who.id, userName: who.name, action: 'request.cancel', target: id, result: 'SUCCEEDED', detail: `${record.name} of ${record.userName}` });
    }
    const missing = outcomes.filter(([, o]) => o === 'missing').map(([id]) => id);
    if (missing.length > 0 && !body.all) {
      throw new SkyError('REQUEST_NOT_FOUND', `no request with id ${missing.join(', ')}`, {
        hint: 'List requests with `sky api status -a`.',
        details: { missing, cancelled: outcomes.filter(([, o]) => o === 'cancelled').map(([id]) => id) },
      });
    }
    return {
      cancelled: outcomes.filter(([, o]) => o === 'cancelled').map(([id]) => id),
      alreadyFinished: outcomes.filter(([, o]) => o === 'finished').map(([id]) => id),
    };
  }
}
