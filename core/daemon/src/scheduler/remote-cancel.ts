import type { Logger } from 'pino';
import type { StateStore } from '@sky/plugin-api';
import { isTerminal } from '@sky/protocol';
import type { LogBus } from './log-bus.js';

/** A cancel asked of another replica waits its grace period plus this long for the request to end. */
const REMOTE_CANCEL_EXTRA_SECONDS = 5;
/** How often that wait looks at the store, besides the shared feed. */
const REMOTE_CANCEL_POLL_MS = 500;

export interface RemoteCancelDeps {
  store: StateStore;
  bus: LogBus;
  logger: Logger;
  now: () => number;
  graceSeconds: number;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Ask the replica running a request to cancel it (`cancelRequestedAt` set by a RUNNING →
 * RUNNING compare-and-set; that replica sees it in the shared feed), then wait until the
 * request ended — woken by the shared feed, or seen in the store — for at most its grace
 * period plus a few seconds. 'cancelled' also when it has not ended yet: the cancel stands.
 */
export async function cancelOnOtherReplica(deps: RemoteCancelDeps, id: string): Promise<'cancelled' | 'finished' | 'missing'> {
  const { store, bus, logger } = deps;
  let wake!: () => void;
  const ended = new Promise<void>((resolve) => (wake = resolve));
  const unsubscribe = bus.subscribe(id, { end: () => wake() });
  let over = false;
  try {
    const asked = await store.requests.transition(id, ['RUNNING'], { status: 'RUNNING', cancelRequestedAt: deps.now() });
    if (asked !== undefined) {
      const boundMs = (deps.graceSeconds + REMOTE_CANCEL_EXTRA_SECONDS) * 1000;
      await Promise.race([ended, untilTerminal(store, id, boundMs, () => over)]);
    }
  } finally {
    over = true;
    unsubscribe();
  }
  const status = (await store.requests.get(id))?.status;
  if (status === undefined) return 'missing';
  if (status === 'CANCELLED') return 'cancelled';
  if (!isTerminal(status)) {
    logger.warn({ request: id }, 'the replica running the request has not ended it yet after the cancel was asked');
    return 'cancelled';
  }
  return 'finished';
}

/** Polls the store until the request is terminal, `over()`, or boundMs passed (in case the shared feed lags). */
async function untilTerminal(store: StateStore, id: string, boundMs: number, over: () => boolean): Promise<void> {
  const until = Date.now() + boundMs;
  while (Date.now() < until && !over()) {
    await delay(REMOTE_CANCEL_POLL_MS);
    const record = await store.requests.get(id);
    if (record === undefined || isTerminal(record.status)) return;
  }
}
