import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { RequestRecord } from '@sky/protocol';
import type { RequestFilter, StateStore } from '../../store.js';

/** What every conformance section sees: the open store under test, and a way to restart it. */
export interface StoreHarness {
  /** The store under test, already open. Changes after reopen(). */
  readonly store: StateStore;
  /** Whether the fixture can reopen the store over the same data. */
  readonly canReopen: boolean;
  /** Close the store and open a new instance over the same data (durable stores only). */
  reopen(): Promise<StateStore>;
  /** Another store of the same kind, new, empty and open (closed and cleaned up after the test). */
  fresh(): Promise<StateStore>;
}

/** Skip the current test unless the store is durable; fail if a durable store cannot be reopened. */
export function requireReopen(h: StoreHarness, t: TestContext): boolean {
  if (h.store.capabilities.durable) {
    assert.ok(h.canReopen, `store "${h.store.kind}" declares durable:true, so its fixture must provide reopen()`);
    return true;
  }
  t.skip(`store "${h.store.kind}" is not durable`);
  return false;
}

/** Assert that `promise` rejects with an error carrying `code` (a SkyError code). */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as { code?: unknown } | null)?.code, code, `expected error code ${code}, got ${String(err)}`);
    return true;
  });
}

/** Ids in descending order: the order list() must return. */
export function newestFirst(records: readonly RequestRecord[]): string[] {
  return records.map((r) => r.id).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/** Ids in ascending order: the order listByStatus() must return. */
export function oldestFirst(records: readonly RequestRecord[]): string[] {
  return records.map((r) => r.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Follow nextCursor until it runs out; fail on an empty non-final page or a loop. */
export async function listAll(
  store: StateStore,
  filter: Omit<RequestFilter, 'cursor'>,
  startCursor?: string,
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor = startCursor;
  let pages = 0;
  for (;;) {
    const page = await store.requests.list(cursor === undefined ? filter : { ...filter, cursor });
    pages += 1;
    assert.ok(page.items.length <= filter.limit, `page ${pages} has ${page.items.length} items, more than limit ${filter.limit}`);
    ids.push(...page.items.map((r) => r.id));
    if (page.nextCursor === undefined) return { ids, pages };
    assert.ok(page.items.length > 0, `page ${pages} is empty but has a nextCursor`);
    assert.ok(pages < 10_000, 'pagination does not terminate');
    cursor = page.nextCursor;
  }
}

/** Deterministic shuffle (so a failure reproduces). */
export function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
