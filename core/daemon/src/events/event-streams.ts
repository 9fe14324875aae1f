import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { Caller } from '../auth/caller.js';
import { AccessPolicy } from '../auth/policy.js';
import { RequestService } from '../services/requests.js';
import type { SseWriter } from '../http/sse.js';
import { recheckCaller } from './caller-check.js';
import { EventHub } from './event-hub.js';
import { EventView } from './event-view.js';
import { mergeFeed } from './feed-merge.js';
import { StreamPosition } from './stream-position.js';

/** Events read from the feed per page while a stream catches up. */
const PAGE = 500;
/** Live events held for one client that is behind; beyond that its stream ends and it resumes. */
const MAX_BUFFERED = 10_000;
/** How often an open stream checks that its caller may still receive events (and their workspaces). */
export const RECHECK_MS = 5_000;
/** The `: keepalive` comment's period. */
export const KEEPALIVE_MS = 15_000;
/** What a browser waits before it reconnects (sent as `retry:`). */
export const RETRY_MS = 3_000;

/** Parse Last-Event-ID (the header wins over `after`); an empty header is no header. */
export function resumePosition(header: string, after: number | undefined): number | undefined {
  const value = header.trim();
  if (value === '') return after;
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new SkyError('VALIDATION_FAILED', `header Last-Event-ID must be a sequence number (a whole number from an earlier event's id), got ${JSON.stringify(value.slice(0, 40))}`, {
      hint: 'Send back the id of the last event you received, or leave the header out to start live.',
      details: { field: 'Last-Event-ID' },
    });
  }
  return Number(value);
}

/** The event stream route's use case: one filtered, resumable stream per caller. */
@injectable()
export class EventStreams {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(RequestService) private readonly requests: RequestService,
    @inject(EventHub) private readonly hub: EventHub,
  ) {}

  /** Open streams by user id: one user cannot hold the daemon's memory with thousands of them. */
  readonly #open = new Map<string, number>();

  /**
   * The caller's view, ready before the stream opens (a failure here is still an HTTP error).
   * It takes one of the caller's stream slots (events.max_streams_per_user), which run() gives back.
   */
  async view(caller: Caller, allUsers: boolean): Promise<EventView> {
    const view = new EventView(
      { policy: this.policy, clusterOwner: (name) => this.hub.clusterOwner(name), serviceOwner: (name) => this.hub.serviceOwner(name), showRequest: (viewer, record) => this.requests.visibleTo(viewer, record) },
      allUsers,
    );
    await view.refresh({ id: caller.id, name: caller.name, role: caller.role });
    const open = this.#open.get(caller.id) ?? 0;
    const max = this.config.events.max_streams_per_user;
    if (open >= max) {
      throw new SkyError('TOO_MANY_CONNECTIONS', `${caller.name} already has ${open} event streams open (events.max_streams_per_user is ${max})`, {
        hint: 'Close dashboard tabs or clients you no longer use; an admin can raise events.max_streams_per_user.',
      });
    }
    this.#open.set(caller.id, open + 1);
    return view;
  }

  private release(caller: Caller): void {
    const open = (this.#open.get(caller.id) ?? 1) - 1;
    if (open <= 0) this.#open.delete(caller.id);
    else this.#open.set(caller.id, open);
  }

  /** Pump the feed into an open stream until the client leaves, its credentials end, it falls too far behind, or the daemon stops. */
  async run(open: (heartbeat: () => string) => SseWriter, caller: Caller, view: EventView, after: number | undefined): Promise<void> {
    try {
      await this.pump(open, caller, view, after);
    } finally {
      this.release(caller);
    }
  }

  private async pump(open: (heartbeat: () => string) => SseWriter, caller: Caller, view: EventView, after: number | undefined): Promise<void> {
    const position = new StreamPosition(after);
    const sse = open(() => position.keepalive());
    let checking = false;
    const recheck = setInterval(() => {
      if (checking) return;
      checking = true;
      void (async () => {
        try {
          const actor = await recheckCaller(this.store, caller, this.clock.now(), this.config.auth.mode);
          if (actor === undefined) {
            this.logger.info({ user: caller.name }, 'event stream ended: its credentials are no longer valid');
            sse.close();
          } else await view.refresh(actor);
        } catch (err) {
          this.logger.warn({ err }, 'event stream: rechecking the caller failed');
        } finally {
          checking = false;
        }
      })();
    }, RECHECK_MS);
    recheck.unref();
    const unregister = this.hub.onStop(() => sse.close());
    try {
      const end = await mergeFeed(
        this.hub,
        {
          change: (event) => {
            const shown = view.show(event);
            if (shown === undefined) return true;
            position.told(event.seq);
            return sse.send('change', shown, String(event.seq));
          },
          // Both carry the position the stream goes on from (a reset's may be below the one asked for).
          ready: (seq) => {
            position.restart(seq);
            sse.send('ready', { seq }, String(seq));
          },
          reset: (seq, reason) => {
            position.restart(seq);
            sse.send('reset', { seq, reason }, String(seq));
          },
          drained: () => sse.drained(),
          signal: sse.signal,
        },
        after,
        { pageSize: PAGE, maxBuffered: MAX_BUFFERED, progress: (seq) => position.passed(seq) },
      );
      if (end === 'overflow') this.logger.info({ user: caller.name }, 'event stream ended: the client fell too far behind (it resumes with Last-Event-ID)');
    } catch (err) {
      sse.send('error', { message: err instanceof Error ? err.message : String(err) });
    } finally {
      clearInterval(recheck);
      unregister();
      sse.close();
    }
  }
}
