import { StringDecoder } from 'node:string_decoder';
import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { isJobTerminal, SkyError, type JobLogLine, type JobStatus } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import { NodeRuntime } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { clusterNotFound } from './cluster-updates.js';
import { rankRef } from './job-ranks.js';

export type JobLogEvent = { type: 'log'; line: JobLogLine } | { type: 'end'; status: JobStatus };

const POLL_MS = 300;
const CHUNK = 256 * 1024;

/** Streams a job's log from the files the runtime keeps on each node (so logs survive daemon restarts). */
@injectable()
export class JobLogs {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
  ) {}

  async *stream(clusterName: string, jobId: number, follow: boolean, tail: number | undefined, signal: AbortSignal): AsyncGenerator<JobLogEvent> {
    const cluster = await this.store.clusters.get(clusterName);
    if (!cluster) throw clusterNotFound(clusterName);
    const job = await this.store.jobs.get(clusterName, jobId);
    if (!job) throw new SkyError('JOB_NOT_FOUND', `cluster ${clusterName} has no job ${jobId}`, { hint: `List its jobs with: sky queue ${clusterName}` });
    const ranks = cluster.nodes.slice(0, job.numNodes).map((node) => ({
      node,
      offset: 0,
      partial: '',
      decoder: new StringDecoder('utf8'),
      transport: this.transports.for(node),
      path: this.runtime.logPath(rankRef(job, node.rank)),
    }));
    let first = true;
    for (;;) {
      const current = (await this.store.jobs.get(clusterName, jobId)) ?? job;
      const done = isJobTerminal(current.status);
      for (const rank of ranks) {
        if (cluster.status !== 'UP') break;
        let lines: string[] = [];
        for (;;) {
          const { data } = await rank.transport.readFrom(rank.path, rank.offset, CHUNK);
          if (data.length === 0) break;
          rank.offset += data.length;
          const text = rank.partial + rank.decoder.write(data);
          const parts = text.split('\n');
          rank.partial = parts.pop() ?? '';
          lines.push(...parts);
        }
        if (done && rank.partial !== '') {
          lines.push(rank.partial);
          rank.partial = '';
        }
        if (first && tail !== undefined) lines = tail === 0 ? [] : lines.slice(-tail);
        for (const text of lines) yield { type: 'log', line: { rank: rank.node.rank, text } };
      }
      first = false;
      if (done || !follow || signal.aborted) {
        yield { type: 'end', status: current.status };
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
