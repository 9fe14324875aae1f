import { createHash, randomBytes } from 'node:crypto';
import { inject, injectable } from 'tsyringe';
import type { StateStore } from '@sky/plugin-api';
import {
  SkyError,
  type ServeDownBody,
  type ServeDownResult,
  type ServeUpBody,
  type ServeUpdateBody,
  type ServeUpdateResult,
  type ServeUpResult,
  type ServiceDetail,
  type ServiceRecord,
  type ServiceSpec,
  type ServiceTokenResult,
  type Task,
} from '@sky/protocol';
import { TOKENS, type Clock } from '../tokens.js';
import type { SecretCipher } from '../secrets/secret-box.js';
import { sealBodySecrets } from '../secrets/sealed-values.js';
import type { OperationContext, SubmitCaller } from '../ops/registry.js';
import { AccessPolicy, type Actor } from '../auth/policy.js';
import { submittedTask, submittedUploads } from '../clusters/submitted-task.js';
import { TaskFilesResolver } from '../uploads/task-files.js';
import { AuditLog } from '../audit/audit-log.js';
import { ServiceController } from './controller.js';

export function serviceNotFound(name: string): SkyError {
  return new SkyError('SERVICE_NOT_FOUND', `no service ${name}`, { hint: "List your services with: sky serve status (or -u for everyone's)." });
}

/** The service section of a submitted task, or a 400 saying how to add one. */
function serviceOf(task: Task, field: string): ServiceSpec {
  if (task.service === undefined) {
    throw new SkyError('TASK_INVALID', `${field} has no service section: sky serve runs tasks that say how their replicas are probed and counted`, {
      hint: 'Add for example:\nservice:\n  readiness_probe: /\n  replicas: 2\n  ports: 8080',
    });
  }
  return task.service;
}

/** The replicas wanted at first: the fixed count, or the autoscaler's minimum. */
function initialTarget(spec: ServiceSpec): number {
  return Math.min(spec.replicaPolicy.minReplicas, spec.replicaPolicy.maxReplicas);
}

/** Use cases of services: up, update, down, list, look at one. The controller does the rest. */
@injectable()
export class ServeService {
  constructor(
    @inject(TOKENS.Store) private readonly store: StateStore,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Secrets) private readonly secrets: SecretCipher,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
    @inject(TaskFilesResolver) private readonly taskFiles: TaskFilesResolver,
    @inject(ServiceController) private readonly controller: ServiceController,
    @inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  /** A task without a service section, a bad one, or foreign uploads are a 400 at submit, never a service that fails later. */
  async validateTask(body: { task: unknown; uploads?: ServeUpBody['uploads'] }, caller: SubmitCaller): Promise<void> {
    const task = submittedTask(body.task);
    serviceOf(task, 'body.task');
    await this.taskFiles.forSubmit(task, submittedUploads(body.uploads, task), caller, false);
  }

  async up(ctx: OperationContext, body: ServeUpBody): Promise<ServeUpResult> {
    const task = submittedTask(body.task);
    const spec = serviceOf(task, 'body.task');
    const name = body.service_name ?? `sky-service-${randomBytes(2).toString('hex')}`;
    const existing = await this.store.services.get(name);
    // Run again after a restart: the service this request made is found, never made twice.
    if (existing && existing.requestId !== ctx.request.id) {
      // Whose it is stays unsaid: it may be in a private workspace the caller is not in.
      throw new SkyError('SERVICE_EXISTS', `a service named ${name} already exists`, { hint: `Service names are unique on this API server: if it is yours, update it with sky serve update ${name} TASK.yaml; otherwise pick another name with -n.` });
    }
    ctx.signal.throwIfAborted();
    if (!existing) {
      const now = this.clock.now();
      const made = await this.store.services.create(
        {
          name,
          user: ctx.request.user,
          userName: ctx.request.userName,
          workspace: ctx.request.workspace,
          status: 'CONTROLLER_INIT',
          version: 1,
          activeVersion: 0,
          updateMode: 'rolling',
          protected: false,
          replicaPolicy: spec.replicaPolicy,
          targetReplicas: initialTarget(spec),
          replicas: [],
          nextReplicaId: 1,
          createdAt: now,
          updatedAt: now,
          requestId: ctx.request.id,
        },
        // Secrets are sealed at rest, as in managed job specs.
        { version: 1, task: sealBodySecrets(this.secrets, body.task), ...(body.uploads !== undefined ? { uploads: body.uploads } : {}), service: spec },
      );
      if (!made.created) throw new SkyError('SERVICE_EXISTS', `service ${name} already exists`, { hint: 'Pick another name with -n.' });
      await this.controller.event(name, `up by ${ctx.request.userName} in workspace ${ctx.request.workspace}: ${initialTarget(spec)} replica(s) wanted`);
    }
    this.controller.kick(name);
    await ctx.log(`Service ${name}: starting its load balancer.`);
    const ready = await this.waitForEndpoint(name, ctx.signal);
    await ctx.log(`Service ${name}: load balancer at ${ready.endpoint ?? '(none)'}; replicas are launched and probed now (sky serve status ${name}).`);
    return { name, ...(ready.endpoint !== undefined ? { endpoint: ready.endpoint } : {}) };
  }

  /** Until the service's load balancer listens (its record has an endpoint), it failed, or the request is cancelled. */
  private waitForEndpoint(name: string, signal: AbortSignal): Promise<ServiceRecord> {
    return this.controller.waitUntil(
      name,
      (s) => {
        if (!s) throw serviceNotFound(name);
        return s.endpoint !== undefined || s.status === 'FAILED' || s.status === 'SHUTTING_DOWN' ? s : undefined;
      },
      signal,
    );
  }

  async update(ctx: OperationContext, body: ServeUpdateBody): Promise<ServeUpdateResult> {
    const actor = await this.policy.actorOf(ctx.request);
    const where = { action: 'serve.update', requestId: ctx.request.id };
    const service = await this.visible(actor, body.service_name, where.action, ctx.request.id);
    await this.policy.assertChangeServices(actor, [service], where);
    if (service.status === 'SHUTTING_DOWN' || service.status === 'FAILED_CLEANUP') {
      throw new SkyError('SERVICE_NOT_FOUND', `service ${service.name} is being torn down`, { hint: 'Start it again with sky serve up once it is gone.' });
    }
    const task = submittedTask(body.task);
    const spec = serviceOf(task, 'body.task');
    const version = service.version + 1;
    // The endpoint's bearer token (its digest) stays with the service across versions.
    const token = (await this.store.services.getVersion(service.name, service.version))?.token;
    await this.store.services.putVersion(service.name, {
      version,
      task: sealBodySecrets(this.secrets, body.task),
      ...(body.uploads !== undefined ? { uploads: body.uploads } : {}),
      service: spec,
      ...(token !== undefined ? { token } : {}),
    });
    const mode = body.mode ?? 'rolling';
    const updated = await this.controller.change(
      service.name,
      (s) => ({
        version: Math.max(s.version, version),
        updateMode: mode,
        replicaPolicy: spec.replicaPolicy,
        targetReplicas: Math.min(spec.replicaPolicy.maxReplicas, Math.max(initialTarget(spec), spec.replicaPolicy.targetQpsPerReplica === undefined ? 0 : s.targetReplicas)),
        ...(s.status === 'FAILED' ? { status: 'REPLICA_INIT' as const, reason: undefined } : {}),
      }),
      `update by ${ctx.request.userName} to version ${version} (${mode})`,
    );
    if (!updated) throw serviceNotFound(service.name);
    this.controller.kick(service.name);
    await ctx.log(`Service ${service.name}: version ${version} is rolling out (${mode}).`);
    return { name: service.name, version };
  }

  async down(ctx: OperationContext, body: ServeDownBody): Promise<ServeDownResult> {
    const actor = await this.policy.actorOf(ctx.request);
    const where = { action: 'serve.down', requestId: ctx.request.id };
    const notFound: string[] = [];
    let targets: ServiceRecord[];
    if (body.service_names !== undefined && body.service_names.length > 0) {
      targets = [];
      for (const name of new Set(body.service_names)) {
        try {
          targets.push(await this.visible(actor, name, where.action, ctx.request.id));
        } catch (err) {
          if (err instanceof SkyError && err.code === 'SERVICE_NOT_FOUND') notFound.push(name);
          else throw err;
        }
      }
    } else {
      const visible = await this.policy.serviceListing(actor);
      targets = (await this.store.services.list(body.all_users === true ? {} : { user: actor.id })).filter(visible);
    }
    await this.policy.assertChangeServices(actor, targets, where);
    for (const service of targets) {
      await this.controller.change(service.name, (s) => (s.status === 'SHUTTING_DOWN' ? undefined : { status: 'SHUTTING_DOWN' }), `down requested by ${ctx.request.userName}`);
      this.controller.kick(service.name);
    }
    const down: string[] = [];
    for (const service of targets) {
      await this.waitDown(service.name, body.purge === true, ctx);
      down.push(service.name);
    }
    if (down.length > 0) await ctx.log(`Service${down.length === 1 ? '' : 's'} ${down.join(', ')} torn down.`);
    return { down, notFound };
  }

  /** Until the service is gone; one whose teardown failed is an error, or with purge forgotten anyway. */
  private async waitDown(name: string, purge: boolean, ctx: OperationContext): Promise<void> {
    const left = await this.controller.waitUntil(name, (s) => (s === undefined ? 'gone' : s.status === 'FAILED_CLEANUP' ? s : undefined), ctx.signal);
    if (left === 'gone') return;
    const failure = new SkyError('SERVICE_CLEANUP_FAILED', `service ${name}: ${left.reason ?? 'tearing a replica down failed'}`, {
      hint: `Look at sky serve logs ${name} --controller; sky serve down ${name} --purge forgets it anyway.`,
    });
    if (!purge) throw failure;
    await ctx.log(`Service ${name}: ${failure.message}; forgotten anyway (--purge): its replica clusters are left to sky down.`);
    await this.store.services.delete(name);
  }

  /**
   * Protect the endpoint with a new bearer token (only its SHA-256 is kept; the token is in this
   * answer alone), or open it again: the service's owner or an admin, audited either way.
   */
  async setToken(actor: Actor, name: string, enable: boolean): Promise<ServiceTokenResult> {
    const where = { action: 'serve.token' };
    const service = await this.visible(actor, name, where.action);
    await this.policy.assertChangeServices(actor, [service], where);
    const token = enable ? `sky_svc_${randomBytes(24).toString('base64url')}` : undefined;
    const digest = token === undefined ? undefined : createHash('sha256').update(token).digest('hex');
    const spec = await this.store.services.getVersion(name, service.version);
    if (!spec) throw serviceNotFound(name);
    const { token: _old, ...rest } = spec;
    await this.store.services.putVersion(name, digest === undefined ? rest : { ...rest, token: digest });
    await this.controller.change(name, () => ({ protected: enable }), enable ? `endpoint protected with a new bearer token by ${actor.name}` : `endpoint opened by ${actor.name}`);
    this.controller.kick(name);
    await this.audit.record({ user: actor.id, userName: actor.name, action: where.action, result: 'SUCCEEDED', target: name, detail: enable ? 'a new bearer token' : 'open endpoint' });
    return { name, protected: enable, ...(token !== undefined ? { token } : {}) };
  }

  /** The caller's services (every user's they may see with all_users), by name. */
  async list(actor: Actor, allUsers: boolean): Promise<ServiceRecord[]> {
    const visible = await this.policy.serviceListing(actor);
    return (await this.store.services.list(allUsers ? {} : { user: actor.id })).filter(visible);
  }

  /** One service the caller may see (404 for one they may not even know of, the same as for none). */
  async visible(actor: Actor, name: string, action: string, requestId?: string): Promise<ServiceRecord> {
    const service = await this.store.services.get(name);
    if (!service) throw serviceNotFound(name);
    await this.policy.assertServiceVisible(actor, service, { action, target: name, ...(requestId !== undefined ? { requestId } : {}) }, serviceNotFound(name));
    return service;
  }

  /** The record for whoever may see it; its controller log only for its owner and admins. */
  async detail(actor: Actor, name: string): Promise<ServiceDetail> {
    const service = await this.visible(actor, name, 'serve.read');
    return { service, events: this.policy.mayReadServiceLogs(actor, service) ? await this.store.services.events(name) : [] };
  }
}
