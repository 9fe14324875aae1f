import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { storeLeases, type Leases, type StateStore } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';

/** The lease name that says replica `id` is alive. */
export function replicaLeaseName(id: string): string {
  return `replica/${id}`;
}

/**
 * This replica's liveness on a store shared by several replicas: it holds the lease
 * `replica/<id>` (TTL `replicas.lease_seconds`, renewed every third of it) while it runs and
 * releases it at a clean stop; a replica whose lease lapsed is dead, and its requests are
 * taken over. On a store one daemon has to itself (no leases) there is nothing to hold.
 */
@injectable()
export class ReplicaLease {
  private readonly leases: Leases | undefined;
  private timer: NodeJS.Timeout | undefined;
  private held = false;

  constructor(
    @inject(TOKENS.Store) store: StateStore,
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.ReplicaId) private readonly replica: string,
  ) {
    this.leases = storeLeases(store);
  }

  /** Whether the store is shared by several replicas (it has leases). */
  get shared(): boolean {
    return this.leases !== undefined;
  }

  private get ttlMs(): number {
    return this.config.replicas.lease_seconds * 1000;
  }

  /** Take this replica's lease and keep renewing it. */
  async start(): Promise<void> {
    const leases = this.leases;
    if (leases === undefined || this.held) return;
    const name = replicaLeaseName(this.replica);
    if (!(await leases.acquire(name, this.replica, this.ttlMs))) {
      const holder = await leases.holder(name);
      throw new SkyError('STATE_LOCKED', `replica id ${this.replica} is held by ${holder ?? 'another replica'} on the shared state store`, {
        hint: 'Give each replica its own replica_id in its config (or leave it unset for a fresh one per start).',
        details: { replica: this.replica },
      });
    }
    this.held = true;
    this.timer = setInterval(() => void this.renew(leases, name), Math.max(1000, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  private async renew(leases: Leases, name: string): Promise<void> {
    try {
      if (await leases.renew(name, this.replica, this.ttlMs)) return;
      // Lapsed (a long pause, or the database was away): take it again; others may have taken our requests over meanwhile.
      const again = await leases.acquire(name, this.replica, this.ttlMs);
      this.logger.error({ replica: this.replica, again }, 'this replica lost its liveness lease; other replicas may have taken its requests over');
    } catch (err) {
      this.logger.warn({ err, replica: this.replica }, 'could not renew this replica\'s liveness lease; retrying');
    }
  }

  /** Whether replica `id` holds its lease now (always false on a store without leases). */
  async isLive(id: string): Promise<boolean> {
    if (this.leases === undefined) return false;
    return (await this.leases.holder(replicaLeaseName(id))) === id;
  }

  /** Stop renewing and give the lease up, so other replicas take what is left at once. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.leases === undefined || !this.held) return;
    this.held = false;
    try {
      await this.leases.release(replicaLeaseName(this.replica), this.replica);
    } catch (err) {
      this.logger.warn({ err }, 'could not release this replica\'s liveness lease; it lapses by itself');
    }
  }
}
