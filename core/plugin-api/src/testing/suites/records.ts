import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RequestRecord } from '@sky/protocol';
import { makeRequest } from '../fixtures.js';
import { requireReopen, type StoreHarness } from './harness.js';

/** A record with every optional field set and a body that exercises JSON nesting. */
export function fullRecord(overrides: Partial<RequestRecord> = {}): RequestRecord {
  return makeRequest({
    name: 'launch',
    user: 'u-bob',
    userName: 'bøb 🚀',
    workspace: 'ml-team',
    lane: 'long',
    status: 'FAILED',
    cluster: 'c-train',
    createdAt: 1_700_000_000_000,
    startedAt: 1_700_000_000_500,
    finishedAt: 1_700_000_009_000,
    body: {
      task: { name: 'train', num_nodes: 2, resources: { accelerators: 'A100:8', use_spot: true }, envs: { A: 'x=1' } },
      list: [1, 'two', null, { deep: [true, 2.5] }],
      text: 'line 1\nline 2\t"quoted"',
    },
    result: { ok: false, nodes: ['10.0.0.1', '10.0.0.2'] },
    error: { code: 'OPERATION_FAILED', message: 'exit 1', hint: 'check the logs', details: { exitCode: 1 } },
    idempotencyKey: 'idem-full',
    idempotencyHash: 'sha256:0123abcd',
    attempts: 3,
    ...overrides,
  });
}

export function describeLifecycle(h: StoreHarness): void {
  describe('lifecycle', () => {
    it('declares a kind and boolean capabilities', () => {
      assert.equal(typeof h.store.kind, 'string');
      assert.ok(h.store.kind.length > 0);
      assert.equal(typeof h.store.capabilities.durable, 'boolean');
      assert.equal(typeof h.store.capabilities.multiReplica, 'boolean');
    });

    it('reports an integer schema version >= 1 after open', async () => {
      const version = await h.store.schemaVersion();
      assert.ok(Number.isInteger(version) && version >= 1, `schemaVersion() returned ${version}`);
    });

    it('keeps the schema version across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const before = await h.store.schemaVersion();
      const store = await h.reopen();
      assert.equal(await store.schemaVersion(), before);
    });
  });
}

export function describeRecords(h: StoreHarness): void {
  describe('create and get', () => {
    it('round-trips every field of a record', async () => {
      const record = fullRecord();
      const result = await h.store.requests.create(structuredClone(record));
      assert.equal(result.created, true);
      assert.deepEqual(result.record, record);
      assert.deepEqual(await h.store.requests.get(record.id), record);
    });

    it('round-trips a minimal record without adding fields', async () => {
      const record = makeRequest();
      await h.store.requests.create(structuredClone(record));
      const got = await h.store.requests.get(record.id);
      assert.deepEqual(got, record);
      assert.deepEqual(Object.keys(got ?? {}).sort(), Object.keys(record).sort());
    });

    it('returns undefined for an unknown id', async () => {
      assert.equal(await h.store.requests.get('req-does-not-exist'), undefined);
    });

    it('does not share objects with callers', async () => {
      const record = fullRecord();
      const input = structuredClone(record);
      const { record: returned } = await h.store.requests.create(input);
      (input.body as { task: { name: string } }).task.name = 'changed-input';
      (returned.body as { task: { name: string } }).task.name = 'changed-output';
      returned.status = 'RUNNING';
      const got = await h.store.requests.get(record.id);
      assert.deepEqual(got, record);
      if (got !== undefined) got.attempts = 99;
      assert.deepEqual(await h.store.requests.get(record.id), record);
    });

    it('has every created record durable once create resolves', async (t) => {
      if (!requireReopen(h, t)) return;
      const records = [fullRecord(), makeRequest(), makeRequest({ status: 'RUNNING', startedAt: 5 })];
      await Promise.all(records.map((r) => h.store.requests.create(structuredClone(r))));
      const store = await h.reopen();
      for (const record of records) assert.deepEqual(await store.requests.get(record.id), record);
    });

    it('keeps transitions, logs and indexes across a reopen', async (t) => {
      if (!requireReopen(h, t)) return;
      const a = makeRequest({ user: 'u-carol', idempotencyKey: 'k-reopen' });
      const b = makeRequest({ user: 'u-carol' });
      await h.store.requests.create(a);
      await h.store.requests.create(b);
      await h.store.requests.transition(a.id, ['PENDING'], { status: 'RUNNING', startedAt: 10, attempts: 1 });
      await h.store.requests.appendLog(a.id, 'first', 11);
      await h.store.requests.appendLog(a.id, 'second', 12);

      const store = await h.reopen();
      assert.equal((await store.requests.get(a.id))?.status, 'RUNNING');
      assert.deepEqual((await store.requests.listByStatus('RUNNING')).map((r) => r.id), [a.id]);
      assert.deepEqual((await store.requests.listByStatus('PENDING')).map((r) => r.id), [b.id]);
      const page = await store.requests.list({ user: 'u-carol', status: ['RUNNING'], limit: 10 });
      assert.deepEqual(page.items.map((r) => r.id), [a.id]);
      const again = await store.requests.create(makeRequest({ user: 'u-carol', idempotencyKey: 'k-reopen' }));
      assert.equal(again.created, false);
      assert.equal(again.record.id, a.id);
      assert.equal(await store.requests.appendLog(a.id, 'third', 13), 2);
      assert.deepEqual((await store.requests.readLog(a.id)).map((c) => c.text), ['first', 'second', 'third']);
      const done = await store.requests.transition(a.id, ['RUNNING'], { status: 'SUCCEEDED', finishedAt: 20 });
      assert.equal(done?.status, 'SUCCEEDED');
    });
  });
}
