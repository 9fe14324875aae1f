import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import { isManagedJobTerminal, type JobLogLine, type ManagedJobRecord, type ManagedJobStatus } from '@sky/protocol';
import { TOKENS } from '../tokens.js';
import { nextNotice } from '../steps/notices.js';
import { JobLogs } from '../clusters/job-logs.js';
import { attemptName } from './attempt-logs.js';
import { ManagedJobController } from './controller.js';

export type ManagedLogEvent = { type: 'log'; line: JobLogLine } | { type: 'end'; status: ManagedJobStatus };

/**
 * A managed job's log as one stream across its tasks and attempts: attempts already over come
 * from the copies the controller kept, the running one from its cluster (lines as the node
 * writes them). Between attempts (provisioning, recovering) the stream waits for the controller's
 * notices, not a timer. The controller's own log is a stream of its lines.
 */
@injectable()
export class ManagedJobLogs {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(JobLogs) private readonly jobLogs: JobLogs,
    @inject(ManagedJobController) private readonly controller: ManagedJobController,
  ) {}

  /** Resolves at the next change of the job (record or controller log), or when the signal aborts. */
  private changed(id: number, signal: AbortSignal): Promise<void> {
    return nextNotice(this.controller.notices, String(id), signal);
  }

  async *task(id: number, follow: boolean, signal: AbortSignal): AsyncGenerator<ManagedLogEvent> {
    const sent = new Set<string>();
    for (;;) {
      // Taken before reading, so a change while reading is never missed.
      const next = this.changed(id, signal);
      const job = await this.store.managedJobs.get(id);
      if (!job) return;
      for (const key of await this.controller.attemptLogs.list(id)) {
        const name = attemptName(key);
        if (sent.has(name)) continue;
        sent.add(name);
        for (const line of await this.controller.attemptLogs.read(id, key)) yield { type: 'log', line };
      }
      // The controller keeps an attempt's copy before it records the end, so an ended job's log is whole here.
      if (isManagedJobTerminal(job.status) || signal.aborted) {
        yield { type: 'end', status: job.status };
        return;
      }
      const live = await this.live(job, sent, follow, signal);
      if (!follow) {
        // What the running attempt has logged so far, then the job's status now.
        if (live) yield* live;
        yield { type: 'end', status: job.status };
        return;
      }
      if (live) yield* live;
      else await next;
    }
  }

  /** The running attempt's log from its cluster (followed, or as far as it goes now), marked sent so its kept copy is not read again. */
  private async live(job: ManagedJobRecord, sent: Set<string>, follow: boolean, signal: AbortSignal): Promise<AsyncGenerator<ManagedLogEvent> | undefined> {
    const task = job.tasks[job.currentTask]!;
    if (task.cluster === undefined || task.clusterJobId === undefined) return undefined;
    const name = attemptName({ task: job.currentTask, attempt: job.attempts });
    if (sent.has(name)) return undefined;
    let open;
    try {
      open = await this.jobLogs.open(task.cluster, task.clusterJobId, follow, undefined);
    } catch {
      return undefined; // torn down meanwhile: its copy comes on the next round
    }
    sent.add(name);
    return (async function* () {
      for await (const event of open(signal)) if (event.type === 'log') yield { type: 'log' as const, line: event.line };
    })();
  }

  async *controllerLog(id: number, follow: boolean, signal: AbortSignal): AsyncGenerator<ManagedLogEvent> {
    let seen = 0;
    let lastAt = 0;
    for (;;) {
      const next = this.changed(id, signal);
      const job = await this.store.managedJobs.get(id);
      if (!job) return;
      const events = await this.store.managedJobs.events(id);
      // The log keeps its last lines only: when it was cut, continue after the last line sent.
      const start = seen <= events.length && (seen === 0 || events[seen - 1]?.at === lastAt) ? seen : events.findIndex((e) => e.at > lastAt);
      for (const event of events.slice(start < 0 ? events.length : start)) {
        yield { type: 'log', line: { rank: 0, text: `${new Date(event.at).toISOString()} ${event.text}` } };
        lastAt = event.at;
      }
      seen = events.length;
      if (isManagedJobTerminal(job.status) || !follow || signal.aborted) {
        yield { type: 'end', status: job.status };
        return;
      }
      await next;
    }
  }
}
