import { afterEach, beforeEach, describe } from 'node:test';
import type { StateStore } from '../store.js';
import { describeAudit, describeSessions, describeTokens, describeUsers, describeWorkspaces } from './suites/auth.js';
import { describeChanges } from './suites/changes.js';
import { describeDocuments } from './suites/documents.js';
import { describeEvents } from './suites/events.js';
import { describeExport } from './suites/export.js';
import { describeClusters } from './suites/clusters.js';
import { describeConcurrency } from './suites/concurrency.js';
import type { StoreHarness } from './suites/harness.js';
import { describeIdempotency } from './suites/idempotency.js';
import { describeJobs } from './suites/jobs.js';
import { describeListing } from './suites/listing.js';
import { describeLogs } from './suites/logs.js';
import { describeManagedJobs } from './suites/managed-jobs.js';
import { describeServices } from './suites/services.js';
import { describePrune } from './suites/prune.js';
import { describeLifecycle, describeRecords } from './suites/records.js';
import { describeRequestJobs } from './suites/request-jobs.js';
import { describeTransitions } from './suites/transitions.js';
import { describeUsage } from './suites/usage.js';

/** One fresh, empty store for one test. */
export interface StoreFixture {
  /** A store that has not been opened yet; the suite opens and closes it. */
  store: StateStore;
  /**
   * A new, unopened instance over the same data. Required when the store declares
   * `durable: true`; the suite closes the previous instance first and opens the new one.
   */
  reopen?: () => Promise<StateStore>;
  /** Remove whatever the fixture created (directories, schemas). Runs after the store is closed. */
  cleanup: () => Promise<void>;
}

export type StoreFactory = () => Promise<StoreFixture>;

/**
 * Register the StateStore conformance suite with node:test. Every store implementation
 * (in-memory, LevelDB, PostgreSQL, third-party) must pass it unchanged. The change-feed
 * section makes listeners throw on purpose: a fixture may silence the store's report of it.
 */
export function runStateStoreConformance(name: string, factory: StoreFactory): void {
  describe(`StateStore conformance: ${name}`, () => {
    let fixture: StoreFixture | undefined;
    let current: StateStore | undefined;
    /** Stores fresh() opened for the current test. */
    let extras: StoreFixture[] = [];

    const harness: StoreHarness = {
      get store(): StateStore {
        if (current === undefined) throw new Error('no open store: the fixture failed to open');
        return current;
      },
      get canReopen(): boolean {
        return fixture?.reopen !== undefined;
      },
      async reopen(): Promise<StateStore> {
        const reopen = fixture?.reopen;
        if (reopen === undefined) throw new Error(`store "${name}" cannot be reopened`);
        const previous = current;
        current = undefined;
        await previous?.close();
        const next = await reopen();
        await next.open();
        current = next;
        return next;
      },
      async fresh(): Promise<StateStore> {
        const extra = await factory();
        extras.push(extra);
        await extra.store.open();
        return extra.store;
      },
    };

    beforeEach(async () => {
      fixture = await factory();
      await fixture.store.open();
      current = fixture.store;
    });

    afterEach(async () => {
      const store = current;
      const done = fixture;
      current = undefined;
      fixture = undefined;
      const more = extras;
      extras = [];
      try {
        await store?.close();
        for (const extra of more) await extra.store.close();
      } finally {
        await done?.cleanup();
        for (const extra of more) await extra.cleanup();
      }
    });

    describeLifecycle(harness);
    describeRecords(harness);
    describeIdempotency(harness);
    describeTransitions(harness);
    describeListing(harness);
    describeLogs(harness);
    describePrune(harness);
    describeConcurrency(harness);
    describeClusters(harness);
    describeJobs(harness);
    describeRequestJobs(harness);
    describeChanges(harness);
    describeEvents(harness);
    describeManagedJobs(harness);
    describeServices(harness);
    describeUsers(harness);
    describeTokens(harness);
    describeSessions(harness);
    describeWorkspaces(harness);
    describeAudit(harness);
    describeExport(harness);
    describeDocuments(harness);
    describeUsage(harness);
  });
}
