import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { sharedFeed, type FeedBounds, type StateStore, type StoredEvent } from '@sky/plugin-api';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import type { FeedSource } from './feed-merge.js';
import type { ClusterOwner, ServiceOwner } from './event-view.js';

/** Owners of deleted clusters (and of deleted services) kept for late readers of their deletion (oldest forgotten first). */
const MAX_GONE = 10_000;

/**
 * The daemon's one subscription to the store's feed: fans live changes out to every open
 * event stream, remembers who owns (or owned) each cluster and service so deletions are shown to the right
 * people, prunes the feed past `events.retention_hours` (startPruning, on the leader), and ends every stream at shutdown.
 */
@injectable()
export class EventHub implements FeedSource {
  private readonly listeners = new Set<(event: StoredEvent) => void>();
  private readonly owners = new Map<string, ClusterOwner>();
  private readonly gone = new Map<string, ClusterOwner>();
  private readonly serviceOwners = new Map<string, ServiceOwner>();
  private readonly goneServices = new Map<string, ServiceOwner>();
  private readonly closers = new Set<() => void>();
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /**
   * Follow the feed (first, so no change is missed), then learn the clusters and services stored. On a
   * store shared by several replicas the changes come from the shared feed instead, every
   * replica's once (ReplicaFeed hands them over through accept()).
   */
  async start(): Promise<void> {
    if (sharedFeed(this.store) === undefined) {
      this.unsubscribe = this.store.events.subscribe((change, position) => this.accept({ seq: position.seq, at: position.at, change }));
    }
    for (const cluster of await this.store.clusters.list()) {
      if (!this.owners.has(cluster.name)) this.owners.set(cluster.name, { owner: cluster.owner, workspace: cluster.workspace });
    }
    for (const service of await this.store.services.list()) {
      if (!this.serviceOwners.has(service.name)) this.serviceOwners.set(service.name, { user: service.user, workspace: service.workspace });
    }
  }

  /** Prune the feed now, then every `events.prune_interval_seconds` (on the leader replica only: one replica prunes for all). */
  async startPruning(): Promise<void> {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.pruneOnce(), this.config.events.prune_interval_seconds * 1000);
    this.timer.unref();
    await this.pruneOnce();
  }

  stopPruning(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** End every stream and stop following the feed (and pruning it). */
  stop(): void {
    this.stopPruning();
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const close of [...this.closers]) close();
  }

  async pruneOnce(): Promise<number> {
    try {
      const removed = await this.store.events.prune(this.clock.now() - this.config.events.retention_hours * 3_600_000);
      if (removed > 0) this.logger.info({ removed }, 'pruned event stream changes past retention');
      return removed;
    } catch (err) {
      this.logger.error({ err }, 'pruning the event stream feed failed');
      return 0;
    }
  }

  /** Who owns, or owned, a cluster (undefined for one this daemon never knew). */
  clusterOwner(name: string): ClusterOwner | undefined {
    return this.owners.get(name) ?? this.gone.get(name);
  }

  /** Who owns, or owned, a service (undefined for one this daemon never knew). */
  serviceOwner(name: string): ServiceOwner | undefined {
    return this.serviceOwners.get(name) ?? this.goneServices.get(name);
  }

  /** Register a stream's way to be ended at shutdown; returns the function that unregisters it. */
  onStop(close: () => void): () => void {
    this.closers.add(close);
    return () => {
      this.closers.delete(close);
    };
  }

  get streams(): number {
    return this.closers.size;
  }

  read(afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.store.events.read(afterSeq, limit);
  }

  bounds(): Promise<FeedBounds> {
    return this.store.events.bounds();
  }

  subscribe(listener: (event: StoredEvent) => void): () => void {
    const entry = (event: StoredEvent): void => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** One change of the feed, fanned out to every open stream (from the store's subscription, or the shared feed). */
  accept(event: StoredEvent): void {
    const { change } = event;
    if (change.kind === 'cluster') {
      if (change.record !== undefined) {
        this.owners.set(change.name, { owner: change.record.owner, workspace: change.record.workspace });
        this.gone.delete(change.name);
      } else {
        const owner = this.owners.get(change.name);
        this.owners.delete(change.name);
        if (owner !== undefined) remember(this.gone, change.name, owner);
      }
    } else if (change.kind === 'service') {
      if (change.record !== null) {
        this.serviceOwners.set(change.name, { user: change.record.user, workspace: change.record.workspace });
        this.goneServices.delete(change.name);
      } else {
        const owner = this.serviceOwners.get(change.name);
        this.serviceOwners.delete(change.name);
        if (owner !== undefined) remember(this.goneServices, change.name, owner);
      }
    }
    if (this.listeners.size === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err }, 'an event stream failed to take a change');
      }
    }
  }
}

/** Keep the owner of a deleted thing, forgetting the oldest beyond MAX_GONE. */
function remember<T>(gone: Map<string, T>, name: string, owner: T): void {
  gone.delete(name);
  gone.set(name, owner);
  if (gone.size > MAX_GONE) gone.delete(gone.keys().next().value!);
}
