import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { TOKENS, type Clock } from '../tokens.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { StatusView } from './status-view.js';
import { ClusterUpdates } from './cluster-updates.js';

const CHECK_MS = 5_000;

/**
 * Stops (or tears down) UP clusters that have been idle — no pending or running job — for
 * their autostop minutes. It submits an ordinary stop/down request as the owner, so the
 * action shows up in `sky api status -u` and runs through the same code as the CLI's.
 */
@injectable()
export class AutostopMonitor {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<string>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(StatusView) private readonly view: StatusView,
    @inject(Scheduler) private readonly scheduler: Scheduler,
    @inject(ClusterUpdates) private readonly updates: ClusterUpdates,
  ) {}

  async checkOnce(): Promise<string[]> {
    const acted: string[] = [];
    for (const cluster of this.view.list(undefined)) {
      const rule = cluster.autostop;
      if (!rule || cluster.status !== 'UP' || this.inFlight.has(cluster.name)) continue;
      if (this.clock.now() - cluster.lastActiveAt < rule.idleMinutes * 60_000) continue;
      const active = await this.store.jobs.list(cluster.name, { status: ['PENDING', 'SETTING_UP', 'RUNNING'] });
      if (active.length > 0) continue;
      this.inFlight.add(cluster.name);
      const op = rule.down ? 'down' : 'stop';
      this.logger.info({ cluster: cluster.name, idleMinutes: rule.idleMinutes, op }, 'autostop: cluster idle');
      try {
        const { record } = await this.scheduler.submit({
          name: op,
          body: { cluster: cluster.name },
          lane: 'long',
          user: cluster.owner,
          userName: cluster.ownerName,
          workspace: cluster.workspace,
          cluster: cluster.name,
        });
        acted.push(cluster.name);
        void this.scheduler
          .whenDone(record.id)
          .then(() => this.afterAction(cluster.name, record.id))
          .catch((err: unknown) => this.logger.warn({ cluster: cluster.name, err }, 'autostop follow-up failed'))
          .finally(() => this.inFlight.delete(cluster.name));
      } catch (err) {
        this.inFlight.delete(cluster.name);
        this.logger.warn({ cluster: cluster.name, err }, 'autostop could not submit');
      }
    }
    return acted;
  }

  /** A driver that cannot stop (an SSH pool): turn autostop off, saying why, rather than retry forever. */
  private async afterAction(name: string, requestId: string): Promise<void> {
    const done = await this.store.requests.get(requestId);
    if (done?.status !== 'FAILED' || done.error?.code !== 'NOT_SUPPORTED') return;
    const reason = `autostop turned off: ${done.error.message}`;
    await this.updates.update(name, () => ({ autostop: undefined, statusReason: reason }));
    this.logger.warn({ cluster: name }, reason);
  }

  /** Check every few seconds (on the leader replica only: one replica acts for every cluster). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.checkOnce().catch((err: unknown) => this.logger.error({ err }, 'autostop check failed'));
    }, CHECK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
