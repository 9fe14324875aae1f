import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { isJobTerminal, SkyError, type ClusterRecord, type JobLogLine, type JobRecord, type JobStatus } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import { NodeRuntime } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { clusterNotFound } from './cluster-updates.js';
import { rankRef } from './job-ranks.js';
import { RankLog } from './rank-log.js';

export type JobLogEvent = { type: 'log'; line: JobLogLine } | { type: 'end'; status: JobStatus };

/** How often a follower looks at the job's record itself, besides the change feed (a safety net). */
const RECHECK_MS = 5_000;
/** Lines followed but not yet taken by the reader, past which the followers wait. */
const PENDING_LINES = 10_000;

/**
 * A job's log, from the files the runtime keeps on each node (so logs survive daemon restarts).
 * Following streams each rank's file (`tail -f` through NodeTransport.stream: a line reaches the
 * reader as soon as the node writes it); the end of the job comes from the store's change feed,
 * and then each file is read to its end, so no trailing bytes are lost.
 */
@injectable()
export class JobLogs {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
  ) {}

  /**
   * Check that the job exists (CLUSTER_NOT_FOUND, JOB_NOT_FOUND), then give the stream of its
   * log: what the files hold (the last `tail` lines of each rank, when set), then, with
   * `follow`, lines as they come until the job ends; last, an `end` event with its status.
   * Aborting `signal` stops reading (and ends the followers on the nodes).
   */
  async open(clusterName: string, jobId: number, follow: boolean, tail: number | undefined): Promise<(signal: AbortSignal) => AsyncGenerator<JobLogEvent>> {
    const cluster = await this.store.clusters.get(clusterName);
    if (!cluster) throw clusterNotFound(clusterName);
    const job = await this.store.jobs.get(clusterName, jobId);
    if (!job) throw new SkyError('JOB_NOT_FOUND', `cluster ${clusterName} has no job ${jobId}`, { hint: `List its jobs with: sky queue ${clusterName}` });
    const ranks = cluster.nodes.slice(0, job.numNodes).map((node) => new RankLog(node, this.transports.for(node), this.runtime.logPath(rankRef(job, node.rank))));
    // A file the node refuses to open answers the request itself (403, 404), before any stream.
    if (cluster.status === 'UP') await Promise.all(ranks.map((rank) => rank.probe()));
    return (signal) => this.events(cluster, job, ranks, follow, tail, signal);
  }

  private async *events(cluster: ClusterRecord, job: JobRecord, ranks: readonly RankLog[], follow: boolean, tail: number | undefined, signal: AbortSignal): AsyncGenerator<JobLogEvent> {
    const current = (await this.store.jobs.get(cluster.name, job.id)) ?? job;
    const done = isJobTerminal(current.status);
    const readable = cluster.status === 'UP';
    if (readable) {
      for (const rank of ranks) {
        // With `tail`, only the last lines are kept while reading; without, each batch goes out as read.
        let last: string[] = [];
        for await (const lines of rank.catchUp(done)) {
          if (tail === undefined) for (const text of lines) yield { type: 'log', line: { rank: rank.node.rank, text } };
          else if (tail > 0) last = [...last, ...lines].slice(-tail);
        }
        for (const text of last) yield { type: 'log', line: { rank: rank.node.rank, text } };
      }
    }
    if (done || !follow || !readable || signal.aborted) {
      yield { type: 'end', status: current.status };
      return;
    }
    yield* this.followRanks(cluster.name, job.id, ranks, current.status, signal);
  }

  private async *followRanks(clusterName: string, jobId: number, ranks: readonly RankLog[], status: JobStatus, signal: AbortSignal): AsyncGenerator<JobLogEvent> {
    const pending: JobLogEvent[] = [];
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const over = new AbortController();
    const stop = new AbortController();
    const onAbort = (): void => {
      stop.abort();
      notify();
    };
    let final = status;
    const end = (s: JobStatus): void => {
      final = s;
      over.abort();
    };
    const unsubscribe = this.store.subscribe((change) => {
      if (change.kind === 'job' && change.cluster === clusterName && change.id === jobId) {
        if (change.record === undefined) end(final);
        else if (isJobTerminal(change.record.status)) end(change.record.status);
      } else if (change.kind === 'cluster' && change.name === clusterName && change.record?.status !== 'UP') end(final);
    });
    const recheck = async (): Promise<void> => {
      const record = await this.store.jobs.get(clusterName, jobId).catch(() => undefined);
      if (record === undefined || isJobTerminal(record.status)) end(record?.status ?? final);
    };
    const timer = setInterval(() => void recheck(), RECHECK_MS);
    timer.unref();
    // Followers wait while this many lines are not yet taken by the reader (bounded memory, and
    // a slow reader slows the tails on the nodes rather than the daemon buffering for it).
    let room: Array<() => void> = [];
    const freeRoom = (): void => {
      const waiting = room;
      room = [];
      for (const resume of waiting) resume();
    };
    let running = ranks.length;
    for (const rank of ranks) {
      void rank
        .follow(
          async (lines) => {
            for (const text of lines) pending.push({ type: 'log', line: { rank: rank.node.rank, text } });
            notify();
            if (pending.length >= PENDING_LINES && !stop.signal.aborted) await new Promise<void>((resume) => room.push(resume));
          },
          over.signal,
          stop.signal,
        )
        .catch(() => undefined)
        .finally(() => {
          running -= 1;
          notify();
        });
    }
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // The job may have ended between the first read and the subscription.
    void recheck();
    try {
      for (;;) {
        if (pending.length > 0) {
          const batch = pending.splice(0, pending.length);
          freeRoom();
          yield* batch;
          continue;
        }
        if (stop.signal.aborted) return;
        if (running === 0) {
          yield { type: 'end', status: final };
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      unsubscribe();
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
      stop.abort();
      freeRoom();
    }
  }
}
