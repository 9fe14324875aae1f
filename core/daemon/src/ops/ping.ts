import { SkyError, type PingBody, type PingResult } from '@sky/protocol';
import type { OperationContext, OperationHandler } from './registry.js';

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The diagnostic request: sleeps in one-second steps, logging each, then answers pong or fails on demand. */
export const pingHandler: OperationHandler = {
  name: 'ping',
  resumable: false,
  async run(ctx: OperationContext, raw: unknown): Promise<PingResult> {
    const body = raw as PingBody;
    const totalMs = Math.round((body.sleep ?? 0) * 1000);
    const started = Date.now();
    if (totalMs > 0) await ctx.log(`ping: sleeping ${body.sleep}s`);
    let slept = 0;
    while (slept < totalMs) {
      const chunk = Math.min(1000, totalMs - slept);
      await sleep(chunk, ctx.signal);
      slept += chunk;
      await ctx.log(`ping: ${slept / 1000}s elapsed`);
    }
    if (body.fail !== undefined) {
      throw new SkyError('OPERATION_FAILED', body.fail, { hint: 'This failure was requested with --fail.' });
    }
    if (totalMs > 0) await ctx.log('pong');
    return { pong: true, sleptMs: Date.now() - started, daemonPid: process.pid };
  },
};
