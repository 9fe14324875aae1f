import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStateStore, makeManagedJob, makeManagedJobSpec } from '@sky/plugin-api/testing';
import type { ManagedJobRecord } from '@sky/protocol';
import { ManagedJobView } from '../../core/daemon/src/managed-jobs/managed-job-view.js';

// The queue the managed-jobs listing route serves: kept from the store's change feed, newest
// first, filtered by owner, activity, visibility and limit, and always the stored records.

const everyone = (): boolean => true;
const ids = (json: string): number[] => (JSON.parse(json) as { items: ManagedJobRecord[] }).items.map((j) => j.id);

describe('ManagedJobView', () => {
  it('lists what is stored and what changes after, newest first, as the records themselves', async () => {
    const store = new MemoryStateStore();
    await store.open();
    const a = await store.managedJobs.create(makeManagedJob({ user: 'u-alice' }), makeManagedJobSpec());
    const b = await store.managedJobs.create(makeManagedJob({ user: 'u-bob', userName: 'bob', workspace: 'lab' }), makeManagedJobSpec());
    const view = new ManagedJobView(store);
    await view.load();
    const c = await store.managedJobs.create(makeManagedJob({ user: 'u-alice' }), makeManagedJobSpec());
    assert.deepEqual(ids(view.listJson({}, everyone)), [c.id, b.id, a.id]);
    const ended = await store.managedJobs.update(a.id, a.version, { status: 'SUCCEEDED', endedAt: Date.now() });
    const items = (JSON.parse(view.listJson({}, everyone)) as { items: ManagedJobRecord[] }).items;
    assert.deepEqual(items.find((j) => j.id === a.id), ended, 'the record as stored after its change');
    assert.deepEqual(ids(view.listJson({ user: 'u-alice' }, everyone)), [c.id, a.id]);
    assert.deepEqual(ids(view.listJson({ active: true }, everyone)), [c.id, b.id]);
    assert.deepEqual(ids(view.listJson({ limit: 1 }, everyone)), [c.id]);
    assert.deepEqual(ids(view.listJson({}, (j) => j.workspace !== 'lab')), [c.id, a.id]);
    view.close();
    await store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
    assert.equal(ids(view.listJson({}, everyone)).length, 3, 'closed: no longer follows the store');
    await store.close();
  });
});
