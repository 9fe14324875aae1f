import { makeInformer, type Informer, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import type { ContextClient } from './contexts.js';
import { apiFailure } from './errors.js';
import { MANAGED_SELECTOR } from './names.js';

export type PodListener = (pod: V1Pod, deleted: boolean) => void;

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

/**
 * A watch cache of the driver's pods in one namespace of one context (client-node's informer:
 * one list, then one long-lived watch). Status answers from it without an API request; provision
 * waits on its events. When the watch fails it is restarted with a growing delay, and until it
 * is back the cache reports the failure.
 */
export class PodCache {
  private readonly informer: Informer<V1Pod> & ObjectCache<V1Pod>;
  private readonly listeners = new Set<PodListener>();
  private starting: Promise<void> | undefined;
  private synced = false;
  private failure: string | undefined;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly client: ContextClient,
    readonly namespace: string,
  ) {
    const core = client.core;
    this.informer = makeInformer<V1Pod>(
      client.kc,
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      () => core.listNamespacedPod({ namespace, labelSelector: MANAGED_SELECTOR }),
      MANAGED_SELECTOR,
    );
    this.informer.on('add', (pod) => this.emit(pod, false));
    this.informer.on('update', (pod) => this.emit(pod, false));
    this.informer.on('delete', (pod) => this.emit(pod, true));
    this.informer.on('connect', () => {
      this.failure = undefined;
    });
    this.informer.on('error', (err: unknown) => this.onError(err));
  }

  private emit(pod: V1Pod, deleted: boolean): void {
    this.synced = true;
    this.failure = undefined;
    this.retryMs = RETRY_MIN_MS;
    for (const listener of [...this.listeners]) listener(pod, deleted);
  }

  private onError(err: unknown): void {
    const f = apiFailure(err);
    this.failure = `watching pods in namespace ${this.namespace} of Kubernetes context ${this.client.context} (${this.client.server}) failed: ${f.code === undefined ? '' : `HTTP ${f.code}: `}${f.message}`;
    if (this.closed || this.retryTimer !== undefined) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed) return;
      this.starting = this.run();
    }, delay);
    this.retryTimer.unref();
  }

  private async run(): Promise<void> {
    this.failure = undefined;
    await this.informer.start();
    if (this.failure === undefined) {
      this.synced = true;
      this.retryMs = RETRY_MIN_MS;
    }
  }

  /** Start the watch on first use and wait for its first list; afterwards resolves at once. */
  async ready(): Promise<void> {
    this.starting ??= this.run();
    await this.starting;
  }

  /** Why the cache cannot be trusted right now (the watch is down), or undefined. */
  problem(): string | undefined {
    if (!this.synced && this.failure === undefined) return `the pod watch of namespace ${this.namespace} in context ${this.client.context} has not synced yet`;
    return this.failure;
  }

  pod(name: string): V1Pod | undefined {
    return this.informer.get(name, this.namespace);
  }

  pods(): readonly V1Pod[] {
    return this.informer.list(this.namespace);
  }

  /** Call `listener` on every change of a pod; returns the unsubscribe function. */
  subscribe(listener: PodListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.listeners.clear();
    await this.informer.stop().catch(() => undefined);
  }
}

/** One {@link PodCache} per context and namespace, made on first use. */
export class PodCaches {
  private readonly caches = new Map<string, PodCache>();

  get(client: ContextClient, namespace: string): PodCache {
    const key = `${client.context}\u0000${namespace}`;
    let cache = this.caches.get(key);
    if (cache === undefined) {
      cache = new PodCache(client, namespace);
      this.caches.set(key, cache);
    }
    return cache;
  }

  async close(): Promise<void> {
    const all = [...this.caches.values()];
    this.caches.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}
