import type Router from '@koa/router';
import type { Context } from 'koa';
import { API_VERSION, buildOpenApi, ROUTE_LIST, ROUTES, SkyError, type Health, type Readiness as ReadinessBody, type StoreHealth } from '@sky/protocol';
import type { BuildInfo } from '../../tokens.js';
import { NOT_READY_RETRY_SECONDS, type Readiness } from '../../readiness.js';
import { bindRoute } from '../bind.js';
import { answerNotReady } from '../readiness-gate.js';
import { callerOf, identityOf } from '../identity.js';

export interface HealthDeps {
  build: BuildInfo;
  startedAt: number;
  maxBodyBytes: number;
  isDraining: () => boolean;
  /** Whether a caller authenticated this way may name paths of the daemon's host in a task. */
  serverPaths: (via: string) => boolean;
  readiness: Readiness;
  replicaId: string;
  /** Whether this replica holds the leader lease and runs the duties one replica owns (always true on a store of its own). */
  isLeader: () => boolean;
  storeKind: string;
  /** Where the state lives (no password), for admins. */
  storeLocation: string | undefined;
  /** One cheap round trip to the open store (a lost database shows here, and its return too). */
  probeStore: () => Promise<void>;
}

/** The store's state as this caller may see it: location and error for admins only. */
function storeHealth(ctx: Context, deps: HealthDeps): StoreHealth {
  const admin = callerOf(ctx).role === 'admin';
  const error = deps.readiness.error;
  return {
    kind: deps.storeKind,
    state: deps.readiness.state,
    ...(admin && deps.storeLocation !== undefined ? { location: deps.storeLocation } : {}),
    ...(admin && error !== undefined ? { error: error.message } : {}),
  };
}

/** At most one store probe at a time, and none more often than every PROBE_EVERY_MS: readiness probes come from every load balancer. */
const PROBE_EVERY_MS = 1000;

function probeOnce(deps: HealthDeps): () => Promise<void> {
  let last = 0;
  let running: Promise<void> | undefined;
  return () => {
    if (!deps.readiness.started) return Promise.resolve();
    if (running !== undefined) return running;
    if (Date.now() - last < PROBE_EVERY_MS) return Promise.resolve();
    running = deps
      .probeStore()
      .catch(() => undefined) // the store's health events say what happened
      .finally(() => {
        last = Date.now();
        running = undefined;
      });
    return running;
  };
}

/** Liveness + identity, readiness, and the OpenAPI document (built once from the route table). */
export function healthRoutes(router: Router, deps: HealthDeps): void {
  let openapi: unknown;
  const probe = probeOnce(deps);
  bindRoute(router, ROUTES.health, deps.maxBodyBytes, async (ctx) => {
    const body: Health = {
      status: deps.isDraining() ? 'draining' : 'healthy',
      ready: deps.readiness.ready,
      replica: deps.replicaId,
      leader: deps.isLeader(),
      store: storeHealth(ctx, deps),
      version: deps.build.version,
      commit: deps.build.commit,
      apiVersion: API_VERSION,
      pid: process.pid,
      startedAt: deps.startedAt,
      user: identityOf(ctx),
      serverPaths: deps.serverPaths(callerOf(ctx).via),
    };
    ctx.body = body;
  });
  bindRoute(router, ROUTES.healthReady, deps.maxBodyBytes, async (ctx) => {
    await probe();
    const body: ReadinessBody = { ready: deps.readiness.ready && !deps.isDraining(), replica: deps.replicaId, store: storeHealth(ctx, deps) };
    if (!body.ready) {
      const why = deps.isDraining() ? 'it is draining (shutting down)' : body.store.state === 'opening' ? 'its state store is not open yet' : 'its state store lost its database';
      answerNotReady(ctx, new SkyError('STATE_UNAVAILABLE', `this API server replica is not ready: ${why}`, {
        hint: 'It recovers by itself once the database answers; send traffic to another replica meanwhile.',
        details: { retryAfterSeconds: NOT_READY_RETRY_SECONDS, ...body },
      }));
      return;
    }
    ctx.body = body;
  });
  bindRoute(router, ROUTES.openapi, deps.maxBodyBytes, async (ctx) => {
    openapi ??= buildOpenApi(ROUTE_LIST, deps.build.version);
    ctx.body = openapi;
  });
}
