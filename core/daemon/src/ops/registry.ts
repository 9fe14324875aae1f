import type { Logger } from 'pino';
import type { ErrorInfo, OperationName, RequestRecord } from '@sky/protocol';

/** What an operation handler gets while it runs. */
export interface OperationContext {
  readonly request: RequestRecord;
  /** Aborted when the request is cancelled or the daemon hands it back at shutdown. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Append a line to the request's log (persisted, streamed to followers). */
  log(text: string): Promise<void>;
}

/** Who submits a request, as validate() sees it. */
export interface SubmitCaller {
  id: string;
  name: string;
  /** How they were authenticated (Caller.via); 'local' is the personal daemon's owner. */
  via: string;
}

/**
 * What to do with a request found RUNNING after a daemon restart that has queued no job:
 * run it again, or end it FAILED with this error (which says what was left behind).
 */
export type AfterRestart = { resume: true } | { resume: false; error: ErrorInfo };

export interface OperationHandler {
  readonly name: OperationName;
  /** Whether a request found RUNNING after a daemon restart may simply run again. */
  readonly resumable: boolean;
  /** Decides instead of `resumable` for a RUNNING request without a job found after a restart. */
  afterRestart?(request: RequestRecord): Promise<AfterRestart>;
  /**
   * The result of a request that queued a job (`request.job` is set) but whose handler did
   * not return it: the daemon restarted, or the handler was aborted or failed after the job
   * was queued. Such a request ends SUCCEEDED with this result, as if it had returned.
   */
  resultWithJob?(request: RequestRecord): Promise<unknown>;
  run(ctx: OperationContext, body: unknown): Promise<unknown>;
  /** Checks beyond the body schema, run before the request is stored so bad input is a 400, not a failed request. */
  validate?(body: unknown, caller: SubmitCaller): void | Promise<void>;
}

/** Handlers by operation name. Every operation in the protocol must have exactly one. */
export class OperationRegistry {
  private readonly handlers = new Map<string, OperationHandler>();

  constructor(handlers: readonly OperationHandler[]) {
    for (const handler of handlers) {
      if (this.handlers.has(handler.name)) throw new Error(`two handlers for operation ${handler.name}`);
      this.handlers.set(handler.name, handler);
    }
  }

  get(name: string): OperationHandler | undefined {
    return this.handlers.get(name);
  }

  names(): string[] {
    return [...this.handlers.keys()];
  }
}
