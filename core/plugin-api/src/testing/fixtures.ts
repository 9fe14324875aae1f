import type { RequestRecord } from '@sky/protocol';

let lastMs = 0;
let counter = 0;

/**
 * A request id that sorts after every id this process produced before, like the ids the
 * daemon assigns (time, then a per-process counter, both fixed width).
 */
export function nextRequestId(): string {
  lastMs = Math.max(lastMs, Date.now());
  counter += 1;
  return `req-${lastMs.toString(36).padStart(9, '0')}-${counter.toString(36).padStart(7, '0')}`;
}

/** A PENDING request with a fresh id; `overrides` replace any field. */
export function makeRequest(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return {
    id: nextRequestId(),
    name: 'ping',
    user: 'u-alice',
    userName: 'alice',
    workspace: 'default',
    lane: 'short',
    status: 'PENDING',
    createdAt: Date.now(),
    body: {},
    attempts: 0,
    ...overrides,
  };
}
