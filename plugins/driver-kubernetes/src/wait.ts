import { connect } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { SkyError } from '@sky/protocol/wire';
import { cancelled } from './errors.js';
import type { PodCache } from './pod-cache.js';
import { podProgress } from './pod-state.js';

export interface WaitOptions {
  context: string;
  /** How long a pod may stay Unschedulable, and how long the whole wait may take. */
  timeoutMs: number;
  signal: AbortSignal;
  log(line: string): void;
}

/**
 * Wait, on the pod watch (no polling), until every pod is Running with an IP; resolves with
 * the IPs in the order of `names`. Rejects with the first pod's failure (NO_CAPACITY,
 * DRIVER_FAILED naming an image, …), CANCELLED on abort, DRIVER_FAILED past the timeout.
 */
export function waitForPods(cache: PodCache, names: readonly string[], opts: WaitOptions): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    const started = Date.now();
    const unschedulableSince = new Map<string, number>();
    const said = new Map<string, string>();
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (error: Error | undefined, ips?: string[]): void => {
      if (done) return;
      done = true;
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      opts.signal.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(error);
      else resolve(ips ?? []);
    };
    const evaluate = (): void => {
      if (done) return;
      const now = Date.now();
      const ips: string[] = [];
      const waiting: string[] = [];
      for (const name of names) {
        const pod: V1Pod | undefined = cache.pod(name);
        if (pod === undefined) {
          waiting.push(`${name}: not seen yet`);
          continue;
        }
        const firstUnschedulable = unschedulableSince.get(name);
        const progress = podProgress(pod, opts.context, firstUnschedulable === undefined ? 0 : now - firstUnschedulable, opts.timeoutMs);
        if (progress.kind === 'failed') return finish(progress.error);
        if (progress.kind === 'ready') {
          if (said.get(name) !== progress.podIP) opts.log(`pod ${name} Running at ${progress.podIP}`);
          said.set(name, progress.podIP);
          ips.push(progress.podIP);
          continue;
        }
        if (progress.unschedulable !== undefined && firstUnschedulable === undefined) {
          unschedulableSince.set(name, now);
          timers.push(setTimeout(evaluate, opts.timeoutMs + 5));
        }
        if (progress.unschedulable === undefined) unschedulableSince.delete(name);
        if (said.get(name) !== progress.what) opts.log(`pod ${name}: ${progress.what}`);
        said.set(name, progress.what);
        waiting.push(`${name}: ${progress.what}`);
      }
      if (waiting.length === 0) return finish(undefined, ips);
      if (now - started >= opts.timeoutMs && unschedulableSince.size === 0) {
        finish(
          new SkyError('DRIVER_FAILED', `pods in Kubernetes context ${opts.context} were not running after ${Math.round(opts.timeoutMs / 1000)} s: ${waiting.join('; ')}`, {
            hint: 'Check the pods with `kubectl describe pod`; raise provision_timeout_seconds if the nodes are just slow to start them.',
          }),
        );
      }
    };
    const unsubscribe = cache.subscribe((pod) => {
      if (names.includes(pod.metadata?.name ?? '')) evaluate();
    });
    const onAbort = (): void => finish(cancelled('waiting for the pods', opts.signal));
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    timers.push(setTimeout(evaluate, opts.timeoutMs + 5));
    evaluate();
  });
}

/** Resolve once `host:port` accepts a TCP connection; reject after `timeoutMs` or on abort. */
export async function waitForTcp(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt';
  for (let attempt = 0; ; attempt++) {
    if (signal.aborted) throw cancelled(`waiting for sshd at ${host}:${port}`, signal);
    try {
      await new Promise<void>((resolve, reject) => {
        const socket = connect({ host, port, timeout: Math.min(5000, Math.max(100, deadline - Date.now())) });
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('timeout', () => {
          socket.destroy();
          reject(new Error('timed out'));
        });
        socket.once('error', (e) => reject(e));
      });
      return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
  }
  throw new SkyError('NODE_UNREACHABLE', `the sshd of the pod at ${host}:${port} does not accept connections (${lastError})`, {
    hint: 'The sky daemon must be able to route to pod IPs (run it inside the cluster), and the node image must run /bin/sh.',
  });
}
