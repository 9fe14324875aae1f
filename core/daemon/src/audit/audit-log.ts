import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import {
  OPERATIONS,
  parseAuditSince,
  toSkyError,
  type AuditPage,
  type AuditQuery,
  type AuditRecord,
  type AuditResult,
  type OperationName,
  type RequestRecord,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { Caller } from '../auth/auth-service.js';
import { findUserByName } from '../auth/user-names.js';
import { LogBus, type RefusedSubmit } from '../scheduler/log-bus.js';
import { RequestIdFactory } from '../scheduler/ids.js';

/** What an audit entry says besides its id and time. Never a secret: callers pass names, ids and codes only. */
export type AuditEntry = Omit<AuditRecord, 'id' | 'at'>;

const DEFAULT_PAGE = 100;

function isMutating(name: string): boolean {
  return Object.hasOwn(OPERATIONS, name) && OPERATIONS[name as OperationName].mutating;
}

function clusterOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const cluster = (body as { cluster?: unknown }).cluster;
  return typeof cluster === 'string' && cluster !== '' ? cluster : undefined;
}

function errorCode(err: unknown): string {
  return toSkyError(err)?.code ?? 'INTERNAL';
}

function resultOf(record: RequestRecord): AuditResult {
  if (record.status === 'SUCCEEDED') return 'SUCCEEDED';
  if (record.status === 'CANCELLED') return 'CANCELLED';
  return record.error?.code === 'FORBIDDEN' ? 'DENIED' : 'FAILED';
}

/**
 * The audit log: every mutating request when it finishes, refused submits, and user and
 * token administration. Writing an entry never fails the audited operation (errors are logged).
 */
@injectable()
export class AuditLog {
  private readonly ids = new RequestIdFactory();
  private unsubscribe: (() => void)[] = [];
  private pending = new Set<Promise<void>>();
  /** Refusals already recorded by the access policy, so they are not recorded twice. */
  private readonly recorded = new WeakSet<object>();
  /** Requests whose refusal the policy recorded while they ran (with the request id). */
  private readonly deniedRequests = new Set<string>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(LogBus) private readonly bus: LogBus,
  ) {}

  /** Follow finished and refused requests on the bus. */
  start(): void {
    if (this.unsubscribe.length > 0) return;
    this.unsubscribe.push(
      this.bus.onAnyEnd((record) => this.requestFinished(record)),
      this.bus.onRefused((input) => this.submitRefused(input)),
    );
  }

  /** Stop following the bus and wait for entries being written. */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    await Promise.allSettled([...this.pending]);
  }

  /** Append an entry (in the background; failures are logged, never thrown). */
  record(entry: AuditEntry): Promise<void> {
    const at = this.clock.now();
    const record: AuditRecord = { id: this.ids.next(at), at, ...entry };
    const write = this.store.audit
      .append(record)
      .catch((err: unknown) => this.logger.error({ err, action: entry.action }, 'could not write an audit entry'))
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
    return write;
  }

  /**
   * Record a refusal (the access policy's one way to audit): `error` is the error about to be
   * thrown, remembered so that whoever catches it does not record it again.
   */
  async denied(entry: AuditEntry, error: object): Promise<void> {
    this.recorded.add(error);
    if (entry.requestId !== undefined) this.deniedRequests.add(entry.requestId);
    await this.record(entry);
  }

  private alreadyRecorded(err: unknown): boolean {
    return typeof err === 'object' && err !== null && this.recorded.has(err);
  }

  requestFinished(record: RequestRecord): void {
    if (this.deniedRequests.delete(record.id) && record.error?.code === 'FORBIDDEN') return;
    if (!isMutating(record.name)) return;
    const target = clusterOf(record.body) ?? record.cluster;
    const entry: AuditEntry = { user: record.user, userName: record.userName, action: record.name, result: resultOf(record), requestId: record.id };
    if (target !== undefined) entry.target = target;
    if (record.status !== 'SUCCEEDED' && record.error?.code !== undefined) entry.detail = record.error.code;
    void this.record(entry);
  }

  private submitRefused(input: RefusedSubmit): void {
    if (errorCode(input.error) !== 'FORBIDDEN' || this.alreadyRecorded(input.error)) return;
    const target = clusterOf(input.body) ?? input.cluster;
    const entry: AuditEntry = { user: input.user, userName: input.userName, action: input.name, result: 'DENIED', detail: 'FORBIDDEN' };
    if (target !== undefined) entry.target = target;
    void this.record(entry);
  }

  /**
   * Run an administrative action: record it after success (target and detail may come from
   * the result), or as DENIED when it throws FORBIDDEN. Other failures are not recorded.
   */
  async guard<T>(
    caller: Caller,
    action: string,
    target: string | undefined,
    run: () => Promise<T>,
    describe?: (result: T) => { target?: string; detail?: string },
  ): Promise<T> {
    const base: AuditEntry = { user: caller.id, userName: caller.name, action, result: 'SUCCEEDED' };
    try {
      const result = await run();
      const more = describe?.(result) ?? {};
      const entry: AuditEntry = { ...base };
      const finalTarget = more.target ?? target;
      if (finalTarget !== undefined) entry.target = finalTarget;
      if (more.detail !== undefined) entry.detail = more.detail;
      await this.record(entry);
      return result;
    } catch (err) {
      if (errorCode(err) === 'FORBIDDEN' && !this.alreadyRecorded(err)) {
        const entry: AuditEntry = { ...base, result: 'DENIED', detail: 'FORBIDDEN' };
        if (target !== undefined) entry.target = target;
        await this.record(entry);
      }
      throw err;
    }
  }

  /** A page of the log, newest first (the route is for admins). */
  async list(query: AuditQuery): Promise<AuditPage> {
    const filter: Parameters<StateStore['audit']['list']>[0] = { limit: query.limit ?? DEFAULT_PAGE };
    if (query.user !== undefined) {
      // A user's name; a deleted user's entries are still found by their id.
      filter.user = (await findUserByName(this.store, query.user))?.id ?? query.user;
    }
    if (query.since !== undefined) {
      const since = parseAuditSince(query.since);
      if (since !== undefined) filter.since = since;
    }
    if (query.cursor !== undefined) filter.cursor = query.cursor;
    const page = await this.store.audit.list(filter);
    return page.nextCursor !== undefined ? { items: page.items, nextCursor: page.nextCursor } : { items: page.items };
  }
}
