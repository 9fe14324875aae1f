import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { sharedFeed, type FeedFollower, type StateStore, type StoredEvent } from '@sky/plugin-api';
import { isTerminal } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import { LogBus } from '../scheduler/log-bus.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { EventHub } from '../events/event-hub.js';

/**
 * The feed every replica writes, brought into this process (stores shared by several
 * replicas only): requests ended anywhere wake this process's waiters, the event hub shows
 * every replica's changes once, and a cancel asked by another replica of a request running
 * here is carried out here.
 */
@injectable()
export class ReplicaFeed {
  private follower: FeedFollower | undefined;
  private readonly listeners = new Set<(event: StoredEvent) => void>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.ReplicaId) private readonly replica: string,
    @inject(LogBus) private readonly bus: LogBus,
    @inject(Scheduler) private readonly scheduler: Scheduler,
    @inject(EventHub) private readonly hub: EventHub,
  ) {}

  /**
   * Follow the shared feed after `afterSeq` (default: its current end; the daemon passes the end
   * it read before loading its views, so nothing written meanwhile is missed); false when the
   * store has none (one process, nothing to do).
   */
  async start(afterSeq?: number): Promise<boolean> {
    const follow = sharedFeed(this.store);
    if (follow === undefined || this.follower !== undefined) return false;
    const last = afterSeq ?? (await this.store.events.bounds()).last;
    this.follower = await follow({
      afterSeq: last,
      onEvent: (event) => this.take(event),
      onError: (err) => this.logger.warn({ err }, 'following the shared change feed failed; retrying'),
    });
    return true;
  }

  /** Every change any replica writes, in feed order, once following started; returns the function that stops listening. */
  listen(listener: (event: StoredEvent) => void): () => void {
    const entry = (event: StoredEvent): void => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  private take(event: StoredEvent): void {
    this.hub.accept(event);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err, seq: event.seq }, 'a listener of the shared change feed failed');
      }
    }
    const { change } = event;
    if (change.kind !== 'request' || change.record === undefined) return;
    const record = change.record;
    if (isTerminal(record.status)) this.bus.ended(record);
    else if (record.status === 'PENDING' && record.replica === this.replica) {
      // Stored as this replica's by another one (a request on a cluster this replica owns), or seen again: queue it once.
      this.scheduler.adopt(record.id).catch((err: unknown) => this.logger.error({ err, request: record.id }, 'queueing a request handed over by another replica failed; the takeover pass retries'));
    } else if (record.status === 'RUNNING' && record.replica === this.replica && record.cancelRequestedAt !== undefined) {
      this.scheduler.cancelRequested(record.id).catch((err: unknown) => this.logger.error({ err, request: record.id }, 'cancelling a request asked by another replica failed'));
    }
  }

  async stop(): Promise<void> {
    const follower = this.follower;
    this.follower = undefined;
    await follower?.close().catch((err: unknown) => this.logger.warn({ err }, 'closing the shared change feed failed'));
  }
}
