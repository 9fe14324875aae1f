import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { MemoryStateStore, makeService, makeServiceVersionSpec } from '@sky/plugin-api/testing';
import type { StoredEvent } from '@sky/plugin-api';
import { DaemonConfigSchema } from '../../core/daemon/src/config/schema.js';
import { EventHub } from '../../core/daemon/src/events/event-hub.js';

async function hubOver(store: MemoryStateStore): Promise<EventHub> {
  const hub = new EventHub(store, DaemonConfigSchema.parse({}), { now: () => Date.now() }, pino({ level: 'silent' }));
  await hub.start();
  return hub;
}

describe('the event hub and services', () => {
  it('knows whose each stored service is from the start, and whose a deleted one was', async () => {
    const store = new MemoryStateStore();
    await store.open();
    await store.services.create(makeService({ name: 'before', user: 'u-alice', workspace: 'lab' }), makeServiceVersionSpec());
    const hub = await hubOver(store);
    const seen: StoredEvent[] = [];
    const stop = hub.subscribe((event) => seen.push(event));
    try {
      assert.deepEqual(hub.serviceOwner('before'), { user: 'u-alice', workspace: 'lab' });
      assert.equal(hub.serviceOwner('later'), undefined);
      await store.services.create(makeService({ name: 'later', user: 'u-bob', workspace: 'default' }), makeServiceVersionSpec());
      assert.deepEqual(hub.serviceOwner('later'), { user: 'u-bob', workspace: 'default' });
      assert.equal(await store.services.delete('before'), true);
      assert.deepEqual(hub.serviceOwner('before'), { user: 'u-alice', workspace: 'lab' }, 'a late reader of the deletion still learns whose it was');
      await store.services.create(makeService({ name: 'before', user: 'u-carol', workspace: 'default' }), makeServiceVersionSpec());
      assert.deepEqual(hub.serviceOwner('before'), { user: 'u-carol', workspace: 'default' }, 'a new service of the name is its new owner');
      assert.deepEqual(
        seen.map((e) => (e.change.kind === 'service' ? `${e.change.name}:${e.change.record === null ? 'deleted' : e.change.record.user}` : e.change.kind)),
        ['later:u-bob', 'before:deleted', 'before:u-carol'],
      );
    } finally {
      stop();
      hub.stop();
      await store.close();
    }
  });
});
