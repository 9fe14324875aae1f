import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { encodeStateFile, readStateFile, STATE_FILE_VERSION, type StateItem, type StateStore, type StateTransfer } from '@sky/plugin-api';
import { MemoryStateStore, makeAudit, makeCluster, makeJob, makeManagedJob, makeManagedJobSpec, makeRequest, makeService, makeServiceVersionSpec, makeSpec, makeToken, makeUser, makeWorkspace } from '@sky/plugin-api/testing';
import { LevelStateStore } from '@sky/store-level';
import { pgStoreFixture } from '../integration/store-postgres-fixture.js';

const quiet = (): void => {};

async function fileBytes(store: StateStore & StateTransfer, gzip: boolean): Promise<Buffer> {
  const parts: string[] = [];
  for await (const line of encodeStateFile({ exportedAt: 1, storeKind: store.kind, schemaVersion: await store.schemaVersion() }, store.exportState())) parts.push(line);
  const plain = Buffer.from(parts.join(''), 'utf8');
  return gzip ? gzipSync(plain) : plain;
}

/** Bytes arriving in small pieces, as from a file or a socket. */
function chunks(bytes: Buffer, size = 1000): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return Readable.from(out);
}

async function importFile(store: StateStore & StateTransfer, bytes: Buffer): Promise<void> {
  const reader = await readStateFile(chunks(bytes));
  await store.importState(reader.items);
}

async function drain(items: AsyncIterable<StateItem>): Promise<number> {
  let n = 0;
  for await (const _item of items) n += 1;
  return n;
}

/** What the repositories answer, for comparing stores of different kinds. */
async function view(store: StateStore): Promise<unknown> {
  const clusters = await store.clusters.list();
  const users = await store.users.list();
  return {
    users,
    tokens: await Promise.all(users.map((u) => store.tokens.listByUser(u.id))),
    workspaces: await store.workspaces.list(),
    requests: (await store.requests.list({ limit: 1000 })).items,
    clusters,
    jobs: await Promise.all(clusters.map((c) => store.jobs.list(c.name))),
    active: await store.jobs.listActive(),
    managed: await store.managedJobs.list(),
    services: await store.services.list(),
    serviceVersions: await Promise.all([1, 2, 3].map((v) => store.services.getVersion('svc', v))),
    serviceEvents: await store.services.events('svc'),
    audit: (await store.audit.list({ limit: 1000 })).items,
    usage: await store.usage?.list({ since: 0, until: Number.MAX_SAFE_INTEGER }),
    usageOpen: await store.usage?.listOpen(),
    feed: await store.events.read(0, 1000),
    bounds: await store.events.bounds(),
  };
}

describe('state files move a state between stores of every kind', () => {
  const dirs: string[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('memory → file (gzip) → LevelDB → file → PostgreSQL → file → memory, the same everywhere', async () => {
    const memory = new MemoryStateStore({ onListenerError: quiet });
    await memory.open();
    const user = makeUser({ name: 'carol' });
    await memory.users.create(user);
    await memory.tokens.create(makeToken(user.id));
    await memory.workspaces.create(makeWorkspace('default'));
    const { record: request } = await memory.requests.create(makeRequest({ user: user.id, idempotencyKey: 'k1' }));
    await memory.requests.appendLog(request.id, 'hello\n', 5);
    const cluster = (await memory.clusters.create(makeCluster({ owner: user.id }))).record;
    await memory.jobs.create(makeJob(cluster), makeSpec());
    const managed = await memory.managedJobs.create(makeManagedJob({ user: user.id }), makeManagedJobSpec());
    await memory.managedJobs.appendEvents(managed.id, [{ at: 6, text: 'started' }]);
    const service = (await memory.services.create(makeService({ user: user.id }), makeServiceVersionSpec())).record;
    await memory.services.putVersion(service.name, makeServiceVersionSpec({ version: 2, token: 'v2-token' }));
    await memory.services.appendEvents(service.name, [{ at: 7, text: 'replica 1 READY' }]);
    await memory.services.update(service.name, service.revision, { status: 'READY', version: 2 });
    await memory.audit.append(makeAudit({ user: user.id }));
    const usageEntry = { kind: 'cluster' as const, clusterId: cluster.clusterId, cluster: cluster.name, user: user.id, userName: user.name, workspace: 'default', driver: 'local', infra: 'local', nodes: 1, cpus: 2, memoryGb: 4, gpus: 1, gpuType: 'A100', start: 10 };
    await memory.usage.open(usageEntry);
    await memory.usage.open({ ...usageEntry, clusterId: 'gone', cluster: 'gone', start: 5 });
    await memory.usage.close('gone', 8);
    await memory.usage.recordJob({ ...usageEntry, kind: 'job', jobId: 1, start: 11, end: 20 });
    const want = await view(memory);
    assert.equal((want as { usage: unknown[] }).usage.length, 3);

    const dir = await mkdtemp(join(tmpdir(), 'sky-transfer-'));
    dirs.push(dir);
    const level = new LevelStateStore({ path: join(dir, 'state'), onListenerError: quiet });
    await level.open();
    cleanups.push(() => level.close());
    await importFile(level, await fileBytes(memory, true));
    assert.deepEqual(await view(level), want);
    assert.deepEqual(await level.jobs.getSpec(cluster.name, 1), makeSpec());
    assert.deepEqual(await level.managedJobs.events(managed.id), [{ at: 6, text: 'started' }]);

    const fixture = await pgStoreFixture({ onListenerError: quiet });
    const postgres = fixture.make();
    await postgres.open();
    cleanups.push(async () => {
      await postgres.close();
      await fixture.cleanup();
    });
    await importFile(postgres, await fileBytes(level, false));
    assert.deepEqual(await view(postgres), want);
    assert.equal(await postgres.requests.appendLog(request.id, 'more\n', 7), 1);
    assert.equal((await postgres.services.getVersion('svc', 2))?.token, 'v2-token', 'version specs move as they are, like managed job specs');
    assert.equal((await postgres.services.update('svc', 2, { targetReplicas: 2 }))?.revision, 3, 'the revision goes on');

    const back = new MemoryStateStore({ onListenerError: quiet });
    await back.open();
    await importFile(back, await fileBytes(postgres, true));
    assert.deepEqual(await view(back), await view(postgres));
  });

  it('reads a file only when it is a whole sky-state file of a version it knows', async () => {
    const store = new MemoryStateStore({ onListenerError: quiet });
    await store.open();
    await store.users.create(makeUser());
    const good = (await fileBytes(store, false)).toString('utf8');
    const lines = good.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    const refuse = async (text: string | Buffer, message: RegExp): Promise<void> => {
      await assert.rejects(
        (async () => drain((await readStateFile(chunks(Buffer.from(text)))).items))(),
        (err: { code?: string; message: string }) => {
          assert.equal(err.code, 'STATE_FILE_INVALID', err.message);
          assert.match(err.message, message);
          return true;
        },
      );
    };
    assert.equal(await drain((await readStateFile(chunks(Buffer.from(good)))).items), lines.length - 2);
    await refuse('', /empty/);
    await refuse('not json\n', /not a sky state file/);
    await refuse('{"format":"other"}\n', /not a sky state file/);
    await refuse([JSON.stringify({ ...header, version: STATE_FILE_VERSION + 1 }), ...lines.slice(1)].join('\n'), /newer than this sky reads/);
    await refuse(lines.slice(0, -1).join('\n'), /truncated/);
    await refuse([...lines.slice(0, -1), '{"type":"end","items":99}'].join('\n'), /trailer counts 99/);
    await refuse([lines[0], '{"type":"mystery"}', ...lines.slice(1)].join('\n'), /line 2: unknown item type/);
    await refuse([lines[0], ...lines.slice(2, -1), lines[1], lines[lines.length - 1]].join('\n'), /comes after/);
    await refuse([...lines, '{"type":"user"}'].join('\n'), /follows the trailer/);
    await refuse(gzipSync(Buffer.from(good)).subarray(0, 40), /gzip|truncated/);
    const service = { type: 'service', record: { ...makeService(), revision: 1 }, versions: [makeServiceVersionSpec()], events: [] };
    // A service item after the user (the store held nothing later in the order).
    const withService = (item: unknown): string => [...lines.slice(0, -1), JSON.stringify(item), JSON.stringify({ type: 'end', items: lines.length - 1 })].join('\n');
    assert.equal(await drain((await readStateFile(chunks(Buffer.from(withService(service))))).items), lines.length - 1);
    await refuse(withService({ ...service, versions: [{ ...makeServiceVersionSpec(), version: 0 }] }), /service: versions/);
    await refuse(withService({ ...service, versions: undefined }), /service: versions/);
    await refuse(withService({ ...service, events: 'no' }), /service: events/);
    await refuse(withService({ ...service, record: { name: 'svc' } }), /service: record\.revision/);
  });
});
