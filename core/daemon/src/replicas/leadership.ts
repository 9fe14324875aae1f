import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import { storeLeases, type StateStore } from '@sky/plugin-api';
import { TOKENS, type Clock } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { LeaderElection } from './leader-election.js';

export { LEADER_LEASE, LeaderElection, type Duty } from './leader-election.js';

/** The daemon's LeaderElection: lease `leader` on its store, TTL `replicas.lease_seconds`. */
@injectable()
export class Leadership extends LeaderElection {
  constructor(
    @inject(TOKENS.Store) store: StateStore,
    @inject(TOKENS.Config) config: DaemonConfig,
    @inject(TOKENS.Logger) logger: Logger,
    @inject(TOKENS.ReplicaId) replica: string,
    @inject(TOKENS.Clock) clock: Clock,
  ) {
    super({ leases: storeLeases(store), holder: replica, ttlMs: config.replicas.lease_seconds * 1000, now: () => clock.now(), logger });
  }
}
