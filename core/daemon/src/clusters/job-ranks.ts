import { RUNTIME_VERSION } from '@sky/runtime';
import type { JobRecord, JobStatus } from '@sky/protocol';
import type { JobState, RankRef } from '../nodes/node-runtime.js';

/** Statuses of a job whose ranks run on its nodes. */
export const ACTIVE_ON_NODES: readonly JobStatus[] = ['SETTING_UP', 'RUNNING'];

/** The job's name on its nodes: unique across incarnations of a cluster name. */
export function jobName(job: Pick<JobRecord, 'clusterId' | 'id'>): string {
  return `${job.clusterId}-${job.id}`;
}

/**
 * One rank of the job, named as the runtime that started it names it. A job records that
 * version; one without it is a job of a daemon from before versions were recorded: started by
 * version 1, or (still PENDING) to be started by this daemon's version.
 */
export function rankRef(job: Pick<JobRecord, 'clusterId' | 'id' | 'runtime' | 'status'>, rank: number): RankRef {
  return { job: jobName(job), rank, version: job.runtime ?? (job.status === 'PENDING' ? RUNTIME_VERSION : 1) };
}

/** A rank's directory name (`<clusterId>-<jobId>-r<rank>`) read back: the cluster incarnation, job id and rank. */
export function parseRankName(name: string): { clusterId: string; id: number; rank: number } | undefined {
  const match = /^(.+)-(\d{1,15})-r(\d{1,4})$/.exec(name);
  if (!match) return undefined;
  return { clusterId: match[1]!, id: Number(match[2]), rank: Number(match[3]) };
}

/** Aggregate the ranks' states into the job's status (gang semantics: one failure fails the job). */
export function aggregate(states: readonly JobState[]): { status: JobStatus; reason?: string } {
  const has = (s: JobState['status']): boolean => states.some((r) => r.status === s);
  if (has('MISSING')) return { status: 'FAILED', reason: 'the job disappeared from a node (its files are gone)' };
  if (has('FAILED_SETUP')) return { status: 'FAILED_SETUP' };
  if (has('FAILED')) return { status: 'FAILED' };
  if (has('CANCELLED')) return { status: 'CANCELLED' };
  if (states.every((r) => r.status === 'SUCCEEDED')) return { status: 'SUCCEEDED' };
  if (has('RUNNING') || has('SUCCEEDED')) return { status: 'RUNNING' };
  return { status: 'SETTING_UP' };
}

export function isRankDone(state: JobState): boolean {
  return state.status === 'SUCCEEDED' || state.status === 'FAILED' || state.status === 'FAILED_SETUP' || state.status === 'CANCELLED' || state.status === 'MISSING';
}
