import { inject, injectable } from 'tsyringe';
import type { Logger } from 'pino';
import type { FeedPosition, StateStore, StoreChange, UsageRepository } from '@sky/plugin-api';
import { isJobTerminal, type ClusterRecord, type JobRecord } from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import { clusterInterval, jobEntry } from './usage-figures.js';

type ClusterFacts = Pick<ClusterRecord, 'name' | 'clusterId' | 'workspace' | 'driver' | 'infra'>;

/**
 * Keeps the usage ledger from the store's own changes, so every path that brings a cluster UP,
 * stops it or tears it down (launch, start, stop, down, autostop, a status refresh, managed
 * jobs, services) is counted without each one remembering to: a cluster change to UP opens its
 * interval, any other change of it (or its deletion) closes it, a job reaching its end is
 * recorded. Only this process's writes are heard (StateStore.subscribe), so on a shared store
 * each replica records what it changed, once. Ledger writes run one after another, in the
 * order of the changes, apart from them: a failed ledger write is logged and never fails the
 * change. At start-up the ledger is matched to the clusters as stored (what a crash between a
 * change and its ledger write left behind): intervals of clusters no longer UP are closed,
 * and UP clusters without one get one from now (time before it is not invented).
 */
@injectable()
export class UsageRecorder {
  #unsubscribe: (() => void) | undefined;
  #tail: Promise<void> = Promise.resolve();
  /** Incarnations this process knows to have an open interval (spares a store round trip per cluster update). */
  readonly #open = new Set<string>();
  /** What the ledger needs of each cluster incarnation whose jobs may still end, by clusterId. */
  readonly #clusters = new Map<string, ClusterFacts>();

  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /** Match the ledger to the stored clusters, then follow this process's changes. No-op for a store without a ledger. */
  async start(): Promise<void> {
    const usage = this.store.usage;
    if (usage === undefined || this.#unsubscribe !== undefined) return;
    this.#unsubscribe = this.store.subscribe((change, position) => this.#onChange(usage, change, position));
    await this.#enqueue(() => this.#reconcile(usage));
  }

  /** Stop following changes and wait for the ledger writes already queued. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#tail;
  }

  /** Resolves once the ledger writes queued so far are done (tests, and reports that must see them). */
  settled(): Promise<void> {
    return this.#tail;
  }

  async #reconcile(usage: UsageRepository): Promise<void> {
    const now = this.clock.now();
    const [open, clusters] = await Promise.all([usage.listOpen(), this.store.clusters.list()]);
    const byId = new Map(clusters.map((c) => [c.clusterId, c]));
    for (const c of clusters) this.#clusters.set(c.clusterId, c);
    for (const entry of open) {
      const cluster = byId.get(entry.clusterId);
      if (cluster?.status === 'UP') {
        this.#open.add(entry.clusterId);
        continue;
      }
      await usage.close(entry.clusterId, cluster?.updatedAt ?? now);
    }
    for (const cluster of clusters) {
      if (cluster.status !== 'UP' || this.#open.has(cluster.clusterId)) continue;
      await usage.open(clusterInterval(cluster, now));
      this.#open.add(cluster.clusterId);
    }
  }

  #onChange(usage: UsageRepository, change: StoreChange, position: FeedPosition): void {
    const at = position.at > 0 ? position.at : this.clock.now();
    if (change.kind === 'cluster') {
      const record = change.record;
      if (record === undefined) {
        void this.#enqueue(() => this.#closeByName(usage, change.name, at));
        return;
      }
      this.#clusters.set(record.clusterId, record);
      if (record.status === 'UP') {
        // On a shared store another replica may have closed it meanwhile (a stop it ran): ask
        // the store every time (its open is a no-op when one is open); alone, this process
        // saw every close.
        if (!this.store.capabilities.multiReplica && this.#open.has(record.clusterId)) return;
        this.#open.add(record.clusterId);
        const entry = clusterInterval(record, at);
        void this.#enqueue(async () => void (await usage.open(entry)));
        return;
      }
      this.#open.delete(record.clusterId);
      void this.#enqueue(async () => void (await usage.close(record.clusterId, at)));
      return;
    }
    if (change.kind === 'job' && change.record !== undefined && isJobTerminal(change.record.status)) {
      const job = change.record;
      void this.#enqueue(() => this.#recordJob(usage, job, at));
    }
  }

  /** A deleted cluster's change names it only: close whatever interval of that name is open. */
  async #closeByName(usage: UsageRepository, name: string, at: number): Promise<void> {
    // Its jobs ended before it was deleted (their entries are queued ahead of this one).
    for (const [id, facts] of this.#clusters) if (facts.name === name) this.#clusters.delete(id);
    for (const entry of await usage.listOpen()) {
      if (entry.cluster !== name) continue;
      this.#open.delete(entry.clusterId);
      await usage.close(entry.clusterId, at);
    }
  }

  async #recordJob(usage: UsageRepository, job: JobRecord, at: number): Promise<void> {
    let facts = this.#clusters.get(job.clusterId);
    if (facts === undefined) {
      const stored = await this.store.clusters.get(job.cluster);
      if (stored?.clusterId === job.clusterId) facts = stored;
    }
    if (facts === undefined) {
      this.logger.debug({ cluster: job.cluster, job: job.id }, 'usage: the cluster of an ended job is gone; the job is not recorded');
      return;
    }
    const entry = jobEntry(job, facts, at);
    if (entry !== undefined) await usage.recordJob(entry);
  }

  #enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.#tail.then(write).catch((err: unknown) => {
      this.logger.warn({ err }, 'usage: a ledger write failed (the usage report will miss it)');
    });
    this.#tail = next;
    return next;
  }
}
