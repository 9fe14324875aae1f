import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { ReplicaLease } from './replica-lease.js';
import { ReplicaFeed } from './replica-feed.js';
import { ClusterOwners } from './cluster-owners.js';

/** Most seconds between two looks for dead replicas' requests. */
const MAX_TAKEOVER_INTERVAL_SECONDS = 5;

/**
 * Several replicas on one shared store: this replica's liveness lease, the shared feed, and
 * the periodic takeover of the clusters and requests of replicas whose lease lapsed. Nothing runs on a
 * store one daemon has to itself.
 */
@injectable()
export class Replicas {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(ReplicaLease) private readonly lease: ReplicaLease,
    @inject(ReplicaFeed) private readonly feed: ReplicaFeed,
    @inject(Scheduler) private readonly scheduler: Scheduler,
    @inject(ClusterOwners) private readonly owners: ClusterOwners,
  ) {}

  /**
   * Take this replica's lease, follow the shared feed after `afterSeq`, and take over the
   * clusters no live replica owns (before start-up recovery and the job path start).
   */
  async start(afterSeq?: number): Promise<void> {
    if (!this.lease.shared) return;
    await this.lease.start();
    await this.feed.start(afterSeq);
    await this.owners.takeOverOrphans();
  }

  /** Look for dead replicas' requests every few seconds (after start-up recovery). */
  startTakeovers(): void {
    if (!this.lease.shared || this.timer !== undefined) return;
    const seconds = Math.min(MAX_TAKEOVER_INTERVAL_SECONDS, this.config.replicas.lease_seconds / 3);
    this.timer = setInterval(() => {
      this.owners.takeOverOrphans().catch((err: unknown) => this.logger.warn({ err }, 'looking for the clusters of dead replicas failed; trying again later'));
      this.scheduler.takeOverDead().catch((err: unknown) => this.logger.warn({ err }, 'looking for the requests of dead replicas failed; trying again later'));
    }, seconds * 1000);
    this.timer.unref();
  }

  /** Stop taking over, stop following, and give up the lease so others take what is left at once. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.feed.stop();
    await this.lease.stop();
  }
}
