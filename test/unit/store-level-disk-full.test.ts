// LevelDB on a disk that fills up: a failed write leaves a partial record at the end of the
// log, and records appended after it are lost at the next open. The store therefore refuses
// writes after the first failure, keeps serving reads, and reopens once there is room; every
// write it accepted (before the failure and after the recovery) survives a restart.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRequest } from '@sky/plugin-api/testing';
import { toSkyError } from '@sky/protocol';
import { LevelStateStore, type StoreHealthEvent } from '@sky/store-level';
import { mountTmpfs, tmpfsUnavailable, type Tmpfs } from '../helpers/tmpfs.js';

const mounts: Tmpfs[] = [];
after(() => mounts.forEach((m) => m.unmount()));

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('the LevelDB store on a full disk', { skip: process.env.CI === 'true' ? false : tmpfsUnavailable() }, () => {
  it('refuses writes with DISK_FULL, serves reads, reopens once there is room, and loses nothing it accepted', async () => {
    const disk = mountTmpfs(8, 'storefull');
    mounts.push(disk);
    const path = join(disk.dir, 'state');
    const events: StoreHealthEvent[] = [];
    const store = new LevelStateStore({ path, recoveryIntervalMs: 100, onHealth: (e) => events.push(e) });
    await store.open();
    const accepted: string[] = [];
    const body = { padding: 'p'.repeat(900) };
    for (let i = 0; i < 20; i++) accepted.push((await store.requests.create(makeRequest({ body }))).record.id);

    const filler = join(disk.dir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(16 * 1024 * 1024));
    } catch {
      // filled to the last byte
    }
    let failure: unknown;
    for (let i = 0; i < 500 && failure === undefined; i++) {
      const record = makeRequest({ body });
      try {
        await store.requests.create(record);
        accepted.push(record.id); // a write that still fit in the last page
      } catch (err) {
        failure = err;
      }
    }
    assert.equal(toSkyError(failure)?.code, 'DISK_FULL', String(failure));
    assert.match(toSkyError(failure)!.hint ?? '', /free space/);
    assert.equal(events[0]?.state, 'degraded');

    // Degraded: every write is refused at once, reads go on.
    await assert.rejects(store.requests.create(makeRequest()), (err: unknown) => {
      assert.equal(toSkyError(err)?.code, 'DISK_FULL');
      assert.match((err as Error).message, /takes no writes until it has recovered \(the disk is full\)/);
      return true;
    });
    assert.equal((await store.requests.get(accepted[0]!))?.id, accepted[0]);
    assert.equal((await store.requests.listByStatus('PENDING')).length, accepted.length);
    await sleep(400);
    assert.deepEqual(events.map((e) => e.state), ['degraded'], 'no recovery while the disk is full');

    rmSync(filler);
    for (let end = Date.now() + 10_000; !events.some((e) => e.state === 'recovered'); ) {
      assert.ok(Date.now() < end, `recovered: ${JSON.stringify(events.map((e) => e.state))}`);
      await sleep(50);
    }
    for (let i = 0; i < 20; i++) accepted.push((await store.requests.create(makeRequest({ body }))).record.id);
    await store.close();

    const reopened = new LevelStateStore({ path });
    await reopened.open();
    try {
      const present = new Set((await reopened.requests.listByStatus('PENDING')).map((r) => r.id));
      assert.deepEqual(accepted.filter((id) => !present.has(id)), [], 'every accepted write survives a restart');
      assert.equal(present.size, accepted.length);
    } finally {
      await reopened.close();
    }
  });
});
