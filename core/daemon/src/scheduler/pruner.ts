import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';

/** Deletes finished requests and their logs, and audit entries, once they are older than their retention period; and ended browser sessions. */
@injectable()
export class RequestPruner {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  async pruneOnce(): Promise<number> {
    const before = this.clock.now() - this.config.requests.retention_hours * 3600_000;
    const removed = await this.store.requests.prune(before);
    if (removed > 0) this.logger.info({ removed }, 'pruned finished requests past retention');
    const audited = await this.store.audit.prune(this.clock.now() - this.config.audit.retention_days * 86_400_000);
    if (audited > 0) this.logger.info({ removed: audited }, 'pruned audit entries past retention');
    const sessions = await this.store.sessions.prune(this.clock.now());
    if (sessions > 0) this.logger.info({ removed: sessions }, 'pruned ended browser sessions');
    return removed;
  }

  /** Prune now, then every `requests.prune_interval_seconds` (on the leader replica only: one replica prunes for all). */
  async start(): Promise<void> {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.pruneOnce().catch((err: unknown) => this.logger.error({ err }, 'pruning failed'));
    }, this.config.requests.prune_interval_seconds * 1000);
    this.timer.unref();
    await this.pruneOnce().catch((err: unknown) => this.logger.error({ err }, 'pruning failed'));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
