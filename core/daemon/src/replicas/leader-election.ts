import type { Logger } from 'pino';
import type { Leases } from '@sky/plugin-api';

/** The lease whose holder runs the duties one replica must own for the whole team. */
export const LEADER_LEASE = 'leader';

/** Something one replica runs for everyone: started when this replica becomes the leader, stopped when it stops being it. */
export interface Duty {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface LeaderElectionOptions {
  /** The store's leases; undefined on a store one daemon has to itself (always the leader). */
  leases: Leases | undefined;
  holder: string;
  ttlMs: number;
  now: () => number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * Who runs the duties: the holder of lease `leader`. Each tick (every third of the lease) the
 * leader renews it and the others try to take it (they get it once it lapsed: its holder died
 * or lost the database). A leader that cannot renew stops its duties before the lease could
 * have lapsed (so two replicas never run them at once, judged by the leader's own clock), then
 * tries again like the others. Without leases the process is always the leader.
 */
export class LeaderElection {
  private readonly duties: Duty[] = [];
  private leading = false;
  private running = false;
  /** When the last successful acquire or renew was sent: the lease lasts ttl from (at least) then. */
  private renewedAt = 0;
  private busy: Promise<void> | undefined;
  /** Start and stop of the duties, one at a time. */
  private transitions: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LeaderElectionOptions) {}

  /** How often the leader renews and the others try to take over. */
  get periodMs(): number {
    return Math.max(1000, Math.floor(this.options.ttlMs / 3));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Whether the store is shared (a lease decides who leads). */
  get elected(): boolean {
    return this.options.leases !== undefined;
  }

  /** Add a duty (before start()). */
  register(duty: Duty): void {
    this.duties.push(duty);
  }

  /** Become the leader at once without leases; else try now, then every period (timer: false leaves the ticks to the caller). */
  async start(timer = true): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.options.leases === undefined) {
      await this.gain();
      return;
    }
    await this.tick();
    if (timer) {
      this.timer = setInterval(() => void this.tick(), this.periodMs);
      this.timer.unref();
    }
  }

  /** One round: give up what may have lapsed, then renew (leader) or try to take the lease (the others). */
  tick(): Promise<void> {
    const leases = this.options.leases;
    if (leases === undefined || !this.running) return Promise.resolve();
    // Half a period of margin for timers that fire late: no renewal could be counted on before the lease lapses.
    if (this.leading && this.options.now() >= this.renewedAt + this.options.ttlMs - this.periodMs * 1.5) {
      void this.lose('the leader lease could not be renewed in time (is the database reachable?); duties stopped before it could lapse');
    }
    // A call still waiting on the database: do not pile another on it.
    if (this.busy !== undefined) return this.busy;
    const round = this.round(leases).finally(() => {
      this.busy = undefined;
    });
    this.busy = round;
    return round;
  }

  private async round(leases: Leases): Promise<void> {
    const { holder, ttlMs } = this.options;
    const sentAt = this.options.now();
    try {
      if (this.leading) {
        if (await leases.renew(LEADER_LEASE, holder, ttlMs)) this.renewedAt = sentAt;
        else await this.lose('the leader lease was lost (it lapsed or another replica took it); duties stopped');
        return;
      }
      if (!(await leases.acquire(LEADER_LEASE, holder, ttlMs))) return;
      if (!this.running) {
        await leases.release(LEADER_LEASE, holder).catch(() => false);
        return;
      }
      this.renewedAt = sentAt;
      await this.gain();
    } catch (err) {
      this.options.logger.warn({ err, leader: this.leading }, this.leading ? 'could not renew the leader lease; retrying' : 'could not try the leader lease; retrying');
    }
  }

  private gain(): Promise<void> {
    if (this.leading) return this.transitions;
    this.leading = true;
    this.options.logger.info({ replica: this.options.holder, duties: this.duties.map((d) => d.name) }, 'this replica is the leader: running the duties one replica owns');
    return this.transition(async () => {
      for (const duty of this.duties) {
        try {
          await duty.start();
        } catch (err) {
          this.options.logger.error({ err, duty: duty.name }, 'a leader duty failed to start');
        }
      }
    });
  }

  private lose(why: string): Promise<void> {
    if (!this.leading) return this.transitions;
    this.leading = false;
    this.options.logger.error({ replica: this.options.holder }, why);
    return this.stopDuties();
  }

  private stopDuties(): Promise<void> {
    return this.transition(async () => {
      for (const duty of [...this.duties].reverse()) {
        try {
          await duty.stop();
        } catch (err) {
          this.options.logger.error({ err, duty: duty.name }, 'a leader duty failed to stop');
        }
      }
    });
  }

  private transition(fn: () => Promise<void>): Promise<void> {
    this.transitions = this.transitions.then(fn);
    return this.transitions;
  }

  /** Clean shutdown: stop the duties, then give the lease up so another replica leads at once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.busy;
    const wasLeading = this.leading;
    this.leading = false;
    if (wasLeading) await this.stopDuties();
    else await this.transitions;
    const leases = this.options.leases;
    if (leases === undefined || !wasLeading) return;
    try {
      await leases.release(LEADER_LEASE, this.options.holder);
    } catch (err) {
      this.options.logger.warn({ err }, 'could not release the leader lease; it lapses by itself');
    }
  }
}
