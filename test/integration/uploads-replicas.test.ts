import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseEndpoint, SkyClient } from '@sky/client';
import type { RequestRecord } from '@sky/protocol';
import { http, type DaemonHandle } from '../helpers/daemon-process.js';
import { Replicas, until, waitOn as waitOnAs } from '../helpers/pg-replicas.js';
import { errorOf } from '../helpers/team.js';
import { manifestOf, uploadFiles } from '../helpers/uploads.js';
import { adminQuery, testDatabaseUrl } from './store-postgres-fixture.js';

/*
 * Two daemon replicas on one PostgreSQL schema: an upload sent to replica A is used by a launch
 * submitted to replica B (the job sees the files), and nobody but its owner can use it on
 * either replica. Uploads live in the database, not under either replica's state directory.
 */

const as = (user: string): Record<string, string> => ({ 'content-type': 'application/json', 'x-sky-user-id': `u-${user}`, 'x-sky-user-name': user });
const QUOTA = 8_000_000;

const replicas = new Replicas();
let dir: string | undefined;

after(() => replicas.cleanup());

const replica = (config: string): Promise<DaemonHandle> => replicas.start(config);
const waitOn = (url: string, user: string, id: string): Promise<RequestRecord> => waitOnAs(url, as(user), id);

/** Files under a replica's own upload directory (there must be none: uploads are in the database). */
function localUploadFiles(home: string): string[] {
  const root = join(home, '.sky/api_server/uploads');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

describe('uploads shared by two replicas on one PostgreSQL', { timeout: 600_000 }, () => {
  let a: DaemonHandle;
  let b: DaemonHandle;
  let proj: string;
  let seen: string;
  let schema: string;

  before(async () => {
    const url = await testDatabaseUrl();
    schema = replicas.schema();
    dir = replicas.dir('sky-uploads-replicas-');
    seen = join(dir, 'seen');
    proj = join(dir, 'proj');
    await mkdir(join(proj, 'src'), { recursive: true });
    await writeFile(join(proj, 'hello.txt'), 'hello from the laptop\n');
    await writeFile(join(proj, 'src/main.py'), 'print("main")\n');
    await writeFile(join(proj, 'big.bin'), Buffer.alloc(5 * 1024 * 1024, 7));
    const config = (id: string): string =>
      `replica_id: ${id}\nstore:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\nuploads:\n  quota_bytes: ${QUOTA}\n` +
      `drivers:\n  local:\n    root: ${join(dir!, 'nodes')}\n    cpus: 16\n    memory_gb: 16\n`;
    a = await replica(config('sky-a'));
    b = await replica(config('sky-b'));
  });

  it('a workdir uploaded through the SDK to replica A is used by a launch submitted to replica B', async () => {
    const alice = new SkyClient({ endpoint: await parseEndpoint(a.url, 'test'), identity: { id: 'u-alice', name: 'alice' }, home: a.home });
    const uploaded = await alice.upload(proj);
    alice.close();
    assert.match(uploaded.id, /^up-[0-9a-f]{64}$/);
    assert.equal(uploaded.sentChunks, uploaded.chunks);

    // B knows the upload, complete, without having received a byte of it.
    const view = await http(`${b.url}/api/v1/uploads/${uploaded.id}`, { headers: as('alice') });
    assert.equal(view.status, 200, view.text);
    assert.deepEqual((view.json() as { missing: string[] }).missing, []);

    const run = `mkdir -p ${seen} && cat hello.txt src/main.py > ${join(seen, 'files.txt')} && wc -c < big.bin > ${join(seen, 'big.txt')}`;
    const res = await http(`${b.url}/api/v1/launch`, { method: 'POST', headers: as('alice'), body: JSON.stringify({ task: { run }, cluster: 'upr', uploads: { workdir: uploaded.id } }) });
    assert.equal(res.status, 202, res.text);
    const rec = await waitOn(b.url, 'alice', (res.json() as { requestId: string }).requestId);
    assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec));
    await until('the job to write what it saw', async () => existsSync(join(seen, 'big.txt')) && readFileSync(join(seen, 'big.txt'), 'utf8').trim() !== '');
    assert.equal(readFileSync(join(seen, 'files.txt'), 'utf8'), 'hello from the laptop\nprint("main")\n');
    assert.equal(readFileSync(join(seen, 'big.txt'), 'utf8').trim(), String(5 * 1024 * 1024));

    // Neither replica kept the upload on its own disk: it is in the shared schema.
    assert.deepEqual(localUploadFiles(a.home), []);
    assert.deepEqual(localUploadFiles(b.home), []);
    const rows = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".blobs WHERE owner = 'u-alice'`);
    assert.equal(rows[0]?.n, uploaded.chunks);
  });

  it("another user can neither see nor use alice's upload, on either replica", async () => {
    const id = await uploadFiles(b.url, as('alice'), { 'private.txt': 'alice only\n' });
    for (const replicaUrl of [a.url, b.url]) {
      const view = await http(`${replicaUrl}/api/v1/uploads/${id}`, { headers: as('bob') });
      assert.equal(view.status, 404, view.text);
      const launch = await http(`${replicaUrl}/api/v1/launch`, { method: 'POST', headers: as('bob'), body: JSON.stringify({ task: { run: 'cat private.txt' }, cluster: 'bobs', uploads: { workdir: id } }) });
      assert.equal(launch.status, 404, launch.text);
      assert.match(launch.text, /UPLOAD_NOT_FOUND/);
      assert.doesNotMatch(launch.text, /alice/);
      const mine = await http(`${replicaUrl}/api/v1/uploads/${id}`, { headers: as('alice') });
      assert.equal(mine.status, 200, mine.text);
    }
  });

  it("counts a user's quota over both replicas: what A stores is used on B", async () => {
    const res = await http(`${b.url}/api/v1/uploads`, { method: 'POST', headers: as('alice'), body: JSON.stringify(manifestOf({ 'more.bin': Buffer.alloc(4_000_000, 3) }).manifest) });
    assert.equal(res.status, 413, res.text);
    const error = errorOf(res.text);
    assert.equal(error.code, 'UPLOAD_QUOTA_EXCEEDED');
    // alice stores the 5 MiB workdir (and a small file) sent to A and B.
    assert.match(error.message, /you already store 5\.\d MiB \(52\d{5} bytes\)/);
    const bob = await http(`${b.url}/api/v1/uploads`, { method: 'POST', headers: as('bob'), body: JSON.stringify(manifestOf({ 'more.bin': Buffer.alloc(4_000_000, 3) }).manifest) });
    assert.equal(bob.status, 200, bob.text);
  });
});

describe('collection of uploads by two replicas at once on one PostgreSQL', { timeout: 600_000 }, () => {
  it('deletes an unused upload and its chunks while both replicas collect, and logs no failure', async () => {
    const url = await testDatabaseUrl();
    const schema = replicas.schema();
    const config = (id: string): string =>
      `replica_id: ${id}\nstore:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\n` + 'uploads:\n  unused_days: 0.0000025\n  gc_interval_seconds: 0.3\ndrivers: {}\n';
    const a = await replica(config('gc-a'));
    const b = await replica(config('gc-b'));
    const id = await uploadFiles(a.url, as('carol'), { 'a.txt': 'collect me', 'b.txt': 'and me' });
    const chunks = async (): Promise<number> => (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".blobs WHERE owner = 'u-carol'`))[0]?.n ?? -1;
    await until('the upload and its chunks to be collected', async () => (await http(`${b.url}/api/v1/uploads/${id}`, { headers: as('carol') })).status === 404 && (await chunks()) === 0);
    const manifests = await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".blob_manifests`);
    assert.equal(manifests[0]?.n, 0);
    for (const d of [a, b]) assert.doesNotMatch(d.stderr(), /collecting unused uploads failed/);
  });
});
