import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import {
  formatInfra,
  isManagedJobTerminal,
  SkyError,
  type JobsCancelBody,
  type JobsCancelResult,
  type JobsLaunchBody,
  type JobsLaunchResult,
  type ManagedJobDetail,
  type ManagedJobRecord,
  type ManagedTaskState,
} from '@sky/protocol';
import { TOKENS, type Clock, type RequestCanceller } from '../tokens.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { sealBodySecrets } from '../secrets/sealed-values.js';
import type { OperationContext, SubmitCaller } from '../ops/registry.js';
import { AccessPolicy, type Actor } from '../auth/policy.js';
import { submittedTask, submittedUploads } from '../clusters/submitted-task.js';
import { describePlan } from '../clusters/cluster-service.js';
import { primaryFields } from '../clusters/resources.js';
import { TaskFilesResolver } from '../uploads/task-files.js';
import { ManagedJobController } from './controller.js';
import { ManagedJobView } from './managed-job-view.js';

export function managedJobNotFound(id: number | string): SkyError {
  return new SkyError('MANAGED_JOB_NOT_FOUND', `no managed job ${id}`, { hint: 'List your managed jobs with: sky jobs queue (or -u for everyone\'s).' });
}

/** Managed jobs a cancel marks CANCELLING at once. */
const CANCEL_BATCH = 64;

/** The name a jobs_launch body gives its job: its own, or its first task's. */
function submittedName(body: unknown): string | undefined {
  const b = body as Partial<JobsLaunchBody> | undefined;
  if (typeof b?.name === 'string') return b.name;
  const task = b?.tasks?.[0]?.task as { name?: unknown } | undefined;
  return typeof task?.name === 'string' ? task.name : undefined;
}

/** A cancel names its jobs one way: ids, a name, or all. */
export function checkCancelSelection(body: JobsCancelBody): void {
  const selectors = [body.job_ids !== undefined && body.job_ids.length > 0, body.name !== undefined, body.all === true].filter(Boolean).length;
  if (selectors !== 1) {
    throw new SkyError('VALIDATION_FAILED', 'jobs_cancel needs exactly one of job_ids, name or all: true', { hint: 'sky jobs cancel ID..., sky jobs cancel -n NAME, or sky jobs cancel -a' });
  }
}

/** Use cases of managed jobs: submit, cancel, list, look at one. The controller does the rest. */
@injectable()
export class ManagedJobService {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(TaskFilesResolver) private readonly taskFiles: TaskFilesResolver,
    @inject(ManagedJobController) private readonly controller: ManagedJobController,
    @inject(TOKENS.RequestCanceller) private readonly requests: RequestCanceller,
    @inject(ManagedJobView) private readonly view: ManagedJobView,
  ) {}

  /** Bad tasks and foreign uploads are a 400 at submit, never a managed job that fails later. */
  async validateLaunch(body: JobsLaunchBody, caller: SubmitCaller): Promise<void> {
    for (const [i, entry] of body.tasks.entries()) {
      const field = body.tasks.length > 1 ? `body.tasks[${i}].task` : 'body.task';
      const task = submittedTask(entry.task, field);
      await this.taskFiles.forSubmit(task, submittedUploads(entry.uploads, task), caller, false);
    }
  }

  async launch(ctx: OperationContext, body: JobsLaunchBody): Promise<JobsLaunchResult> {
    // Run again after a restart: the job this request made is found by the request id, never made twice.
    const [made] = await this.store.managedJobs.list({ requestId: ctx.request.id, limit: 1 });
    if (made) return { jobId: made.id, ...(made.name !== undefined ? { name: made.name } : {}), tasks: made.tasks.length };
    const tasks: ManagedTaskState[] = body.tasks.map((entry, index) => {
      const task = submittedTask(entry.task, body.tasks.length > 1 ? `body.tasks[${index}].task` : 'body.task');
      const infra = primaryFields(task).infra;
      return {
        index,
        ...(task.name !== undefined ? { name: task.name } : {}),
        resources: describePlan((infra && formatInfra(infra)) || '*', task),
        status: 'PENDING',
        runningMs: 0,
        recoveries: 0,
        restarts: 0,
      };
    });
    const name = body.name ?? tasks[0]!.name;
    // A cancel of this submit that came first wins: no managed job is made after it.
    ctx.signal.throwIfAborted();
    const job = await this.store.managedJobs.create(
      {
        ...(name !== undefined ? { name } : {}),
        user: ctx.request.user,
        userName: ctx.request.userName,
        workspace: ctx.request.workspace,
        requestId: ctx.request.id,
        status: 'PENDING',
        submittedAt: this.clock.now(),
        currentTask: 0,
        attempts: 0,
        tasks,
      },
      // Secrets are sealed at rest, as in request bodies and job specs.
      { tasks: body.tasks.map((entry) => sealBodySecrets(this.secrets, entry) as (typeof body.tasks)[number]) },
    );
    await this.controller.event(job.id, `submitted by ${job.userName} in workspace ${job.workspace}: ${tasks.length} task(s)`);
    this.controller.kick(job.id);
    await ctx.log(`Managed job ${job.id}${name !== undefined ? ` (${name})` : ''} submitted.`);
    return { jobId: job.id, ...(name !== undefined ? { name } : {}), tasks: tasks.length };
  }

  /**
   * Record CANCELLING on every selected job before anything else (so none starts a task after
   * this returns), interrupt what each is doing, then wait until each has ended.
   */
  async cancel(ctx: OperationContext, body: JobsCancelBody): Promise<JobsCancelResult> {
    const actor = await this.policy.actorOf(ctx.request);
    const where = { action: 'jobs.cancel', requestId: ctx.request.id };
    checkCancelSelection(body);
    // Submits still waiting to run (sky jobs launch --async) are cancelled first, so no job they would make starts later.
    if (body.job_ids === undefined || body.job_ids.length === 0) await this.cancelSubmits(ctx, body);
    const targets = await this.targets(actor, body, where);
    await this.policy.assertCancelManagedJobs(actor, targets, where);
    const alreadyFinished = targets.filter((j) => isManagedJobTerminal(j.status)).map((j) => j.id);
    const cancelling: number[] = [];
    // Recorded many at a time (their writes share group commits); then every teardown starts
    // together, so the driver's bookkeeping for all of them shares as few turns as it can.
    const open = targets.filter((j) => !isManagedJobTerminal(j.status));
    for (let at = 0; at < open.length; at += CANCEL_BATCH) {
      await Promise.all(
        open.slice(at, at + CANCEL_BATCH).map(async (job) => {
          const updated = await this.controller.change(job.id, (j) => (isManagedJobTerminal(j.status) || j.status === 'CANCELLING' ? undefined : { status: 'CANCELLING' }), `cancel requested by ${ctx.request.userName}`);
          if (updated && !isManagedJobTerminal(updated.status)) {
            cancelling.push(job.id);
            // Launches in flight stop now; the teardown waits for the others to be recorded.
            this.controller.interrupt(job.id);
          } else alreadyFinished.push(job.id);
        }),
      );
    }
    for (const id of cancelling) this.controller.kick(id);
    await this.controller.waitEnded(cancelling, ctx.signal);
    const cancelled: number[] = [];
    for (const id of cancelling) {
      const job = await this.store.managedJobs.get(id);
      if (job?.status === 'CANCELLED') cancelled.push(id);
      else alreadyFinished.push(id);
    }
    cancelled.sort((a, b) => a - b);
    if (cancelled.length > 0) {
      const shown = cancelled.length > 20 ? `${cancelled.slice(0, 20).join(', ')}, … (${cancelled.length} in all)` : cancelled.join(', ');
      await ctx.log(`Cancelled managed job${cancelled.length === 1 ? '' : 's'} ${shown}.`);
    }
    return { cancelled, alreadyFinished: alreadyFinished.sort((a, b) => a - b) };
  }

  /** The caller's (or, with all_users, everyone's) jobs_launch requests not yet done, matching the name when one is given. */
  private async cancelSubmits(ctx: OperationContext, body: JobsCancelBody): Promise<void> {
    for (const status of ['PENDING', 'RUNNING'] as const) {
      for (const request of await this.store.requests.listByStatus(status)) {
        if (request.name !== 'jobs_launch' || (!body.all_users && request.user !== ctx.request.user)) continue;
        if (body.name !== undefined && submittedName(request.body) !== body.name) continue;
        if ((await this.requests.cancel(request.id)) === 'cancelled') await ctx.log(`Cancelled the submit ${request.id} before it made its managed job.`);
      }
    }
  }

  private async targets(actor: Actor, body: JobsCancelBody, where: { requestId: string }): Promise<ManagedJobRecord[]> {
    if (body.job_ids !== undefined && body.job_ids.length > 0) {
      const found: ManagedJobRecord[] = [];
      for (const id of new Set(body.job_ids)) {
        // A job in a private workspace the caller is not in is "not found" (audited), not "forbidden": its existence is not theirs to learn.
        found.push(await this.visible(actor, id, 'jobs.cancel', where.requestId));
      }
      return found;
    }
    const mine = body.all_users ? {} : { user: actor.id };
    const visible = await this.policy.managedJobListing(actor);
    const active = (await this.store.managedJobs.list({ ...mine, active: true })).filter(visible);
    if (body.name === undefined) return active;
    const named = active.filter((j) => j.name === body.name);
    if (named.length === 0) throw new SkyError('MANAGED_JOB_NOT_FOUND', `no unfinished managed job named ${body.name}${body.all_users ? '' : ' of yours'}`, { hint: 'List them with: sky jobs queue' });
    return named;
  }

  /** The queue as JSON (`{"items": [...]}`), newest first: the caller's, or with all_users everyone's they may see. */
  async listJson(actor: Actor, query: { all_users?: boolean; skip_finished?: boolean; limit?: number }): Promise<string> {
    const visible = await this.policy.managedJobListing(actor);
    return this.view.listJson(
      {
        ...(query.all_users ? {} : { user: actor.id }),
        ...(query.skip_finished ? { active: true } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
      },
      visible,
    );
  }

  /** One job the caller may see (404 for one they may not even know of, the same as for none). */
  async visible(actor: Actor, id: number, action: string, requestId?: string): Promise<ManagedJobRecord> {
    const job = await this.store.managedJobs.get(id);
    if (!job) throw managedJobNotFound(id);
    await this.policy.assertManagedJobVisible(actor, job, { action, target: String(id), ...(requestId !== undefined ? { requestId } : {}) }, managedJobNotFound(id));
    return job;
  }

  /** The record for whoever may see the job; its controller log only for its owner and admins. */
  async detail(actor: Actor, id: number): Promise<ManagedJobDetail> {
    const job = await this.visible(actor, id, 'jobs.read');
    return { job, events: this.policy.mayReadManagedJobLogs(actor, job) ? await this.store.managedJobs.events(id) : [] };
  }
}
