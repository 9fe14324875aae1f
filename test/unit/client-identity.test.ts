import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadIdentity } from '@sky/client';
import { SkyError } from '@sky/protocol';

let home: string;

describe('client identity', () => {
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'sky-identity-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('creates an 8-hex user id once in ~/.sky/user_hash and reuses it', async () => {
    const first = await loadIdentity({ home });
    assert.match(first.id, /^[0-9a-f]{8}$/);
    assert.equal((await readFile(join(home, '.sky', 'user_hash'), 'utf8')).trim(), first.id);
    assert.equal((await loadIdentity({ home })).id, first.id);
    assert.ok(first.name.length > 0);
  });

  it('agrees on one id when many first runs race, leaving no temp files', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'sky-identity-race-'));
    try {
      const ids = await Promise.all(Array.from({ length: 20 }, () => loadIdentity({ home: fresh })));
      assert.equal(new Set(ids.map((i) => i.id)).size, 1);
      assert.deepEqual(await readdir(join(fresh, '.sky')), ['user_hash']);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('rejects a corrupt user_hash with the file to delete', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'sky-identity-bad-'));
    try {
      await mkdir(join(broken, '.sky'));
      await writeFile(join(broken, '.sky', 'user_hash'), 'not an id!\n');
      await assert.rejects(loadIdentity({ home: broken }), (err: unknown) => {
        assert.ok(err instanceof SkyError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.ok(err.hint?.includes(join(broken, '.sky', 'user_hash')));
        return true;
      });
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
