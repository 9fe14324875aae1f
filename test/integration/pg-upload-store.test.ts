import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SkyError, UPLOAD_CHUNK_BYTES, type UploadManifest } from '@sky/protocol';
import type { PostgresStateStore } from '@sky/store-postgres';
import { PgUploadStore, blobsOf } from '../../core/daemon/src/uploads/pg-upload-store.js';
import type { StoredUpload } from '../../core/daemon/src/uploads/upload-store.js';
import { pgStoreFixture } from './store-postgres-fixture.js';

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream as AsyncIterable<Buffer>) parts.push(part);
  return Buffer.concat(parts);
}

function uploadOf(id: string, owner: string, chunks: string[], at: number): StoredUpload {
  const manifest: UploadManifest = { kind: 'dir', files: [{ path: 'a.bin', mode: 0o644, mtimeMs: 1, size: chunks.length, chunks }], dirs: ['d'] };
  return { id, owner, manifest, bytes: chunks.length, createdAt: at, lastUsedAt: at };
}

const upId = (n: number): string => `up-${String(n).padStart(64, '0')}`;

/** The PostgreSQL upload store, as two replicas (two stores on one schema) see it. */
describe('PgUploadStore (two replicas on one schema)', { timeout: 120_000 }, () => {
  let fixture: Awaited<ReturnType<typeof pgStoreFixture>>;
  let stateA: PostgresStateStore;
  let stateB: PostgresStateStore;
  let a: PgUploadStore;
  let b: PgUploadStore;

  before(async () => {
    fixture = await pgStoreFixture();
    stateA = fixture.make();
    stateB = fixture.make();
    await Promise.all([stateA.open(), stateB.open()]);
    a = new PgUploadStore(blobsOf(stateA)!);
    b = new PgUploadStore(blobsOf(stateB)!);
    await Promise.all([a.open(), b.open()]);
  });

  after(async () => {
    await Promise.allSettled([stateA?.close(), stateB?.close()]);
    await fixture?.cleanup();
  });

  it('keeps chunks per owner: put, dedup, has, read back whole on the other replica, usedBytes', async () => {
    const data = Buffer.from('hello chunk');
    const digest = sha(data);
    assert.equal(await a.putChunk('u-1', digest, data), true);
    assert.equal(await b.putChunk('u-1', digest, data), false, 'the same owner stores it once');
    assert.equal(await b.hasChunk('u-1', digest), true);
    assert.equal(await b.hasChunk('u-2', digest), false, 'another owner does not see it');
    assert.deepEqual(await readAll(b.openChunk('u-1', digest)), data);
    assert.equal(await a.usedBytes('u-1'), data.length);
    assert.equal(await b.usedBytes('u-2'), 0);
    assert.equal(await b.putChunk('u-2', digest, data), true, 'dedup is per owner only');
    assert.deepEqual((await a.owners()).filter((o) => o.startsWith('u-')).sort(), ['u-1', 'u-2']);
  });

  it('reads a full-size chunk byte for byte', async () => {
    const data = Buffer.alloc(UPLOAD_CHUNK_BYTES);
    for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
    const digest = sha(data);
    assert.equal(await a.putChunk('u-big', digest, data), true);
    const back = await readAll(b.openChunk('u-big', digest));
    assert.equal(back.length, data.length);
    assert.equal(sha(back), digest);
    assert.equal(await b.usedBytes('u-big'), UPLOAD_CHUNK_BYTES);
  });

  it('errors the stream of a chunk that is not there (UPLOAD_NOT_FOUND)', async () => {
    const missing = sha(Buffer.from('never stored'));
    await assert.rejects(readAll(a.openChunk('u-1', missing)), (err: unknown) => err instanceof SkyError && err.code === 'UPLOAD_NOT_FOUND');
  });

  it('creates, replaces, touches, lists and deletes manifests across replicas', async () => {
    const one = uploadOf(upId(1), 'u-m', [sha(Buffer.from('x'))], 1000);
    await a.putManifest(one);
    assert.deepEqual(await b.getManifest(one.id), one);
    await b.touchManifest(one.id, 5000);
    assert.equal((await a.getManifest(one.id))?.lastUsedAt, 5000);
    await a.putManifest({ ...one, bytes: 7, lastUsedAt: 6000 });
    assert.equal((await b.getManifest(one.id))?.bytes, 7);
    assert.ok((await b.listManifests()).some((u) => u.id === one.id));
    await b.deleteManifest(one.id);
    await a.deleteManifest(one.id);
    assert.equal(await a.getManifest(one.id), undefined);
    assert.equal(await a.getManifest(upId(99)), undefined);
  });

  it('lists chunks with size and storedAt; touch moves storedAt on', async () => {
    const data = Buffer.from('listed');
    const digest = sha(data);
    await a.putChunk('u-l', digest, data);
    const [chunk] = await b.listChunks('u-l');
    assert.equal(chunk?.sha256, digest);
    assert.equal(chunk?.size, data.length);
    await a.touchChunk('u-l', digest, chunk!.storedAt + 10_000);
    assert.equal((await b.listChunks('u-l'))[0]?.storedAt, chunk!.storedAt + 10_000);
  });

  it('deletes a chunk idempotently: of two replicas deleting at once, one frees its bytes', async () => {
    const data = Buffer.from('delete me');
    const digest = sha(data);
    await a.putChunk('u-d', digest, data);
    await Promise.all([a.listChunks('u-d'), b.listChunks('u-d')]);
    const freed = await Promise.all([a.deleteChunk('u-d', digest), b.deleteChunk('u-d', digest)]);
    assert.deepEqual(freed.sort(), [0, data.length]);
    assert.equal(await a.hasChunk('u-d', digest), false);
    assert.equal(await b.usedBytes('u-d'), 0);
    assert.equal(await a.deleteChunk('u-d', digest), 0);
  });

  it('never deletes a chunk a manifest names, nor one announced again since it was listed', async () => {
    const named = Buffer.from('named by a manifest');
    const announced = Buffer.from('announced again');
    await a.putChunk('u-g', sha(named), named);
    await a.putChunk('u-g', sha(announced), announced);
    const listed = await a.listChunks('u-g');
    assert.equal(listed.length, 2);
    // Replica B takes an upload naming one chunk and an announce of the other meanwhile.
    await b.putManifest(uploadOf(upId(2), 'u-g', [sha(named)], 1));
    await b.touchChunk('u-g', sha(announced), listed.find((c) => c.sha256 === sha(announced))!.storedAt + 1);
    assert.equal(await a.deleteChunk('u-g', sha(named)), 0);
    assert.equal(await a.deleteChunk('u-g', sha(announced)), 0);
    assert.equal(await a.usedBytes('u-g'), named.length + announced.length);
    // Once the manifest is gone and the chunks are listed again, collection frees them.
    await b.deleteManifest(upId(2));
    await a.listChunks('u-g');
    assert.equal(await a.deleteChunk('u-g', sha(named)), named.length);
    assert.equal(await a.deleteChunk('u-g', sha(announced)), announced.length);
  });

  it('does not delete an upload used on another replica since collection listed it', async () => {
    const up = uploadOf(upId(3), 'u-u', [], 100);
    await a.putManifest(up);
    await a.listManifests();
    await b.touchManifest(up.id, 200);
    await a.deleteManifest(up.id);
    assert.equal((await b.getManifest(up.id))?.lastUsedAt, 200);
    await a.listManifests();
    await a.deleteManifest(up.id);
    assert.equal(await b.getManifest(up.id), undefined);
  });

  it('refuses ids and digests that are not', async () => {
    await assert.rejects(a.getManifest('../etc'), /not an upload id/);
    await assert.rejects(a.hasChunk('u-1', 'xyz'), /not a sha256/);
  });
});
