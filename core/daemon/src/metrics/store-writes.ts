import { Histogram, type Registry } from 'prom-client';
import type { StateStore } from '@sky/plugin-api';
import { STORE_WRITE_SECONDS } from './buckets.js';

/** The methods of each repository that write (everything else reads, and is not timed). */
export const STORE_WRITES: Readonly<Record<string, readonly string[]>> = {
  requests: ['create', 'transition', 'appendLog', 'prune'],
  clusters: ['create', 'update', 'changeOwner', 'delete'],
  jobs: ['create', 'transition'],
  managedJobs: ['create', 'update', 'appendEvents'],
  services: ['create', 'update', 'delete', 'putVersion', 'appendEvents'],
  users: ['create', 'update', 'delete'],
  tokens: ['create', 'revoke', 'touch', 'delete'],
  sessions: ['create', 'revoke', 'revokeByUser', 'prune'],
  workspaces: ['create', 'update', 'delete'],
  audit: ['append', 'prune'],
  events: ['prune'],
  leases: ['acquire', 'renew', 'release'],
  pluginDocuments: ['put'],
};

/** Told how long one store write took (whether it succeeded or failed). */
export type StoreWriteObserver = (repository: string, method: string, seconds: number) => void;

/** The store write latency histogram, by repository and method. */
export function storeWriteHistogram(registry: Registry): StoreWriteObserver {
  const histogram = new Histogram({
    name: 'sky_store_write_duration_seconds',
    help: 'State store writes as the daemon waits for them (queueing for a group commit included), by repository and method.',
    labelNames: ['repository', 'method'],
    buckets: STORE_WRITE_SECONDS,
    registers: [registry],
  });
  return (repository, method, seconds) => histogram.observe({ repository, method }, seconds);
}

type Method = (...args: unknown[]) => unknown;

/** A function of `target` called on `target` itself, made once per function (repeated reads give the same one). */
function boundTo(target: object, fn: Method, cache: WeakMap<Method, Method>): Method {
  let bound = cache.get(fn);
  if (bound === undefined) cache.set(fn, (bound = fn.bind(target)));
  return bound;
}

/** A repository whose write methods are timed; everything else is the repository's own, called on it. */
function timedRepository(name: string, repository: object, writes: ReadonlySet<string>, observe: StoreWriteObserver): object {
  const bound = new WeakMap<Method, Method>();
  const timedOnes = new WeakMap<Method, Method>();
  return new Proxy(repository, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = value as Method;
      if (typeof prop !== 'string' || !writes.has(prop)) return boundTo(target, method, bound);
      let fn = timedOnes.get(method);
      if (fn === undefined) timedOnes.set(method, (fn = timed(name, prop, method, target, observe)));
      return fn;
    },
  });
}

function timed(repository: string, method: string, fn: Method, target: object, observe: StoreWriteObserver): Method {
  return (...args: unknown[]): unknown => {
    const started = performance.now();
    const done = (): void => observe(repository, method, (performance.now() - started) / 1000);
    const result = fn.apply(target, args);
    if (result instanceof Promise) return result.finally(done);
    done();
    return result;
  };
}

/**
 * The store with every write timed. This is the narrowest hook that sees every write whatever
 * the store (memory, LevelDB, PostgreSQL, a plugin's): the daemon reaches the store only
 * through the StateStore interface, and timing there measures what the daemon waits for,
 * group-commit queueing included, without the store packages knowing about metrics. Methods
 * are called on the store itself (never on the wrapper), so stores with private fields work.
 */
export function timeStoreWrites(store: StateStore, observe: StoreWriteObserver): StateStore {
  const repositories = new WeakMap<object, object>();
  const bound = new WeakMap<Method, Method>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      const writes = typeof prop === 'string' && Object.hasOwn(STORE_WRITES, prop) ? STORE_WRITES[prop] : undefined;
      if (writes !== undefined && typeof value === 'object' && value !== null) {
        let wrapped = repositories.get(value);
        if (wrapped === undefined) repositories.set(value, (wrapped = timedRepository(prop as string, value, new Set(writes), observe)));
        return wrapped;
      }
      return typeof value === 'function' ? boundTo(target, value as Method, bound) : value;
    },
  }) as StateStore;
}
